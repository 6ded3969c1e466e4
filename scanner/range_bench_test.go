package scanner

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
)

// BenchmarkRangeDeltas scans the last hundred commits of a repository
// whose blobs are long delta chains, as in any real clone: the cost a
// pre-push hook or CI gate pays, dominated by reading trees and blobs one
// at a time. BenchmarkRangeHundredCommits builds its repository with
// fast-import, which writes no deltas, so it cannot show delta costs.
// $KEYWARD_RANGE_REPO (and optionally $KEYWARD_RANGE, default
// HEAD~100..HEAD) points it at a real clone instead:
//
//	KEYWARD_RANGE_REPO=/tmp/git.git go test ./scanner -run '^$' -bench RangeDeltas -cpuprofile cpu.out
func BenchmarkRangeDeltas(b *testing.B) {
	dir := os.Getenv("KEYWARD_RANGE_REPO")
	spec := os.Getenv("KEYWARD_RANGE")
	if spec == "" {
		spec = "HEAD~100..HEAD"
	}
	if dir == "" {
		dir = deltaRepo(b, 300)
	}
	e := New(Options{})
	b.ResetTimer()
	for b.Loop() {
		if _, err := e.ScanRange(context.Background(), dir, spec); err != nil {
			b.Fatal(err)
		}
	}
}

// deltaRepo commits edits to a tree of C-like files, commits times, and
// packs it with git gc --aggressive, so that trees and blobs are deltas
// several levels deep.
func deltaRepo(b *testing.B, commits int) string {
	b.Helper()
	repo := newTestRepo(b)
	r := rand.New(rand.NewPCG(3, 4))
	files := make([][]string, 60)
	for i := range files {
		for l := 0; l < 400; l++ {
			files[i] = append(files[i], fmt.Sprintf("\tif (opt_%d_%d && !strcmp(arg, \"--flag-%d\")) return error(_(\"bad\"));", i, l, r.IntN(1e6)))
		}
	}
	for c := 0; c < commits; c++ {
		for k := 0; k < 3; k++ {
			i := r.IntN(len(files))
			at := r.IntN(len(files[i]))
			files[i][at] = fmt.Sprintf("\tstrbuf_addf(&sb, \"edited in %d: %%s\", name_%d);", c, r.IntN(1e6))
			repo.write(fmt.Sprintf("dir%d/file%d.c", i%6, i), strings.Join(files[i], "\n"))
		}
		repo.commit(fmt.Sprintf("commit %d", c))
	}
	repo.git("gc", "-q", "--aggressive")
	return repo.dir
}
