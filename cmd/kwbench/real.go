package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// realCase is one command measured on a real repository.
type realCase struct {
	name    string
	tool    tool
	isRange bool // a range case, compared with keyward's range
	okCodes []int
	args    []string // command and arguments
	report  string   // where gitleaks writes its findings
	out     string   // where the last run's output is kept (see timeProcessTo)
	// keywardRef marks the keyward case the other tools' cases of the same
	// kind (history or range) are divided by.
	keywardRef bool
}

// realResult is a measured case with what its last run says it did.
type realResult struct {
	result
	c   realCase
	out outcome
	// The ratios of wall and CPU time to the floor's and to keyward's case
	// of the same kind, from the same rounds; zero where they do not apply.
	floorWall, floorCPU     float64
	keywardWall, keywardCPU float64
}

// benchReal measures a real repository (--repo) as it is: the floor,
// keyward's history sweep with all rules, AWS rules only and none, the
// range scan over rangeCommits commits, and gitleaks' and trufflehog's
// whole-history and range scans where installed. Generated repositories
// are built with fast-import and repacked by kwbench; a real one has the
// deltas, languages and history shapes the README's figures must hold on
// (issue 10). Cases alternate run by run, so that a change in the
// neighbours' load falls on all of them alike, and the table gives ratios
// from the same rounds. The last round's output is kept under --dir/out,
// and each tool's own account of what it found and read is in the table, so
// that a tool which read nothing because it was misinvoked cannot look
// fast.
func benchReal(ctx context.Context, o options, kw, repo string, stdout, stderr io.Writer) (*realRun, error) {
	repo, err := filepath.Abs(repo)
	if err != nil {
		return nil, err
	}
	st, err := measureRepo(ctx, repo)
	if err != nil {
		return nil, fmt.Errorf("measure %s: %w", repo, err)
	}
	cases, err := realCases(ctx, o, kw, repo)
	if err != nil {
		return nil, err
	}
	outDir := filepath.Join(o.dir, "out", strings.TrimSuffix(filepath.Base(repo), ".git"))
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return nil, err
	}
	for i := range cases {
		// The floor's output is every object inflated (13 GB for git/git):
		// it goes to /dev/null, as in every other floor measurement.
		if cases[i].tool != toolGit {
			cases[i].out = filepath.Join(outDir, fmt.Sprintf("%02d-%s", i, slug(cases[i].name)))
		}
	}
	run := &realRun{repo: repo, stats: st, runs: o.runs, outDir: outDir, started: time.Now().UTC(), loadBefore: loadAverage(),
		versions: toolVersions(ctx, cases)}

	fmt.Fprintf(stderr, "kwbench: %s: warming the page cache\n", repo)
	timeProcess(ctx, repo, nil, nil, "git", "cat-file", "--batch-all-objects", "--unordered", "--batch")
	samples := make([][]sample, len(cases))
	outs := make([]outcome, len(cases))
	failed := make([]error, len(cases))
	for round := range o.runs {
		for i, c := range cases {
			if failed[i] != nil {
				continue
			}
			fmt.Fprintf(stderr, "kwbench: round %d: %s\n", round+1, c.name)
			s, err := timeProcessTo(ctx, repo, nil, c.okCodes, c.out, c.args[0], c.args[1:]...)
			if err == nil {
				outs[i], err = readOutcome(c, c.out)
			}
			if err == nil {
				err = outs[i].check(c)
			}
			if err != nil {
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				failed[i] = err
				continue
			}
			samples[i] = append(samples[i], s)
		}
	}
	run.loadAfter = loadAverage()
	rs := make([]realResult, len(cases))
	var floor, kwHistory, kwRange *realResult
	for i, c := range cases {
		r := realResult{result: result{name: c.name, command: strings.Join(c.args, " ")}, c: c, out: outs[i]}
		if failed[i] != nil {
			r.skipped, r.note = true, failed[i].Error()
		} else {
			var walls, cpus []time.Duration
			for _, s := range samples[i] {
				walls, cpus = append(walls, s.wall), append(cpus, s.cpu)
				r.rss = max(r.rss, s.rss)
				r.online = r.online || !s.offline
			}
			r.wall, r.cpu = median(walls), median(cpus)
		}
		rs[i] = r
		switch {
		case c.tool == toolGit:
			floor = &rs[i]
		case c.keywardRef && c.isRange:
			kwRange = &rs[i]
		case c.keywardRef:
			kwHistory = &rs[i]
		}
	}
	ratio := func(r, ref *realResult) (float64, float64) {
		if ref == nil || ref.skipped || r.skipped || ref.wall <= 0 || ref.cpu <= 0 {
			return 0, 0
		}
		return r.wall.Seconds() / ref.wall.Seconds(), r.cpu.Seconds() / ref.cpu.Seconds()
	}
	for i := range rs {
		r := &rs[i]
		if !r.c.isRange {
			r.floorWall, r.floorCPU = ratio(r, floor)
		}
		if r.c.tool != toolGit && !r.c.keywardRef {
			if r.c.isRange {
				r.keywardWall, r.keywardCPU = ratio(r, kwRange)
			} else if r.c.tool != toolKeyward {
				r.keywardWall, r.keywardCPU = ratio(r, kwHistory)
			}
		}
	}
	run.results = rs
	run.printMarkdown(stdout)
	return run, nil
}

