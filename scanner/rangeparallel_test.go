package scanner

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
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
}

// When a worker fails, the error reported is the earliest commit's own,
// not the cancellation it caused in other commits.
func TestFirstRangeError(t *testing.T) {
	real := errors.New("read blob: corrupt")
	errs := []error{nil, context.Canceled, fmt.Errorf("diff: %w", context.Canceled), real, errors.New("later")}
	if got := firstRangeError(errs); got != real {
		t.Fatalf("got %v, want %v", got, real)
	}
	if got := firstRangeError([]error{nil, context.Canceled}); !errors.Is(got, context.Canceled) {
		t.Fatalf("got %v, want the cancellation", got)
	}
	if got := firstRangeError([]error{nil, nil}); got != nil {
		t.Fatalf("got %v, want nil", got)
	}
}
