package responder

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// ErrLocked is returned by LockJournal when another run holds the lock:
// two concurrent runs would both rotate, and one new secret would be lost
// (issue 8).
var ErrLocked = errors.New("another keyward respond run for this key is in progress")

// LockJournal takes an exclusive lock beside the journal at path, held
// until the returned function is called. The lock is released by the
// operating system when the process dies (flock on Unix), so a crash never
// leaves a stale lock there.
func LockJournal(path string) (unlock func(), err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("lock journal: %w", err)
	}
	f, err := os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock journal: %w", err)
	}
	if err := lockFile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path+".lock", err)
	}
	f.Truncate(0)
	f.WriteString(strconv.Itoa(os.Getpid()) + "\n")
	return func() {
		unlockFile(f)
		f.Close()
	}, nil
}
