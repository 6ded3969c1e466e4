package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// realRun is one real repository's measurements, kept for the combined
// table at the end of a run.
type realRun struct {
	repo                  string
	stats                 *repoStats
	runs                  int
	started               time.Time
	loadBefore, loadAfter string
	versions              []string
	outDir                string // where the cases' last output is kept
	results               []realResult
}

// versionTimeout bounds a tool's --version: a tool that hangs must not
// hold up the benchmark.
const versionTimeout = 30 * time.Second

// toolVersions asks each other tool the cases run for its version, in the
// same empty network namespace the measured runs get.
func toolVersions(ctx context.Context, cases []realCase) []string {
	var vs []string
	seen := map[tool]bool{}
	for _, c := range cases {
		var args []string
		switch c.tool {
		case toolGitleaks:
			args = []string{"gitleaks", "version"}
		case toolTrufflehog:
			args = []string{"trufflehog", "--version"}
		default:
			continue
		}
		if seen[c.tool] {
			continue
		}
		seen[c.tool] = true
		vctx, cancel := context.WithTimeout(ctx, versionTimeout)
		cmd := exec.CommandContext(vctx, args[0], args[1:]...)
		cmd.SysProcAttr = offlineAttr()
		out, err := cmd.CombinedOutput()
		cancel()
		v := strings.TrimSpace(lastLines(string(out), 1))
		if err != nil {
			v = fmt.Sprintf("unknown (%v)", err)
		}
		// A binary built with go install or go build, not by its release
		// process, may not know its version ("dev", "version is set by
		// build process"); its build information still names the module.
		if mod := moduleVersion(ctx, args[0]); mod != "" {
			v += "; built from " + mod
		}
		vs = append(vs, fmt.Sprintf("%s `%s`", args[0], v))
	}
	return vs
}

// moduleVersion is the main module and version recorded in a Go binary's
// build information (go version -m), or "".
func moduleVersion(ctx context.Context, name string) string {
	path, err := exec.LookPath(name)
	if err != nil {
		return ""
	}
	out, err := exec.CommandContext(ctx, "go", "version", "-m", path).Output()
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) >= 3 && f[0] == "mod" {
			return f[1] + " " + f[2]
		}
	}
	return ""
}

// loadAverage is the machine's 1, 5 and 15 minute load averages, for the
// header: wall times on a shared machine are only comparable at a similar
// load.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// header is the paragraph above a repository's table: what was measured,
// when and under what load, so that a pasted table carries its conditions.
func (r *realRun) header() string {
	var b strings.Builder
	st := r.stats
	fmt.Fprintf(&b, "%s: %s commits, %s blobs (%.2f GB), %s objects (%.2f GB inflated), pack %.0f MB. ",
		filepath.Base(r.repo), thousands(int64(st.Commits)), thousands(int64(st.Blobs)), gb(st.BlobBytes),
		thousands(int64(st.Objects)), gb(st.AllBytes), float64(st.PackBytes)/(1<<20))
	fmt.Fprintf(&b, "kwbench, %s UTC, %d CPUs (%s/%s), load average %s before and %s after; ",
		r.started.Format("2006-01-02 15:04"), runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, r.loadBefore, r.loadAfter)
	if r.runs == 1 {
		b.WriteString("one round, warm cache; ")
	} else {
		fmt.Fprintf(&b, "medians of %d rounds in which the cases alternate, warm cache; ", r.runs)
	}
	online := false
	for _, res := range r.results {
		online = online || (!res.skipped && res.online)
	}
	if online {
		b.WriteString("some processes had network access (no network namespace could be made). ")
	} else {
		b.WriteString("every process ran in an empty network namespace (no network). ")
	}
	if len(r.versions) > 0 {
		fmt.Fprintf(&b, "Versions: %s. ", strings.Join(r.versions, ", "))
	}
	b.WriteString("CPU is the user + system time of the process and of the children it waited for (git, for gitleaks and trufflehog), " +
		"peak RSS the largest single process among them; \"found\" and \"read\" are each tool's own account of its run.")
	return b.String()
}

