//go:build !unix

package scanner

import "os"

// mapFile is not available here; packs are read with ReadAt.
func mapFile(f *os.File, size int64) []byte { return nil }

func unmapFile(b []byte) {}
