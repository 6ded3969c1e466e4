package regfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestRead: a regular file within the limit is read; a FIFO nobody
// writes to, /dev/zero, a symlink to it, a directory and a file over the
// limit are refused at once with errors callers can branch on.
func TestRead(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ok := filepath.Join(dir, "ok")
	if err := os.WriteFile(ok, []byte("hello\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	zero := filepath.Join(dir, "zero")
	if err := os.Symlink("/dev/zero", zero); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, make([]byte, 2048), 0o600); err != nil {
		t.Fatal(err)
	}
	if data, err := Read(ok, 1024); err != nil || string(data) != "hello\n" {
		t.Errorf("regular file: %q, %v", data, err)
	}
	for _, tc := range []struct {
		name, path string
		want       error
	}{
		{"fifo", fifo, ErrNotRegular},
		{"dev zero", "/dev/zero", ErrNotRegular},
		{"symlink to dev zero", zero, ErrNotRegular},
		{"directory", dir, ErrNotRegular},
		{"too large", big, ErrTooLarge},
		{"missing", filepath.Join(dir, "nope"), fs.ErrNotExist},
	} {
		data, err := Read(tc.path, 1024)
		if !errors.Is(err, tc.want) || data != nil {
			t.Errorf("%s: %d bytes, %v; want %v", tc.name, len(data), err, tc.want)
		}
		var pe *fs.PathError
		if err != nil && (!errors.As(err, &pe) || pe.Path != tc.path) {
			t.Errorf("%s: error %v does not name the path", tc.name, err)
		}
	}
}
