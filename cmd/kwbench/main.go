// Command kwbench measures keyward against the floor and the other tools
// on repositories it builds itself, deterministically and offline, so that
// every number in the README can be reproduced on any machine.
//
// It builds, once per size, a repository from the Go toolchain's own
// source tree ($(go env GOROOT)/src) edited over thousands of commits by a
// seeded pseudo-random process: files modified (mostly a hot set, as in real
// projects, which builds long delta chains), added, deleted and renamed;
// topic branches merged back or left unmerged; annotated and lightweight
// tags; and now and then a file of fake AWS credentials (from patternstest,
// never a real-looking literal), later removed or left at a tip. The history
// is written as a git fast-import stream (seconds, where 20k git commit
// calls would take an hour), then repacked with
// `git repack -adf --window=10 --depth=50`, as a server packs a clone.
//
//	small  2,000+ commits, 100+ MB of blobs written (about a minute to build)
//	large 20,000+ commits, 1+ GB of blobs written (about five minutes)
//
// Repositories are cached under --dir (default $TMPDIR/kwbench) and reused
// while their stamp matches the generator. Then, warm cache, it times whole
// processes side by side: wall time, CPU time (user + system) and peak RSS,
// from wait4's rusage, each the median of --runs:
//
//   - floor: git cat-file --batch-all-objects --unordered --batch, which
//     inflates every object once in pack order: no sweep can read less;
//   - keyward scan --history (built from ./cmd/keyward unless --keyward);
//   - gitleaks git, trufflehog git and git secrets --scan-history, each only
//     if it is on PATH;
//   - the pre-commit case: 10 files staged in a clone of the repository,
//     keyward scan --staged, and git commit without and with keyward's
//     hooks (skipped if 'keyward hook install' fails);
//   - keyward scan --range over 100 commits.
//
// Generated histories have no real deltas' shapes and only Go content, so
// --repo PATH also measures real repositories as they are (a bare clone of
// git/git or tmux): the floor, keyward's history sweep with all rules, AWS
// rules only and none, keyward's range scan over HEAD~100..HEAD, and
// gitleaks' and trufflehog's range and whole-history scans where they are
// on PATH, the cases alternating round by round. Each tool's own account
// of what it found and how much it read is in the table, and a run that
// read nothing (a misinvoked tool looks fast) is refused. The output is a
// markdown table per repository, ready for the README, with the exact
// command lines, and one table of all repositories. --source DIR builds
// the generated repositories from another tree, such as a checkout of
// git/git for C-heavy content.
//
// On Linux every measured process runs in a new network namespace with
// no interface up, so no tool can check for updates, verify a candidate or
// reach anything; the tables say whether that held.
//
// Usage, from the module root:
//
//	go run ./cmd/kwbench                    # small repository, 3 runs each
//	go run ./cmd/kwbench --size large       # the numbers for the README
//	go run ./cmd/kwbench --size both --runs 5 --dir /var/tmp/kwbench
//	go run ./cmd/kwbench --size none --repo /tmp/tmux.git --repo /tmp/git.git
//	go run ./cmd/kwbench --source /tmp/git-src   # C-heavy generated history
//
// Wall time on a shared machine moves with the neighbours' load; CPU time
// much less, so both are shown. kwbench is a command, not a test: go test
// ./... never runs it.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"

	"github.com/spf13/pflag"
)

// options are kwbench's flags.
type options struct {
	dir          string
	size         string
	runs         int
	keyward      string
	rebuild      bool
	noPrecommit  bool
	precommitRun int
	repos        []string
	source       string
	noOtherHist  bool
}

func main() {
	if os.Getenv(measureEnv) == "1" {
		os.Unsetenv(measureEnv)
		os.Exit(measureChild(os.Args[1:]))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var o options
	fs := pflag.NewFlagSet("kwbench", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.dir, "dir", filepath.Join(os.TempDir(), "kwbench"), "cache `DIR` for generated repositories and the built binary")
	fs.StringVar(&o.size, "size", "small", "generated repository size: small, large, both or none (with --repo)")
	fs.IntVar(&o.runs, "runs", 3, "timed runs per history case (the median is reported)")
	fs.StringVar(&o.keyward, "keyward", "", "keyward binary to measure (default: go build ./cmd/keyward)")
	fs.BoolVar(&o.rebuild, "rebuild", false, "regenerate the repositories even if cached")
	fs.BoolVar(&o.noPrecommit, "no-precommit", false, "skip the pre-commit and range cases")
	fs.IntVar(&o.precommitRun, "precommit-runs", 11, "timed runs of each (fast) pre-commit case")
	fs.StringArrayVar(&o.repos, "repo", nil, "also measure the real repository at `PATH` (bare or not; repeatable), cases alternating run by run")
	fs.StringVar(&o.source, "source", "", "build the generated repositories from the files under `DIR` (e.g. a checkout of git/git for C-heavy content) instead of GOROOT/src")
	fs.BoolVar(&o.noOtherHist, "no-other-history", false, "with --repo, skip the other tools' whole-history scans (over a minute each on git/git)")
	if err := fs.Parse(args); err != nil {
		if err == pflag.ErrHelp {
			return 0
		}
		return 2
	}
	var sizes []string
	switch o.size {
	case "none":
	case "small", "large":
		sizes = []string{o.size}
	case "both":
		sizes = []string{"small", "large"}
	default:
		fmt.Fprintf(stderr, "kwbench: error: unknown --size %q (small, large, both or none)\n", o.size)
		return 2
	}
	if o.runs < 1 || o.precommitRun < 1 {
		fmt.Fprintf(stderr, "kwbench: error: --runs and --precommit-runs must be at least 1\n")
		return 2
	}
	if err := bench(ctx, o, sizes, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "kwbench: error: %v\n", err)
		return 1
	}
	return 0
}
