package scanner

import "syscall"

// dropMapped releases b's pages from this process's resident set. They
// stay in the page cache, and a later access maps them again from there.
func dropMapped(b []byte) { syscall.Madvise(b, syscall.MADV_DONTNEED) }
