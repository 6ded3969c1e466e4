package scanner

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// maxTempAttempts bounds the names tried for a temporary file: another
// process's leftovers can take a few, never a hundred.
const maxTempAttempts = 100

// WriteFileAtomic writes path through write so that a reader sees the old
// file or the whole new one, never half, and a crash leaves one of the two:
// the content goes to a new file created with O_EXCL beside the target
// (mode perm, whatever the umask), is synced to disk, and is renamed over
// the target, whose directory is then synced. An existing file or symlink
// at path is replaced, never written through. One helper for every file
// keyward writes whole (reports, baselines; issue 10 found four writers
// with different durability).
func WriteFileAtomic(path string, perm fs.FileMode, write func(io.Writer) error) (err error) {
	dir := filepath.Dir(path)
	var f *os.File
	for i := range maxTempAttempts {
		tmp := filepath.Join(dir, fmt.Sprintf(".%s.keyward-%d-%d", filepath.Base(path), os.Getpid(), i))
		f, err = os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
		if !errors.Is(err, fs.ErrExist) {
			break
		}
	}
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			os.Remove(tmp)
		}
	}()
	err = write(f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, perm) // O_CREATE's mode is masked by the umask
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		return err
	}
	// The rename is durable once the directory is: best effort, since
	// some filesystems cannot sync a directory.
	if d, derr := os.Open(dir); derr == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
