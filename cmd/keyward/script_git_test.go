package main

import (
	"os"
	"strconv"

	"github.com/rogpeppe/go-internal/testscript"
)

// gitScriptCmds are the script commands for git sources and hooks.
func gitScriptCmds() map[string]func(ts *testscript.TestScript, neg bool, args []string) {
	return map[string]func(ts *testscript.TestScript, neg bool, args []string){
		"mvraw": cmdMvraw,
	}
}

// cmdMvraw renames SRC to a name given with Go string escapes, so a script
// can create file names that are not valid UTF-8 (txtar names must be).
//
//	mvraw SRC NAME      e.g. mvraw creds.ini 'a\xffb.ini'
func cmdMvraw(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: mvraw SRC NAME")
	}
	name, err := strconv.Unquote(`"` + args[1] + `"`)
	if err != nil {
		ts.Fatalf("mvraw: bad NAME %q: %v", args[1], err)
	}
	ts.Check(os.Rename(ts.MkAbs(args[0]), ts.MkAbs(name)))
}
