package main

import (
	"io"
	"path/filepath"
	"testing"

	"github.com/keyward/keyward/patterns/patternstest"
)

// FuzzParseSweepReport feeds merge's report parser anything: it must not
// panic, and whatever it accepts must merge and render in every format,
// with a merged report complete only if every repository in it was swept
// in full.
func FuzzParseSweepReport(f *testing.F) {
	for _, data := range patternstest.SeedFiles(f, filepath.Join("..", "..", "testdata", "fuzz", "sweep")) {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rep, err := parseSweepReport("fuzz.json", data)
		if err != nil {
			return
		}
		merged := mergeSweepReports([]*sweepReport{rep, rep})
		for _, format := range []string{"text", "json", "sarif"} {
			if err := renderSweep(io.Discard, merged, format, plainStyle()); err != nil {
				t.Fatalf("%s: %v", format, err)
			}
		}
		if merged.Complete {
			for _, r := range merged.Repositories {
				if r.Status != "swept" && r.Status != "unchanged" {
					t.Fatalf("complete, but %s is %q", r.URL, r.Status)
				}
			}
		}
		if merged.Stats.Places != len(merged.Findings) {
			t.Fatalf("%d places, %d findings", merged.Stats.Places, len(merged.Findings))
		}
		n := 0
		for _, c := range merged.Credentials {
			n += len(c.Places)
		}
		if n != len(merged.Findings) {
			t.Fatalf("credentials hold %d places of %d findings", n, len(merged.Findings))
		}
	})
}

// TestMergeDedupesAcrossInputs merges a report with itself: nothing is
// counted twice.
func TestMergeDedupesAcrossInputs(t *testing.T) {
	rep, err := readSweepReport(filepath.Join("..", "..", "testdata", "fuzz", "sweep", "with-finding.json"))
	if err != nil {
		t.Fatal(err)
	}
	again, _ := readSweepReport(filepath.Join("..", "..", "testdata", "fuzz", "sweep", "with-finding.json"))
	m := mergeSweepReports([]*sweepReport{rep, again})
	if len(m.Findings) != 1 || len(m.Credentials) != 1 || m.Stats.Repositories != 1 {
		t.Fatalf("merged with itself: %d findings, %d credentials, %d repositories", len(m.Findings), len(m.Credentials), m.Stats.Repositories)
	}
}
