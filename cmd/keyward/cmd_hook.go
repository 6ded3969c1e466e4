package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"

	"github.com/keyward/keyward/hooks"
)

const hookUsage = `Usage: keyward hook install [--global] [--chain] [--hooks LIST]
       keyward hook install --server [--chain]
       keyward hook uninstall [--global | --server]
       keyward hook status
       keyward hook run <hook> [git's hook arguments]

Installs keyward's pre-commit, commit-msg and pre-push git hooks, which scan
what is about to be committed (keyward scan --staged), the commit message,
and the commits about to be pushed, and stop git if they find a key.

install writes the hooks where git runs them for this repository: its
.git/hooks (shared by all worktrees) or a repository-local core.hooksPath.
A hook keyward did not write is never overwritten: install refuses, or with
--chain moves it to <name>.keyward-chained and runs it after keyward's
check, with the same arguments and input. uninstall removes only keyward's
hooks and moves chained ones back.

--global installs for every repository of the user: the hooks go into
$XDG_CONFIG_HOME/keyward/hooks (default ~/.config/keyward/hooks) and the
global core.hooksPath is pointed there. Since git then looks for every hook
there, keyward writes one for each client-side hook of githooks(5); the ones
it does not check only forward. Each chains to the repository's own
.git/hooks/<name> (or to the global core.hooksPath it replaced), so
repository hooks (and git-lfs's) keep running. uninstall --global puts
core.hooksPath back as it was.

--server installs the pre-receive hook in this repository (normally a bare
repository on a server): it rejects a push whose new commits contain a key,
before any ref moves. Settings (git config): keyward.timeout SECONDS
(default 60; then the push is rejected), keyward.failOpen, keyward.allowSkip
(honour 'git push -o keyward.skip="reason"', logged to keyward.auditLog),
keyward.maxFileSize. The README has recipes for GitLab, Gitea/Forgejo and
GitHub Enterprise Server.

The hooks record the path of this keyward binary and fall back to PATH; if
keyward is gone they fail closed. 'git commit --no-verify' and
'git push --no-verify' skip them.

run is what the installed hooks execute, and what another hook manager
(husky, lefthook) can call: 'keyward hook run pre-commit',
'keyward hook run commit-msg FILE', 'keyward hook run pre-push REMOTE URL'
with git's ref lines on standard input, 'keyward hook run pre-receive' with
git's "old new ref" lines. It exits 1 when it blocks and 2 when the check
could not finish, or a file was over the size limit (which blocks too).
Hooks read the size limit from git config keyward.maxFileSize.

Examples:
  keyward hook install                     this repository
  keyward hook install --chain             keep the existing hooks running
  keyward hook install --hooks pre-commit,pre-push
  keyward hook install --global            every repository
  keyward hook install --server            this bare repository: pre-receive
  keyward hook status                      what is installed where
  keyward hook uninstall --global
`

func runHook(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 {
		return usagef("run 'keyward hook --help' for usage", "hook needs a subcommand: install, uninstall, status or run")
	}
	switch args[0] {
	case "-h", "--help", "help":
		fmt.Fprint(e.stdout, hookUsage)
		return nil
	case "install":
		return runHookInstall(ctx, e, args[1:])
	case "uninstall":
		return runHookUninstall(ctx, e, args[1:])
	case "status":
		return runHookStatus(ctx, e, args[1:])
	case "run":
		return runHookRun(ctx, e, args[1:])
	}
	return usagef("run 'keyward hook --help' for usage", "unknown hook subcommand %q", args[0])
}

// hookInstallOptions are the flags of 'keyward hook install'.
type hookInstallOptions struct {
	global bool
	server bool
	chain  bool
	hooks  []string
}

func (o *hookInstallOptions) addFlags(fs *pflag.FlagSet) {
	fs.BoolVar(&o.global, "global", false, "install for every repository (sets the global core.hooksPath)")
	fs.BoolVar(&o.server, "server", false, "install the pre-receive hook in this (bare) repository, to check pushes it receives")
	fs.BoolVar(&o.chain, "chain", false, "move hooks keyward did not write to <name>.keyward-chained and run them after keyward")
	fs.StringSliceVar(&o.hooks, "hooks", nil, "install only these `HOOKS` (default pre-commit,commit-msg,pre-push)")
}

