//go:build unix

package scanner

import (
	"os"
	"syscall"
)

// mapFile maps f read-only, or returns nil if it cannot.
func mapFile(f *os.File, size int64) []byte {
	if size <= 0 || size != int64(int(size)) {
		return nil
	}
	m, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil
	}
	return m
}

func unmapFile(b []byte) { syscall.Munmap(b) }
