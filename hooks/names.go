package hooks

import (
	"fmt"
	"slices"
	"strings"
)

// The hooks keyward installs. pre-commit scans what is staged, commit-msg the
// message, and pre-push the commits about to leave the machine: the last
// line of defence for commits made with --no-verify or before install.
const (
	PreCommit = "pre-commit"
	CommitMsg = "commit-msg"
	PrePush   = "pre-push"
)

// Names lists the hooks keyward checks on a developer's machine, in the
// order git runs them.
var Names = []string{PreCommit, CommitMsg, PrePush}

// PreReceive is the server-side hook: it runs in the repository being
// pushed to, before any ref is updated (see 'keyward hook install
// --server').
const PreReceive = "pre-receive"

// ClientHooks is every hook githooks(5) lists as running in a developer's
// repository. Setting core.hooksPath makes git look for all of them in
// that one directory, so the global install puts a shim for each there;
// the ones keyward does not check only forward to the hook git would have
// run without keyward (a repository's own post-commit, git-lfs's
// post-checkout), so installing keyward never switches a hook off (issue
// 9). fsmonitor-watchman is absent: git runs it only from the path
// core.fsmonitor names, never from the hooks directory.
var ClientHooks = []string{
	"applypatch-msg", "pre-applypatch", "post-applypatch",
	PreCommit, "pre-merge-commit", "prepare-commit-msg", CommitMsg, "post-commit",
	"pre-rebase", "post-checkout", "post-merge", PrePush, "pre-auto-gc", "post-rewrite",
	"sendemail-validate", "reference-transaction", "post-index-change", "push-to-checkout",
	"p4-changelist", "p4-prepare-changelist", "p4-post-changelist", "p4-pre-submit",
}

// Forwarded reports whether name is a hook keyward's global shims only
// forward: a client-side hook keyward runs no check in.
func Forwarded(name string) bool {
	return slices.Contains(ClientHooks, name) && !slices.Contains(Names, name)
}

// CheckRunName returns an *UnknownHookError unless 'keyward hook run' can
// run name: a checked hook, pre-receive, or a forwarded one.
func CheckRunName(name string) error {
	if name == PreReceive || slices.Contains(ClientHooks, name) {
		return nil
	}
	return &UnknownHookError{Name: name}
}

// ChainSuffix is appended to a hook keyward moved aside, so the original is
// one rename away and obvious to anyone listing the hooks directory.
const ChainSuffix = ".keyward-chained"

// UnknownHookError is a hook name keyward does not install; callers show it
// as a usage error.
type UnknownHookError struct{ Name string }

// Error lists the hooks keyward does install, so the fix is in the message.
func (e *UnknownHookError) Error() string {
	return fmt.Sprintf("unknown hook %q (keyward installs %s)", e.Name, strings.Join(Names, ", "))
}

// CheckName returns an *UnknownHookError unless name is one of Names.
func CheckName(name string) error {
	if !slices.Contains(Names, name) {
		return &UnknownHookError{Name: name}
	}
	return nil
}

// selectNames validates a caller's list of hooks, defaulting to all of them
// and dropping repeats, so each hook is handled once and in git's order.
func selectNames(want []string) ([]string, error) {
	if len(want) == 0 {
		return Names, nil
	}
	for _, n := range want {
		if err := CheckName(n); err != nil {
			return nil, err
		}
	}
	var out []string
	for _, n := range Names {
		if slices.Contains(want, n) {
			out = append(out, n)
		}
	}
	return out, nil
}