// realCases lists the cases for repo in the order each round runs them.
func realCases(ctx context.Context, o options, kw, repo string) ([]realCase, error) {
	all, err := rulesConfig(ctx, o, kw, "all-rules.toml", func(string) bool { return true })
	if err != nil {
		return nil, err
	}
	aws, err := rulesConfig(ctx, o, kw, "aws-only.toml", func(f string) bool { return f == "aws" })
	if err != nil {
		return nil, err
	}
	none, err := rulesConfig(ctx, o, kw, "no-rules.toml", func(string) bool { return false })
	if err != nil {
		return nil, err
	}
	// The range is given to every tool as commit IDs, resolved once by
	// git: trufflehog resolves names with go-git, which does not read
	// every revision syntax git does.
	base, err := gitOut(ctx, repo, "rev-parse", "--verify", fmt.Sprintf("HEAD~%d^{commit}", rangeCommits))
	if err != nil {
		return nil, err
	}
	head, err := gitOut(ctx, repo, "rev-parse", "--verify", "HEAD^{commit}")
	if err != nil {
		return nil, err
	}
	base, head = strings.TrimSpace(base), strings.TrimSpace(head)
	rng := base + ".." + head
	rngName := fmt.Sprintf("HEAD~%d..HEAD", rangeCommits)
	// keyward exits 2 when it found nothing and skipped something (an
	// archive member over its limits, as in git/git's t/t5000): the run
	// still did its work, and its report, which must parse, says what it
	// skipped; the table shows that count.
	kwCodes := []int{1, 2}
	cases := []realCase{
		{name: "floor: git cat-file --batch-all-objects --unordered --batch", tool: toolGit,
			args: []string{"git", "cat-file", "--batch-all-objects", "--unordered", "--batch"}},
		{name: "keyward scan --history, all rules", tool: toolKeyward, keywardRef: true, okCodes: kwCodes,
			args: []string{kw, "scan", "--history", "--format", "json", "--config", all}},
		{name: "keyward scan --history, AWS rules only", tool: toolKeyward, okCodes: kwCodes,
			args: []string{kw, "scan", "--history", "--format", "json", "--config", aws}},
		{name: "keyward scan --history, no rules (reading only)", tool: toolKeyward, okCodes: kwCodes,
			args: []string{kw, "scan", "--history", "--format", "json", "--config", none}},
		{name: "keyward scan --range " + rngName, tool: toolKeyward, isRange: true, keywardRef: true, okCodes: kwCodes,
			args: []string{kw, "scan", "--range", rng, "--format", "json", "--config", all}},
	}
	if _, err := exec.LookPath("gitleaks"); err == nil {
		// Each case has a report file of its own: gitleaks replaces its
		// report path, so as root "--report-path /dev/null" would replace
		// the device. --log-level info makes it log how many commits and
		// bytes it scanned, which the table shows.
		report := func(name string) string { return filepath.Join(o.dir, "gitleaks-"+name+".json") }
		cases = append(cases, realCase{name: "gitleaks git --log-opts=" + rngName, tool: toolGitleaks, isRange: true,
			okCodes: []int{1}, report: report("range"),
			args: []string{"gitleaks", "git", "--no-banner", "--log-level", "info", "--report-path", report("range"),
				"--log-opts=" + rng, "."}})
		if !o.noOtherHist {
			cases = append(cases, realCase{name: "gitleaks git (whole history)", tool: toolGitleaks,
				okCodes: []int{1}, report: report("history"),
				args: []string{"gitleaks", "git", "--no-banner", "--log-level", "info", "--report-path", report("history"), "."}})
		}
	}
	if _, err := exec.LookPath("trufflehog"); err == nil {
		cases = append(cases, realCase{name: "trufflehog git --since-commit HEAD~100 --branch HEAD", tool: toolTrufflehog,
			isRange: true, args: trufflehogArgs(ctx, repo, "--since-commit", base, "--branch", head)})
		if !o.noOtherHist {
			cases = append(cases, realCase{name: "trufflehog git (whole history)", tool: toolTrufflehog,
				args: trufflehogArgs(ctx, repo)})
		}
	}
	return cases, nil
}

// trufflehogArgs is trufflehog's command line for a local repository,
// checked against 3.97.0's --help and source:
//
//   - --no-update: otherwise it asks its update server for a newer binary
//     before scanning (a build without a version skips that anyway);
//   - --no-verification: otherwise every candidate is sent to its
//     provider's API, which is network time, not scanning;
//   - --json: one result per line on standard output and a JSON log on
//     standard error, whose "finished scanning" line gives the chunks and
//     bytes read (see readOutcome);
//   - --trust-local-git-config: otherwise a file:// repository is first
//     copied with git clone into a temporary directory, so that the
//     repository's own git configuration cannot run commands; keyward and
//     gitleaks read the repository in place, and so does trufflehog with
//     this flag, which makes it the fairer comparison;
//   - --bare for a bare repository: without it trufflehog skips, with no
//     error and exit status 0, any repository directory whose name ends in
//     "git" (as in git.git), so it would read nothing and look fast.
//
// With --since-commit it scans commits one at a time (its concurrency is
// set to 1 so that chunks come in order) and stops when `git log` reaches
// that commit.
func trufflehogArgs(ctx context.Context, repo string, extra ...string) []string {
	args := []string{"trufflehog", "git", "--no-update", "--no-verification", "--json", "--trust-local-git-config"}
	if bare, err := gitOut(ctx, repo, "rev-parse", "--is-bare-repository"); err == nil && strings.TrimSpace(bare) == "true" {
		args = append(args, "--bare")
	}
	return append(append(args, extra...), "file://"+repo)
}

// slug makes a case name a file name.
func slug(name string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		case b.Len() > 0 && !strings.HasSuffix(b.String(), "-"):
			b.WriteByte('-')
		}
	}
	return strings.TrimSuffix(b.String(), "-")
}
