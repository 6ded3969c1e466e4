package hooks

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// homeOf is the HOME a test environment set.
func homeOf(env []string) string { return Git{Env: env}.getenv("HOME") }

func TestGlobalInstallUninstall(t *testing.T) {
	ctx := context.Background()
	env := testEnv(t)
	g := newRepo(t, env, "repo")
	dir := filepath.Join(homeOf(env), ".config", "keyward", "hooks")

	res, err := InstallGlobal(ctx, g, dir, InstallOptions{Keyward: testKeyward})
	if err != nil {
		t.Fatal(err)
	}
	if !res.ConfigChanged || res.HadPrevious || len(res.Changes) != len(ClientHooks) {
		t.Errorf("result = %+v", res)
	}
	if got := mustGit(t, g, "config", "--global", "core.hooksPath"); got != dir {
		t.Errorf("core.hooksPath = %q, want %q", got, dir)
	}

	// The repository is now covered: a repository install has nothing to
	// do, and status says where hooks run from.
	ri, err := Install(ctx, g, InstallOptions{})
	if err != nil || !ri.Covered {
		t.Errorf("repository install: %+v, %v", ri, err)
	}
	st, err := Status(ctx, g, testKeyward)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Covered || st.Dir != dir || st.Hooks[0].State != StateCurrent {
		t.Errorf("status = %+v", st)
	}
	gs, err := StatusGlobal(ctx, g, dir, testKeyward)
	if err != nil || !gs.Active || !gs.Installed {
		t.Errorf("global status = %+v, %v", gs, err)
	}

	// Installing again changes nothing, and keeps the record of what was
	// there before.
	res, err = InstallGlobal(ctx, g, dir, InstallOptions{Keyward: testKeyward})
	if err != nil || res.ConfigChanged || changeOf(res.Changes, PreCommit).Action != Unchanged {
		t.Errorf("reinstall = %+v, %v", res, err)
	}

	res, err = UninstallGlobal(ctx, g, dir)
	if err != nil {
		t.Fatal(err)
	}
	if !res.ConfigChanged || changeOf(res.Changes, PreCommit).Action != Removed {
		t.Errorf("uninstall = %+v", res)
	}
	if _, ok, _ := g.config(ctx, "--global", "--get", "core.hooksPath"); ok {
		t.Error("core.hooksPath still set")
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Error("empty global hooks directory left behind")
	}
}

