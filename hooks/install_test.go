package hooks

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

const testKeyward = "/opt/keyward/bin/keyward"

func TestInstallFreshRepo(t *testing.T) {
	ctx := context.Background()
	g := newRepo(t, testEnv(t), "repo")
	res, err := Install(ctx, g, InstallOptions{Keyward: testKeyward})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Changes) != 3 {
		t.Fatalf("changes = %+v", res.Changes)
	}
	for _, c := range res.Changes {
		if c.Action != Installed || c.Chained != "" {
			t.Errorf("%s: %+v", c.Hook, c)
		}
		fi, err := os.Lstat(c.Path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o755 || !fi.Mode().IsRegular() {
			t.Errorf("%s: mode %v, want 0755 regular", c.Path, fi.Mode())
		}
		if got := readFile(t, c.Path); got != string(Script(c.Hook, testKeyward)) {
			t.Errorf("%s: content differs from Script", c.Path)
		}
		if c.Path != filepath.Join(hooksDir(g), c.Hook) {
			t.Errorf("path = %s", c.Path)
		}
	}

	st, err := Status(ctx, g, testKeyward)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range st.Hooks {
		if h.State != StateCurrent || h.Keyward != testKeyward || h.Chain.Path != "" {
			t.Errorf("status %+v", h)
		}
	}

	res, err = Install(ctx, g, InstallOptions{Keyward: testKeyward})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range res.Changes {
		if c.Action != Unchanged {
			t.Errorf("reinstall %s: %s, want unchanged", c.Hook, c.Action)
		}
	}

	// A different binary makes the installed scripts outdated.
	st, _ = Status(ctx, g, "/elsewhere/keyward")
	if st.Hooks[0].State != StateOutdated {
		t.Errorf("status with another binary = %s", st.Hooks[0].State)
	}
	res, err = Install(ctx, g, InstallOptions{Keyward: "/elsewhere/keyward", Hooks: []string{PrePush, PreCommit, PrePush}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Changes) != 2 || res.Changes[0].Hook != PreCommit || res.Changes[0].Action != Updated {
		t.Errorf("changes = %+v", res.Changes)
	}

	res, err = Uninstall(ctx, g, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range res.Changes {
		if c.Action != Removed {
			t.Errorf("uninstall %s: %s", c.Hook, c.Action)
		}
		if _, err := os.Lstat(c.Path); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s still there", c.Path)
		}
	}
	res, _ = Uninstall(ctx, g, nil)
	if res.Changes[0].Action != NotInstalled {
		t.Errorf("second uninstall: %+v", res.Changes[0])
	}
}

func TestInstallForeignHook(t *testing.T) {
	ctx := context.Background()
	g := newRepo(t, testEnv(t), "repo")
	pc := filepath.Join(hooksDir(g), PreCommit)
	writeExec(t, pc, foreignHook)
	if err := os.Chmod(pc, 0o750); err != nil {
		t.Fatal(err)
	}

	_, err := Install(ctx, g, InstallOptions{Keyward: testKeyward})
	var ce *ConflictError
	if !errors.As(err, &ce) || len(ce.Conflicts) != 1 || ce.Conflicts[0].Hook != PreCommit || !ce.Chainable() {
		t.Fatalf("err = %v, want a chainable conflict on pre-commit", err)
	}
	// Nothing at all was written.
	if got := readFile(t, pc); got != foreignHook {
		t.Error("foreign hook changed")
	}
	if _, err := os.Lstat(filepath.Join(hooksDir(g), CommitMsg)); !errors.Is(err, os.ErrNotExist) {
		t.Error("commit-msg installed despite the conflict")
	}

	res, err := Install(ctx, g, InstallOptions{Keyward: testKeyward, Chain: true})
	if err != nil {
		t.Fatal(err)
	}
	if c := res.Changes[0]; c.Action != Installed || c.Chained != pc+ChainSuffix {
		t.Errorf("pre-commit change = %+v", c)
	}
	if got := readFile(t, pc+ChainSuffix); got != foreignHook {
		t.Error("chained hook content changed")
	}
	st, _ := Status(ctx, g, testKeyward)
	if ch := st.Hooks[0].Chain; ch.Path != pc+ChainSuffix || !ch.Runnable {
		t.Errorf("status chain = %+v", ch)
	}

	res, err = Uninstall(ctx, g, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c := res.Changes[0]; c.Action != Removed || !c.Restored {
		t.Errorf("uninstall pre-commit = %+v", c)
	}
	if got := readFile(t, pc); got != foreignHook {
		t.Error("foreign hook not restored")
	}
	fi, _ := os.Stat(pc)
	if fi.Mode().Perm() != 0o750 {
		t.Errorf("restored mode %v, want 0750", fi.Mode().Perm())
	}
	if _, err := os.Lstat(pc + ChainSuffix); !errors.Is(err, os.ErrNotExist) {
		t.Error("chained copy left behind")
	}
}

func TestInstallChainSlotTaken(t *testing.T) {
	g := newRepo(t, testEnv(t), "repo")
	pc := filepath.Join(hooksDir(g), PreCommit)
	writeExec(t, pc, foreignHook)
	writeExec(t, pc+ChainSuffix, "#!/bin/sh\n")
	_, err := Install(context.Background(), g, InstallOptions{Chain: true})
	var ce *ConflictError
	if !errors.As(err, &ce) || ce.Chainable() || !ce.Conflicts[0].Occupied {
		t.Fatalf("err = %v, want an occupied conflict", err)
	}
}

func TestInstallSymlinkedHook(t *testing.T) {
	ctx := context.Background()
	g := newRepo(t, testEnv(t), "repo")
	target := filepath.Join(g.Dir, "scripts", "pre-commit")
	writeExec(t, target, foreignHook)
	pc := filepath.Join(hooksDir(g), PreCommit)
	if err := os.MkdirAll(hooksDir(g), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../../scripts/pre-commit", pc); err != nil {
		t.Fatal(err)
	}

	// Even a symlink to a file carrying keyward's marker is not keyward's.
	if err := os.WriteFile(target, Script(PreCommit, testKeyward), 0o755); err != nil {
		t.Fatal(err)
	}
	res, err := Uninstall(ctx, g, []string{PreCommit})
	if err != nil {
		t.Fatal(err)
	}
	if res.Changes[0].Action != LeftAlone {
		t.Errorf("uninstall through a symlink: %+v", res.Changes[0])
	}
	if _, err := os.Stat(target); err != nil {
		t.Error("symlink target removed")
	}
	if err := os.WriteFile(target, []byte(foreignHook), 0o755); err != nil {
		t.Fatal(err)
	}

	if _, err := Install(ctx, g, InstallOptions{Keyward: testKeyward, Chain: true}); err != nil {
		t.Fatal(err)
	}
	if l, err := os.Readlink(pc + ChainSuffix); err != nil || l != "../../scripts/pre-commit" {
		t.Errorf("chained = %q, %v; want the symlink moved", l, err)
	}
	if got := readFile(t, target); got != foreignHook {
		t.Error("symlink target changed")
	}
	if _, err := Uninstall(ctx, g, nil); err != nil {
		t.Fatal(err)
	}
	if l, err := os.Readlink(pc); err != nil || l != "../../scripts/pre-commit" {
		t.Errorf("restored = %q, %v; want the symlink back", l, err)
	}
}

func TestInstallHonoursLocalHooksPath(t *testing.T) {
	ctx := context.Background()
	g := newRepo(t, testEnv(t), "repo")
	mustGit(t, g, "config", "core.hooksPath", "my hooks")
	sub := filepath.Join(g.Dir, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	res, err := Install(ctx, Git{Dir: sub, Env: g.Env}, InstallOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(g.Dir, "my hooks")
	if res.Dir != want || res.HooksPathScope != "local" {
		t.Errorf("location = %+v, want %s from local config", res.Location, want)
	}
	if _, err := os.Stat(filepath.Join(want, PrePush)); err != nil {
		t.Error(err)
	}
}

func TestInstallFromWorktree(t *testing.T) {
	ctx := context.Background()
	g := newRepo(t, testEnv(t), "repo")
	mustGit(t, g, "commit", "-q", "--allow-empty", "-m", "root")
	wt := filepath.Join(filepath.Dir(g.Dir), "wt")
	mustGit(t, g, "worktree", "add", "-q", wt)
	res, err := Install(ctx, Git{Dir: wt, Env: g.Env}, InstallOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Dir != hooksDir(g) {
		t.Errorf("worktree install went to %s, want the shared %s", res.Dir, hooksDir(g))
	}
}

func TestInstallRefusesSharedHooksPath(t *testing.T) {
	g := newRepo(t, testEnv(t), "repo")
	shared := filepath.Join(t.TempDir(), "team-hooks")
	mustGit(t, g, "config", "--global", "core.hooksPath", shared)
	_, err := Install(context.Background(), g, InstallOptions{})
	var se *SharedHooksPathError
	if !errors.As(err, &se) || se.Scope != "global" || se.Dir != shared {
		t.Fatalf("err = %v, want SharedHooksPathError for %s", err, shared)
	}
	if _, err := os.Stat(shared); !errors.Is(err, os.ErrNotExist) {
		t.Error("wrote into the shared directory")
	}
}

func TestNotARepository(t *testing.T) {
	g := Git{Dir: t.TempDir(), Env: append(testEnv(t), "GIT_CEILING_DIRECTORIES="+os.TempDir())}
	for name, f := range map[string]func() error{
		"install":   func() error { _, err := Install(context.Background(), g, InstallOptions{}); return err },
		"uninstall": func() error { _, err := Uninstall(context.Background(), g, nil); return err },
		"status":    func() error { _, err := Status(context.Background(), g, ""); return err },
	} {
		if err := f(); !errors.Is(err, ErrNotRepo) {
			t.Errorf("%s: err = %v, want ErrNotRepo", name, err)
		}
	}
}

func TestUnknownHook(t *testing.T) {
	g := newRepo(t, testEnv(t), "repo")
	_, err := Install(context.Background(), g, InstallOptions{Hooks: []string{"pre-comit"}})
	var ue *UnknownHookError
	if !errors.As(err, &ue) || ue.Name != "pre-comit" {
		t.Fatalf("err = %v", err)
	}
}
