package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// stampVersion changes whenever the generator does, so cached
// repositories from an older generator are rebuilt rather than compared.
const stampVersion = 2

// repoStats describe a generated repository; they are saved beside it.
type repoStats struct {
	Version   int     `json:"version"`
	Commits   int     `json:"commits"`
	Blobs     int     `json:"blobs"`
	BlobBytes int64   `json:"blob_bytes"`
	Objects   int     `json:"objects"`
	AllBytes  int64   `json:"all_bytes"`
	PackBytes int64   `json:"pack_bytes"`
	BuildSecs float64 `json:"build_seconds"`
}

// ensureRepo returns the cached repository for spec, building it first if
// it is missing, stale or --rebuild was given.
func ensureRepo(ctx context.Context, o options, spec repoSpec, log io.Writer) (string, *repoStats, error) {
	base := filepath.Join(o.dir, spec.name)
	repo := filepath.Join(base, "repo")
	stampPath := filepath.Join(base, "stats.json")
	if !o.rebuild {
		var st repoStats
		if b, err := os.ReadFile(stampPath); err == nil && json.Unmarshal(b, &st) == nil && st.Version == stampVersion {
			return repo, &st, nil
		}
	}
	fmt.Fprintf(log, "kwbench: building the %s repository under %s (cached for next time)\n", spec.name, base)
	start := time.Now()
	if err := os.RemoveAll(base); err != nil {
		return "", nil, err
	}
	if err := os.MkdirAll(repo, 0o755); err != nil {
		return "", nil, err
	}
	if err := git(ctx, repo, "init", "-q", "-b", "main"); err != nil {
		return "", nil, err
	}
	src, err := loadSources(ctx, o.source)
	if err != nil {
		return "", nil, err
	}
	imp := exec.CommandContext(ctx, "git", "fast-import", "--quiet", "--done")
	imp.Dir, imp.Env, imp.Stderr = repo, gitEnv(), log
	in, err := imp.StdinPipe()
	if err != nil {
		return "", nil, err
	}
	if err := imp.Start(); err != nil {
		return "", nil, fmt.Errorf("start git fast-import: %w", err)
	}
	g, genErr := generate(in, spec, src)
	in.Close()
	if err := imp.Wait(); err != nil {
		return "", nil, fmt.Errorf("git fast-import: %w", err)
	}
	if genErr != nil {
		return "", nil, fmt.Errorf("generate history: %w", genErr)
	}
	fmt.Fprintf(log, "kwbench: imported %d commits in %s; repacking\n", g.commits, time.Since(start).Round(time.Second))
	var del strings.Builder
	for _, r := range g.merged {
		fmt.Fprintf(&del, "delete %s\n", r)
	}
	upd := exec.CommandContext(ctx, "git", "update-ref", "--stdin")
	upd.Dir, upd.Env, upd.Stdin = repo, gitEnv(), strings.NewReader(del.String())
	if out, err := upd.CombinedOutput(); err != nil {
		return "", nil, fmt.Errorf("delete merged branches: %v: %s", err, out)
	}
	for _, args := range [][]string{
		{"repack", "-a", "-d", "-f", "-q", "--window=10", "--depth=50"},
		{"prune", "--expire=now"},
		{"checkout", "-q", "-f", "main"},
	} {
		if err := git(ctx, repo, args...); err != nil {
			return "", nil, err
		}
	}
	st, err := measureRepo(ctx, repo)
	if err != nil {
		return "", nil, err
	}
	st.BuildSecs = time.Since(start).Seconds()
	b, _ := json.MarshalIndent(st, "", "  ")
	if err := os.WriteFile(stampPath, b, 0o644); err != nil {
		return "", nil, err
	}
	return repo, st, nil
}

