package main

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/keyward/keyward/scanner/regfile"
)

// TestCredentialsFileSpecial: respond's and rotate's reads of
// ~/.aws/credentials refuse a FIFO, a symlink to /dev/zero and an
// oversized file at once (regfile.Read), so neither hangs nor exhausts
// memory; a missing file is still "no profiles yet" for respond.
func TestCredentialsFileSpecial(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	zero := filepath.Join(dir, "zero")
	if err := os.Symlink("/dev/zero", zero); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, make([]byte, maxCredentialsFile+1), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path string
		want       error
	}{
		{"fifo", fifo, regfile.ErrNotRegular},
		{"dev zero", zero, regfile.ErrNotRegular},
		{"too large", big, nil},
	} {
		if _, err := readCredentialsFile(tc.path); err == nil || tc.want != nil && !errors.Is(err, tc.want) {
			t.Errorf("rotate read %s: %v", tc.name, err)
		}
		if err := checkProfileFree(tc.path, "app-rotated"); err == nil {
			t.Errorf("respond check %s: no error", tc.name)
		}
		if err := addProfile(tc.path, "app-rotated", "AKIAIOSFODNN7EXAMPLE", "x"); err == nil {
			t.Errorf("respond add %s: no error", tc.name)
		}
	}
	// The refused files are left as they were.
	if fi, err := os.Lstat(zero); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("symlink replaced: %v", err)
	}
	if err := checkProfileFree(filepath.Join(dir, "missing"), "app-rotated"); err != nil {
		t.Errorf("missing file: %v", err)
	}
}
