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
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