// measureRepo counts what a repository holds, with git itself as the
// authority.
func measureRepo(ctx context.Context, repo string) (*repoStats, error) {
	st := &repoStats{Version: stampVersion}
	out, err := gitOut(ctx, repo, "rev-list", "--all", "--count")
	if err != nil {
		return nil, err
	}
	st.Commits, _ = strconv.Atoi(strings.TrimSpace(out))
	cmd := exec.CommandContext(ctx, "git", "cat-file", "--batch-all-objects", "--batch-check=%(objecttype) %(objectsize)")
	cmd.Dir, cmd.Env = repo, gitEnv()
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	sc := bufio.NewScanner(pipe)
	for sc.Scan() {
		typ, size, _ := strings.Cut(sc.Text(), " ")
		n, _ := strconv.ParseInt(size, 10, 64)
		st.Objects++
		st.AllBytes += n
		if typ == "blob" {
			st.Blobs++
			st.BlobBytes += n
		}
	}
	if err := cmd.Wait(); err != nil {
		return nil, fmt.Errorf("git cat-file: %w", err)
	}
	packs, _ := filepath.Glob(filepath.Join(repo, ".git", "objects", "pack", "*.pack"))
	if bare, _ := filepath.Glob(filepath.Join(repo, "objects", "pack", "*.pack")); len(packs) == 0 {
		packs = bare
	}
	for _, p := range packs {
		if info, err := os.Stat(p); err == nil {
			st.PackBytes += info.Size()
		}
	}
	return st, nil
}

// gitEnv keeps the developer's git configuration out of the measurements.
func gitEnv() []string {
	return append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_AUTHOR_NAME=kwbench", "GIT_AUTHOR_EMAIL=kwbench@example.com",
		"GIT_COMMITTER_NAME=kwbench", "GIT_COMMITTER_EMAIL=kwbench@example.com")
}

func git(ctx context.Context, dir string, args ...string) error {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir, cmd.Env = dir, gitEnv()
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

func gitOut(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir, cmd.Env = dir, gitEnv()
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %w", strings.Join(args, " "), err)
	}
	return string(out), nil
}

// sample is one timed process.
type sample struct {
	wall time.Duration
	cpu  time.Duration // user + system
	rss  int64         // peak resident set, KiB
	// offline says the process ran in a new, empty network namespace,
	// so it could not have reached any network (see offlineAttr).
	offline bool
}

// result is one case: the median wall and CPU times and the peak RSS of
// its runs.
type result struct {
	name, command string
	wall, cpu     time.Duration
	rss           int64
	note          string // why it was skipped, or a derived number
	skipped       bool
	// online says at least one run had network access (no namespace
	// could be made), which the header says.
	online bool
}

// timeProcess runs a whole process and reads its peak RSS from the
// kernel's rusage, the same number /usr/bin/time -v prints. The process is
// started by a fresh, small kwbench (see measureChild): Linux carries
// ru_maxrss across fork and exec, so a child started straight from this
// process, which holds the Go source tree in memory while generating,
// would report this process's peak instead of its own. Its output is
// discarded.
func timeProcess(ctx context.Context, dir string, env []string, okCodes []int, name string, args ...string) (sample, error) {
	return timeProcessTo(ctx, dir, env, okCodes, "", name, args...)
}

