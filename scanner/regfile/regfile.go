// Package regfile reads small files that must be regular files, with a
// size bound and without blocking: configs, baselines, reports, the
// responder's journal and incident report, the AWS credentials file. A
// FIFO, a device or a symlink to /dev/zero in place of one of them is
// refused at once, never waited on or read until memory runs out (issue
// 10). It imports only the standard library, so the scanner, the
// responder and cmd share this one implementation.
package regfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// ErrNotRegular is returned by Read for a FIFO, device, socket
// or directory: reading one of those where a small file is expected could
// block forever (a FIFO committed as .gitignore) or never end (a symlink to
// /dev/zero).
var ErrNotRegular = errors.New("not a regular file")

// ErrTooLarge is returned by Read for a file over its limit.
var ErrTooLarge = errors.New("file larger than its limit")

// Read reads the file at path, which must be a regular file (a
// symlink is followed to one) of at most limit bytes. The file is opened
// without blocking, so a FIFO in its place is refused at once rather than
// waited on, and it is checked on the open descriptor, so a file swapped
// after a stat is caught too. Errors are *fs.PathError naming the path as
// given ("open .keyward.toml: no such file or directory"), never content.
func Read(path string, limit int64) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fail := func(err error) ([]byte, error) { return nil, &fs.PathError{Op: "read", Path: path, Err: err} }
	info, err := f.Stat()
	if err != nil {
		return fail(unwrap(err))
	}
	if !info.Mode().IsRegular() {
		return fail(fmt.Errorf("%w (%s)", ErrNotRegular, fileType(info.Mode())))
	}
	if info.Size() > limit {
		return fail(fmt.Errorf("%w (%d bytes)", ErrTooLarge, limit))
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return fail(unwrap(err))
	}
	if int64(len(data)) > limit { // grew while we read it
		return fail(fmt.Errorf("%w (%d bytes)", ErrTooLarge, limit))
	}
	return data, nil
}

// fileType names a non-regular file's type for messages.
func fileType(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a device"
	case m&fs.ModeSocket != 0:
		return "a socket"
	}
	return "a special file"
}

// unwrap drops the operation and path from an *fs.PathError: Read names
// the path itself.
func unwrap(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
