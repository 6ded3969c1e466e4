package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/spf13/pflag"

	"github.com/keyward/keyward/scanner/config"
)

// Exit codes, documented in usage and the README. Findings and failures get
// different codes so that CI can tell "a key leaked" from "keyward broke"
// (gitleaks uses 1 for both).
const (
	exitClean       = 0
	exitFindings    = 1
	exitError       = 2
	exitInterrupted = 130
)

// exitFindingsIncomplete is findings and an incomplete sweep together
// (sweep and report merge): 1 and 2 as bits, so neither hides the other.
const exitFindingsIncomplete = 3

// env is what every subcommand gets: the streams and the process
// environment, passed in so tests can run commands in-process.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
}

// command is one subcommand: a run function, a one-line summary for the
// top-level usage, and whether it is hidden from it.
type command struct {
	summary string
	hidden  bool
	run     func(ctx context.Context, e *env, args []string) error
}

func commands() map[string]command {
	return map[string]command{
		"sweep":      {summary: "sweep the history of many repositories: a list, a GitHub org or a GitLab group", run: runSweep},
		"report":     {summary: "merge sweep and scan reports into one, credentials de-duplicated", run: runReport},
		"scan":       {summary: "scan files, directories, stdin or git for AWS credentials", run: runScan},
		"hook":       {summary: "install, uninstall or inspect keyward's git hooks", run: runHook},
		"verify":     {summary: "check whether leaked AWS keys are live, through STS only", run: runVerify},
		"respond":    {summary: "plan or carry out AWS's runbook for a leaked key", run: runRespond},
		"audit":      {summary: "audit the AWS account's key hygiene: old, unused and root keys, MFA", run: runAudit},
		"rotate":     {summary: "rotate your own access key in ~/.aws/credentials, AWS's way", run: runRotate},
		"emulator":   {summary: "run a local AWS emulator for trying the responder", hidden: true, run: runEmulator},
		"ci":         {summary: "the CI secret gate: scan the commits this pipeline is about to accept", run: runCI},
		"doctor":     {summary: "check the installation: PATH, git, hooks, config, AWS credentials", run: runDoctor},
		"rules":      {summary: "list every rule with its ID and description", run: runRules},
		"config":     {summary: "check a .keyward.toml configuration file", run: runConfig},
		"baseline":   {summary: "create, update or prune a baseline of accepted findings", run: runBaseline},
		"completion": {summary: "print a shell completion script for bash, zsh or fish", run: runCompletion},
		"__complete": {summary: "list commands or a command's flags, for completion scripts", hidden: true, run: runCompleteWords},
		"version":    {summary: "print keyward's version", run: runVersion},
		"help":       {summary: "show help for a command", run: runHelp},
	}
}

const usage = `keyward keeps AWS credentials out of git and contains the ones that get out.

Usage:
  keyward <command> [flags] [args]

Commands:
%s
Run 'keyward <command> --help' for a command's flags and examples.

Exit codes:
  0    nothing found
  1    findings (or, for verify, a valid key)
  2    usage or runtime error (sweep, report merge: or incomplete)
  3    sweep, report merge: findings, and incomplete
  130  interrupted
`

func topUsage() string {
	var names []string
	cmds := commands()
	for n, c := range cmds {
		if !c.hidden {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		fmt.Fprintf(&b, "  %-10s %s\n", n, cmds[n].summary)
	}
	return fmt.Sprintf(usage, b.String())
}

// run is main without the process: it returns the exit code instead of
// exiting, so tests and testscript can call it.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr, getenv: os.Getenv}
	if len(args) == 0 {
		fmt.Fprint(stderr, topUsage())
		return exitError
	}
	name, rest := args[0], args[1:]
	switch name {
	case "-h", "--help":
		fmt.Fprint(stdout, topUsage())
		return exitClean
	case "-v", "--version":
		name = "version"
	}
	cmd, ok := commands()[name]
	if !ok {
		errorf(stderr, "unknown command %q", name)
		hintf(stderr, "run 'keyward --help' for the list of commands")
		return exitError
	}
	return exitCode(ctx, stderr, cmd.run(ctx, e, rest))
}

// errFindings is returned by a command that completed and found something.
var errFindings = errors.New("findings")

// errFindingsIncomplete is returned by a sweep or merge that found
// something and could not sweep every repository.
var errFindingsIncomplete = errors.New("findings, and incomplete")

// errSilent is an error already reported to the user; it only sets the
// exit code.
var errSilent = errors.New("already reported")

// usageError is a mistake in the command line.
type usageError struct{ msg, hint string }

func (u *usageError) Error() string { return u.msg }

func usagef(hint, format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...), hint: hint}
}

// exitCode is the one place that maps errors to exit codes and prints them.
func exitCode(ctx context.Context, stderr io.Writer, err error) int {
	var ue *usageError
	switch {
	case err == nil:
		return exitClean
	case errors.Is(err, pflag.ErrHelp):
		return exitClean
	case ctx.Err() != nil && errors.Is(err, ctx.Err()):
		errorf(stderr, "interrupted")
		return exitInterrupted
	case errors.Is(err, errFindings):
		return exitFindings
	case errors.Is(err, errFindingsIncomplete):
		return exitFindingsIncomplete
	case errors.Is(err, errSilent):
		return exitError
	case errors.As(err, &ue):
		errorf(stderr, "%s", ue.msg)
		if ue.hint != "" {
			hintf(stderr, "%s", ue.hint)
		}
		return exitError
	default:
		errorf(stderr, "%v", err)
		return exitError
	}
}

func errorf(w io.Writer, format string, args ...any) {
	fmt.Fprintf(w, "keyward: error: "+format+"\n", args...)
}

func warnf(w io.Writer, format string, args ...any) {
	fmt.Fprintf(w, "keyward: warning: "+format+"\n", args...)
}

func hintf(w io.Writer, format string, args ...any) {
	fmt.Fprintf(w, "keyward: hint: "+format+"\n", args...)
}

// newFlagSet returns a flag set that reports errors through run's exit-code
// switch rather than printing and exiting on its own.
func newFlagSet(name string) *pflag.FlagSet {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	fs.SortFlags = false
	return fs
}

// parseFlags parses args, printing usage for --help and turning flag errors
// into usage errors.
func parseFlags(fs *pflag.FlagSet, usageText string, e *env, args []string) error {
	err := fs.Parse(args)
	if errors.Is(err, pflag.ErrHelp) {
		fmt.Fprint(e.stdout, usageText)
		fmt.Fprintf(e.stdout, "\nFlags:\n%s", fs.FlagUsages())
		return pflag.ErrHelp
	}
	if err != nil {
		// pflag quotes the rejected value; it may be a secret pasted into
		// the wrong flag.
		return usagef("run 'keyward "+fs.Name()+" --help' for usage", "%s", config.RedactQuoted(err.Error()))
	}
	return nil
}

// version is set by the linker (-ldflags "-X main.version=...") in
// install.sh; otherwise it comes from the module's build info.
var version = ""

func runVersion(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("version")
	if err := parseFlags(fs, "Usage: keyward version\n", e, args); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "keyward %s\n", keywardVersion())
	return nil
}

func runHelp(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(e.stdout, topUsage())
		return nil
	}
	cmd, ok := commands()[args[0]]
	if !ok || args[0] == "help" {
		return usagef("run 'keyward --help' for the list of commands", "unknown command %q", args[0])
	}
	return cmd.run(ctx, e, []string{"--help"})
}
