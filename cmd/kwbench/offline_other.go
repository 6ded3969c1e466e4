//go:build !linux

package main

import "syscall"

// offlineAttr is nil where kwbench cannot make a network namespace: the
// measured processes keep the machine's network, and the tables say so.
func offlineAttr() *syscall.SysProcAttr { return nil }
