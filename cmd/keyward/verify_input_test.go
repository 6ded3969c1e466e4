package main

import (
	"os"
	"path/filepath"
	"testing"
)

// maxFuzzReport caps a fuzz input, so a run is bounded in time and memory.
const maxFuzzReport = 256 << 10

// FuzzParseScanReport feeds arbitrary bytes to the scan report reader that
// verify and respond use: it must never panic and must only accept schema
// version 1, and every finding it accepts has a provenance.
func FuzzParseScanReport(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "fuzz", "report", "*"))
	if len(files) == 0 {
		f.Fatal("no seed files in testdata/fuzz/report")
	}
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`{"schema_version":2,"findings":[]}`))
	f.Add([]byte(`{"findings":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > maxFuzzReport {
			return
		}
		r, err := parseScanReport(data)
		if err != nil {
			return
		}
		if r.SchemaVersion != 1 {
			t.Fatalf("accepted schema %d", r.SchemaVersion)
		}
		for _, rf := range r.Findings {
			p := rf.provenance()
			if rf.PathBytes == "" && p.Path != rf.Path {
				t.Fatalf("path %q read as %q", rf.Path, p.Path)
			}
			if rf.Message && rf.Kind == "" && !p.IsMessage() {
				t.Fatalf("an old report's message finding read as kind %q", p.Kind)
			}
		}
	})
}
