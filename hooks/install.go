package hooks

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// InstallOptions says what Install and InstallGlobal write.
type InstallOptions struct {
	// Hooks to install; nil means all of Names.
	Hooks []string
	// Keyward is the absolute path of the keyward binary, recorded in each
	// shim so hooks work when PATH is minimal (GUI git clients); empty
	// relies on PATH alone.
	Keyward string
	// Chain moves a hook keyward did not write to <name>.keyward-chained
	// and runs it after keyward's check; without it Install refuses.
	Chain bool
}

// Action is what happened to one hook.
type Action string

// Actions reported in a Change.
const (
	Installed    Action = "installed"
	Updated      Action = "updated"
	Unchanged    Action = "unchanged"
	Removed      Action = "removed"
	NotInstalled Action = "not installed"
	// LeftAlone is a hook keyward did not write, which uninstall never
	// touches.
	LeftAlone Action = "left alone"
)

// Change is one hook's outcome.
type Change struct {
	Hook   string
	Path   string
	Action Action
	// Chained is where a hook keyward did not write now lives: the path it
	// was moved to by install, or that keyward's shim already chained to.
	Chained string
	// Restored is set by uninstall when the chained hook was renamed back
	// to Path.
	Restored bool
}

// Result is the outcome of a repository install or uninstall.
type Result struct {
	Location
	// Covered means git runs this repository's hooks from keyward's global
	// directory, so there was nothing to do here.
	Covered bool
	Changes []Change
}

// Conflict is one hook Install would not touch.
type Conflict struct {
	Hook string
	Path string
	// Occupied is set when even chaining is impossible because
	// Path+ChainSuffix already exists.
	Occupied bool
}

// ConflictError lists the hooks in the way; Install changed nothing.
type ConflictError struct {
	Conflicts []Conflict
}

// Error lists every hook in the way, so one run shows them all.
func (e *ConflictError) Error() string {
	var parts []string
	for _, c := range e.Conflicts {
		if c.Occupied {
			parts = append(parts, fmt.Sprintf("%s exists and was not written by keyward, and %s is taken", c.Path, filepath.Base(c.Path)+ChainSuffix))
		} else {
			parts = append(parts, fmt.Sprintf("%s exists and was not written by keyward", c.Path))
		}
	}
	return "install hooks: " + strings.Join(parts, "; ")
}

// Chainable reports whether installing again with Chain would succeed.
func (e *ConflictError) Chainable() bool {
	for _, c := range e.Conflicts {
		if c.Occupied {
			return false
		}
	}
	return true
}

// SharedHooksPathError is returned when core.hooksPath comes from
// configuration shared with other repositories, so a repository install
// would silently become a global one.
type SharedHooksPathError struct {
	Dir   string
	Scope string
}

// Error says where core.hooksPath comes from and why that matters.
func (e *SharedHooksPathError) Error() string {
	return fmt.Sprintf("install hooks: core.hooksPath is set in your %s git config to %s, so hooks written there would run in every repository that uses it", e.Scope, e.Dir)
}

// Install writes keyward's shims into the directory git runs the hooks of
// the repository at g.Dir from, chaining to or refusing to replace hooks it
// did not write. It checks every hook before changing any, so a refusal
// leaves the repository as it was.
func Install(ctx context.Context, g Git, opts InstallOptions) (Result, error) {
	names, loc, covered, err := prepare(ctx, g, opts.Hooks)
	if err != nil || covered {
		return Result{Location: loc, Covered: covered}, err
	}
	if loc.Shared() {
		return Result{}, &SharedHooksPathError{Dir: loc.Dir, Scope: loc.HooksPathScope}
	}
	changes, err := plan(loc.Dir, names, opts, true)
	if err != nil {
		return Result{}, err
	}
	if err := apply(ctx, loc.Dir, changes, opts.Keyward); err != nil {
		return Result{}, err
	}
	return Result{Location: loc, Changes: changes}, nil
}

