package main

import (
	"os"
	"syscall"
)

// maxRSS is a finished process's peak resident set in KiB; macOS reports
// bytes.
func maxRSS(ps *os.ProcessState) int64 {
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		return int64(ru.Maxrss) / 1024
	}
	return 0
}