func runHookInstall(ctx context.Context, e *env, args []string) error {
	var o hookInstallOptions
	fs := newFlagSet("hook install")
	o.addFlags(fs)
	if err := parseHookFlags(fs, e, args, 0); err != nil {
		return err
	}
	opts := hooks.InstallOptions{Hooks: o.hooks, Keyward: keywardBinary(), Chain: o.chain}
	if o.server {
		if o.global || len(o.hooks) > 0 {
			return usagef("a server repository gets the pre-receive hook only", "--server cannot be combined with --global or --hooks")
		}
		res, err := hooks.InstallServer(ctx, hooks.Git{}, opts)
		if err != nil {
			return hookError(e, "install", err)
		}
		printChanges(e, res.Changes)
		fmt.Fprintln(e.stdout, "pushes to this repository are now checked; settings: git config keyward.timeout SECONDS (default 60, then the push is rejected), keyward.allowSkip true (allows git push -o keyward.skip=REASON, logged)")
		return nil
	}
	if o.global && o.chain {
		return usagef("the global hooks always run each repository's own hooks after keyward's", "--chain cannot be combined with --global")
	}
	if o.global {
		dir, err := hooks.GlobalDir(e.getenv)
		if err != nil {
			return err
		}
		res, err := hooks.InstallGlobal(ctx, hooks.Git{}, dir, opts)
		if err != nil {
			return hookError(e, "install", err)
		}
		printChanges(e, res.Changes)
		then := "its own .git/hooks"
		if res.HadPrevious {
			then = "the hooks in " + quotePath(res.Previous)
		}
		if res.ConfigChanged {
			was := "was unset"
			if res.HadPrevious {
				was = "was " + quotePath(res.Previous)
			}
			fmt.Fprintf(e.stdout, "global core.hooksPath set to %s (%s)\n", quotePath(res.Dir), was)
		}
		fmt.Fprintf(e.stdout, "every repository now runs keyward's hooks, then %s; undo with 'keyward hook uninstall --global'\n", then)
		return nil
	}
	res, err := hooks.Install(ctx, hooks.Git{}, opts)
	if err != nil {
		return hookError(e, "install", err)
	}
	if res.Covered {
		fmt.Fprintf(e.stdout, "keyward's global hooks in %s already cover this repository; nothing to do\n", res.Dir)
		return nil
	}
	printChanges(e, res.Changes)
	return nil
}

// hookUninstallOptions are the flags of 'keyward hook uninstall'.
type hookUninstallOptions struct {
	global bool
	server bool
	hooks  []string
}

func (o *hookUninstallOptions) addFlags(fs *pflag.FlagSet) {
	fs.BoolVar(&o.global, "global", false, "remove the global hooks and restore the global core.hooksPath")
	fs.BoolVar(&o.server, "server", false, "remove the pre-receive hook from this repository")
	fs.StringSliceVar(&o.hooks, "hooks", nil, "remove only these `HOOKS` (repository only)")
}

func runHookUninstall(ctx context.Context, e *env, args []string) error {
	var o hookUninstallOptions
	fs := newFlagSet("hook uninstall")
	o.addFlags(fs)
	if err := parseHookFlags(fs, e, args, 0); err != nil {
		return err
	}
	if o.server {
		res, err := hooks.UninstallServer(ctx, hooks.Git{})
		if err != nil {
			return hookError(e, "uninstall", err)
		}
		printChanges(e, res.Changes)
		return nil
	}
	if o.global {
		if len(o.hooks) > 0 {
			return usagef("uninstall --global removes all of keyward's global hooks", "--hooks cannot be combined with --global")
		}
		dir, err := hooks.GlobalDir(e.getenv)
		if err != nil {
			return err
		}
		res, err := hooks.UninstallGlobal(ctx, hooks.Git{}, dir)
		if err != nil {
			return hookError(e, "uninstall", err)
		}
		printChanges(e, res.Changes)
		switch {
		case res.ConfigChanged && res.HadPrevious:
			fmt.Fprintf(e.stdout, "global core.hooksPath restored to %s\n", res.Previous)
		case res.ConfigChanged:
			fmt.Fprintln(e.stdout, "global core.hooksPath unset: repositories run their own .git/hooks again")
		case res.Foreign != "":
			warnf(e.stderr, "global core.hooksPath now points at %s, not keyward's hooks; left it alone", res.Foreign)
		}
		return nil
	}
	res, err := hooks.Uninstall(ctx, hooks.Git{}, o.hooks)
	if err != nil {
		return hookError(e, "uninstall", err)
	}
	if res.Covered {
		fmt.Fprintf(e.stdout, "this repository runs keyward's global hooks from %s; nothing to remove here\n", res.Dir)
		hintf(e.stderr, "'keyward hook uninstall --global' removes them for every repository")
		return nil
	}
	printChanges(e, res.Changes)
	for _, c := range res.Changes {
		if c.Action == hooks.LeftAlone && c.Chained != "" {
			warnf(e.stderr, "%s is not keyward's, so %s was left where it is", quotePath(c.Path), quotePath(c.Chained))
		}
	}
	return nil
}

