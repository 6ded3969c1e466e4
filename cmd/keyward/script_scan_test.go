package main

import (
	"errors"
	"os/exec"
	"strconv"

	"github.com/rogpeppe/go-internal/testscript"
)

// scanScriptCmds are the script commands for the scan command's end-to-end
// tests beyond the core ones.
func scanScriptCmds() map[string]func(ts *testscript.TestScript, neg bool, args []string) {
	return map[string]func(ts *testscript.TestScript, neg bool, args []string){
		"exitcode": cmdExitcode,
	}
}

// cmdExitcode runs a program like exec, but requires the exact exit status
// CODE: the builtin exec only tells zero from non-zero, and keyward's exit
// codes tell "findings" (1) from "broken or incomplete" (2). Standard
// output and error are kept for stdout and stderr, as after exec.
//
//	exitcode CODE PROGRAM [ARGS...]
func cmdExitcode(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exitcode CODE PROGRAM [ARGS...]")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	got := 0
	if err := ts.Exec(args[1], args[2:]...); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			ts.Fatalf("%s: %v", args[1], err)
		}
		got = ee.ExitCode()
	}
	if got != want {
		ts.Fatalf("%s: exit status %d, want %d", args[1], got, want)
	}
}
