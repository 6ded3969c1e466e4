//go:build linux || freebsd || netbsd || openbsd || dragonfly

package main

import (
	"os"
	"syscall"
)

// maxRSS is a finished process's peak resident set in KiB, from wait4.
func maxRSS(ps *os.ProcessState) int64 {
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		return int64(ru.Maxrss)
	}
	return 0
}
