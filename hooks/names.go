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

// Names lists the hooks keyward knows, in the order git runs them.
var Names = []string{PreCommit, CommitMsg, PrePush}

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