// plan works out each hook's Change without touching anything, returning a
// *ConflictError if any hook is in the way. chainable is false for
// keyward's global directory, where moving a hook aside would hide it.
func plan(dir string, names []string, opts InstallOptions, chainable bool) ([]Change, error) {
	var changes []Change
	var conflicts []Conflict
	for _, name := range names {
		path := filepath.Join(dir, name)
		chained := path + ChainSuffix
		h, err := inspect(path)
		if err != nil {
			return nil, err
		}
		c := Change{Hook: name, Path: path}
		switch h.kind {
		case kindMissing:
			c.Action = Installed
		case kindKeyward:
			c.Action = Updated
			if h.current(Script(name, opts.Keyward)) {
				c.Action = Unchanged
			}
		case kindForeign:
			taken, err := exists(chained)
			if err != nil {
				return nil, err
			}
			if !chainable || !opts.Chain || taken {
				conflicts = append(conflicts, Conflict{Hook: name, Path: path, Occupied: chainable && taken})
				continue
			}
			c.Action, c.Chained = Installed, chained
		}
		if c.Chained == "" && chainable {
			// A shim deleted by hand leaves its chained hook behind; the
			// new shim picks it up again, so say so.
			if taken, _ := exists(chained); taken {
				c.Chained = chained
			}
		}
		changes = append(changes, c)
	}
	if len(conflicts) > 0 {
		return nil, &ConflictError{Conflicts: conflicts}
	}
	return changes, nil
}

// apply carries out a plan: moving foreign hooks aside, then writing shims.
func apply(ctx context.Context, dir string, changes []Change, keyward string) error {
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return fmt.Errorf("install hooks: %w", err)
	}
	for _, c := range changes {
		if err := ctx.Err(); err != nil {
			return err
		}
		if c.Action == Unchanged {
			continue
		}
		if c.Chained != "" {
			if h, err := inspect(c.Path); err != nil {
				return err
			} else if h.kind == kindForeign {
				// os.Rename moves a symlink itself, never its target.
				if err := os.Rename(c.Path, c.Chained); err != nil {
					return fmt.Errorf("install hooks: chain %s: %w", c.Hook, err)
				}
			}
		}
		if err := writeFile(c.Path, Script(c.Hook, keyward), hookMode); err != nil {
			return fmt.Errorf("install hooks: %w", err)
		}
	}
	return nil
}

// Uninstall removes keyward's shims from the repository at g.Dir and
// renames any hook it chained back into place. Anything keyward did not
// write stays, including a symlink at a hook's path.
func Uninstall(ctx context.Context, g Git, hooks []string) (Result, error) {
	names, loc, covered, err := prepare(ctx, g, hooks)
	if err != nil || covered {
		return Result{Location: loc, Covered: covered}, err
	}
	var changes []Change
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			return Result{}, err
		}
		c, err := removeShim(loc.Dir, name, true)
		if err != nil {
			return Result{}, err
		}
		changes = append(changes, c)
	}
	return Result{Location: loc, Changes: changes}, nil
}

// removeShim removes keyward's shim for name from dir, and with restore
// renames a chained hook back in its place (in one rename, so there is no
// moment without a hook).
func removeShim(dir, name string, restore bool) (Change, error) {
	path := filepath.Join(dir, name)
	chained := path + ChainSuffix
	c := Change{Hook: name, Path: path}
	h, err := inspect(path)
	if err != nil {
		return c, err
	}
	hasChained := false
	if restore {
		if hasChained, err = exists(chained); err != nil {
			return c, err
		}
	}
	switch {
	case h.kind == kindForeign:
		c.Action = LeftAlone
		if hasChained {
			c.Chained = chained // reported: the user must sort this out
		}
		return c, nil
	case h.kind == kindMissing && !hasChained:
		c.Action = NotInstalled
		return c, nil
	case hasChained:
		c.Action, c.Chained, c.Restored = Removed, chained, true
		if h.kind == kindMissing {
			c.Action = NotInstalled
		}
		if err := os.Rename(chained, path); err != nil {
			return c, fmt.Errorf("uninstall hooks: restore %s: %w", name, err)
		}
		return c, nil
	}
	c.Action = Removed
	if err := os.Remove(path); err != nil {
		return c, fmt.Errorf("uninstall hooks: %w", err)
	}
	return c, nil
}

// prepare is what install and uninstall both start with: the hooks named,
// where git runs this repository's hooks, and whether that is keyward's
// global directory (covered), which a repository install must leave alone.
func prepare(ctx context.Context, g Git, hooks []string) (names []string, loc Location, covered bool, err error) {
	if names, err = selectNames(hooks); err != nil {
		return nil, Location{}, false, err
	}
	if loc, err = Locate(ctx, g); err != nil {
		return nil, Location{}, false, err
	}
	_, covered, err = readState(loc.Dir)
	if err != nil {
		return nil, Location{}, false, err
	}
	return names, loc, covered, nil
}
