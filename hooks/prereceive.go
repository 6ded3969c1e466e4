package hooks

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// This file is the server side: the pre-receive hook runs in the
// repository being pushed to, after the pushed objects arrived (in git's
// quarantine directory) and before any ref moves. Exiting non-zero rejects
// the whole push, which the pusher sees as "! [remote rejected] ...
// (pre-receive hook declined)". See githooks(5), "pre-receive".

// ReceiveUpdate is one line git writes to a pre-receive hook:
//
//	<old-value> SP <new-value> SP <ref-name> LF
type ReceiveUpdate struct {
	Old, New, Ref string
}

// IsDelete reports whether the push deletes the ref.
func (u ReceiveUpdate) IsDelete() bool { return isZero(u.New) }

// IsNew reports whether the push creates the ref.
func (u ReceiveUpdate) IsNew() bool { return isZero(u.Old) }

// ParsePreReceive parses a pre-receive (or post-receive) hook's standard
// input, strictly: a line that is not three fields with valid object names
// is an error, because guessing could let commits in unscanned.
func ParsePreReceive(b []byte) ([]ReceiveUpdate, error) {
	var out []ReceiveUpdate
	err := hookLines(b, 3, "pre-receive: ", func(f []string) string {
		u := ReceiveUpdate{Old: f[0], New: f[1], Ref: f[2]}
		switch {
		case !isOID(u.Old) || !isOID(u.New) || len(u.Old) != len(u.New):
			return "object names are not both 40 or 64 lower-case hex digits"
		case !strings.HasPrefix(u.Ref, "refs/"):
			return "ref name does not start with refs/"
		}
		out = append(out, u)
		return ""
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// PushOptions returns the push options of this push (git push -o KEY=VALUE),
// which git passes to pre-receive as GIT_PUSH_OPTION_COUNT and
// GIT_PUSH_OPTION_0, ... when the server sets receive.advertisePushOptions.
func PushOptions(getenv func(string) string) []string {
	n, err := strconv.Atoi(getenv("GIT_PUSH_OPTION_COUNT"))
	if err != nil || n <= 0 {
		return nil
	}
	// git caps push options well below this; the bound only keeps a
	// forged environment from making us loop.
	n = min(n, 1000)
	out := make([]string, 0, n)
	for i := range n {
		out = append(out, getenv("GIT_PUSH_OPTION_"+strconv.Itoa(i)))
	}
	return out
}

// ServerResult is the outcome of InstallServer.
type ServerResult struct {
	Location
	Changes []Change
}

// InstallServer writes keyward's pre-receive shim into the hooks directory
// of the repository at g.Dir (normally a bare repository on a server),
// chaining to an existing pre-receive hook with opts.Chain as Install does.
func InstallServer(ctx context.Context, g Git, opts InstallOptions) (ServerResult, error) {
	loc, err := Locate(ctx, g)
	if err != nil {
		return ServerResult{}, err
	}
	changes, err := plan(loc.Dir, []string{PreReceive}, opts, true)
	if err != nil {
		return ServerResult{Location: loc}, err
	}
	if err := apply(ctx, loc.Dir, changes, opts.Keyward); err != nil {
		return ServerResult{Location: loc}, err
	}
	return ServerResult{Location: loc, Changes: changes}, nil
}

// UninstallServer removes keyward's pre-receive shim, restoring a hook it
// chained to.
func UninstallServer(ctx context.Context, g Git) (ServerResult, error) {
	loc, err := Locate(ctx, g)
	if err != nil {
		return ServerResult{}, err
	}
	c, err := removeShim(loc.Dir, PreReceive, true)
	if err != nil {
		return ServerResult{Location: loc}, err
	}
	return ServerResult{Location: loc, Changes: []Change{c}}, nil
}

// GitDir returns the absolute git directory of the repository at g.Dir
// (the repository itself when it is bare).
func GitDir(ctx context.Context, g Git) (string, error) {
	dir, err := g.dir()
	if err != nil {
		return "", err
	}
	out, err := g.run(ctx, "rev-parse", "--git-dir")
	if err != nil {
		return "", fmt.Errorf("find git directory: %w", err)
	}
	return absFrom(dir, out), nil
}

// Run runs git with args in g.Dir and returns its standard output without
// the trailing newline; a non-zero exit is an error quoting git's first
// line of complaint.
func (g Git) Run(ctx context.Context, args ...string) (string, error) {
	return g.run(ctx, args...)
}

// ConfigValue reads one git config value; ok is false when it is unset.
func (g Git) ConfigValue(ctx context.Context, args ...string) (string, bool, error) {
	return g.config(ctx, args...)
}
