package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// precommitFiles is how many files the pre-commit case stages: a typical
// commit, per issue 3.
const precommitFiles = 10

// rangeCommits is the size of the range-scan case: a large push.
const rangeCommits = 100

func bench(ctx context.Context, o options, sizes []string, stdout, stderr io.Writer) error {
	if err := os.MkdirAll(o.dir, 0o755); err != nil {
		return err
	}
	kw, err := buildKeyward(ctx, o)
	if err != nil {
		return err
	}
	var runs []*realRun
	for _, repo := range o.repos {
		r, err := benchReal(ctx, o, kw, repo, stdout, stderr)
		if err != nil {
			return err
		}
		runs = append(runs, r)
	}
	printCombined(stdout, runs)
	for _, size := range sizes {
		spec := specs[size]
		if o.source != "" {
			spec.name += "-" + filepath.Base(filepath.Clean(o.source))
		}
		repo, st, err := ensureRepo(ctx, o, spec, stderr)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "\n== %s repository: %d commits, %d blobs (%.2f GB), %d objects (%.2f GB inflated), pack %.0f MB\n",
			size, st.Commits, st.Blobs, gb(st.BlobBytes), st.Objects, gb(st.AllBytes), float64(st.PackBytes)/(1<<20))
		fmt.Fprintf(stdout, "   %s; %d CPUs, %s/%s; median of %d runs, warm cache\n\n", repo, runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, o.runs)

		// Warm the page cache so the first case is not charged for disk.
		fmt.Fprintf(stderr, "kwbench: warming the page cache\n")
		timeProcess(ctx, repo, nil, nil, "git", "cat-file", "--batch-all-objects", "--unordered", "--batch")

		floor := repeat(ctx, o.runs, "floor: git cat-file --batch-all-objects --unordered", repo, nil, nil,
			"git", "cat-file", "--batch-all-objects", "--unordered", "--batch")
		fmt.Fprintf(stderr, "kwbench: keyward scan --history\n")
		rs := []result{floor, repeat(ctx, o.runs, "keyward scan --history", repo, nil, []int{1},
			kw, "scan", "--history", "--format", "json")}
		for _, v := range []struct {
			name, file string
			keep       func(family string) bool
		}{
			{"keyward scan --history, AWS rules only", "aws-only.toml", func(f string) bool { return f == "aws" }},
			{"keyward scan --history, no rules (reading only)", "no-rules.toml", func(string) bool { return false }},
		} {
			cfg, err := rulesConfig(ctx, o, kw, v.file, v.keep)
			if err != nil {
				rs = append(rs, result{name: v.name, skipped: true, note: err.Error()})
				continue
			}
			rs = append(rs, repeat(ctx, o.runs, v.name, repo, nil, []int{1},
				kw, "scan", "--history", "--format", "json", "--config", cfg))
		}
		rs = append(rs, others(ctx, o, repo, stderr)...)
		printTable(stdout, rs, floor)

		if !o.noPrecommit {
			pc, err := precommit(ctx, o, kw, repo, stderr)
			if err != nil {
				return err
			}
			fmt.Fprintln(stdout)
			printTable(stdout, pc, result{})
		}
	}
	return nil
}

// rulesConfig writes a project config (named file, under --dir) that
// disables every rule whose family keep rejects. With the AWS family only,
// the sweep is measured as issue 3 framed it (AWS matching is cheap next to
// inflation); with no rules at all, what is left is the cost of reading
// history, to set against the floor.
func rulesConfig(ctx context.Context, o options, kw, file string, keep func(family string) bool) (string, error) {
	out, err := exec.CommandContext(ctx, kw, "rules", "--format", "json").Output()
	if err != nil {
		return "", fmt.Errorf("keyward rules: %w", err)
	}
	var list struct {
		Rules []struct {
			ID     string `json:"id"`
			Family string `json:"family"`
		} `json:"rules"`
	}
	if err := json.Unmarshal(out, &list); err != nil {
		return "", fmt.Errorf("read keyward rules: %w", err)
	}
	var off []string
	for _, r := range list.Rules {
		if !keep(r.Family) {
			off = append(off, strconv.Quote(r.ID))
		}
	}
	path := filepath.Join(o.dir, file)
	body := "disabled_rules = [" + strings.Join(off, ", ") + "]\n"
	return path, os.WriteFile(path, []byte(body), 0o644)
}

func gb(n int64) float64 { return float64(n) / (1 << 30) }