// printChanges writes one line per hook, so a user can see exactly what an
// install or uninstall touched.
func printChanges(e *env, changes []hooks.Change) {
	forwards := map[hooks.Action]int{}
	for _, c := range changes {
		if hooks.Forwarded(c.Hook) && c.Action != hooks.LeftAlone && c.Action != hooks.NotInstalled {
			// The global install's forwarding shims: one line for all,
			// so the hooks that check stand out.
			forwards[c.Action]++
			continue
		}
		line := fmt.Sprintf("%-10s  %-13s  %s", c.Hook, c.Action, quotePath(c.Path))
		switch {
		case c.Restored:
			line += "  (restored the hook keyward had chained to)"
		case c.Action == hooks.LeftAlone:
			line += "  (not written by keyward)"
		case c.Chained != "":
			line += fmt.Sprintf("  (then runs %s)", filepath.Base(c.Chained))
		}
		fmt.Fprintln(e.stdout, line)
	}
	for _, a := range []hooks.Action{hooks.Installed, hooks.Updated, hooks.Unchanged, hooks.Removed} {
		if n := forwards[a]; n > 0 {
			fmt.Fprintf(e.stdout, "%-10s  %-13s  %d forwarding hooks (post-commit, prepare-commit-msg, post-checkout, ...: they run each repository's own)\n", "others", a, n)
		}
	}
}

// hookError turns the hooks package's errors into messages with a way out.
func hookError(e *env, sub string, err error) error {
	var unknown *hooks.UnknownHookError
	var conflict *hooks.ConflictError
	var shared *hooks.SharedHooksPathError
	switch {
	case errors.As(err, &unknown):
		return usagef("run 'keyward hook --help' for usage", "%v", err)
	case errors.Is(err, hooks.ErrNotRepo) && sub == "install":
		return fmt.Errorf("hook install: %w (use --global for every repository)", err)
	case errors.Is(err, hooks.ErrNotRepo):
		return fmt.Errorf("hook %s: %w", sub, err)
	case errors.As(err, &conflict):
		for _, c := range conflict.Conflicts {
			errorf(e.stderr, "%s exists and was not written by keyward; nothing was installed", quotePath(c.Path))
		}
		if conflict.Chainable() {
			hintf(e.stderr, "rerun with --chain to keep it: it moves to <name>%s and runs after keyward's check", hooks.ChainSuffix)
		} else {
			hintf(e.stderr, "a <name>%s file is already there; sort the two out by hand, then install again", hooks.ChainSuffix)
		}
		hintf(e.stderr, "or call 'keyward hook run <hook>' from your own hooks or hook manager")
		return errSilent
	case errors.As(err, &shared):
		errorf(e.stderr, "core.hooksPath is set in your %s git config to %s, so hooks written there would run in every repository", shared.Scope, quotePath(shared.Dir))
		hintf(e.stderr, "use 'keyward hook install --global' (it keeps %s's hooks running), or add 'keyward hook run <hook>' to the hooks there", quotePath(shared.Dir))
		return errSilent
	}
	return fmt.Errorf("hook %s: %w", sub, err)
}

func runHookStatus(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("hook status")
	if err := parseHookFlags(fs, e, args, 0); err != nil {
		return err
	}
	bin := keywardBinary()
	dir, err := hooks.GlobalDir(e.getenv)
	if err != nil {
		return err
	}
	gs, err := hooks.StatusGlobal(ctx, hooks.Git{}, dir, bin)
	if err != nil {
		return fmt.Errorf("hook status: %w", err)
	}
	rs, err := hooks.Status(ctx, hooks.Git{}, bin)
	switch {
	case errors.Is(err, hooks.ErrNotRepo):
		fmt.Fprintln(e.stdout, "repository: none (not inside a git repository)")
	case err != nil:
		return fmt.Errorf("hook status: %w", err)
	default:
		printRepoStatus(e, rs)
	}
	printGlobalStatus(e, gs)
	if err == nil && gs.Active && !rs.Covered {
		hintf(e.stderr, "this repository's core.hooksPath (%s config) overrides the global hooks; 'keyward hook install' adds keyward here", rs.HooksPathScope)
	}
	return nil
}