// timeProcessTo is timeProcess keeping the output: with out set, standard
// output goes to out+".out" and standard error to out+".err", where
// kwbench reads what the tool says it found and read, and a human can
// look after the run.
func timeProcessTo(ctx context.Context, dir string, env []string, okCodes []int, out string, name string, args ...string) (sample, error) {
	self, err := os.Executable()
	if err != nil {
		return sample{}, err
	}
	cmd := exec.CommandContext(ctx, self, append([]string{name}, args...)...)
	cmd.Dir, cmd.Env = dir, append(gitEnv(), append(env, measureEnv+"=1")...)
	stdout, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if out != "" {
		stdout, err = os.Create(out + ".out")
	}
	if err != nil {
		return sample{}, err
	}
	defer stdout.Close()
	r, w, err := os.Pipe()
	if err != nil {
		return sample{}, err
	}
	defer r.Close()
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr, cmd.ExtraFiles = stdout, &stderr, []*os.File{w}
	err = cmd.Start()
	w.Close()
	if err != nil {
		return sample{}, err
	}
	report, _ := io.ReadAll(r)
	werr := cmd.Wait()
	if out != "" {
		if err := os.WriteFile(out+".err", stderr.Bytes(), 0o644); err != nil {
			return sample{}, err
		}
	}
	if werr != nil {
		return sample{}, fmt.Errorf("measure %s: %v: %s", name, werr, lastLines(stderr.String(), 3))
	}
	var wallNS, cpuNS, rss int64
	var code, offline int
	if _, err := fmt.Sscan(string(report), &wallNS, &cpuNS, &rss, &code, &offline); err != nil {
		return sample{}, fmt.Errorf("measure %s: bad report %q", name, report)
	}
	if code != 0 && !containsInt(okCodes, code) {
		return sample{}, fmt.Errorf("%s %s: exit status %d: %s", name, strings.Join(args, " "), code, lastLines(stderr.String(), 3))
	}
	return sample{wall: time.Duration(wallNS), cpu: time.Duration(cpuNS), rss: rss, offline: offline == 1}, nil
}

// measureEnv, when set, makes kwbench run its arguments as a command and
// report wall time, CPU time, peak RSS and exit status on file descriptor 3.
const measureEnv = "KWBENCH_MEASURE"

// measureChild is kwbench as the small parent of a measured process. The
// process runs in a new network namespace, holding only a loopback
// interface that is down, where the kernel allows one: no tool can check
// for updates, verify a key or fetch anything, and the header says so.
// Where it is not allowed, the process runs as it is and the report says
// that too.
func measureChild(args []string) int {
	out := os.NewFile(3, "report")
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = os.Environ()
	cmd.SysProcAttr = offlineAttr()
	offline := 1
	start := time.Now()
	err := cmd.Start()
	if err != nil && cmd.SysProcAttr != nil && cmd.Process == nil && !errors.Is(err, exec.ErrNotFound) {
		cmd = exec.Command(args[0], args[1:]...)
		cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
		cmd.Env = os.Environ()
		offline = 0
		start = time.Now()
		err = cmd.Start()
	}
	if cmd.SysProcAttr == nil {
		offline = 0
	}
	if err == nil {
		err = cmd.Wait()
	}
	wall := time.Since(start)
	code := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		fmt.Fprintf(os.Stderr, "kwbench: %v\n", err)
		return 2
	}
	rss := maxRSS(cmd.ProcessState)
	cpu := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	fmt.Fprintf(out, "%d %d %d %d %d\n", wall.Nanoseconds(), cpu.Nanoseconds(), rss, code, offline)
	return 0
}

func containsInt(xs []int, x int) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

// repeat runs a case runs times and keeps the median wall and CPU times
// and the largest peak RSS.
func repeat(ctx context.Context, runs int, caseName string, dir string, env []string, okCodes []int, name string, args ...string) result {
	r := result{name: caseName, command: name + " " + strings.Join(args, " ")}
	var walls, cpus []time.Duration
	for range runs {
		s, err := timeProcess(ctx, dir, env, okCodes, name, args...)
		if err != nil {
			r.skipped, r.note = true, err.Error()
			return r
		}
		walls, cpus = append(walls, s.wall), append(cpus, s.cpu)
		r.rss = max(r.rss, s.rss)
		r.online = r.online || !s.offline
	}
	r.wall, r.cpu = median(walls), median(cpus)
	return r
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// buildKeyward builds the keyward binary into the cache directory.
func buildKeyward(ctx context.Context, o options) (string, error) {
	if o.keyward != "" {
		return filepath.Abs(o.keyward)
	}
	bin := filepath.Join(o.dir, "bin", "keyward")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/keyward")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build keyward (run kwbench from the module root, or pass --keyward): %v: %s", err, out)
	}
	return bin, nil
}
