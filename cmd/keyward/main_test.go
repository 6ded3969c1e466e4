package main

import (
	"context"
	"os"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestMain lets testscript run this test binary as the keyward command, so
// scripts exercise exactly what users run, in-process and fast.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"keyward": func() {
			os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
		},
	})
}

// TestScript runs every behaviour script in testdata/script. Each script
// builds its own files and git repositories; fake credentials come from the
// fakecreds command, never from committed literals.
func TestScript(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		Cmds:                scriptCmds(),
		Setup: func(env *testscript.Env) error {
			// Git must not read the developer's config, and commits need
			// an identity.
			env.Setenv("HOME", env.WorkDir)
			env.Setenv("GIT_CONFIG_NOSYSTEM", "1")
			env.Setenv("GIT_AUTHOR_NAME", "Test Author")
			env.Setenv("GIT_AUTHOR_EMAIL", "author@example.com")
			env.Setenv("GIT_COMMITTER_NAME", "Test Committer")
			env.Setenv("GIT_COMMITTER_EMAIL", "committer@example.com")
			env.Setenv("NO_COLOR", "1")
			return nil
		},
	})
}

// scriptCmds gathers the custom script commands of each area of keyward;
// each area keeps its own in its own file.
func scriptCmds() map[string]func(ts *testscript.TestScript, neg bool, args []string) {
	all := map[string]func(ts *testscript.TestScript, neg bool, args []string){}
	for _, m := range []map[string]func(ts *testscript.TestScript, neg bool, args []string){
		coreScriptCmds(), scanScriptCmds(), gitScriptCmds(), responderScriptCmds(), sweepScriptCmds(), healthScriptCmds(), archiveScriptCmds(),
	} {
		for k, v := range m {
			all[k] = v
		}
	}
	return all
}
