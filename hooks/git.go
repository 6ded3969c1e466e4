package hooks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// ErrNotRepo is returned when a repository operation runs outside a git
// repository.
var ErrNotRepo = errors.New("not a git repository")

// Git says how to run git: in which directory and with which environment.
// Tests set Env so the developer's configuration is never read or written.
type Git struct {
	// Dir is the directory git runs in; empty means the current one.
	Dir string
	// Env is git's environment; nil means this process's.
	Env []string
}

// dir is Dir made absolute, so paths git prints relative to it can be
// joined to it.
func (g Git) dir() (string, error) {
	d := g.Dir
	if d == "" {
		d = "."
	}
	return filepath.Abs(d)
}

// environ is the environment hooks and git run with.
func (g Git) environ() []string {
	if g.Env != nil {
		return g.Env
	}
	return os.Environ()
}

// getenv reads one variable from the environment git runs with.
func (g Git) getenv(key string) string {
	env := g.environ()
	for i := len(env) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(env[i], "="); ok && k == key {
			return v
		}
	}
	return ""
}

// gitError is a git command that exited non-zero.
type gitError struct {
	args   []string
	code   int
	stderr string
}

// Error shows git's own first line of complaint, which is usually the
// clearest explanation there is.
func (e *gitError) Error() string {
	msg := strings.TrimSpace(e.stderr)
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	if msg == "" {
		msg = fmt.Sprintf("exit status %d", e.code)
	}
	return fmt.Sprintf("git %s: %s", strings.Join(e.args, " "), msg)
}

// run runs git with args and returns its standard output without the
// trailing newline.
func (g Git) run(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = g.Dir
	cmd.Env = g.environ()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		return "", ctx.Err()
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return "", &gitError{args: args, code: ee.ExitCode(), stderr: stderr.String()}
	}
	if err != nil {
		return "", fmt.Errorf("run git: %w", err)
	}
	return strings.TrimSuffix(stdout.String(), "\n"), nil
}

// exitCode is git's exit status for err, or -1 if git did not run to an
// exit.
func exitCode(err error) int {
	var ge *gitError
	if errors.As(err, &ge) {
		return ge.code
	}
	return -1
}

// config reads one value with `git config`, returning ok=false when the key
// is unset (exit 1) rather than an error.
func (g Git) config(ctx context.Context, args ...string) (value string, ok bool, err error) {
	v, err := g.run(ctx, append([]string{"config"}, args...)...)
	if exitCode(err) == 1 {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	return v, true, nil
}

// absFrom makes a path git printed relative to dir absolute and clean.
func absFrom(dir, p string) string {
	if !filepath.IsAbs(p) {
		p = filepath.Join(dir, p)
	}
	return filepath.Clean(p)
}
