package responder

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// FuzzParseJournal feeds arbitrary bytes to the journal reader: it must
// never panic, and what it accepts must round-trip.
func FuzzParseJournal(f *testing.F) {
	f.Add([]byte(`{"version":1,"key_id":"AKIAIOSFODNN7EXAMPLE","steps":[{"id":"validate","status":"done"}]}`))
	f.Add([]byte(`{"version":2}`))
	f.Add([]byte(`{"version":1,"steps":[{}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := ParseJournal(data)
		if err != nil {
			return
		}
		if st.Version != JournalVersion {
			t.Fatalf("accepted version %d", st.Version)
		}
		for _, s := range st.Steps {
			if s.ID == "" {
				t.Fatal("accepted a step without an id")
			}
		}
	})
}

// TestJournalFile checks the journal is 0600, atomic and bound to one key.
func TestJournalFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j", "journal.json")
	j, err := OpenJournal(path, "AKIAIOSFODNN7EXAMPLE")
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Record(StepResult{ID: StepValidate, Status: StepDone, Started: time.Now()}, Facts{UserName: "alice"}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("journal mode: %v %v", fi, err)
	}
	j2, err := OpenJournal(path, "AKIAIOSFODNN7EXAMPLE")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := j2.Done(StepValidate); !ok || j2.State.Facts.UserName != "alice" {
		t.Fatalf("reopened journal: %+v", j2.State)
	}
	if _, err := OpenJournal(path, "AKIAI44QH8DHBEXAMPLE"); err == nil || !strings.Contains(err.Error(), "not AKIAI44QH8DHBEXAMPLE") {
		t.Fatalf("journal of another key accepted: %v", err)
	}
	os.WriteFile(path, []byte("{"), 0o600)
	if _, err := OpenJournal(path, "AKIAIOSFODNN7EXAMPLE"); err == nil {
		t.Fatal("a corrupt journal was accepted")
	}
}