func printRepoStatus(e *env, rs hooks.RepoStatus) {
	fmt.Fprintf(e.stdout, "repository hooks: %s", quotePath(rs.Dir))
	switch {
	case rs.Covered:
		fmt.Fprintf(e.stdout, " (keyward's global hooks, from the %s core.hooksPath)\n", rs.HooksPathScope)
	case rs.HooksPathScope != "":
		fmt.Fprintf(e.stdout, " (core.hooksPath, %s config)\n", rs.HooksPathScope)
	default:
		fmt.Fprintln(e.stdout)
	}
	printHookStates(e, rs.Hooks)
}

func printGlobalStatus(e *env, gs hooks.GlobalStatus) {
	switch {
	case gs.Active:
		fmt.Fprintf(e.stdout, "global hooks: %s (active: the global core.hooksPath points here)\n", quotePath(gs.Dir))
	case gs.Installed:
		fmt.Fprintf(e.stdout, "global hooks: %s (inactive: the global core.hooksPath is %s)\n", quotePath(gs.Dir), orUnset(gs.HooksPath))
	default:
		fmt.Fprintf(e.stdout, "global hooks: not installed (global core.hooksPath is %s)\n", orUnset(gs.HooksPath))
		return
	}
	printHookStates(e, gs.Hooks)
	if len(gs.Unforwarded) > 0 {
		fmt.Fprintf(e.stdout, "  not forwarded: %s (repositories' own hooks of these names do not run; 'keyward hook install --global' restores them)\n", strings.Join(gs.Unforwarded, ", "))
	} else if gs.Installed {
		fmt.Fprintf(e.stdout, "  forwards the %d other client-side hooks to each repository's own\n", len(hooks.ClientHooks)-len(hooks.Names))
	}
	if gs.HadPrevious {
		fmt.Fprintf(e.stdout, "  replaced core.hooksPath %s: its hooks run after keyward's; uninstall --global restores it\n", gs.Previous)
	} else {
		fmt.Fprintln(e.stdout, "  chains to each repository's .git/hooks; uninstall --global unsets core.hooksPath")
	}
}

func orUnset(s string) string {
	if s == "" {
		return "unset"
	}
	return quotePath(s)
}

func printHookStates(e *env, hs []hooks.HookStatus) {
	for _, h := range hs {
		var desc string
		switch {
		case h.State == hooks.StateMissing:
			desc = "not installed"
		case h.State == hooks.StateCurrent:
			desc = "keyward, current"
		case h.State == hooks.StateOutdated:
			desc = "keyward, outdated: run 'keyward hook install' to refresh"
			if h.Keyward != "" {
				desc += " (records " + quotePath(h.Keyward) + ")"
			}
		case h.State == hooks.StateForeign && h.Framework && frameworkRunsKeyward(h.Hook):
			desc = "managed by the pre-commit framework, which runs keyward (id " + frameworkIDs[h.Hook] + ")"
		case h.State == hooks.StateForeign && h.Framework:
			desc = "managed by the pre-commit framework, whose " + frameworkConfig + " has no keyward hook: add '- id: " + frameworkIDs[h.Hook] + "'"
		case h.State == hooks.StateForeign:
			desc = "not keyward's (keyward does not run here)"
		}
		switch {
		case h.Chain.Path != "" && h.Chain.Runnable:
			desc += "; then runs " + quotePath(h.Chain.Path)
		case h.Chain.Path != "":
			desc += "; skips " + quotePath(h.Chain.Path) + " (not executable, as git would)"
		}
		fmt.Fprintf(e.stdout, "  %-10s  %s\n", h.Hook, desc)
	}
}

// parseHookFlags parses a hook subcommand's flags and checks it got nargs
// arguments.
func parseHookFlags(fs *pflag.FlagSet, e *env, args []string, nargs int) error {
	if err := parseFlags(fs, hookUsage, e, args); err != nil {
		return err
	}
	if fs.NArg() != nargs {
		return usagef("run 'keyward hook --help' for usage", "%s takes no arguments", fs.Name())
	}
	return nil
}

// keywardBinary is the path recorded in the hook scripts: the path this
// binary was run by when that is on PATH (so a symlink such as Homebrew's
// survives upgrades), else the executable itself. Empty makes the scripts
// rely on PATH alone.
func keywardBinary() string {
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	if p, err := exec.LookPath(os.Args[0]); err == nil {
		if abs, err := filepath.Abs(p); err == nil && sameFile(abs, exe) {
			return abs
		}
	}
	return exe
}

func sameFile(a, b string) bool {
	fa, err1 := os.Stat(a)
	fb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(fa, fb)
}
