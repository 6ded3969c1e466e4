// Command keyward keeps AWS credentials out of git and contains the ones
// that get out: it scans what is about to be committed or pushed and a
// repository's history, and runs AWS's exposed-credential runbook on a
// leaked key.
//
// This package owns flag parsing, subcommand dispatch, every byte written to
// the terminal and the mapping of errors to exit codes; the work itself
// lives in scanner, hooks and responder.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// signalGrace is how long keyward waits, after SIGINT or SIGTERM, for the
// command to stop through its context before exiting anyway: work stuck in
// a call that cannot be cancelled (a read from a device, a blocked open)
// must not make keyward ignore the signal (issue 10). A second signal exits
// at once.
const signalGrace = 3 * time.Second

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sigs
		select {
		case <-sigs:
		case <-time.After(signalGrace):
		}
		os.Stderr.WriteString("keyward: error: interrupted\n")
		os.Exit(exitInterrupted)
	}()
	floorGC(gcFloor)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
