package hooks

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// hookMode is what git needs to run a hook (it skips files without the
// execute bit); nothing in a hook is secret, so others may read it.
const hookMode fs.FileMode = 0o755

// dirMode is for the hooks directories keyward creates.
const dirMode fs.FileMode = 0o755

// fileKind classifies whatever sits at a hook's path.
type fileKind int

const (
	kindMissing fileKind = iota
	// kindKeyward is a regular file carrying keyward's marker.
	kindKeyward
	// kindForeign is anything else: another tool's hook, a hand-written
	// script, a symlink (keyward never writes one, so never owns one) or a
	// directory.
	kindForeign
)

// hookFile is what inspect found at a path.
type hookFile struct {
	kind   fileKind
	info   scriptInfo // set for kindKeyward
	header []byte     // the first maxHeader+1 bytes of a regular file
	mode   fs.FileMode
}

// inspect looks at path without following a symlink, so a link to a
// script elsewhere is classified (and later moved) as the link itself.
func inspect(path string) (hookFile, error) {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return hookFile{kind: kindMissing}, nil
	}
	if err != nil {
		return hookFile{}, fmt.Errorf("inspect hook: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return hookFile{kind: kindForeign, mode: fi.Mode()}, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return hookFile{}, fmt.Errorf("inspect hook: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxHeader+1))
	if err != nil {
		return hookFile{}, fmt.Errorf("inspect hook: %w", err)
	}
	h := hookFile{kind: kindForeign, header: b, mode: fi.Mode()}
	if info, ok := parseScript(b[:min(len(b), maxHeader)]); ok {
		h.kind, h.info = kindKeyward, info
	}
	return h, nil
}

// current reports whether an installed shim is exactly what would be
// written now, execute bits included.
func (h hookFile) current(want []byte) bool {
	return h.kind == kindKeyward && bytes.Equal(h.header, want) && h.mode.Perm() == hookMode
}

// exists reports whether anything (even a dangling symlink) is at path.
func exists(path string) (bool, error) {
	_, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

// writeFile replaces path atomically: a temporary file in the same
// directory, fsynced and renamed over, so git never runs a half-written
// hook and a crash leaves the old one.
func writeFile(path string, content []byte, mode fs.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".keyward-*.tmp")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	_, err = f.Write(content)
	if err == nil {
		err = f.Chmod(mode) // explicit, so the umask cannot drop the execute bits
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
