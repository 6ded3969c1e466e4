package hooks

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
)

// Location is where git runs a repository's hooks from, and why.
type Location struct {
	// Dir is the absolute directory git runs hooks from.
	Dir string
	// CommonDir is the repository's absolute git common directory, shared by
	// all its worktrees (which is why hooks are shared too).
	CommonDir string
	// HooksPath is core.hooksPath as git reads it (~ expanded), empty if
	// unset.
	HooksPath string
	// HooksPathScope is the configuration core.hooksPath comes from:
	// "local", "worktree", "global", "system" or "command"; empty if unset.
	HooksPathScope string
}

// Shared reports whether Dir comes from configuration outside the
// repository, so writing there would affect other repositories too.
func (l Location) Shared() bool {
	switch l.HooksPathScope {
	case "", "local", "worktree":
		return false
	}
	return true
}

// Locate finds where git runs the hooks of the repository g.Dir is in. It
// asks git rather than assuming .git/hooks, because worktrees, submodules,
// $GIT_DIR and core.hooksPath all move it. That is also why it does not use
// scanner.OpenRepository, which finds a repository's objects: the hook
// directory is an answer of git's configuration (every scope, ~ expanded),
// and hooks does not import scanner.
func Locate(ctx context.Context, g Git) (Location, error) {
	dir, err := g.dir()
	if err != nil {
		return Location{}, err
	}
	out, err := g.run(ctx, "rev-parse", "--git-path", "hooks", "--git-common-dir")
	if err != nil {
		var ge *gitError
		if errors.As(err, &ge) && strings.Contains(ge.stderr, "not a git repository") {
			return Location{}, fmt.Errorf("%w: %s", ErrNotRepo, dir)
		}
		return Location{}, fmt.Errorf("locate hooks: %w", err)
	}
	lines := strings.Split(out, "\n")
	if len(lines) != 2 {
		return Location{}, fmt.Errorf("locate hooks: unexpected git rev-parse output %q", out)
	}
	loc := Location{Dir: absFrom(dir, lines[0]), CommonDir: absFrom(dir, lines[1])}
	v, ok, err := g.config(ctx, "--show-scope", "--type=path", "--get", "core.hooksPath")
	if err != nil {
		return Location{}, fmt.Errorf("locate hooks: %w", err)
	}
	if ok {
		loc.HooksPathScope, loc.HooksPath, _ = strings.Cut(v, "\t")
	}
	return loc, nil
}

// GlobalDir is the directory keyward's global hooks live in:
// $XDG_CONFIG_HOME/keyward/hooks, else ~/.config/keyward/hooks. XDG is used
// on every platform because git itself reads $XDG_CONFIG_HOME/git/config, so
// users of either already know where to look.
func GlobalDir(getenv func(string) string) (string, error) {
	// The XDG Base Directory spec says a relative value is invalid and
	// must be ignored.
	if x := getenv("XDG_CONFIG_HOME"); filepath.IsAbs(x) {
		return filepath.Join(x, "keyward", "hooks"), nil
	}
	home := getenv("HOME")
	if home == "" && runtime.GOOS == "windows" {
		home = getenv("USERPROFILE")
	}
	if home == "" {
		return "", errors.New("find global hooks directory: neither XDG_CONFIG_HOME nor HOME is set")
	}
	return filepath.Join(home, ".config", "keyward", "hooks"), nil
}

// expandHome resolves a leading ~/ the way git does for path-valued
// configuration, for values keyward stored raw.
func expandHome(p, home string) string {
	if home != "" && (p == "~" || strings.HasPrefix(p, "~/")) {
		return filepath.Join(home, p[1:])
	}
	return p
}

// samePath reports whether a and b name the same directory, comparing
// cleaned absolute paths and, when both exist, the files themselves (so a
// symlinked home directory still matches).
func samePath(a, b string) bool {
	if a == "" || b == "" {
		return false
	}
	if filepath.Clean(a) == filepath.Clean(b) {
		return true
	}
	ea, err1 := filepath.EvalSymlinks(a)
	eb, err2 := filepath.EvalSymlinks(b)
	return err1 == nil && err2 == nil && ea == eb
}
