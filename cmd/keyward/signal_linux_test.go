package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// signalWait bounds how long the test waits for keyward to exit after a
// signal: generous, for a loaded machine; the watchdog itself waits
// signalGrace.
const signalWait = 60 * time.Second

// TestSignalExits130 runs the real binary (main, with its signal
// watchdog, which testscript's in-process runs skip) on a standard input
// that never ends: reading it blocks in a call no context can cancel. The
// test waits until keyward has read what was written (so its signal
// handling is installed), sends SIGINT or SIGTERM, and expects exit 130
// with the interrupted message (issue 10: signals were ignored while a
// read hung).
func TestSignalExits130(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := t.TempDir()
	kw := filepath.Join(dir, "keyward")
	if out, err := exec.Command("go", "build", "-o", kw, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			defer w.Close()
			cmd := exec.Command(kw, "scan", "-")
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "HOME="+dir, "NO_COLOR=1", "GIT_CONFIG_NOSYSTEM=1")
			cmd.Stdin = r
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			defer cmd.Process.Kill()

			if _, err := w.WriteString("no secrets here\n"); err != nil {
				t.Fatal(err)
			}
			// keyward has read the line once the pipe is empty: main has
			// installed its signal handling by then.
			deadline := time.Now().Add(signalWait)
			for pending(t, r) > 0 {
				select {
				case err := <-exited:
					t.Fatalf("keyward exited before the signal: %v\n%s", err, stderr.String())
				default:
				}
				if time.Now().After(deadline) {
					t.Fatal("keyward did not read standard input")
				}
				time.Sleep(10 * time.Millisecond)
			}
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			select {
			case <-exited:
			case <-time.After(signalWait):
				t.Fatalf("keyward still running %v after %v", signalWait, sig)
			}
			if code := cmd.ProcessState.ExitCode(); code != exitInterrupted {
				t.Errorf("exit code %d after %v, want %d\n%s", code, sig, exitInterrupted, stderr.String())
			}
			if !strings.Contains(stderr.String(), "keyward: error: interrupted") {
				t.Errorf("stderr after %v: %q", sig, stderr.String())
			}
		})
	}
}

// pending is how many bytes wait unread in the pipe r reads from.
func pending(t *testing.T, r *os.File) int {
	t.Helper()
	var n int32
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, r.Fd(), syscall.TIOCINQ, uintptr(unsafe.Pointer(&n))); errno != 0 {
		t.Fatalf("ioctl FIONREAD: %v", errno)
	}
	return int(n)
}
