package responder

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/keyward/keyward/scanner/regfile"
)

// TestJournalAndReportRefuseSpecialFiles: a FIFO, a symlink to /dev/zero
// or an oversized file in the journal's or the incident report's place is
// refused at once (regfile.Read), never waited on or read until memory
// runs out (issue 10); a missing journal still starts an empty one.
func TestJournalAndReportRefuseSpecialFiles(t *testing.T) {
	t.Parallel()
	const keyID = "AKIAIOSFODNN7EXAMPLE"
	dir := t.TempDir()
	specials := map[string]func(path string) error{
		"fifo":     func(p string) error { return syscall.Mkfifo(p, 0o600) },
		"dev zero": func(p string) error { return os.Symlink("/dev/zero", p) },
		"too large": func(p string) error {
			return os.WriteFile(p, make([]byte, maxJournalSize+1), 0o600)
		},
	}
	for name, create := range specials {
		jpath := filepath.Join(dir, name, "journal.json")
		rdir := filepath.Join(dir, name)
		if err := os.MkdirAll(rdir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := create(jpath); err != nil {
			t.Skipf("%s: %v", name, err)
		}
		want := regfile.ErrNotRegular
		if name == "too large" {
			want = regfile.ErrTooLarge
		}
		if j, err := OpenJournal(jpath, keyID); !errors.Is(err, want) || j != nil {
			t.Errorf("journal %s: %v, want %v", name, err, want)
		}
		rpath := filepath.Join(rdir, "incident-"+keyID+".json")
		if name == "too large" {
			if err := os.WriteFile(rpath, make([]byte, maxReportFile+1), 0o600); err != nil {
				t.Fatal(err)
			}
		} else if err := create(rpath); err != nil {
			t.Fatal(err)
		}
		if inc, err := ReadReport(rdir, keyID); err == nil || inc != nil {
			t.Errorf("report %s: read %v", name, inc)
		} else if name != "too large" && !errors.Is(err, regfile.ErrNotRegular) {
			t.Errorf("report %s: %v", name, err)
		}
	}
	if j, err := OpenJournal(filepath.Join(dir, "none.json"), keyID); err != nil || j.State.KeyID != keyID {
		t.Errorf("missing journal: %v", err)
	}
	if _, err := ReadReport(filepath.Join(dir, "none"), keyID); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing report: %v", err)
	}
}
