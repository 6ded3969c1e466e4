package hooks

import (
	"context"
	"path/filepath"
)

// State is what is installed at one hook's path.
type State string

// States reported in a HookStatus.
const (
	StateMissing State = "missing"
	// StateCurrent is keyward's shim, byte for byte what install would
	// write now.
	StateCurrent State = "current"
	// StateOutdated is keyward's shim from another version of keyward or
	// recording another binary; install refreshes it.
	StateOutdated State = "outdated"
	// StateForeign is a hook keyward did not write, so keyward is not
	// running there.
	StateForeign State = "foreign"
)

// HookStatus is one hook as Status found it.
type HookStatus struct {
	Hook  string
	Path  string
	State State
	// Keyward is the binary an installed shim records.
	Keyward string
	// Chain is what the shim runs after keyward's check (set for
	// keyward's shims only).
	Chain Chain
}

// RepoStatus is the hooks of one repository.
type RepoStatus struct {
	Location
	// Covered means git runs this repository's hooks from keyward's global
	// directory.
	Covered bool
	Hooks   []HookStatus
}

// GlobalStatus is keyward's global install.
type GlobalStatus struct {
	// Dir is keyward's global hooks directory.
	Dir string
	// Installed says Dir holds keyward's state file.
	Installed bool
	// HooksPath is the global core.hooksPath (~ expanded), empty if unset;
	// Active says it points at Dir.
	HooksPath string
	Active    bool
	// HadPrevious and Previous are what install replaced.
	HadPrevious bool
	Previous    string
	Hooks       []HookStatus
	// Unforwarded lists the client-side hooks (ClientHooks) that have no
	// keyward shim in Dir: with core.hooksPath pointing there, git runs no
	// repository's own hook of that name.
	Unforwarded []string
}

// Status reports the hooks of the repository at g.Dir, with keyward the
// binary install would record now, so outdated shims show up.
func Status(ctx context.Context, g Git, keyward string) (RepoStatus, error) {
	loc, err := Locate(ctx, g)
	if err != nil {
		return RepoStatus{}, err
	}
	_, global, err := readState(loc.Dir)
	if err != nil {
		return RepoStatus{}, err
	}
	rs := RepoStatus{Location: loc, Covered: global}
	for _, name := range Names {
		hs, err := hookStatus(loc.Dir, name, keyward)
		if err != nil {
			return rs, err
		}
		if hs.State == StateCurrent || hs.State == StateOutdated {
			if hs.Chain, err = ChainFor(ctx, g, hs.Path, name); err != nil {
				return rs, err
			}
		}
		rs.Hooks = append(rs.Hooks, hs)
	}
	return rs, nil
}

// StatusGlobal reports keyward's global install in dir. It needs no
// repository.
func StatusGlobal(ctx context.Context, g Git, dir, keyward string) (GlobalStatus, error) {
	dir = filepath.Clean(dir)
	st, installed, err := readState(dir)
	if err != nil {
		return GlobalStatus{}, err
	}
	_, resolved, set, err := globalHooksPath(ctx, g)
	if err != nil {
		return GlobalStatus{}, err
	}
	gs := GlobalStatus{
		Dir: dir, Installed: installed, HooksPath: resolved,
		Active:      set && samePath(resolved, dir),
		HadPrevious: st.HadPrevious, Previous: st.Previous,
	}
	for _, name := range Names {
		hs, err := hookStatus(dir, name, keyward)
		if err != nil {
			return gs, err
		}
		gs.Hooks = append(gs.Hooks, hs)
	}
	if installed {
		for _, name := range ClientHooks {
			if !Forwarded(name) {
				continue
			}
			hs, err := hookStatus(dir, name, keyward)
			if err != nil {
				return gs, err
			}
			if hs.State != StateCurrent && hs.State != StateOutdated {
				gs.Unforwarded = append(gs.Unforwarded, name)
			}
		}
	}
	return gs, nil
}

func hookStatus(dir, name, keyward string) (HookStatus, error) {
	path := filepath.Join(dir, name)
	h, err := inspect(path)
	if err != nil {
		return HookStatus{}, err
	}
	hs := HookStatus{Hook: name, Path: path}
	switch {
	case h.kind == kindMissing:
		hs.State = StateMissing
	case h.kind == kindForeign:
		hs.State = StateForeign
	case h.current(Script(name, keyward)):
		hs.State, hs.Keyward = StateCurrent, h.info.keyward
	default:
		hs.State, hs.Keyward = StateOutdated, h.info.keyward
	}
	return hs, nil
}
