package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"github.com/keyward/keyward/scanner"
)

const ciUsage = `Usage: keyward ci [--base BRANCH] [scan flags]

The CI secret gate: checks the commits a pipeline is about to accept,
working out which from the CI system's environment, and behaves like
'keyward scan' (same flags, output and exit codes). Pushes are compared
with what the project already accepted, never with the pushed branch's own
remote-tracking ref:

  GitHub Actions   pull_request, pull_request_target: the pull request's
                     commits that its base branch does not have
                   merge_group: the queue's base_sha..head_sha
                   push: the event's before..after; a new branch or tag, or
                     a force push whose before is not in the clone: what
                     the default branch does not have; the default branch
                     itself without a before: its whole history
                   schedule, workflow_dispatch on the default branch: every
                     branch, tag and unique blob (scan --history)
                   workflow_dispatch on another branch: what the default
                     branch does not have
  GitLab CI        merge requests: CI_MERGE_REQUEST_DIFF_BASE_SHA..HEAD
                   pushes: CI_COMMIT_BEFORE_SHA..CI_COMMIT_SHA, with the
                     same rules as GitHub for new branches, tags and force
                     pushes (the default branch is CI_DEFAULT_BRANCH)
                   schedules: every branch, tag and unique blob
  elsewhere        @{upstream}..HEAD, or --base BRANCH..HEAD

The configuration (.keyward.toml and the baseline) is read from the base
the commits are compared with, so a change under test cannot allowlist
itself; set allow_config_changes = true in the base's .keyward.toml to let
such changes count.

The gate never passes what it could not check: when the clone lacks the
history it needs (a shallow clone, a missing base branch), or the event
says commits were pushed but none can be found, it exits 2 with the fix
(fetch-depth: 0 on GitHub, GIT_DEPTH: "0" on GitLab).

Flags:
  --base BRANCH   compare pushes with BRANCH instead of the default branch
                  (also KEYWARD_BASE)

Examples:
  keyward ci
  keyward ci --format sarif --report keyward.sarif

Exit codes: 0 nothing found, 1 findings, 2 error or incomplete check.
`

func runCI(ctx context.Context, e *env, args []string) error {
	base := e.getenv("KEYWARD_BASE")
	var rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-h" || a == "--help":
			fmt.Fprint(e.stdout, ciUsage)
			return nil
		case a == "--range" || a == "--staged" || a == "--history" || a == "--commit-msg" ||
			strings.HasPrefix(a, "--range=") || strings.HasPrefix(a, "--commit-msg="):
			name, _, _ := strings.Cut(a, "=")
			return usagef("keyward ci chooses the range; use 'keyward scan "+name+"' to choose yourself", "keyward ci does not take %s", name)
		case a == "--base":
			if i+1 >= len(args) {
				return usagef("keyward ci --base main", "--base needs a branch")
			}
			base = args[i+1]
			i++
		case strings.HasPrefix(a, "--base="):
			base = strings.TrimPrefix(a, "--base=")
		default:
			rest = append(rest, a)
		}
	}
	if base != "" && !strings.Contains(base, "/") && !strings.HasPrefix(base, "refs/") {
		// A branch name: CI clones keep it as a remote-tracking ref.
		if _, err := gitOut(ctx, "rev-parse", "--verify", "--quiet", "refs/remotes/origin/"+base); err == nil {
			base = "refs/remotes/origin/" + base
		}
	}
	p, err := detectCI(e.getenv, os.ReadFile, strings.TrimPrefix(base, "refs/remotes/origin/"))
	if err != nil {
		return err
	}
	if p.nothing != "" {
		fmt.Fprintf(e.stderr, "keyward: nothing to check: %s\n", p.nothing)
		return nil
	}
	if p.history {
		fmt.Fprintf(e.stderr, "keyward: scanning the whole history (%s)\n", p.reason)
		return runScan(ctx, e, append([]string{"--history"}, rest...))
	}
	if p.system == "git" && base == "" {
		if _, err := gitOut(ctx, "rev-parse", "--verify", "--quiet", "@{upstream}"); err != nil {
			return usagef("set an upstream (git branch -u origin/main) or name the base: keyward ci --base origin/main",
				"%v: not in GitHub Actions or GitLab CI, and the current branch has no upstream", errNoCIRange)
		}
	}
	if p.system == "git" && base != "" {
		p.exclude, p.base = []string{base}, base
	}
	r, err := resolveCIPlan(ctx, e, p)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "keyward: checking %d %s (%s)\n", r.count, plural(int64(r.count), "commit", "commits"), p.reason)
	gc, err := loadGateConfig(ctx, ".", r.base, r.include)
	if err != nil {
		return err
	}
	defer gc.cleanup()
	gc.explain(e)
	var found *scanner.Result
	src := func(ctx context.Context, eng *scanner.Engine) (res *scanner.Result, err error) {
		if needsGitPlumbing() {
			res, err = patchCommits(r.include, r.exclude)(ctx, eng)
		} else {
			res, _, err = eng.ScanCommits(ctx, ".", r.include, r.exclude, scanner.CommitsOptions{})
		}
		found = res
		return res, err
	}
	err = runScanFrom(ctx, e, append(append([]string(nil), gc.args...), rest...), src)
	if errors.Is(err, errFindings) {
		ciBlocked(e, found)
	}
	return err
}

