package hooks

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
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

// ObjectDirs lists the object directories the pushed objects can be read
// from, in the order git itself looks: the quarantine
// (GIT_OBJECT_DIRECTORY, where receive-pack puts the incoming objects until
// pre-receive accepts them), then GIT_ALTERNATE_OBJECT_DIRECTORIES (which
// receive-pack points at the repository's own objects), then gitDir's
// objects and their alternates (objects/info/alternates, followed to
// maxAlternateDepth as git does). Duplicates are dropped. Outside a
// pre-receive hook this is gitDir's objects and alternates.
func ObjectDirs(getenv func(string) string, gitDir string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	add := func(d string) {
		d = filepath.Clean(d)
		if d != "" && !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	if d := getenv("GIT_OBJECT_DIRECTORY"); d != "" {
		add(absFrom(gitDir, d))
	}
	for _, d := range splitAlternates(getenv("GIT_ALTERNATE_OBJECT_DIRECTORIES")) {
		add(absFrom(gitDir, d))
	}
	// Follow each directory's own alternates file.
	add(filepath.Join(gitDir, "objects"))
	for i := 0; i < len(out) && i < maxAlternateDepth*8; i++ {
		b, err := os.ReadFile(filepath.Join(out[i], "info", "alternates"))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			line = strings.TrimSpace(line)
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			add(absFrom(out[i], line))
		}
	}
	return out, nil
}

// maxAlternateDepth is git's own limit on chained alternates (5).
const maxAlternateDepth = 5

// splitAlternates splits GIT_ALTERNATE_OBJECT_DIRECTORIES on the path list
// separator; git lets an entry that contains one be written C-quoted.
func splitAlternates(s string) []string {
	var out []string
	for s != "" {
		if s[0] == '"' {
			if end := strings.IndexByte(s[1:], '"'); end >= 0 {
				if u, err := strconv.Unquote(s[:end+2]); err == nil {
					out = append(out, u)
				}
				s = strings.TrimPrefix(s[end+2:], string(os.PathListSeparator))
				continue
			}
		}
		p, rest, _ := strings.Cut(s, string(os.PathListSeparator))
		if p != "" {
			out = append(out, p)
		}
		s = rest
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
