package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

const ciUsage = `Usage: keyward ci [scan flags]

The CI secret gate: scans the commits a pipeline is about to accept, picking
the range from the environment, then behaves exactly like 'keyward scan
--range RANGE' (same flags, output and exit codes).

  GitHub Actions   pull_request: origin/BASE...HEAD (check out with fetch-depth: 0)
                   push: the event's before..after; a new branch scans what no
                   remote-tracking ref has
  GitLab CI        merge requests: CI_MERGE_REQUEST_DIFF_BASE_SHA..HEAD
                   pushes: CI_COMMIT_BEFORE_SHA..CI_COMMIT_SHA
  elsewhere        @{upstream}..HEAD

Examples:
  keyward ci
  keyward ci --format sarif --report keyward.sarif

Exit codes: 0 nothing found, 1 findings, 2 error.
`

func runCI(ctx context.Context, e *env, args []string) error {
	for _, a := range args {
		if a == "-h" || a == "--help" {
			fmt.Fprint(e.stdout, ciUsage)
			return nil
		}
		if a == "--range" || a == "--staged" || a == "--history" || a == "--commit-msg" {
			return usagef("keyward ci chooses the range; use 'keyward scan "+a+"' to choose yourself", "keyward ci does not take %s", a)
		}
	}
	r, err := detectCIRange(e.getenv, os.ReadFile)
	if err != nil {
		return err
	}
	if r.spec == upstreamRange {
		// go-git does not resolve @{upstream}; git itself knows the
		// branch's tracking configuration best.
		out, err := exec.CommandContext(ctx, "git", "rev-parse", "--verify", "--quiet", "@{upstream}").Output()
		if err != nil {
			return usagef("set an upstream (git branch -u origin/main) or name the range: keyward scan --range origin/main..HEAD",
				"%v: not in GitHub Actions or GitLab CI, and the current branch has no upstream", errNoCIRange)
		}
		r.spec = strings.TrimSpace(string(out)) + "..HEAD"
	}
	fmt.Fprintf(e.stderr, "keyward: scanning %s (%s)\n", r.spec, r.reason)
	return runScan(ctx, e, append([]string{"--range", r.spec}, args...))
}