func TestGlobalRestoresPrevious(t *testing.T) {
	ctx := context.Background()
	env := testEnv(t)
	g := newRepo(t, env, "repo")
	dir := filepath.Join(homeOf(env), "kw hooks")
	mustGit(t, g, "config", "--global", "core.hooksPath", "~/team-hooks")

	res, err := InstallGlobal(ctx, g, dir, InstallOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !res.HadPrevious || res.Previous != "~/team-hooks" {
		t.Errorf("result = %+v", res)
	}
	gs, _ := StatusGlobal(ctx, g, dir, "")
	if !gs.HadPrevious || gs.Previous != "~/team-hooks" {
		t.Errorf("status = %+v", gs)
	}
	if _, err := UninstallGlobal(ctx, g, dir); err != nil {
		t.Fatal(err)
	}
	// Restored verbatim, unexpanded.
	if got := mustGit(t, g, "config", "--global", "core.hooksPath"); got != "~/team-hooks" {
		t.Errorf("core.hooksPath = %q", got)
	}
}

func TestGlobalUninstallLeavesChangedConfig(t *testing.T) {
	ctx := context.Background()
	env := testEnv(t)
	g := newRepo(t, env, "repo")
	dir := filepath.Join(homeOf(env), "kw")
	if _, err := InstallGlobal(ctx, g, dir, InstallOptions{}); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(homeOf(env), "other")
	mustGit(t, g, "config", "--global", "core.hooksPath", other)
	// A file of the user's in keyward's directory is left, and so is the
	// directory.
	writeExec(t, filepath.Join(dir, "post-merge"), "#!/bin/sh\n")

	res, err := UninstallGlobal(ctx, g, dir)
	if err != nil {
		t.Fatal(err)
	}
	if res.ConfigChanged || res.Foreign != other {
		t.Errorf("result = %+v", res)
	}
	if got := mustGit(t, g, "config", "--global", "core.hooksPath"); got != other {
		t.Errorf("core.hooksPath = %q, want it left at %q", got, other)
	}
	if _, err := os.Stat(filepath.Join(dir, "post-merge")); err != nil {
		t.Error(err)
	}
}

func TestGlobalDir(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"xdg", map[string]string{"XDG_CONFIG_HOME": "/x", "HOME": "/h"}, "/x/keyward/hooks"},
		{"relative xdg ignored", map[string]string{"XDG_CONFIG_HOME": "x", "HOME": "/h"}, "/h/.config/keyward/hooks"},
		{"home", map[string]string{"HOME": "/h"}, "/h/.config/keyward/hooks"},
		{"nothing", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := GlobalDir(func(k string) string { return tc.env[k] })
			if got != filepath.FromSlash(tc.want) || (err != nil) != (tc.want == "") {
				t.Errorf("GlobalDir = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestGlobalReplacesOtherKeywardDir(t *testing.T) {
	ctx := context.Background()
	env := testEnv(t)
	g := newRepo(t, env, "repo")
	mustGit(t, g, "config", "--global", "core.hooksPath", "/team/hooks")
	old := filepath.Join(homeOf(env), "old", "keyward", "hooks")
	if _, err := InstallGlobal(ctx, g, old, InstallOptions{}); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(homeOf(env), "new", "keyward", "hooks")
	res, err := InstallGlobal(ctx, g, dir, InstallOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !res.HadPrevious || res.Previous != "/team/hooks" {
		t.Errorf("result = %+v, want the team hooks inherited from %s", res, old)
	}
}

// changeOf finds hook's change in a global result, which lists every
// client-side hook.
func changeOf(cs []Change, hook string) Change {
	for _, c := range cs {
		if c.Hook == hook {
			return c
		}
	}
	return Change{}
}

// TestGlobalChecksSubset: with --hooks, the global install still writes a
// shim for every client-side hook, and only the named ones check.
func TestGlobalChecksSubset(t *testing.T) {
	ctx := context.Background()
	env := testEnv(t)
	g := newRepo(t, env, "repo")
	dir := filepath.Join(homeOf(env), ".config", "keyward", "hooks")
	if _, err := InstallGlobal(ctx, g, dir, InstallOptions{Keyward: testKeyward, Hooks: []string{PreCommit}}); err != nil {
		t.Fatal(err)
	}
	for _, name := range ClientHooks {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("%s: no shim: %v", name, err)
		}
	}
	for name, want := range map[string]bool{PreCommit: true, CommitMsg: false, PrePush: false, "post-commit": false} {
		got, err := ShimChecks(g, filepath.Join(dir, name), name)
		if err != nil || got != want {
			t.Errorf("ShimChecks(%s) = %v, %v; want %v", name, got, err, want)
		}
	}
	// Installing again without --hooks checks all of them again.
	if _, err := InstallGlobal(ctx, g, dir, InstallOptions{Keyward: testKeyward}); err != nil {
		t.Fatal(err)
	}
	if got, _ := ShimChecks(g, filepath.Join(dir, PrePush), PrePush); !got {
		t.Error("pre-push does not check after a full reinstall")
	}
	gs, err := StatusGlobal(ctx, g, dir, testKeyward)
	if err != nil || len(gs.Unforwarded) != 0 {
		t.Errorf("status: unforwarded %v, err %v", gs.Unforwarded, err)
	}
}

// TestParsePreReceive: git's "old new ref" lines, strictly.
func TestParsePreReceive(t *testing.T) {
	z, a := "0000000000000000000000000000000000000000", "1111111111111111111111111111111111111111"
	us, err := ParsePreReceive([]byte(z + " " + a + " refs/heads/new\n" + a + " " + z + " refs/tags/gone\n"))
	if err != nil || len(us) != 2 || !us[0].IsNew() || us[0].IsDelete() || !us[1].IsDelete() {
		t.Fatalf("got %+v, %v", us, err)
	}
	for _, bad := range []string{"x y z\n", a + " " + a + "\n", a + " " + a + " main\n", a + " 22 refs/heads/x\n"} {
		if _, err := ParsePreReceive([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	env := map[string]string{"GIT_PUSH_OPTION_COUNT": "2", "GIT_PUSH_OPTION_0": "a", "GIT_PUSH_OPTION_1": "keyward.skip=why"}
	if got := PushOptions(func(k string) string { return env[k] }); len(got) != 2 || got[1] != "keyward.skip=why" {
		t.Errorf("push options %v", got)
	}
}
