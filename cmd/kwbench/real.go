package main

import (
	"context"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// realCase is one command measured on a real repository.
type realCase struct {
	name    string
	okCodes []int
	args    []string // command and arguments
	// ref names the case this one is compared with in the table ("floor"
	// for history cases, the gitleaks range case for range cases).
	ref string
}

// benchReal measures a real repository (--repo) as it is: the floor,
// keyward's history sweep with all rules, AWS rules only and none, the
// range scan over rangeCommits commits, and the other tools where
// installed. Generated repositories are built with fast-import and
// repacked by kwbench; a real one has the deltas, languages and history
// shapes the README's figures must hold on (issue 10). Cases alternate
// run by run, so that a change in the neighbours' load falls on all of
// them alike, and the table gives ratios from the same rounds.
func benchReal(ctx context.Context, o options, kw, repo string, stdout, stderr io.Writer) error {
	repo, err := filepath.Abs(repo)
	if err != nil {
		return err
	}
	st, err := measureRepo(ctx, repo)
	if err != nil {
		return fmt.Errorf("measure %s: %w", repo, err)
	}
	fmt.Fprintf(stdout, "\n== %s: %d commits, %d blobs (%.2f GB), %d objects (%.2f GB inflated), pack %.0f MB\n",
		repo, st.Commits, st.Blobs, gb(st.BlobBytes), st.Objects, gb(st.AllBytes), float64(st.PackBytes)/(1<<20))
	fmt.Fprintf(stdout, "   median of %d alternating rounds, warm cache\n\n", o.runs)

	all, err := rulesConfig(ctx, o, kw, "all-rules.toml", func(string) bool { return true })
	if err != nil {
		return err
	}
	aws, err := rulesConfig(ctx, o, kw, "aws-only.toml", func(f string) bool { return f == "aws" })
	if err != nil {
		return err
	}
	none, err := rulesConfig(ctx, o, kw, "no-rules.toml", func(string) bool { return false })
	if err != nil {
		return err
	}
	rng := fmt.Sprintf("HEAD~%d..HEAD", rangeCommits)
	cases := []realCase{
		{name: "floor: git cat-file --batch-all-objects --unordered", args: []string{"git", "cat-file", "--batch-all-objects", "--unordered", "--batch"}},
		{name: "keyward scan --history, all rules", okCodes: []int{1}, ref: "floor", args: []string{kw, "scan", "--history", "--format", "json", "--config", all}},
		{name: "keyward scan --history, AWS rules only", okCodes: []int{1}, ref: "floor", args: []string{kw, "scan", "--history", "--format", "json", "--config", aws}},
		{name: "keyward scan --history, no rules", okCodes: []int{1}, ref: "floor", args: []string{kw, "scan", "--history", "--format", "json", "--config", none}},
		{name: "keyward scan --range " + rng, okCodes: []int{1}, ref: "gitleaks", args: []string{kw, "scan", "--range", rng, "--config", all}},
	}
	report := filepath.Join(o.dir, "gitleaks-report.json")
	if _, err := exec.LookPath("gitleaks"); err == nil {
		cases = append(cases, realCase{name: "gitleaks git --log-opts=" + rng, okCodes: []int{1},
			args: []string{"gitleaks", "git", "--no-banner", "--log-level", "error", "--report-path", report, "--log-opts=" + rng, "."}})
		if !o.noOtherHist {
			cases = append(cases, realCase{name: "gitleaks git (whole history)", okCodes: []int{1}, ref: "floor",
				args: []string{"gitleaks", "git", "--no-banner", "--log-level", "error", "--report-path", report, "."}})
		}
	}
	if _, err := exec.LookPath("trufflehog"); err == nil && !o.noOtherHist {
		cases = append(cases, realCase{name: "trufflehog git (whole history)", okCodes: []int{183}, ref: "floor",
			args: []string{"trufflehog", "git", "--no-update", "--no-verification", "--json", "file://" + repo}})
	}

	fmt.Fprintf(stderr, "kwbench: warming the page cache\n")
	timeProcess(ctx, repo, nil, nil, "git", "cat-file", "--batch-all-objects", "--unordered", "--batch")
	samples := make([][]sample, len(cases))
	failed := make([]error, len(cases))
	for round := range o.runs {
		for i, c := range cases {
			if failed[i] != nil {
				continue
			}
			fmt.Fprintf(stderr, "kwbench: round %d: %s\n", round+1, c.name)
			s, err := timeProcess(ctx, repo, nil, c.okCodes, c.args[0], c.args[1:]...)
			if err != nil {
				failed[i] = err
				continue
			}
			samples[i] = append(samples[i], s)
		}
	}
	rs := make([]result, len(cases))
	byName := map[string]*result{}
	for i, c := range cases {
		r := result{name: c.name, command: strings.Join(c.args, " ")}
		if failed[i] != nil {
			r.skipped, r.note = true, failed[i].Error()
		} else {
			var walls, cpus []time.Duration
			for _, s := range samples[i] {
				walls, cpus = append(walls, s.wall), append(cpus, s.cpu)
				r.rss = max(r.rss, s.rss)
			}
			r.wall, r.cpu = median(walls), median(cpus)
		}
		rs[i] = r
		switch {
		case i == 0:
			byName["floor"] = &rs[i]
		case strings.HasPrefix(c.name, "gitleaks git --log-opts"):
			byName["gitleaks"] = &rs[i]
		}
	}
	for i, c := range cases {
		ref := byName[c.ref]
		if c.ref == "" || ref == nil || ref.skipped || rs[i].skipped || ref.wall <= 0 {
			continue
		}
		rs[i].note = fmt.Sprintf("%.2fx %s wall, %.2fx CPU", rs[i].wall.Seconds()/ref.wall.Seconds(), c.ref,
			rs[i].cpu.Seconds()/ref.cpu.Seconds())
	}
	printTable(stdout, rs, result{})
	return nil
}
