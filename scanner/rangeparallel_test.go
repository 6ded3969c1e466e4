package scanner

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
)

// A range scanned by several workers gives exactly the result of a scan
// one commit at a time: the same findings in the same order, the same
// skips, counts and warnings. The repository mixes what each commit's scan
// depends on: keys added, re-committed and moved, files renamed and
// deleted, a file over the size limit, branches merged with and without
// an evil change, so that every worker meets findings and merges.
func TestRangeParallelMatchesSequential(t *testing.T) {
	r := newGitRepo(t)
	rng := rand.New(rand.NewPCG(10, 6))
	files := map[string]string{}
	seed := uint64(100)
	edit := func() {
		name := fmt.Sprintf("d%d/f%d.ini", rng.IntN(3), rng.IntN(8))
		content := files[name]
		switch rng.IntN(4) {
		case 0: // a new key
			seed++
			content += fakeCred(seed).ini(fmt.Sprintf("p%d", seed))
		case 1: // an old key again, or moved
			content = fakeCred(100+uint64(rng.IntN(int(seed-99)))).ini("again") + content
		case 2: // plain lines
			content += fmt.Sprintf("line %d\n", rng.IntN(1000))
		case 3: // a rename
			if content != "" {
				r.git("rm", "-q", "--cached", name)
				delete(files, name)
				name = fmt.Sprintf("moved/m%d.ini", rng.IntN(1000))
				content += "renamed\n"
			}
		}
		files[name] = content
		r.write(name, content)
	}
	r.write("big.bin", strings.Repeat("x", 4096))
	first := r.commit("base")
	for i := range 40 {
		if i%10 == 5 {
			r.git("checkout", "-q", "-b", fmt.Sprintf("topic%d", i))
			edit()
			r.commit(fmt.Sprintf("topic %d", i))
			r.git("checkout", "-q", "main")
			edit()
			r.commit(fmt.Sprintf("main %d", i))
			r.git("merge", "-q", "--no-ff", "--no-commit", fmt.Sprintf("topic%d", i))
			if i%20 == 5 {
				seed++
				r.write("evil.ini", fakeCred(seed).ini("evil"))
			}
			r.git("add", "-A")
			r.git("commit", "-q", "-m", fmt.Sprintf("merge %d", i))
			continue
		}
		for range 1 + rng.IntN(3) {
			edit()
		}
		r.git("add", "-A")
		r.commit(fmt.Sprintf("commit %d", i))
	}
	r.write("big.bin", strings.Repeat("y", 8192))
	r.commit("big")

	scan := func(workers int) *Result {
		t.Helper()
		res, err := New(Options{Workers: workers, MaxFileSize: 4000}).ScanRange(context.Background(), r.dir, first+"..main")
		if err != nil {
			t.Fatalf("%d workers: %v", workers, err)
		}
		return res
	}
	want := scan(1)
	if len(want.Findings) < 10 || want.Commits < 40 {
		t.Fatalf("the repository is too tame: %d findings, %d commits", len(want.Findings), want.Commits)
	}
	for _, workers := range []int{2, 3, 8, 64} {
		if got := scan(workers); !reflect.DeepEqual(got, want) {
			t.Errorf("%d workers: %d findings %v, %d skips, %d files; one worker: %d findings %v, %d skips, %d files",
				workers, len(got.Findings), keyIDs(got.Findings), len(got.Skipped), got.Files,
				len(want.Findings), keyIDs(want.Findings), len(want.Skipped), want.Files)
		}
	}
	// The gates' source scans a push the same way, in parallel too, and
	// through git's object reader as a pre-receive hook does.
	for _, workers := range []int{1, 2, 8} {
		for _, viaGit := range []bool{false, true} {
			got, walked, err := New(Options{Workers: workers, MaxFileSize: 4000}).ScanCommits(context.Background(), r.dir, []string{"main"}, []string{first}, CommitsOptions{ViaGit: viaGit})
			if err != nil {
				t.Fatalf("ScanCommits, %d workers, via git %v: %v", workers, viaGit, err)
			}
			if int64(walked) != want.Commits || !reflect.DeepEqual(got, want) {
				t.Errorf("ScanCommits, %d workers, via git %v: %d commits, %d findings %v; the range: %d commits, %d findings %v",
					workers, viaGit, walked, len(got.Findings), keyIDs(got.Findings), want.Commits, len(want.Findings), keyIDs(want.Findings))
			}
		}
	}
}

