package fleet

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// maxGitStderr bounds how much of git's complaint goes into an error: the
// last lines say what went wrong.
const maxGitStderr = 600

// Git runs git for mirroring.
type Git struct {
	// Path is the git binary; empty means "git" from PATH.
	Path string
	// Env is added to the environment of every git command, e.g.
	// GIT_CONFIG_COUNT/KEY/VALUE settings carrying an auth header, which
	// keep tokens out of the command line (where ps shows them) and out of
	// the mirror's config (where the cache would keep them).
	Env []string
}

// Mirror brings dir up to date with repo: a clone with --mirror the first
// time, "git remote update --prune" after. A first clone goes to a
// temporary directory renamed into place when complete, so an interrupted
// clone never looks like a mirror. Local paths are cloned with --no-local,
// through git's pack protocol, so a corrupt source fails here rather than
// being hard-linked into the cache.
func (g *Git) Mirror(ctx context.Context, repo Repo, dir string) error {
	if isMirror(dir) {
		if _, err := g.run(ctx, dir, "remote", "update", "--prune"); err != nil {
			// Not deleted and cloned again: a server that is down would
			// cost the whole cache. The error says where the mirror is.
			return fmt.Errorf("update mirror %s (delete it to clone afresh): %w", dir, err)
		}
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		return fmt.Errorf("mirror: %w", err)
	}
	tmp := dir + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return fmt.Errorf("mirror: %w", err)
	}
	if err := os.RemoveAll(dir); err != nil { // a leftover that is not a mirror
		return fmt.Errorf("mirror: %w", err)
	}
	args := []string{"clone", "--mirror", "--quiet"}
	if !isURL(repo.URL) {
		args = append(args, "--no-local")
	}
	// "--" so a listed URL starting with "-" cannot be read as an option.
	args = append(args, "--", repo.URL, tmp)
	if _, err := g.run(ctx, "", args...); err != nil {
		os.RemoveAll(tmp)
		return err
	}
	if err := os.Rename(tmp, dir); err != nil {
		os.RemoveAll(tmp)
		return fmt.Errorf("mirror: %w", err)
	}
	return nil
}

// isMirror reports whether dir is a finished mirror (renamed into place).
func isMirror(dir string) bool {
	for _, n := range []string{"HEAD", "objects", "refs", "config"} {
		if _, err := os.Stat(filepath.Join(dir, n)); err != nil {
			return false
		}
	}
	return true
}

// RefState is a digest of every ref in the mirror and the object it names:
// equal states mean there is nothing new to sweep.
func (g *Git) RefState(ctx context.Context, dir string) (string, error) {
	out, err := g.run(ctx, dir, "for-each-ref", "--format=%(objectname) %(refname)")
	if err != nil {
		return "", fmt.Errorf("list refs: %w", err)
	}
	h := sha256.Sum256(out)
	return hex.EncodeToString(h[:]), nil
}

func (g *Git) run(ctx context.Context, dir string, args ...string) ([]byte, error) {
	bin := g.Path
	if bin == "" {
		bin = "git"
	}
	sub := args[0]
	if dir != "" {
		args = append([]string{"-C", dir}, args...)
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	// Never prompt: a sweep runs unattended, and a prompt would hang it.
	cmd.Env = append(append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "GIT_ASKPASS=", "SSH_ASKPASS="), g.Env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if err != nil {
		msg := uniqueLines(stderr.String())
		if len(msg) > maxGitStderr {
			msg = "…" + msg[len(msg)-maxGitStderr:]
		}
		msg = strings.ReplaceAll(msg, "\n", "; ")
		var ee *exec.ExitError
		if errors.As(err, &ee) && msg != "" {
			return nil, fmt.Errorf("git %s: %s", sub, msg)
		}
		return nil, fmt.Errorf("git %s: %w", sub, err)
	}
	return stdout.Bytes(), nil
}

// uniqueLines joins git's stderr lines, each once: git repeats itself
// when one object is bad in several ways.
func uniqueLines(s string) string {
	var out []string
	seen := map[string]bool{}
	for _, l := range strings.Split(s, "\n") {
		l = strings.TrimSpace(l)
		if l != "" && !seen[l] {
			seen[l] = true
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
