//go:build !unix

package responder

import (
	"fmt"
	"os"
)

// lockFile, where flock is missing, marks the lock with a second file
// created exclusively; a crash leaves it behind, and the error says how to
// remove it.
func lockFile(f *os.File) error {
	m, err := os.OpenFile(f.Name()+".held", os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if os.IsExist(err) {
		return fmt.Errorf("%w (if no run is in progress, delete %s)", ErrLocked, f.Name()+".held")
	}
	if err != nil {
		return err
	}
	return m.Close()
}

func unlockFile(f *os.File) { os.Remove(f.Name() + ".held") }
