package hooks

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestChainForRepoShim(t *testing.T) {
	ctx := context.Background()
	g := newRepo(t, testEnv(t), "repo")
	shim := filepath.Join(".git", "hooks", PreCommit) // as git passes $0: relative
	if ch, err := ChainFor(ctx, g, shim, PreCommit); err != nil || ch.Path != "" {
		t.Errorf("no chained hook: %+v, %v", ch, err)
	}
	chained := filepath.Join(hooksDir(g), PreCommit+ChainSuffix)
	writeExec(t, chained, foreignHook)
	if ch, _ := ChainFor(ctx, g, shim, PreCommit); ch.Path != chained || !ch.Runnable {
		t.Errorf("chain = %+v", ch)
	}
	if err := os.Chmod(chained, 0o644); err != nil {
		t.Fatal(err)
	}
	if ch, _ := ChainFor(ctx, g, shim, PreCommit); ch.Path != chained || ch.Runnable {
		t.Errorf("non-executable chain = %+v, want present but not runnable", ch)
	}
}

func TestChainForGlobalShim(t *testing.T) {
	ctx := context.Background()
	env := testEnv(t)
	g := newRepo(t, env, "repo")
	dir := filepath.Join(homeOf(env), "kw")
	if _, err := InstallGlobal(ctx, g, dir, InstallOptions{}); err != nil {
		t.Fatal(err)
	}
	shim := filepath.Join(dir, PrePush)

	// The repository's own hook, which core.hooksPath would otherwise hide.
	own := filepath.Join(hooksDir(g), PrePush)
	writeExec(t, own, foreignHook)
	if ch, err := ChainFor(ctx, g, shim, PrePush); err != nil || ch.Path != own || !ch.Runnable {
		t.Errorf("chain = %+v, %v; want %s", ch, err, own)
	}

	// A repository-level keyward install there is skipped in favour of
	// what it chains to, so nothing is scanned twice.
	if err := os.Rename(own, own+ChainSuffix); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(own, Script(PrePush, ""), 0o755); err != nil {
		t.Fatal(err)
	}
	if ch, _ := ChainFor(ctx, g, shim, PrePush); ch.Path != own+ChainSuffix {
		t.Errorf("chain through a repository shim = %+v", ch)
	}
}

func TestChainForGlobalShimWithPreviousHooksPath(t *testing.T) {
	ctx := context.Background()
	env := testEnv(t)
	g := newRepo(t, env, "repo")
	mustGit(t, g, "config", "--global", "core.hooksPath", "~/team hooks")
	dir := filepath.Join(homeOf(env), "kw")
	if _, err := InstallGlobal(ctx, g, dir, InstallOptions{}); err != nil {
		t.Fatal(err)
	}
	team := filepath.Join(homeOf(env), "team hooks", CommitMsg)
	writeExec(t, team, foreignHook)
	if ch, err := ChainFor(ctx, g, filepath.Join(dir, CommitMsg), CommitMsg); err != nil || ch.Path != team {
		t.Errorf("chain = %+v, %v; want the previous global hook %s", ch, err, team)
	}
}

func TestRunChained(t *testing.T) {
	ctx := context.Background()
	env := testEnv(t)
	g := newRepo(t, env, "repo")
	hook := filepath.Join(hooksDir(g), PrePush+ChainSuffix)
	writeExec(t, hook, foreignHook)
	shim := filepath.Join(".git", "hooks", PrePush)
	input := "refs/heads/main " + strings.Repeat("a", 40) + " refs/heads/main " + strings.Repeat("0", 40) + "\n"

	var stdout, stderr bytes.Buffer
	err := RunChained(ctx, g, shim, hook, []string{"origin", "/tmp/it's a remote"}, strings.NewReader(input), &stdout, &stderr)
	if err != nil {
		t.Fatalf("%v: %s", err, stderr.String())
	}
	want := hook + "\norigin\n/tmp/it's a remote\n" + input
	if got := readFile(t, filepath.Join(g.Dir, ".git", "foreign-ran")); got != want {
		t.Errorf("chained hook saw\n%q\nwant\n%q", got, want)
	}

	// Its exit status is reported.
	g2 := g
	g2.Env = append(append([]string(nil), env...), "FOREIGN_EXIT=3")
	err = RunChained(ctx, g2, shim, hook, nil, strings.NewReader(""), &stdout, &stderr)
	var ce *ChainedHookError
	if !errors.As(err, &ce) || ce.Code != 3 {
		t.Errorf("err = %v, want exit status 3", err)
	}

	// A script without #! runs under sh, as git runs it.
	writeExec(t, hook, "echo bare script > \"$(git rev-parse --git-dir)/foreign-ran\"\n")
	if err := RunChained(ctx, g, shim, hook, nil, nil, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(g.Dir, ".git", "foreign-ran")); got != "bare script\n" {
		t.Errorf("got %q", got)
	}
}

func TestReentered(t *testing.T) {
	g := newRepo(t, testEnv(t), "repo")
	shim := filepath.Join(".git", "hooks", PreCommit)
	args := []string{"origin", "../origin.git"}
	if Reentered(g, shim, args) {
		t.Error("reentered without the variable")
	}
	g.Env = append(g.Env, ActiveEnv+"="+filepath.Join(g.Dir, shim), ActiveArgsEnv+"="+argsDigest(args))
	if !Reentered(g, shim, args) {
		t.Error("not reentered with the shim's own path and arguments")
	}
	if Reentered(g, filepath.Join(".git", "hooks", PrePush), args) {
		t.Error("reentered for another shim")
	}
	// A chained pre-push hook pushing to another remote is a new push.
	if Reentered(g, shim, []string{"backup", "../backup.git"}) {
		t.Error("reentered for other arguments")
	}
}
