package hooks

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
)

// MaxPrePushInput bounds what is read from a pre-push hook's standard
// input. Git writes one line of about 180 bytes per ref pushed; 16 MiB is
// room for ~90,000 refs (a mirror push of a large monorepo) while keeping a
// runaway writer from exhausting memory. The input is held in memory so it
// can be replayed to a chained hook.
const MaxPrePushInput = 16 << 20

// RefUpdate is one line git writes to a pre-push hook:
//
//	<local ref> SP <local object name> SP <remote ref> SP <remote object name> LF
//
// See githooks(5), "pre-push".
type RefUpdate struct {
	LocalRef, LocalOID   string
	RemoteRef, RemoteOID string
}

// IsDelete reports whether the update deletes the remote ref (git writes
// "(delete)" and a zero object name as the local side).
func (u RefUpdate) IsDelete() bool { return isZero(u.LocalOID) }

// IsNew reports whether the remote ref does not exist yet.
func (u RefUpdate) IsNew() bool { return isZero(u.RemoteOID) }

// PrePushError is a malformed line of pre-push input.
type PrePushError struct {
	Line   int
	Reason string
}

// Error gives the line number; it never quotes the line, which is git's
// input and could be anything.
func (e *PrePushError) Error() string {
	return fmt.Sprintf("parse pre-push input: line %d: %s", e.Line, e.Reason)
}

// ReadPrePush reads a pre-push hook's standard input, up to
// MaxPrePushInput, keeping the bytes so they can be replayed to a chained
// hook.
func ReadPrePush(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxPrePushInput+1))
	if err != nil {
		return nil, fmt.Errorf("read pre-push input: %w", err)
	}
	if len(b) > MaxPrePushInput {
		return nil, fmt.Errorf("read pre-push input: more than %d bytes", MaxPrePushInput)
	}
	return b, nil
}