// others times the other tools' history scans, each only when installed.
func others(ctx context.Context, o options, repo string, log io.Writer) []result {
	var rs []result
	if _, err := exec.LookPath("gitleaks"); err == nil {
		fmt.Fprintf(log, "kwbench: gitleaks git\n")
		// The report goes to a file of its own: gitleaks replaces its report
		// path, so as root "--report-path /dev/null" replaces the device.
		report := filepath.Join(o.dir, "gitleaks-report.json")
		rs = append(rs, repeat(ctx, o.runs, "gitleaks git", repo, nil, []int{1},
			"gitleaks", "git", "--no-banner", "--log-level", "error", "--report-path", report, "."))
	} else {
		rs = append(rs, result{name: "gitleaks git", skipped: true, note: "not on PATH"})
	}
	if _, err := exec.LookPath("trufflehog"); err == nil {
		fmt.Fprintf(log, "kwbench: trufflehog git\n")
		args := trufflehogArgs(ctx, repo)
		rs = append(rs, repeat(ctx, o.runs, "trufflehog git", repo, nil, nil, args[0], args[1:]...))
	} else {
		rs = append(rs, result{name: "trufflehog git", skipped: true, note: "not on PATH"})
	}
	if _, err := exec.LookPath("git-secrets"); err == nil {
		fmt.Fprintf(log, "kwbench: git secrets --scan-history\n")
		// git-secrets reads its patterns from the repository's config;
		// --register-aws is the only way to give them.
		exec.CommandContext(ctx, "git", "-C", repo, "config", "--unset-all", "secrets.patterns").Run()
		exec.CommandContext(ctx, "git", "-C", repo, "secrets", "--register-aws").Run()
		rs = append(rs, repeat(ctx, o.runs, "git secrets --scan-history", repo, nil, []int{1},
			"git", "secrets", "--scan-history"))
	} else {
		rs = append(rs, result{name: "git secrets --scan-history", skipped: true, note: "not on PATH"})
	}
	return rs
}

// precommit times the per-commit cases in a throwaway clone (hard links,
// so cheap) with precommitFiles files staged.
func precommit(ctx context.Context, o options, kw, repo string, log io.Writer) ([]result, error) {
	fmt.Fprintf(log, "kwbench: pre-commit and range cases\n")
	tmp, err := os.MkdirTemp(o.dir, "precommit-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	clone := filepath.Join(tmp, "repo")
	if err := git(ctx, o.dir, "clone", "-q", repo, clone); err != nil {
		return nil, err
	}
	out, err := gitOut(ctx, clone, "ls-files", "*.go", "*.c", "*.h")
	if err != nil {
		return nil, err
	}
	files := strings.Split(strings.TrimSpace(out), "\n")
	step := max(1, len(files)/precommitFiles)
	for i := 0; i < precommitFiles && i*step < len(files); i++ {
		f, err := os.OpenFile(filepath.Join(clone, files[i*step]), os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(f, "\n// kwbench edit %d\nvar kwbench%d = %q\n", i, i, strings.Repeat("x", 40))
		f.Close()
	}
	if err := git(ctx, clone, "add", "-A"); err != nil {
		return nil, err
	}
	runs := o.precommitRun
	path := "PATH=" + filepath.Dir(kw) + string(os.PathListSeparator) + os.Getenv("PATH")
	rs := []result{repeat(ctx, runs, fmt.Sprintf("keyward scan --staged (%d files)", precommitFiles), clone, nil, []int{1},
		kw, "scan", "--staged")}

	commit := func(name string) result {
		var walls, cpus []time.Duration
		r := result{name: name, command: "git commit -q -m kwbench"}
		for range runs {
			s, err := timeProcess(ctx, clone, []string{path}, nil, "git", "commit", "-q", "-m", "kwbench")
			if err != nil {
				r.skipped, r.note = true, err.Error()
				return r
			}
			walls, cpus = append(walls, s.wall), append(cpus, s.cpu)
			r.rss = max(r.rss, s.rss)
			if err := git(ctx, clone, "reset", "-q", "--soft", "HEAD~1"); err != nil {
				r.skipped, r.note = true, err.Error()
				return r
			}
		}
		r.wall, r.cpu = median(walls), median(cpus)
		return r
	}
	plain := commit("git commit, no hooks")
	rs = append(rs, plain)
	install := exec.CommandContext(ctx, kw, "hook", "install")
	install.Dir, install.Env = clone, append(gitEnv(), path)
	if out, err := install.CombinedOutput(); err != nil {
		rs = append(rs, result{name: "git commit with keyward hooks", skipped: true,
			note: "keyward hook install failed: " + lastLines(string(out), 1)})
	} else {
		hooked := commit("git commit with keyward hooks")
		if !hooked.skipped && !plain.skipped {
			hooked.note = fmt.Sprintf("hooks add %s", (hooked.wall - plain.wall).Round(time.Millisecond))
		}
		rs = append(rs, hooked)
	}
	rs = append(rs, repeat(ctx, runs, fmt.Sprintf("keyward scan --range HEAD~%d..HEAD", rangeCommits), clone, nil, []int{1},
		kw, "scan", "--range", fmt.Sprintf("HEAD~%d..HEAD", rangeCommits)))
	return rs, nil
}

// printTable writes one markdown row per case; with a floor, each time is
// also given as a multiple of it. CPU (user + system) is shown beside wall
// time because wall time on a shared machine moves with the neighbours'
// load.
func printTable(w io.Writer, rs []result, floor result) {
	fmt.Fprintln(w, "| case | wall | CPU | peak RSS | vs floor | |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|")
	for _, r := range rs {
		if r.skipped {
			fmt.Fprintf(w, "| %s | | | | | not measured: %s |\n", r.name, mdEscape(r.note))
			continue
		}
		ratio := ""
		if floor.wall > 0 && !floor.skipped {
			ratio = fmt.Sprintf("%.2fx", r.wall.Seconds()/floor.wall.Seconds())
		}
		note := r.note
		if r.online {
			note = strings.TrimPrefix(note+"; had network access", "; ")
		}
		fmt.Fprintf(w, "| %s | %s | %s | %.0f MB | %s | %s |\n", r.name, secs(r.wall), secs(r.cpu), float64(r.rss)/1024, ratio, mdEscape(note))
	}
}