// printMarkdown writes a repository's results as a markdown table ready
// for the README, followed by the exact command of each case.
func (r *realRun) printMarkdown(w io.Writer) {
	fmt.Fprintf(w, "\n%s\n\n", r.header())
	fmt.Fprintln(w, "| case | wall | CPU | peak RSS | found | read | vs the floor | other tool vs keyward |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|")
	for _, res := range r.results {
		if res.skipped {
			fmt.Fprintf(w, "| %s | | | | | | | not measured: %s |\n", mdCase(res.c), mdEscape(res.note))
			continue
		}
		fmt.Fprintf(w, "| %s | %s | %s | %.0f MB | %s | %s | %s | %s |\n", mdCase(res.c), secs(res.wall), secs(res.cpu),
			float64(res.rss)/1024, res.out.foundText(res.c), res.out.readText(res.c),
			ratioText(res.floorWall, res.floorCPU), ratioText(res.keywardWall, res.keywardCPU))
	}
	fmt.Fprintf(w, "\nCommands (in %s; the last round's output is kept under %s):\n\n", r.repo, r.outDir)
	for _, res := range r.results {
		fmt.Fprintf(w, "- %s: `%s`\n", res.name, res.command)
	}
}

// printCombined writes one table with a column group per repository, the
// layout of the README's Speed section.
func printCombined(w io.Writer, runs []*realRun) {
	if len(runs) < 2 {
		return
	}
	fmt.Fprintf(w, "\nAll repositories of this run:\n\n| case |")
	for _, r := range runs {
		fmt.Fprintf(w, " %s: wall (CPU) | found | ratio |", strings.TrimSuffix(filepath.Base(r.repo), ".git"))
	}
	fmt.Fprintf(w, "\n|---|%s\n", strings.Repeat("---|---|---|", len(runs)))
	var names []string
	seen := map[string]bool{}
	for _, r := range runs {
		for _, res := range r.results {
			if !seen[res.name] {
				seen[res.name] = true
				names = append(names, res.name)
			}
		}
	}
	for _, name := range names {
		label, cells := "", ""
		for _, r := range runs {
			res := r.result(name)
			if res == nil {
				cells += " | | |"
				continue
			}
			if label == "" {
				label = mdCase(res.c)
			}
			switch {
			case res.skipped:
				cells += " not measured | | |"
			case res.keywardWall > 0:
				cells += fmt.Sprintf(" %s (%s) | %s | %.2fx keyward (CPU %.2fx) |", secs(res.wall), secs(res.cpu),
					res.out.foundText(res.c), res.keywardWall, res.keywardCPU)
			case res.floorWall > 0 && res.c.tool != toolGit:
				cells += fmt.Sprintf(" %s (%s) | %s | %.2fx the floor (CPU %.2fx) |", secs(res.wall), secs(res.cpu),
					res.out.foundText(res.c), res.floorWall, res.floorCPU)
			default:
				cells += fmt.Sprintf(" %s (%s) | %s | |", secs(res.wall), secs(res.cpu), res.out.foundText(res.c))
			}
		}
		fmt.Fprintf(w, "| %s |%s\n", label, cells)
	}
}

// result is the named case's result, or nil.
func (r *realRun) result(name string) *realResult {
	for i := range r.results {
		if r.results[i].name == name {
			return &r.results[i]
		}
	}
	return nil
}

// mdCase is a case's name for a table: the command in code type.
func mdCase(c realCase) string {
	name := c.name
	if i := strings.Index(name, ", "); i > 0 && c.tool == toolKeyward {
		return "`" + name[:i] + "`" + name[i:]
	}
	if i := strings.Index(name, " ("); i > 0 {
		return "`" + name[:i] + "`" + name[i:]
	}
	if strings.HasPrefix(name, "floor: ") {
		return "floor: `" + strings.TrimPrefix(name, "floor: ") + "`"
	}
	return "`" + name + "`"
}

func ratioText(wall, cpu float64) string {
	if wall <= 0 {
		return ""
	}
	return fmt.Sprintf("%.2fx wall, %.2fx CPU", wall, cpu)
}

func secs(d time.Duration) string {
	if d < time.Second {
		return fmt.Sprintf("%.0f ms", d.Seconds()*1000)
	}
	return fmt.Sprintf("%.2f s", d.Seconds())
}

// mdEscape keeps a note inside its table cell.
func mdEscape(s string) string {
	return strings.NewReplacer("|", "\\|", "\n", " ").Replace(s)
}
