//go:build !linux

package scanner

// dropMapped is a no-op where madvise is not in package syscall; the
// mapping then counts in full towards the resident set.
func dropMapped(b []byte) {}
