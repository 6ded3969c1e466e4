package report

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/keyward/keyward/patterns/patternstest"

	"github.com/keyward/keyward/scanner"
)

// TestRoundTrip: what New and Write produce, Read gives back: a path that
// is not valid UTF-8 keeps its bytes (issue 10: it became U+FFFD and verify
// --report could not find the file), kinds and refs survive, lists are
// never null, and a report from before kinds reads as before.
func TestRoundTrip(t *testing.T) {
	raw := "dir/a\xffb.ini"
	when := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	res := &scanner.Result{Findings: []scanner.Finding{
		{RuleID: "r", Provenance: scanner.Provenance{Path: raw, Commit: "c", Date: when}, Secret: scanner.NewSecret("0123456789abcdef")},
		{RuleID: "r", Provenance: scanner.Provenance{Path: scanner.TagMessagePath, Kind: scanner.KindTagMessage, Ref: "v1"}},
	}, Commits: 3}
	var b bytes.Buffer
	if err := Write(&b, New(res, true, Tool{Name: "keyward"}, time.Second)); err != nil {
		t.Fatal(err)
	}
	rep, err := Read(b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if p := rep.Findings[0].Provenance(); p.Path != raw || p.KindOrFile() != scanner.KindFile || !p.Date.Equal(when) {
		t.Errorf("path %q kind %q date %v, want %q file %v", p.Path, p.Kind, p.Date, raw, when)
	}
	if f := rep.Findings[0]; !f.SecretRedacted || f.Secret == "0123456789abcdef" {
		t.Errorf("secret not redacted: %+v", f)
	}
	if p := rep.Findings[1].Provenance(); p.Kind != scanner.KindTagMessage || p.Ref != "v1" || !rep.Findings[1].Message {
		t.Errorf("tag finding read back as %+v", p)
	}
	if rep.Skipped == nil || rep.Errors == nil || rep.Suppressed.Findings == nil || rep.Stats.Commits != 3 {
		t.Errorf("report %+v", rep)
	}
	old, err := Read([]byte(`{"schema_version":1,"findings":[{"rule_id":"r","path":"commit-message","commit":"abc","message":true}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if p := old.Findings[0].Provenance(); p.Kind != scanner.KindCommitMessage {
		t.Errorf("old report's message read as kind %q", p.Kind)
	}
	if _, err := Read([]byte(`{"schema_version":2}`)); err == nil {
		t.Error("schema 2 accepted")
	}
}

// TestReadFileRefusesDirectory: a report path naming a directory fails.
func TestReadFileRefusesDirectory(t *testing.T) {
	if _, err := ReadFile(t.TempDir()); err == nil {
		t.Error("a directory read as a report")
	}
}

// TestWriteFileAtomic: the helper replaces a file, writes the mode asked
// whatever the umask, and leaves nothing behind when the writer fails.
func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "r.json")
	os.WriteFile(path, []byte("old"), 0o644)
	err := scanner.WriteFileAtomic(path, 0o600, func(w io.Writer) error {
		_, err := w.Write([]byte("new"))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	info, _ := os.Stat(path)
	if string(data) != "new" || info.Mode().Perm() != 0o600 {
		t.Errorf("content %q mode %v", data, info.Mode().Perm())
	}
	if err := scanner.WriteFileAtomic(path, 0o600, func(w io.Writer) error { return os.ErrInvalid }); err == nil {
		t.Error("writer error not returned")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("left behind: %v", entries)
	}
	if data, _ := os.ReadFile(path); string(data) != "new" {
		t.Errorf("failed write changed the file: %q", data)
	}
}

// maxFuzzReport caps a fuzz input, so a run is bounded in time and memory.
const maxFuzzReport = 256 << 10

// FuzzRead feeds arbitrary bytes to the report reader that verify,
// respond and baseline --from-report use: it must never panic, must only
// accept schema version 1, and every finding it accepts has a provenance.
func FuzzRead(f *testing.F) {
	for _, data := range patternstest.SeedFiles(f, filepath.Join("..", "..", "testdata", "fuzz", "report")) {
		f.Add(data)
	}
	f.Add([]byte(`{"schema_version":2,"findings":[]}`))
	f.Add([]byte(`{"findings":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > maxFuzzReport {
			return
		}
		r, err := Read(data)
		if err != nil {
			return
		}
		if r.SchemaVersion != SchemaVersion {
			t.Fatalf("accepted schema %d", r.SchemaVersion)
		}
		for _, rf := range r.Findings {
			p := rf.Provenance()
			if rf.PathBytes == "" && p.Path != rf.Path {
				t.Fatalf("path %q read as %q", rf.Path, p.Path)
			}
			if rf.Message && rf.Kind == "" && !p.IsMessage() {
				t.Fatalf("an old report's message finding read as kind %q", p.Kind)
			}
		}
		if _, err := json.Marshal(r); err != nil {
			t.Fatal(err)
		}
	})
}
