package hooks

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// fakeKeyward is a stand-in keyward binary that records how the shim ran
// it (its arguments and the hook's standard input) and exits with
// $FAKE_EXIT.
const fakeKeyward = `#!/bin/sh
log="$(git rev-parse --git-dir)/keyward-ran"
printf '%s\n' "$@" >> "$log"
if [ "$5" = pre-push ]; then cat >> "$log"; fi
exit ${FAKE_EXIT:-0}
`

// TestShimThroughGit runs the installed scripts from a real git commit and
// push, in a repository and with a keyward binary whose paths contain
// spaces and quotes, so the quoting is tested where it matters.
func TestShimThroughGit(t *testing.T) {
	ctx := context.Background()
	env := testEnv(t)
	g := newRepo(t, env, `my "repo" it's`)
	bin := filepath.Join(t.TempDir(), `bin dir's "x"`, "keyward")
	writeExec(t, bin, fakeKeyward)

	if _, err := Install(ctx, g, InstallOptions{Keyward: bin}); err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(g.Dir, ".git", "keyward-ran")
	mustGit(t, g, "commit", "-q", "--allow-empty", "-m", "first")
	// git runs hooks by a path relative to the top of the working tree.
	want := "hook\nrun\n--shim\n.git/hooks/pre-commit\npre-commit\n" +
		"hook\nrun\n--shim\n.git/hooks/commit-msg\ncommit-msg\n.git/COMMIT_EDITMSG\n"
	if got := readFile(t, log); got != want {
		t.Errorf("keyward ran with\n%s\nwant\n%s", got, want)
	}

	// A failing check stops the commit.
	os.Remove(log)
	failing := Git{Dir: g.Dir, Env: append(append([]string(nil), env...), "FAKE_EXIT=1")}
	if _, err := failing.run(ctx, "commit", "-q", "--allow-empty", "-m", "second"); err == nil {
		t.Error("commit went through a failing hook")
	}

	// pre-push gets git's arguments and standard input.
	remote := filepath.Join(t.TempDir(), "remote.git")
	mustGit(t, g, "init", "-q", "--bare", remote)
	mustGit(t, g, "remote", "add", "origin", remote)
	os.Remove(log)
	mustGit(t, g, "push", "-q", "origin", "main")
	head := mustGit(t, g, "rev-parse", "HEAD")
	got := readFile(t, log)
	for _, w := range []string{"\npre-push\norigin\n" + remote + "\n", "refs/heads/main " + head + " refs/heads/main " + strings.Repeat("0", 40)} {
		if !strings.Contains(got, w) {
			t.Errorf("pre-push log lacks %q:\n%s", w, got)
		}
	}
}

// TestShimFailsClosed checks that without a keyward binary the hook blocks
// the commit and says how to get out.
func TestShimFailsClosed(t *testing.T) {
	ctx := context.Background()
	gitPath, err := exec.LookPath("git")
	if err != nil {
		t.Skip("git not installed")
	}
	env := testEnv(t)
	g := newRepo(t, env, "repo")
	if _, err := Install(ctx, g, InstallOptions{Keyward: "/nonexistent/keyward", Hooks: []string{PreCommit}}); err != nil {
		t.Fatal(err)
	}
	// A PATH with git and sh but no keyward.
	empty := t.TempDir()
	for _, tool := range []string{gitPath} {
		if err := os.Symlink(tool, filepath.Join(empty, filepath.Base(tool))); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("git", "commit", "--allow-empty", "-m", "x")
	cmd.Dir = g.Dir
	for _, kv := range env {
		if !strings.HasPrefix(kv, "PATH=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "PATH="+empty+string(os.PathListSeparator)+"/bin")
	if _, err := os.Stat("/bin/keyward"); err == nil {
		t.Skip("a keyward binary is installed in /bin")
	}
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("commit went through without keyward:\n%s", out)
	}
	for _, w := range []string{"keyward: error: pre-commit hook: keyward not found at /nonexistent/keyward or on PATH", `use "git commit --no-verify"`, "install keyward again, or delete .git/hooks/pre-commit"} {
		if !strings.Contains(string(out), w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
}

func TestParseScript(t *testing.T) {
	for _, bin := range []string{"", "/usr/local/bin/keyward", `/tmp/it's "quoted"/key ward`} {
		info, ok := parseScript(Script(CommitMsg, bin))
		if !ok || info.hook != CommitMsg || info.version != scriptVersion || info.keyward != bin {
			t.Errorf("parseScript(Script(%q)) = %+v, %v", bin, info, ok)
		}
	}
	if _, ok := parseScript([]byte("#!/bin/sh\nexec husky\n")); ok {
		t.Error("a foreign hook parsed as keyward's")
	}
}
