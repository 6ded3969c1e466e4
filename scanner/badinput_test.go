package scanner

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf16"
)

func utf16le(s string, bom bool) []byte {
	var out []byte
	if bom {
		out = append(out, 0xFF, 0xFE)
	}
	for _, u := range utf16.Encode([]rune(s)) {
		out = append(out, byte(u), byte(u>>8))
	}
	return out
}

// TestUTF16DoesNotHideASCII: a UTF-16 opening (with a BOM or without)
// followed by ASCII text still has the ASCII keys found, in every mode
// that scans content; the UTF-16 keys are found too.
func TestUTF16DoesNotHideASCII(t *testing.T) {
	t.Parallel()
	wide, ascii := newCreds(51), newCreds(52)
	for _, tc := range []struct {
		name string
		data []byte
		want []string
	}{
		{"stray BOM before ASCII", append([]byte{0xFF, 0xFE}, ascii.ini()...), []string{ascii.keyID}},
		{"UTF-16 log with ASCII appended", append(utf16le("log\r\n"+wide.ini(), true), ascii.ini()...), []string{wide.keyID, ascii.keyID}},
		{"BOM-less UTF-16 opening", append(utf16le(strings.Repeat("header line\r\n", 40), false), ascii.ini()...), []string{ascii.keyID}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := New(Options{}).Scan(tc.data, Provenance{Path: "x"})
			var got []string
			for _, f := range fs {
				if f.KeyID != "" {
					got = append(got, f.KeyID)
				}
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Fatalf("found %q, want %q", got, tc.want)
			}
			for _, f := range fs {
				if f.KeyID == ascii.keyID && (f.Encoding != EncPlain || f.Secret.Reveal() != ascii.secret || string(tc.data[f.Start:f.End]) != ascii.keyID) {
					t.Errorf("ASCII key: encoding %q, paired %v, span %q", f.Encoding, f.Secret.Reveal() == ascii.secret, tc.data[f.Start:f.End])
				}
			}
		})
	}
}

// mkfifo makes a FIFO, skipping the test where there are none.
func mkfifo(t *testing.T, path string) {
	t.Helper()
	if err := syscall.Mkfifo(path, 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
}

// scanWithin runs ScanPaths and fails the test if it has not returned
// after a generous bound: the bug this guards against is a scan that never
// returns, not a slow one.
func scanWithin(t *testing.T, e *Engine, paths ...string) *Result {
	t.Helper()
	type out struct {
		res *Result
		err error
	}
	done := make(chan out, 1)
	go func() {
		res, err := e.ScanPaths(context.Background(), paths)
		done <- out{res, err}
	}()
	select {
	case o := <-done:
		if o.err != nil {
			t.Fatal(o.err)
		}
		return o.res
	case <-time.After(2 * time.Minute):
		t.Fatal("scan hung")
	}
	return nil
}

// TestFIFOs: a FIFO met while walking, or in place of .gitignore or
// .git/info/exclude, is refused with a reason and never blocks the walk;
// one given as an argument is read as a stream, as `keyward scan <(cmd)`
// needs.
func TestFIFOs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	c := newCreds(53)
	os.MkdirAll(filepath.Join(dir, ".git", "info"), 0o755)
	mkfifo(t, filepath.Join(dir, ".gitignore"))
	mkfifo(t, filepath.Join(dir, ".git", "info", "exclude"))
	mkfifo(t, filepath.Join(dir, "walked.fifo"))
	os.WriteFile(filepath.Join(dir, "creds.ini"), []byte(c.ini()), 0o644)
	res := scanWithin(t, New(Options{}), dir)
	one(t, res, c.keyID)
	if len(res.Warnings) != 2 || !strings.Contains(res.Warnings[0], "not a regular file (a FIFO)") {
		t.Errorf("warnings %q, want two FIFO refusals", res.Warnings)
	}
	// The FIFOs themselves are met by the walk and skipped as special.
	if len(res.Skipped) != 2 || res.Skipped[0].Reason != SkipSpecial || !strings.HasSuffix(res.Skipped[1].Path, "walked.fifo") {
		t.Errorf("skipped %+v", res.Skipped)
	}

	// Named as an argument, a FIFO is read.
	arg := filepath.Join(t.TempDir(), "pipe")
	mkfifo(t, arg)
	// The writer connects only after the scan has reached the FIFO: the
	// scan waits for it, as cat would, rather than reading a pipe with no
	// writer as empty and passing what it never saw.
	go func() {
		time.Sleep(200 * time.Millisecond)
		f, err := os.OpenFile(arg, os.O_WRONLY, 0)
		if err != nil {
			return
		}
		defer f.Close()
		f.WriteString(c.ini())
	}()
	res = scanWithin(t, New(Options{}), arg)
	if f := one(t, res, c.keyID); f.Path != arg {
		t.Errorf("path %q", f.Path)
	}

	// With no writer at all, the scan waits until it is told to stop,
	// and then fails: it never reports the FIFO as read.
	lonely := filepath.Join(t.TempDir(), "lonely")
	mkfifo(t, lonely)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if res, err := New(Options{}).ScanPaths(ctx, []string{lonely}); err == nil && (len(res.Errors) == 0 || res.Files != 0) {
		t.Errorf("a FIFO no one wrote to: %d files, errors %v, err %v; want it unread", res.Files, res.Errors, err)
	}
}

// TestGitignoreLongLine: a pattern after a line longer than a line
// scanner's 64 KiB limit still applies, negations included, and the
// summary counts what was excluded.
func TestGitignoreLongLine(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	c := newCreds(54)
	ignore := "# " + strings.Repeat("x", 100<<10) + "\n*.secret\n!keep.secret\nbuild/\n"
	os.WriteFile(filepath.Join(dir, ".gitignore"), []byte(ignore), 0o644)
	os.WriteFile(filepath.Join(dir, "a.secret"), []byte(c.ini()), 0o644)
	os.WriteFile(filepath.Join(dir, "keep.secret"), []byte(c.ini()), 0o644)
	os.MkdirAll(filepath.Join(dir, "build"), 0o755)
	os.WriteFile(filepath.Join(dir, "build", "out.txt"), []byte(c.ini()), 0o644)
	res := scanWithin(t, New(Options{}), dir)
	if f := one(t, res, c.keyID); filepath.Base(f.Path) != "keep.secret" {
		t.Errorf("found in %s, want keep.secret only", f.Path)
	}
	if res.IgnoredFiles != 1 || res.IgnoredDirs != 1 {
		t.Errorf("ignored %d files, %d dirs; want 1, 1", res.IgnoredFiles, res.IgnoredDirs)
	}
}

// TestReadRegularFile: the bounded reader refuses what is not a small
// regular file without blocking.
func TestReadRegularFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	mkfifo(t, fifo)
	if _, err := ReadRegularFile(fifo, 1<<10); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("FIFO: %v", err)
	}
	if _, err := ReadRegularFile("/dev/zero", 1<<10); err == nil {
		t.Errorf("/dev/zero read")
	}
	big := filepath.Join(dir, "big")
	os.WriteFile(big, make([]byte, 2048), 0o644)
	if _, err := ReadRegularFile(big, 1024); err == nil || !strings.Contains(err.Error(), "larger than its limit") {
		t.Errorf("big: %v", err)
	}
	link := filepath.Join(dir, "link")
	os.Symlink("/dev/zero", link)
	if _, err := ReadRegularFile(link, 1024); err == nil {
		t.Errorf("symlink to /dev/zero read")
	}
}
