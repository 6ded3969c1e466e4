package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyward/keyward/patterns/patternstest"
)

// TestPreCommitFramework installs keyward's .pre-commit-hooks.yaml with the
// real pre-commit framework (Debian 12 ships 3.0.4; .ci/run installs it)
// from a local checkout, and checks that a commit with a key is stopped and
// a clean one goes through. The framework builds keyward with `go install`
// (language: golang); the test points Go at this machine's module and build
// caches with the proxy off, so nothing is downloaded.
func TestPreCommitFramework(t *testing.T) {
	if _, err := exec.LookPath("pre-commit"); err != nil {
		t.Skip("pre-commit is not installed (apt-get install -y pre-commit); .ci/run installs it, so CI runs this test")
	}
	if testing.Short() {
		t.Skip("builds keyward through the framework")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	goenv := func(k string) string {
		out, err := exec.Command("go", "env", k).Output()
		if err != nil {
			t.Fatalf("go env %s: %v", k, err)
		}
		return strings.TrimSpace(string(out))
	}
	env := append(os.Environ(),
		"HOME="+tmp, "XDG_CACHE_HOME="+filepath.Join(tmp, "cache"), "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com",
		"GOMODCACHE="+goenv("GOMODCACHE"), "GOCACHE="+goenv("GOCACHE"),
		"GOPROXY=off", "GOFLAGS=-mod=mod", "GOTOOLCHAIN=local", "PRE_COMMIT_COLOR=never",
	)
	run := func(dir string, ok bool, name string, args ...string) string {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir, cmd.Env = dir, env
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		if (err == nil) != ok {
			t.Fatalf("%s %s: err %v (want ok=%v)\n%s", name, strings.Join(args, " "), err, ok, out.String())
		}
		return out.String()
	}

	// A checkout of keyward as it is now: the files git tracks, plus the
	// ones this branch added, committed in a fresh repository.
	src := filepath.Join(tmp, "keyward")
	files := run(root, true, "git", "ls-files", "--cached", "--others", "--exclude-standard", "-z")
	for _, f := range strings.Split(strings.TrimRight(files, "\x00"), "\x00") {
		if f == "" || strings.Contains(f, "testdata/") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			continue // deleted in the working tree
		}
		dst := filepath.Join(src, f)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run(src, true, "git", "init", "-q", "-b", "main")
	run(src, true, "git", "add", ".")
	run(src, true, "git", "commit", "-q", "-m", "keyward")
	rev := strings.TrimSpace(run(src, true, "git", "rev-parse", "HEAD"))

	proj := filepath.Join(tmp, "project")
	run(tmp, true, "git", "init", "-q", "-b", "main", proj)
	cfg := "repos:\n  - repo: " + src + "\n    rev: " + rev + "\n    hooks:\n      - id: keyward\n      - id: keyward-commit-msg\n      - id: keyward-pre-push\n"
	if err := os.WriteFile(filepath.Join(proj, ".pre-commit-config.yaml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	run(proj, true, "pre-commit", "install", "--hook-type", "pre-commit", "--hook-type", "commit-msg", "--hook-type", "pre-push")
	run(proj, true, "git", "add", ".pre-commit-config.yaml")
	out := run(proj, true, "git", "commit", "-q", "-m", "config")
	if !strings.Contains(out, "keyward (staged changes)") || !strings.Contains(out, "Passed") {
		t.Errorf("clean commit: the keyward hook did not run and pass:\n%s", out)
	}

	g := patternstest.New(42)
	text, creds := g.Expand("AWS_ACCESS_KEY_ID={{AKIA}}\nAWS_SECRET_ACCESS_KEY={{SECRET}}\n")
	if err := os.WriteFile(filepath.Join(proj, "creds.env"), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	run(proj, true, "git", "add", "creds.env")
	out = run(proj, false, "git", "commit", "-q", "-m", "creds")
	for _, want := range []string{"commit blocked", creds.KeyIDs[0], "LEAK creds.env:1:19"} {
		if !strings.Contains(out, want) {
			t.Errorf("commit with a key: output lacks %q:\n%s", want, out)
		}
	}

	// keyward's own status sees the framework's hooks and does not ask
	// for --chain.
	kw := filepath.Join(tmp, "kw")
	run(root, true, "go", "build", "-o", kw, "./cmd/keyward")
	out = run(proj, true, kw, "hook", "status")
	if !strings.Contains(out, "managed by the pre-commit framework") {
		t.Errorf("hook status does not recognise the framework:\n%s", out)
	}
	cmd := exec.Command(kw, "doctor")
	cmd.Dir, cmd.Env = proj, env
	b, _ := cmd.CombinedOutput() // its exit code depends on PATH and AWS credentials here
	out = string(b)
	if !strings.Contains(out, "pre-commit (pre-commit framework)") {
		t.Errorf("doctor does not count the framework's pre-commit hook:\n%s", out)
	}
	if strings.Contains(out, "--chain") {
		t.Errorf("doctor suggests --chain under the framework:\n%s", out)
	}
}
