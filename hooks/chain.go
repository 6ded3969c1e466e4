package hooks

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
)

// ActiveEnv is set, to the shim's absolute path, in the environment of a
// hook keyward chains to. If that hook leads back to the same shim (the
// pre-commit framework runs <name>.legacy, which may be keyward's shim, from
// a hook keyward chained to), the shim sees its own path and stops instead
// of looping.
const ActiveEnv = "KEYWARD_HOOK_ACTIVE"

// ActiveArgsEnv is set next to ActiveEnv to a digest of the arguments the
// chained hook got. A loop calls the shim again with the same arguments;
// a chained pre-push hook that pushes to another remote calls it with
// that remote's, and that push must be checked, not waved through.
const ActiveArgsEnv = "KEYWARD_HOOK_ACTIVE_ARGS"

// argsDigest identifies a hook's arguments in ActiveArgsEnv.
func argsDigest(args []string) string {
	h := sha256.Sum256([]byte(strings.Join(args, "\x00")))
	return hex.EncodeToString(h[:16])
}

// Chain is the hook keyward runs after its own check passes.
type Chain struct {
	// Path is the hook's path; empty if there is none.
	Path string
	// Runnable is false for a file git would not run either (not
	// executable, or not a file); keyward skips it as git would.
	Runnable bool
}

// ChainFor says what the shim at shim (the "$0" git ran, relative to g.Dir)
// chains to. For a repository shim that is <name>.keyward-chained beside
// it. For a global shim it is the hook git would have run without keyward:
// the previous global core.hooksPath's, else the repository's own
// .git/hooks/<name>; if that is itself a keyward shim, the hook it chains
// to, so nothing is scanned twice.
func ChainFor(ctx context.Context, g Git, shim, hook string) (Chain, error) {
	if err := CheckRunName(hook); err != nil {
		return Chain{}, err
	}
	cwd, err := g.dir()
	if err != nil {
		return Chain{}, err
	}
	shim = absFrom(cwd, shim)
	dir := filepath.Dir(shim)
	st, global, err := readState(dir)
	if err != nil {
		return Chain{}, err
	}
	var cand string
	switch {
	case !global:
		cand = filepath.Join(dir, hook+ChainSuffix)
	case st.HadPrevious:
		// git resolves a relative core.hooksPath against the directory
		// hooks run in, which is where this process was started.
		cand = filepath.Join(absFrom(cwd, expandHome(st.Previous, g.getenv("HOME"))), hook)
	default:
		common, err := g.run(ctx, "rev-parse", "--git-common-dir")
		if err != nil {
			return Chain{}, fmt.Errorf("find chained hook: %w", err)
		}
		cand = filepath.Join(absFrom(cwd, common), "hooks", hook)
	}
	if global {
		h, err := inspect(cand)
		if err != nil {
			return Chain{}, err
		}
		if h.kind == kindKeyward {
			cand += ChainSuffix
		}
	}
	if samePath(cand, shim) {
		return Chain{}, nil
	}
	fi, err := os.Stat(cand) // following a symlink: running it is what git would do
	if err != nil {
		if _, lerr := os.Lstat(cand); lerr == nil {
			return Chain{Path: cand}, nil // a dangling symlink
		}
		return Chain{}, nil
	}
	return Chain{Path: cand, Runnable: fi.Mode().IsRegular() && (runtime.GOOS == "windows" || fi.Mode().Perm()&0o111 != 0)}, nil
}

// Reentered reports whether the shim at shim is being run, with args, by a
// hook that keyward itself chained to from the same shim with the same
// arguments (see ActiveEnv and ActiveArgsEnv).
func Reentered(g Git, shim string, args []string) bool {
	active := g.getenv(ActiveEnv)
	if active == "" {
		return false
	}
	cwd, err := g.dir()
	if err != nil {
		return false
	}
	return samePath(active, absFrom(cwd, shim)) && g.getenv(ActiveArgsEnv) == argsDigest(args)
}

// ChainedHookError is a chained hook that failed; git sees the failure as
// keyward's.
type ChainedHookError struct {
	Path string
	Code int
}

// Error names the hook and its exit status.
func (e *ChainedHookError) Error() string {
	return fmt.Sprintf("chained hook %s exited with status %d", e.Path, e.Code)
}

// RunChained runs the chained hook at path the way git would have: with
// the same arguments, standard input and environment, in g.Dir. A script
// without a #! line is run by sh, as git does.
func RunChained(ctx context.Context, g Git, shim, path string, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	cwd, err := g.dir()
	if err != nil {
		return err
	}
	env := append(append([]string(nil), g.environ()...), ActiveEnv+"="+absFrom(cwd, shim), ActiveArgsEnv+"="+argsDigest(args))
	runWith := func(name string, argv ...string) error {
		cmd := exec.CommandContext(ctx, name, argv...)
		cmd.Dir, cmd.Env = g.Dir, env
		cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, stderr
		return cmd.Run()
	}
	if runtime.GOOS == "windows" {
		// Windows cannot exec a script; Git for Windows puts its sh on
		// PATH for hooks.
		err = runWith("sh", append([]string{path}, args...)...)
	} else {
		err = runWith(path, args...)
		if errors.Is(err, syscall.ENOEXEC) {
			err = runWith("/bin/sh", append([]string{path}, args...)...)
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return &ChainedHookError{Path: path, Code: ee.ExitCode()}
	}
	if err != nil {
		return fmt.Errorf("run chained hook: %w", err)
	}
	return nil
}
