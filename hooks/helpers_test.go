package hooks

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// testEnv is an environment in which git reads no configuration of the
// developer's: HOME is a fresh directory and the system config is off.
func testEnv(t *testing.T) []string {
	t.Helper()
	home := t.TempDir()
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "GIT_") || k == "HOME" || k == "XDG_CONFIG_HOME" || k == ActiveEnv || k == ActiveArgsEnv {
			continue
		}
		env = append(env, kv)
	}
	return append(env,
		"HOME="+home,
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=Test Author", "GIT_AUTHOR_EMAIL=author@example.com",
		"GIT_COMMITTER_NAME=Test Committer", "GIT_COMMITTER_EMAIL=committer@example.com",
	)
}

// newRepo runs git init in a new directory named name under a temporary
// directory, and returns a Git for it.
func newRepo(t *testing.T, env []string, name string) Git {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	dir := filepath.Join(t.TempDir(), name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	g := Git{Dir: dir, Env: env}
	mustGit(t, g, "init", "-q", "-b", "main")
	return g
}

// mustGit runs git and fails the test if it fails.
func mustGit(t *testing.T, g Git, args ...string) string {
	t.Helper()
	out, err := g.run(context.Background(), args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func writeExec(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o755); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func hooksDir(g Git) string { return filepath.Join(g.Dir, ".git", "hooks") }

// foreignHook is a hand-written hook that records its arguments and
// standard input, so tests can check keyward passed both on.
const foreignHook = `#!/bin/sh
printf '%s\n' "$0" "$@" > "$(git rev-parse --git-dir)/foreign-ran"
cat >> "$(git rev-parse --git-dir)/foreign-ran"
exit ${FOREIGN_EXIT:-0}
`
