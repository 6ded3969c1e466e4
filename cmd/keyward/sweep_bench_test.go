package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// Benchmark fleet size: enough repositories that --jobs has work to
// share, small enough to build in seconds from the Go toolchain's source.
const (
	benchFleetRepos   = 16
	benchRepoCommits  = 6
	benchCommitSource = 3 << 20 // bytes of Go source added per commit
)

// BenchmarkSweep times 'keyward sweep' (in-process, cold cache: mirror and
// sweep) over one repository and over a fleet of benchFleetRepos (and once
// more over a warm cache where no ref moved), and
// reports repositories and GB of history (unique blob bytes) per minute,
// so the README can give the fleet's throughput as a ratio to one
// repository's measured in the same run:
//
//	go test -run X -bench Sweep -benchtime 3x ./cmd/keyward
func BenchmarkSweep(b *testing.B) {
	repos := benchFleet(b)
	dir := b.TempDir()
	write := func(name string, rs []string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(strings.Join(rs, "\n")+"\n"), 0o644); err != nil {
			b.Fatal(err)
		}
		return p
	}
	cpus := runtime.NumCPU()
	sweep := func(b *testing.B, list, cache string, jobs int) *sweepReport {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), []string{"sweep", "--repos", list, "--cache-dir", cache,
			"--jobs", strconv.Itoa(jobs), "--format", "json"}, nil, &stdout, &stderr)
		if code != exitClean {
			b.Fatalf("exit %d: %s", code, stderr.String())
		}
		var rep sweepReport
		if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
			b.Fatal(err)
		}
		return &rep
	}
	for _, bc := range []struct {
		name string
		list string
		n    int
		jobs int
		// warm re-runs a sweep whose cache is full and whose refs have
		// not moved: the cost of a scheduled run on a quiet day.
		warm bool
	}{
		{"one", write("one.txt", repos[:1]), 1, 1, false},
		{fmt.Sprintf("fleet%d-jobs1", len(repos)), write("fleet.txt", repos), len(repos), 1, false},
		{fmt.Sprintf("fleet%d-jobs%d", len(repos), cpus), write("fleet.txt", repos), len(repos), cpus, false},
		{fmt.Sprintf("fleet%d-jobs%d-unchanged", len(repos), cpus), write("fleet.txt", repos), len(repos), cpus, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var histBytes int64
			warmCache := filepath.Join(b.TempDir(), "cache")
			if bc.warm {
				sweep(b, bc.list, warmCache, bc.jobs)
				b.ResetTimer()
			}
			for i := 0; i < b.N; i++ {
				cache := warmCache
				if !bc.warm {
					cache = filepath.Join(b.TempDir(), "cache")
				}
				rep := sweep(b, bc.list, cache, bc.jobs)
				if got := rep.Stats.Swept + rep.Stats.Unchanged; got != bc.n || (bc.warm && rep.Stats.Unchanged != bc.n) {
					b.Fatalf("swept %d, unchanged %d, of %d", rep.Stats.Swept, rep.Stats.Unchanged, bc.n)
				}
				histBytes = rep.Stats.Bytes
			}
			min := b.Elapsed().Minutes() / float64(b.N)
			b.ReportMetric(float64(bc.n)/min, "repos/min")
			if !bc.warm { // a warm run reads no history
				b.ReportMetric(float64(histBytes)/1e9/min, "GB/min")
			}
			b.ReportMetric(float64(histBytes)/1e6, "MB-history")
		})
	}
}

// benchFleet builds (once, cached in the temporary directory) a bare
// repository of Go source committed over benchRepoCommits commits, and
// benchFleetRepos copies of it, each with one commit of its own.
func benchFleet(b *testing.B) []string {
	b.Helper()
	root := filepath.Join(os.TempDir(), fmt.Sprintf("keyward-sweep-bench-%d-%d-%d", benchFleetRepos, benchRepoCommits, benchCommitSource))
	var repos []string
	for i := 0; i < benchFleetRepos; i++ {
		repos = append(repos, filepath.Join(root, fmt.Sprintf("r%02d.git", i)))
	}
	if _, err := os.Stat(filepath.Join(root, "done")); err == nil {
		return repos
	}
	os.RemoveAll(root)
	git := func(stdin []byte, args ...string) {
		cmd := exec.Command("git", args...)
		cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL="+os.DevNull)
		cmd.Stdin = bytes.NewReader(stdin)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	base := filepath.Join(root, "base.git")
	git(nil, "init", "-q", "--bare", "--initial-branch=main", base)
	var st bytes.Buffer
	src := filepath.Join(runtime.GOROOT(), "src")
	commit, size := 0, 0
	begin := func() {
		commit++
		fmt.Fprintf(&st, "commit refs/heads/main\nmark :%d\ncommitter Bench <bench@example.com> %d +0000\ndata 6\nimport\n", commit, 1700000000+commit)
		if commit > 1 {
			fmt.Fprintf(&st, "from :%d\n", commit-1)
		}
	}
	begin()
	filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") || strings.Contains(p, "testdata") {
			return nil
		}
		if size >= benchCommitSource {
			if commit == benchRepoCommits {
				return filepath.SkipAll
			}
			st.WriteString("\n")
			begin()
			size = 0
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel(src, p)
		fmt.Fprintf(&st, "M 100644 inline %s\ndata %d\n%s\n", filepath.ToSlash(rel), len(data), data)
		size += len(data)
		return nil
	})
	st.WriteString("\n")
	git(st.Bytes(), "--git-dir", base, "fast-import", "--quiet")
	git(nil, "--git-dir", base, "repack", "-adq")
	for i, r := range repos {
		if err := os.CopyFS(r, os.DirFS(base)); err != nil {
			b.Fatal(err)
		}
		own := fmt.Sprintf("repository %d\n", i)
		stream := fmt.Sprintf("commit refs/heads/main\ncommitter Bench <bench@example.com> 1800000000 +0000\ndata 4\nown\nfrom refs/heads/main^0\nM 100644 inline OWNER\ndata %d\n%s\n\n", len(own), own)
		git([]byte(stream), "--git-dir", r, "fast-import", "--quiet")
	}
	if err := os.WriteFile(filepath.Join(root, "done"), nil, 0o644); err != nil {
		b.Fatal(err)
	}
	return repos
}
