package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/keyward/keyward/hooks"
	"github.com/keyward/keyward/scanner"
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
	if err := hooks.CheckRunName(name); err != nil {
		return usagef("run 'keyward hook --help' for usage", "%v", err)
	}
	g := hooks.Git{}
	if o.shim != "" && hooks.Reentered(g, o.shim, hargs) {
		return nil // a hook keyward chained to led back here; the outer run scanned
	}
	if name == hooks.PreReceive {
		err := runPreReceive(ctx, e, g, o.shim)
		var ue *usageError
		if errors.As(err, &ue) || (err != nil && !errors.Is(err, errFindings) && !errors.Is(err, errSilent)) {
			return receiveFailed(ctx, ctx, e, receiveSettings{}, err)
		}
		return err
	}
	check := true
	if o.shim != "" {
		var err error
		if check, err = hooks.ShimChecks(g, o.shim, name); err != nil {
			return hookScanFailed(ctx, e, name, err)
		}
	} else if hooks.Forwarded(name) {
		return usagef("only the global hooks forward "+name+"; it has nothing to check", "hook run %s: keyward checks only %s", name, strings.Join(hooks.Names, ", "))
	}
	stdin := e.stdin
	if check {
		scans, in, err := hookScans(ctx, e, g, name, hargs)
		var ue *usageError
		if err != nil && !errors.As(err, &ue) {
			return hookScanFailed(ctx, e, name, err)
		}
		if err != nil {
			return err
		}
		stdin = in
		// Findings go to stderr, where githooks(5) says a hook explains
		// itself; git does not send every hook's stdout there (pre-push's
		// goes to the terminal's stdout).
		se := *e
		se.stdout = e.stderr
		var res *scanner.Result
		capture := func(ctx context.Context, eng *scanner.Engine) (*scanner.Result, error) {
			r, err := scans(ctx, eng)
			res = r
			return r, err
		}
		// --quiet: the hook explains a block itself, and a clean commit
		// should not print anything.
		args, err := hookScanArgs(ctx, g)
		if err != nil {
			return hookScanFailed(ctx, e, name, err)
		}
		err = runScanFrom(ctx, &se, args, capture)
		switch {
		case errors.Is(err, errFindings):
			blockedHints(e, name, hargs, res)
			return errFindings
		case err != nil:
			return hookScanFailed(ctx, e, name, err)
		}
	}
	if o.shim == "" {
		return nil
	}
	return runChain(ctx, e, g, o.shim, name, hargs, stdin)
}

// hookScanArgs are the scan flags a hook runs with: --quiet, since the
// hook explains a block itself and a clean commit should print nothing,
// and --max-file-size from git config keyward.maxFileSize, since git gives
// hooks no flags.
func hookScanArgs(ctx context.Context, g hooks.Git) ([]string, error) {
	args := []string{"--quiet"}
	v, ok, err := g.ConfigValue(ctx, "--get", "keyward.maxFileSize")
	if err != nil {
		return nil, fmt.Errorf("read keyward.maxFileSize: %w", err)
	}
	if ok {
		args = append(args, "--max-file-size", v)
	}
	return args, nil
}

// runChain runs the hook keyward chained to from shim, if there is one git
// would run.
func runChain(ctx context.Context, e *env, g hooks.Git, shim, name string, hargs []string, stdin io.Reader) error {
	ch, err := hooks.ChainFor(ctx, g, shim, name)
	if err != nil {
		return err
	}
	if ch.Path != "" && !ch.Runnable {
		warnf(e.stderr, "skipped %s: it is not executable, so git would not run it either", quotePath(ch.Path))
	}
	if !ch.Runnable {
		return nil
	}
	return hooks.RunChained(ctx, g, shim, ch.Path, hargs, stdin, e.stdout, e.stderr)
}

// hookScans turns a hook's arguments into the scan it needs, and returns
// the standard input a chained hook should get.
func hookScans(ctx context.Context, e *env, g hooks.Git, name string, hargs []string) (gateSourceFunc, io.Reader, error) {
	switch name {
	case hooks.PreCommit:
		if len(hargs) != 0 {
			return nil, nil, usagef("git runs pre-commit without arguments", "hook run pre-commit takes no arguments")
		}
		return stagedSource(ctx), e.stdin, nil
	case hooks.CommitMsg:
		if len(hargs) != 1 {
			return nil, nil, usagef("git runs commit-msg with the message file", "hook run commit-msg needs exactly one FILE")
		}
		return func(ctx context.Context, eng *scanner.Engine) (*scanner.Result, error) {
			f, err := os.Open(hargs[0])
			if err != nil {
				return nil, fmt.Errorf("read commit message: %w", err)
			}
			defer f.Close()
			return eng.ScanReader(ctx, f, scanner.Provenance{Path: hargs[0], Kind: scanner.KindCommitMessage})
		}, e.stdin, nil
	}
	// pre-push
	if len(hargs) == 0 {
		if inc, exc, ok, err := hooks.FrameworkPush(ctx, g, e.getenv); err != nil {
			return nil, nil, err
		} else if ok {
			return pushScan(inc, exc), e.stdin, nil
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
	inc, exc, err := hooks.PushCommits(ctx, g, hargs[0], updates)
	if err != nil {
		return nil, nil, err
	}
	return pushScan(inc, exc), bytes.NewReader(raw), nil
}

// pushScan scans the commits reachable from include and from none of
// exclude; with nothing to include (only deletions) it scans nothing.
func pushScan(include, exclude []string) gateSourceFunc {
	return func(ctx context.Context, eng *scanner.Engine) (*scanner.Result, error) {
		if len(include) == 0 {
			return &scanner.Result{}, nil
		}
		if needsGitPlumbing() {
			return patchCommits(include, exclude)(ctx, eng)
		}
		res, _, err := eng.ScanCommits(ctx, ".", include, exclude, scanner.CommitsOptions{})
		return res, err
	}
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
	if name == hooks.PreReceive {
		return "'git push -o keyward.skip=\"reason\"' (only where the server allows it)"
	}
	if name == hooks.PrePush {
		return "'git push --no-verify'"
	}
	return "'git commit --no-verify'"
}