// skewedRange builds a history in which the walk of base..tip takes a
// commit as included and only later finds it excluded: topic's first
// commit is dated after main's merge of it, so the walk meets it before
// the merge that paints it. That commit adds a key and a blob that is then
// deleted from the object store, so scanning it can only fail.
func skewedRange(t *testing.T) (r *testRepo, merge, topic1, tip string) {
	t.Helper()
	r = newTestRepo(t)
	tree := func(files map[string]string) string {
		for name, content := range files {
			r.write(name, content)
		}
		r.git("add", "-A")
		return r.git("write-tree")
	}
	r.write("a.txt", "base\n")
	base := r.commitAt(0, tree(nil), "base")
	key := fakeCred(7).ini("topic")
	topic1 = r.commitAt(100, tree(map[string]string{"secret.ini": key}), "topic 1", base)
	blob := r.git("rev-parse", topic1+":secret.ini")
	r.remove("secret.ini")
	main1 := r.commitAt(10, tree(map[string]string{"a.txt": "main\n"}), "main 1", base)
	merge = r.commitAt(20, tree(map[string]string{"secret.ini": key}), "merge topic", main1, topic1)
	tip = r.commitAt(110, tree(map[string]string{"a.txt": "base\n", "later.txt": "later\n"}), "topic 2", topic1)
	if err := os.Remove(filepath.Join(r.dir, ".git", "objects", blob[:2], blob[2:])); err != nil {
		t.Fatal(err)
	}
	if got := r.git("rev-list", merge+".."+tip); got != tip {
		t.Fatalf("git lists %q in the range, want only %s", got, tip)
	}
	return r, merge, topic1, tip
}

// A commit the walk takes as included and then finds excluded (clock
// skew) may already be scanning when that is known: its result and its
// error are dropped, and the range is exactly what git lists, with any
// number of workers.
func TestRangeSpeculationSkew(t *testing.T) {
	r, merge, _, tip := skewedRange(t)
	for _, workers := range []int{1, 2, 3, 8} {
		for range 5 {
			res, err := New(Options{Workers: workers}).ScanRange(context.Background(), r.dir, merge+".."+tip)
			if err != nil {
				t.Fatalf("%d workers: %v", workers, err)
			}
			if res.Commits != 1 || res.Files != 1 || len(res.Findings) != 0 || len(res.Errors) != 0 {
				t.Fatalf("%d workers: %d commits, %d files, findings %v, errors %v; want only %s's one file",
					workers, res.Commits, res.Files, keyIDs(res.Findings), res.Errors, tip)
			}
		}
	}
}

// The walk's list alone decides what a parallel range reports: a queued
// commit it does not list is scanned (here it fails on its missing blob)
// and dropped, and one it lists that was never queued is queued then.
func TestRangeScanDropsUnlisted(t *testing.T) {
	r, _, topic1, tip := skewedRange(t)
	e := New(Options{Workers: 2})
	repo, err := e.openRepo(r.dir)
	if err != nil {
		t.Fatal(err)
	}
	w := newRangeWalk(repo)
	if err := w.loadShallow(); err != nil {
		t.Fatal(err)
	}
	s := e.startRangeScan(context.Background(), func() (*git.Repository, error) { return e.openRepo(r.dir) })
	if s == nil {
		t.Fatal("no parallel scan with two workers")
	}
	commit := func(h string) *commitRec {
		c, err := w.commit(plumbing.NewHash(h))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	j, err := w.jobFor(commit(topic1))
	if err != nil {
		t.Fatal(err)
	}
	s.submit(j)
	res := &Result{}
	var done []int
	if err := s.finish(context.Background(), w, []*commitRec{commit(tip)}, res, func(n int) { done = append(done, n) }); err != nil {
		t.Fatalf("finish: %v", err)
	}
	dropped := s.tasks[plumbing.NewHash(topic1)]
	<-dropped.done
	if dropped.err == nil {
		t.Fatal("the unlisted commit's scan did not fail on its missing blob: the test no longer shows its error is dropped")
	}
	if res.Files != 1 || len(res.Findings) != 0 || !reflect.DeepEqual(done, []int{1}) {
		t.Fatalf("result %d files, %d findings, progress %v; want the listed commit's one file and progress [1]", res.Files, len(res.Findings), done)
	}
}

// A range scan whose context ends, before the walk or while the workers
// are busy, returns the cancellation and leaves no worker behind.
func TestRangeCancelStopsWorkers(t *testing.T) {
	r := newGitRepo(t)
	var script strings.Builder
	for i := range 300 {
		content := strings.Repeat(fmt.Sprintf("line %d of commit %d\n", i, i), 200)
		fmt.Fprintf(&script, "commit refs/heads/main\ncommitter C <c@example.com> %d +0000\ndata 2\nc\n", 1700000000+i*60)
		fmt.Fprintf(&script, "M 100644 inline f%d.txt\ndata %d\n%s\n", i%5, len(content), content)
	}
	r.feed(script.String(), "fast-import", "--quiet")
	before := runtime.NumGoroutine()
	for _, after := range []time.Duration{0, time.Millisecond, 5 * time.Millisecond} {
		ctx, cancel := context.WithCancel(context.Background())
		if after == 0 {
			cancel()
		} else {
			time.AfterFunc(after, cancel)
		}
		res, err := New(Options{Workers: 4}).ScanRange(ctx, r.dir, "main~299..main")
		cancel()
		if err == nil {
			// The scan beat the cancellation: then it must be whole.
			if res.Commits != 299 || res.Files != 299 {
				t.Fatalf("cancelled after %v: no error, yet %d commits and %d files of 299", after, res.Commits, res.Files)
			}
			continue
		}
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled after %v: %v, want the cancellation", after, err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines after the cancelled scans, %d before: workers were left running", n, before)
	}
}