// ciBlocked says what to do after the gate failed: the commits are on the
// server already, so the key is out.
func ciBlocked(e *env, res *scanner.Result) {
	ids := keyIDs(res)
	what := "credentials"
	if len(ids) > 0 {
		what = "AWS key " + idList(ids)
	}
	errorf(e.stderr, "gate failed: the commits being checked contain %s", what)
	switch len(ids) {
	case 0:
		hintf(e.stderr, "they are on the server already: revoke the credential with its provider")
	case 1:
		hintf(e.stderr, "they are on the server already, so treat the key as leaked: keyward respond --key-id %s", ids[0])
	default:
		hintf(e.stderr, "they are on the server already, so treat the keys as leaked: keyward respond --key-id ID, for each of %s", idList(ids))
	}
	rewriteHints(e, res)
}

// ciResolved is a plan resolved against the clone: full commit names.
type ciResolved struct {
	include, exclude []string
	base             string
	count            int
}

// resolveCIPlan finds the plan's revisions in the clone and refuses, with
// the fix, whatever would make the check smaller than the push: a missing
// revision, a range that reaches a shallow clone's boundary, or no commits
// where the event says there are some.
func resolveCIPlan(ctx context.Context, e *env, p ciPlan) (ciResolved, error) {
	var r ciResolved
	for _, rev := range p.include {
		c, ok := commitOf(ctx, rev)
		if !ok {
			return r, usagef(p.fix, "commit %s, which this run must check, is not in this clone", displayRev(rev))
		}
		r.include = append(r.include, c)
	}
	exclude := p.exclude
	var missing string
	for _, rev := range exclude {
		if _, ok := commitOf(ctx, rev); !ok {
			missing = rev
			break
		}
	}
	baseRev := p.base
	if missing != "" {
		if p.fallback == nil && missing == p.before {
			return r, usagef(p.fix, "the push's previous commit %s is not in this clone, so the pushed commits cannot be told apart", displayRev(missing))
		}
		if missing != p.before {
			return r, usagef(p.fix, "%s is not in this clone, so the commits to check cannot be told apart from the ones already accepted", displayRev(missing))
		}
		warnf(e.stderr, "%s", p.fallbackWhy)
		exclude = p.fallback
		baseRev = ""
		if len(exclude) > 0 {
			baseRev = exclude[0]
		}
		for _, rev := range exclude {
			if _, ok := commitOf(ctx, rev); !ok {
				return r, usagef(p.fix, "%s is not in this clone, so the commits to check cannot be told apart from the ones already accepted", displayRev(rev))
			}
		}
	}
	for _, rev := range exclude {
		c, _ := commitOf(ctx, rev)
		r.exclude = append(r.exclude, c)
	}
	if baseRev != "" {
		r.base, _ = commitOf(ctx, baseRev)
	}
	commits, err := revList(ctx, r.include, r.exclude)
	if err != nil {
		return r, err
	}
	r.count = len(commits)
	shallow, err := shallowCommits(ctx)
	if err != nil {
		return r, err
	}
	for _, c := range commits {
		if shallow[c] {
			return r, usagef(p.fix, "this clone is shallow and its history stops inside the commits to check (at %s), so which are new cannot be told", shortCommit(c))
		}
	}
	if r.count == 0 && p.expect {
		if p.before != "" && isAncestor(ctx, r.include[0], p.before) {
			return r, nil // the push only moved the branch back
		}
		return r, usagef(p.fix, "the %s event reports new commits, but none are in this clone's range; it would be a check of nothing", p.system)
	}
	return r, nil
}

// commitOf resolves rev to the commit it names, if the clone has it.
func commitOf(ctx context.Context, rev string) (string, bool) {
	out, err := gitOut(ctx, "rev-parse", "--verify", "--quiet", "--end-of-options", rev+"^{commit}")
	return out, err == nil && out != ""
}

// revList lists the commits reachable from include and from none of
// exclude.
func revList(ctx context.Context, include, exclude []string) ([]string, error) {
	args := append([]string{"rev-list"}, include...)
	if len(exclude) > 0 {
		args = append(append(args, "--not"), exclude...)
	}
	out, err := gitOut(ctx, args...)
	if err != nil {
		return nil, fmt.Errorf("list the commits to check: %w", err)
	}
	if out == "" {
		return nil, nil
	}
	return strings.Split(out, "\n"), nil
}

// shallowCommits reads the clone's shallow boundary: commits whose
// parents were not fetched.
func shallowCommits(ctx context.Context) (map[string]bool, error) {
	path, err := gitOut(ctx, "rev-parse", "--git-path", "shallow")
	if err != nil {
		return nil, fmt.Errorf("find shallow list: %w", err)
	}
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read shallow list: %w", err)
	}
	defer f.Close()
	out := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		out[strings.TrimSpace(sc.Text())] = true
	}
	return out, sc.Err()
}

func isAncestor(ctx context.Context, a, b string) bool {
	_, err := gitOut(ctx, "merge-base", "--is-ancestor", a, b)
	return err == nil
}

// displayRev shortens a revision for messages.
func displayRev(rev string) string {
	if s, ok := strings.CutPrefix(rev, "refs/remotes/"); ok {
		return s
	}
	if isFullHex(rev) {
		return shortCommit(rev)
	}
	return rev
}

func isFullHex(s string) bool {
	if len(s) != 40 && len(s) != 64 {
		return false
	}
	return strings.Trim(s, "0123456789abcdef") == ""
}

// gitOut runs git in the working directory and returns its trimmed output.
func gitOut(ctx context.Context, args ...string) (string, error) {
	out, err := exec.CommandContext(ctx, "git", args...).Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %w", args[0], err)
	}
	return strings.TrimSpace(string(out)), nil
}
