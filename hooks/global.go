package hooks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
)

// stateFile sits beside the global shims. Its presence is what marks a
// directory as keyward's global hooks directory (at run time too), and it
// records the global core.hooksPath that install replaced. The leading dot
// and the suffix keep git from ever taking it for a hook.
const stateFile = ".keyward-global.json"

// stateMode: the file holds a path, nothing secret.
const stateMode fs.FileMode = 0o644

// globalState is what InstallGlobal changed in the global git config.
type globalState struct {
	Version int `json:"version"`
	// HadPrevious says core.hooksPath was set before install; Previous is
	// its raw value (~ unexpanded), restored verbatim on uninstall.
	HadPrevious bool   `json:"had_previous"`
	Previous    string `json:"previous_hooks_path,omitempty"`
	// Checks lists the hooks keyward checks in (install --hooks); empty
	// means all of Names. Every other shim there only forwards.
	Checks []string `json:"checks,omitempty"`
}

// readState reads dir's state file; ok is false if there is none.
func readState(dir string) (st globalState, ok bool, err error) {
	b, err := os.ReadFile(filepath.Join(dir, stateFile))
	if errors.Is(err, fs.ErrNotExist) {
		return st, false, nil
	}
	if err != nil {
		return st, false, fmt.Errorf("read global hooks state: %w", err)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, false, fmt.Errorf("read global hooks state %s: %w", filepath.Join(dir, stateFile), err)
	}
	return st, true, nil
}

func writeState(dir string, st globalState) error {
	st.Version = 1
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	return writeFile(filepath.Join(dir, stateFile), append(b, '\n'), stateMode)
}

// GlobalResult is the outcome of a global install or uninstall.
type GlobalResult struct {
	// Dir is keyward's global hooks directory.
	Dir     string
	Changes []Change
	// HadPrevious and Previous are the global core.hooksPath from before
	// keyward's install: what the shims chain to, and what uninstall puts
	// back.
	HadPrevious bool
	Previous    string
	// ConfigChanged says the global core.hooksPath was set (install) or
	// restored or unset (uninstall) by this call.
	ConfigChanged bool
	// Foreign is set by uninstall when the global core.hooksPath points
	// somewhere else by then; it was left alone.
	Foreign string
}

// globalHooksPath reads core.hooksPath from the global config only: raw
// for restoring it verbatim, and resolved for comparing it with dir.
func globalHooksPath(ctx context.Context, g Git) (raw, resolved string, ok bool, err error) {
	raw, ok, err = g.config(ctx, "--global", "--get", "core.hooksPath")
	if err != nil || !ok {
		return "", "", ok, err
	}
	return raw, expandHome(raw, g.getenv("HOME")), true, nil
}

// InstallGlobal makes keyward's hooks run in every repository of the user:
// it writes the shims into dir (see GlobalDir), then points the global
// core.hooksPath at it, last, so a failure leaves git's config untouched.
// Chain is meaningless here: the global shims always chain to the hook git
// would have run without keyward.
func InstallGlobal(ctx context.Context, g Git, dir string, opts InstallOptions) (GlobalResult, error) {
	names, err := selectNames(opts.Hooks)
	if err != nil {
		return GlobalResult{}, err
	}
	dir = filepath.Clean(dir)
	if !filepath.IsAbs(dir) {
		return GlobalResult{}, fmt.Errorf("install global hooks: %s is not an absolute path", dir)
	}
	raw, resolved, set, err := globalHooksPath(ctx, g)
	if err != nil {
		return GlobalResult{}, fmt.Errorf("install global hooks: %w", err)
	}
	ours := set && samePath(resolved, dir)
	st, _, err := readState(dir)
	if err != nil {
		return GlobalResult{}, err
	}
	if !ours {
		// Whatever an older state file says, this is what install replaces.
		st = globalState{HadPrevious: set, Previous: raw}
		if set && filepath.IsAbs(resolved) {
			if prev, isKeyward, err := readState(resolved); err == nil && isKeyward {
				// Replacing another keyward global directory
				// (XDG_CONFIG_HOME changed): inherit what that one
				// replaced, rather than chain to shims that would then
				// chain nowhere.
				st = prev
			}
		}
	}
	// Every client-side hook gets a shim, checked or forwarding, because
	// core.hooksPath hides every hook of .git/hooks, not only keyward's.
	changes, err := plan(dir, ClientHooks, opts, false)
	if err != nil {
		return GlobalResult{}, err
	}
	st.Checks = nil
	if len(names) < len(Names) {
		st.Checks = names
	}
	if err := apply(ctx, dir, changes, opts.Keyward); err != nil {
		return GlobalResult{}, err
	}
	// Written every time: Checks follows this install's --hooks.
	if err := writeState(dir, st); err != nil {
		return GlobalResult{}, fmt.Errorf("install global hooks: %w", err)
	}
	res := GlobalResult{Dir: dir, Changes: changes, HadPrevious: st.HadPrevious, Previous: st.Previous}
	if !ours {
		if _, err := g.run(ctx, "config", "--global", "core.hooksPath", dir); err != nil {
			return res, fmt.Errorf("install global hooks: %w", err)
		}
		res.ConfigChanged = true
	}
	return res, nil
}

// UninstallGlobal undoes InstallGlobal: it restores the global
// core.hooksPath it replaced (or unsets it), unless the user has since
// pointed it elsewhere, then removes keyward's shims and state file, and
// the directory if that leaves it empty.
func UninstallGlobal(ctx context.Context, g Git, dir string) (GlobalResult, error) {
	dir = filepath.Clean(dir)
	st, _, err := readState(dir)
	if err != nil {
		return GlobalResult{}, err
	}
	res := GlobalResult{Dir: dir, HadPrevious: st.HadPrevious, Previous: st.Previous}
	_, resolved, set, err := globalHooksPath(ctx, g)
	if err != nil {
		return res, fmt.Errorf("uninstall global hooks: %w", err)
	}
	switch {
	case set && samePath(resolved, dir) && st.HadPrevious:
		_, err = g.run(ctx, "config", "--global", "core.hooksPath", st.Previous)
		res.ConfigChanged = true
	case set && samePath(resolved, dir):
		_, err = g.run(ctx, "config", "--global", "--unset", "core.hooksPath")
		res.ConfigChanged = true
	case set:
		res.Foreign = resolved
	}
	if err != nil {
		return res, fmt.Errorf("uninstall global hooks: %w", err)
	}
	for _, name := range ClientHooks {
		c, err := removeShim(dir, name, false)
		if err != nil {
			return res, err
		}
		res.Changes = append(res.Changes, c)
	}
	if err := os.Remove(filepath.Join(dir, stateFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return res, fmt.Errorf("uninstall global hooks: %w", err)
	}
	os.Remove(dir) // only succeeds if empty; anything the user added stays
	return res, nil
}

// ShimChecks reports whether the shim at shim runs keyward's check for
// hook, or only forwards to the hook git would have run: forwarded hooks
// never check, and a global install with --hooks checks only those.
func ShimChecks(g Git, shim, hook string) (bool, error) {
	if !slices.Contains(Names, hook) {
		return false, nil
	}
	cwd, err := g.dir()
	if err != nil {
		return false, err
	}
	st, global, err := readState(filepath.Dir(absFrom(cwd, shim)))
	if err != nil {
		return false, err
	}
	if !global || len(st.Checks) == 0 {
		return true, nil
	}
	return slices.Contains(st.Checks, hook), nil
}
