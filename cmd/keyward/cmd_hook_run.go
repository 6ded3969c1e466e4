package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"

	"github.com/spf13/pflag"

	"github.com/keyward/keyward/hooks"
)

// hookRunOptions are the flags of 'keyward hook run'.
type hookRunOptions struct {
	shim string
}

func (o *hookRunOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.shim, "shim", "", "`PATH` of the installed hook script running this (it finds the hook to chain to)")
	_ = fs.MarkHidden("shim")
	// Everything after the hook name is git's, verbatim.
	fs.SetInterspersed(false)
}

// runHookRun is what the installed scripts exec: the scan git's hook needs,
// then the hook keyward chained to.
func runHookRun(ctx context.Context, e *env, args []string) error {
	var o hookRunOptions
	fs := newFlagSet("hook run")
	o.addFlags(fs)
	if err := parseFlags(fs, hookUsage, e, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usagef("the installed hooks run 'keyward hook run <hook> [args]'", "hook run needs a hook name: %s", strings.Join(hooks.Names, ", "))
	}
	name, hargs := fs.Arg(0), fs.Args()[1:]
	if err := hooks.CheckName(name); err != nil {
		return usagef("run 'keyward hook --help' for usage", "%v", err)
	}
	g := hooks.Git{}
	if o.shim != "" && hooks.Reentered(g, o.shim) {
		return nil // a hook keyward chained to led back here; the outer run scanned
	}
	scans, stdin, err := hookScans(ctx, e, g, name, hargs)
	var ue *usageError
	if err != nil && !errors.As(err, &ue) {
		return hookScanFailed(ctx, e, name, err)
	}
	if err != nil {
		return err
	}
	// Findings go to stderr, where githooks(5) says a hook explains itself;
	// git does not send every hook's stdout there (pre-push's goes to the
	// terminal's stdout).
	se := *e
	se.stdout = e.stderr
	found := false
	for _, s := range scans {
		// --quiet: the hook explains a block itself, and a clean commit
		// should not print anything.
		err := runScan(ctx, &se, append([]string{"--quiet"}, s...))
		switch {
		case errors.Is(err, errFindings):
			found = true
		case err != nil:
			return hookScanFailed(ctx, e, name, err)
		}
	}
	if found {
		blockedHints(e, name)
		return errFindings
	}
	if o.shim == "" {
		return nil
	}
	ch, err := hooks.ChainFor(ctx, g, o.shim, name)
	if err != nil {
		return err
	}
	if ch.Path != "" && !ch.Runnable {
		warnf(e.stderr, "skipped %s: it is not executable, so git would not run it either", quotePath(ch.Path))
	}
	if !ch.Runnable {
		return nil
	}
	return hooks.RunChained(ctx, g, o.shim, ch.Path, hargs, stdin, e.stdout, e.stderr)
}

// hookScans turns a hook's arguments into 'keyward scan' argument lists,
// and returns the standard input a chained hook should get.
func hookScans(ctx context.Context, e *env, g hooks.Git, name string, hargs []string) ([][]string, io.Reader, error) {
	switch name {
	case hooks.PreCommit:
		if len(hargs) != 0 {
			return nil, nil, usagef("git runs pre-commit without arguments", "hook run pre-commit takes no arguments")
		}
		return [][]string{{"--staged"}}, e.stdin, nil
	case hooks.CommitMsg:
		if len(hargs) != 1 {
			return nil, nil, usagef("git runs commit-msg with the message file", "hook run commit-msg needs exactly one FILE")
		}
		return [][]string{{"--commit-msg=" + hargs[0]}}, e.stdin, nil
	}
	// pre-push
	if len(hargs) == 0 {
		if r := hooks.FrameworkRange(e.getenv); r != "" {
			return [][]string{{"--range=" + r}}, e.stdin, nil
		}
	}
	if len(hargs) != 2 {
		return nil, nil, usagef("git runs pre-push with the remote's name and URL, and the refs on standard input", "hook run pre-push needs REMOTE URL")
	}
	raw, err := hooks.ReadPrePush(e.stdin)
	if err != nil {
		return nil, nil, err
	}
	updates, err := hooks.ParsePrePush(raw)
	if err != nil {
		return nil, nil, err
	}
	ranges, err := hooks.PushRanges(ctx, g, updates)
	if err != nil {
		return nil, nil, err
	}
	var scans [][]string
	for _, r := range ranges {
		scans = append(scans, []string{"--range=" + r})
	}
	return scans, bytes.NewReader(raw), nil
}

// hookScanFailed reports a scan that could not finish. The hook fails
// closed, so the user needs to know how to get unstuck.
func hookScanFailed(ctx context.Context, e *env, name string, err error) error {
	if ctx.Err() != nil {
		return err
	}
	var ue *usageError
	switch {
	case errors.As(err, &ue):
		errorf(e.stderr, "%s hook: %s", name, ue.msg)
	case !errors.Is(err, errSilent):
		errorf(e.stderr, "%s hook: %v", name, err)
	}
	hintf(e.stderr, "the check could not finish, so git was stopped; fix the problem above, or skip the check once with %s", bypassCommand(name))
	return errSilent
}

func bypassCommand(name string) string {
	if name == hooks.PrePush {
		return "'git push --no-verify'"
	}
	return "'git commit --no-verify'"
}

// blockedHints says what to do after a hook blocked: the scan above listed
// the findings; these say how to get the commit or push through safely.
func blockedHints(e *env, name string) {
	switch name {
	case hooks.PreCommit:
		errorf(e.stderr, "commit blocked: the staged changes contain credentials")
		hintf(e.stderr, "remove the key from the file (read it from the environment or ~/.aws/credentials instead), 'git add' the file again, then commit")
	case hooks.CommitMsg:
		errorf(e.stderr, "commit blocked: the commit message contains credentials")
		hintf(e.stderr, "commit again with a message that leaves the key out")
	case hooks.PrePush:
		errorf(e.stderr, "push blocked: the commits being pushed contain credentials")
		hintf(e.stderr, "rewrite the commits that add the key ('git commit --amend' for the last one, 'git rebase -i' for older ones), then push again; deleting it in a new commit still pushes the old one")
	}
	hintf(e.stderr, "a false positive? end that line with a 'keyward:allow <reason>' comment; as a last resort, %s skips the check", bypassCommand(name))
	hintf(e.stderr, "if the key has already left this machine, treat it as leaked: revoke it with its provider; for an AWS key, 'keyward respond --key-id <ID>' plans the steps")
}