// ParsePrePush parses what git writes to a pre-push hook's standard input.
// It is strict: a line that is not four fields with valid object names is
// an error, because a hook that guessed could let commits through
// unscanned. Object names may be SHA-1 (40 hex digits) or SHA-256 (64).
func ParsePrePush(b []byte) ([]RefUpdate, error) {
	var out []RefUpdate
	err := hookLines(b, 4, "", func(f []string) string {
		u := RefUpdate{LocalRef: f[0], LocalOID: f[1], RemoteRef: f[2], RemoteOID: f[3]}
		switch {
		case u.LocalRef == "" || u.RemoteRef == "":
			return "empty ref name"
		case !isOID(u.LocalOID) || !isOID(u.RemoteOID):
			return "object name is not 40 or 64 lower-case hex digits"
		case len(u.LocalOID) != len(u.RemoteOID):
			return "object names of different lengths"
		}
		out = append(out, u)
		return ""
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// hookLines calls line with the space-separated fields of each non-empty
// line of a hook's standard input (LF or CRLF ended), after checking there
// are exactly want of them. line returns why the fields are invalid, or ""
// if they are fine; the first reason stops the parse as a *PrePushError
// naming the line. prefix (e.g. "pre-receive: ") starts every reason.
// Pre-push and pre-receive share it so that both hooks are equally strict.
func hookLines(b []byte, want int, prefix string, line func(fields []string) string) error {
	for n := 1; len(b) > 0; n++ {
		var l []byte
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			l, b = b[:i], b[i+1:]
		} else {
			l, b = b, nil
		}
		l = bytes.TrimSuffix(l, []byte("\r"))
		if len(l) == 0 {
			continue
		}
		f := strings.Split(string(l), " ")
		if len(f) != want {
			return &PrePushError{Line: n, Reason: fmt.Sprintf("%swant %d space-separated fields, got %d", prefix, want, len(f))}
		}
		if why := line(f); why != "" {
			return &PrePushError{Line: n, Reason: prefix + why}
		}
	}
	return nil
}

func isOID(s string) bool {
	if len(s) != 40 && len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func isZero(oid string) bool {
	return oid != "" && strings.Trim(oid, "0") == ""
}

// PushCommits turns pre-push updates to remote into what to scan: the
// commits reachable from the pushed objects (include) and from none of the
// commits the remote being pushed to is known to have (exclude): the old
// values of the refs being updated, where this repository has them, and
// the tips of that remote's own remote-tracking refs
// (refs/remotes/REMOTE/*). Other remotes' refs are never consulted: a
// commit already on origin is still new to a second remote, and must be
// checked before it goes there (issue 9). remote is what git passes as
// the hook's first argument: a remote's name, or a URL when the push named
// one, which has no tracking refs.
func PushCommits(ctx context.Context, g Git, remote string, updates []RefUpdate) (include, exclude []string, err error) {
	seen := map[string]bool{}
	addEx := func(oid string) {
		if !seen[oid] {
			seen[oid] = true
			exclude = append(exclude, oid)
		}
	}
	for _, u := range updates {
		if u.IsDelete() {
			continue
		}
		include = append(include, u.LocalOID)
		if u.IsNew() {
			continue
		}
		c, ok, err := peelCommit(ctx, g, u.RemoteOID)
		if err != nil {
			return nil, nil, err
		}
		if ok {
			addEx(c)
		}
	}
	tips, err := trackingTips(ctx, g, remote)
	if err != nil {
		return nil, nil, err
	}
	for _, t := range tips {
		addEx(t)
	}
	return include, exclude, nil
}

// peelCommit resolves oid to the commit it is or tags; ok is false when
// this repository does not have it (or it names no commit).
func peelCommit(ctx context.Context, g Git, oid string) (string, bool, error) {
	out, err := g.run(ctx, "rev-parse", "--verify", "--quiet", "--end-of-options", oid+"^{commit}")
	if err == nil {
		return out, true, nil
	}
	if ctx.Err() != nil {
		return "", false, ctx.Err()
	}
	if exitCode(err) > 0 {
		return "", false, nil
	}
	return "", false, fmt.Errorf("check commit %s: %w", oid, err)
}

// trackingTips lists the commits remote's remote-tracking refs point at;
// none when remote is not a configured remote's name (a URL).
func trackingTips(ctx context.Context, g Git, remote string) ([]string, error) {
	if remote == "" || strings.ContainsAny(remote, "/:\\") {
		return nil, nil
	}
	if _, ok, err := g.config(ctx, "--get", "remote."+remote+".url"); err != nil || !ok {
		return nil, err
	}
	out, err := g.run(ctx, "for-each-ref", "--format=%(objecttype) %(objectname)", "refs/remotes/"+remote+"/")
	if err != nil {
		return nil, fmt.Errorf("list %s's remote-tracking refs: %w", remote, err)
	}
	var tips []string
	for _, line := range strings.Split(out, "\n") {
		if typ, oid, ok := strings.Cut(line, " "); ok && typ == "commit" {
			tips = append(tips, oid)
		}
	}
	return tips, nil
}

// FrameworkPush is what the pre-commit framework (https://pre-commit.com)
// asks a pre-push hook to check, as PushCommits' include and exclude. The
// framework reads git's standard input itself and passes its verdict in the
// environment: PRE_COMMIT_FROM_REF..PRE_COMMIT_TO_REF, or, for a branch
// whose root commit is pushed, only PRE_COMMIT_LOCAL_BRANCH, meaning
// everything on it that the remote being pushed to (PRE_COMMIT_REMOTE_NAME)
// is not known to have. ok is false when the framework is not running the
// hook.
func FrameworkPush(ctx context.Context, g Git, getenv func(string) string) (include, exclude []string, ok bool, err error) {
	from, to := getenv("PRE_COMMIT_FROM_REF"), getenv("PRE_COMMIT_TO_REF")
	if from != "" && to != "" {
		return []string{to}, []string{from}, true, nil
	}
	b := getenv("PRE_COMMIT_LOCAL_BRANCH")
	if b == "" {
		return nil, nil, false, nil
	}
	tips, err := trackingTips(ctx, g, getenv("PRE_COMMIT_REMOTE_NAME"))
	return []string{b}, tips, true, err
}
