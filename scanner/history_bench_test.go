package scanner

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/keyward/keyward/patterns"
)

// BenchmarkHistory sweeps a repository: $KEYWARD_HISTORY_REPO if set (for
// example a repository built by cmd/kwbench, or a real clone), else a
// synthetic one of benchHistoryCommits commits built with git fast-import
// and packed by git gc. Whole-process comparisons with git and other tools
// are cmd/kwbench's job; this one is for profiling:
//
//	go test ./scanner -run '^$' -bench History/all -cpuprofile cpu.out
func BenchmarkHistory(b *testing.B) {
	dir := os.Getenv("KEYWARD_HISTORY_REPO")
	if dir == "" {
		dir = benchHistoryRepo(b)
	}
	// All rules next to the AWS rules alone, in the same run: issue 10
	// asks for the first within 1.2x of the second.
	for _, c := range []struct {
		name  string
		rules []patterns.Rule
	}{{"all", nil}, {"aws", patterns.AWS()}} {
		b.Run(c.name, func(b *testing.B) {
			e := New(Options{Rules: c.rules})
			for b.Loop() {
				res, err := e.ScanHistory(context.Background(), dir, HistoryOptions{})
				if err != nil {
					b.Fatal(err)
				}
				b.SetBytes(res.Bytes)
			}
		})
	}
}

// benchHistoryCommits is the size of the synthetic benchmark history:
// enough for delta chains and a few MB of blobs, quick to build.
const benchHistoryCommits = 1000

// benchHistoryRepo writes a history where each commit edits a few of 100
// files, one of which holds a fake key from the start, so the tree phase
// runs as it does on real repositories with findings.
func benchHistoryRepo(b *testing.B) string {
	b.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		b.Skip("git not installed")
	}
	dir := filepath.Join(b.TempDir(), "repo")
	run := func(stdin []byte, args ...string) {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null", "HOME="+dir)
		cmd.Stdin = bytes.NewReader(stdin)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	os.MkdirAll(dir, 0o755)
	run(nil, "init", "-q", "-b", "main")
	r := rand.New(rand.NewPCG(1, 2))
	files := make([][]byte, 100)
	for i := range files {
		var f bytes.Buffer
		for l := 0; l < 200; l++ {
			fmt.Fprintf(&f, "line %d of file %d: %x\n", l, i, r.Uint64())
		}
		files[i] = f.Bytes()
	}
	files[0] = append([]byte(newCreds(99).ini()), files[0]...)
	var s bytes.Buffer
	for c := 1; c <= benchHistoryCommits; c++ {
		fmt.Fprintf(&s, "commit refs/heads/main\nmark :%d\ncommitter Bench <bench@example.com> %d +0000\ndata 7\ncommit\n", c, 1700000000+c*60)
		if c > 1 {
			fmt.Fprintf(&s, "from :%d\n", c-1)
		}
		for i := range files {
			if c > 1 && r.IntN(30) != 0 {
				continue
			}
			lines := bytes.SplitAfter(files[i], []byte("\n"))
			lines[5+r.IntN(len(lines)-6)] = fmt.Appendf(nil, "edited in %d: %x\n", c, r.Uint64())
			files[i] = bytes.Join(lines, nil)
			fmt.Fprintf(&s, "M 100644 inline dir%d/file%d.txt\ndata %d\n%s\n", i%7, i, len(files[i]), files[i])
		}
		s.WriteString("\n")
	}
	run(s.Bytes(), "fast-import", "--quiet")
	run(nil, "gc", "-q")
	return dir
}
