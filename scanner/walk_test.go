package scanner

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// commitAt writes a commit of tree with parents, dated tick minutes after
// testRepo's epoch (negative or out of order to fake clock skew), without
// touching the worktree or any ref.
func (r *testRepo) commitAt(tick int, tree, msg string, parents ...string) string {
	r.t.Helper()
	r.tick = tick
	args := []string{"commit-tree", tree, "-m", msg}
	for _, p := range parents {
		args = append(args, "-p", p)
	}
	return r.git(args...)
}

// openWalk opens a range walk of the repository in dir with its shallow
// list read.
func openWalk(t *testing.T, dir string) *rangeWalk {
	t.Helper()
	repo, err := New(Options{}).openRepo(dir)
	if err != nil {
		t.Fatal(err)
	}
	w := newRangeWalk(repo)
	if err := w.loadShallow(); err != nil {
		t.Fatal(err)
	}
	return w
}

// walkHashes runs a fresh walk of dir and returns the listed commits.
func walkHashes(t *testing.T, dir string, include, exclude []string) []string {
	t.Helper()
	w := openWalk(t, dir)
	var inc, exc []plumbing.Hash
	for _, h := range include {
		inc = append(inc, plumbing.NewHash(h))
	}
	for _, h := range exclude {
		exc = append(exc, plumbing.NewHash(h))
	}
	cs, err := w.walk(context.Background(), inc, exc)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, c := range cs {
		out = append(out, c.hash.String())
	}
	return out
}

// revList is what `git rev-list INCLUDE... --not EXCLUDE...` means, the
// commits reachable from include and from no exclude, computed exactly as
// two whole listings' difference. (git rev-list's own answer is not the
// oracle: under clock skew its walk can stop early and list commits an
// exclude reaches; this test's graph makes it do so.)
func revList(r *testRepo, dir string, include, exclude []string) []string {
	r.t.Helper()
	list := func(tips []string) []string {
		if len(tips) == 0 {
			return nil
		}
		return strings.Fields(r.gitIn(dir, append([]string{"rev-list"}, tips...)...))
	}
	excluded := map[string]bool{}
	for _, h := range list(exclude) {
		excluded[h] = true
	}
	var out []string
	for _, h := range list(include) {
		if !excluded[h] {
			out = append(out, h)
		}
	}
	return out
}

// checkParentsFirst fails unless every listed commit comes after each of
// its listed parents, as git itself records them.
func checkParentsFirst(t *testing.T, r *testRepo, dir string, order []string) {
	t.Helper()
	pos := map[string]int{}
	for i, h := range order {
		pos[h] = i
	}
	for i, h := range order {
		for _, p := range strings.Fields(r.gitIn(dir, "rev-parse", h+"^@")) {
			if j, ok := pos[p]; ok && j > i {
				t.Fatalf("commit %s listed at %d before its parent %s at %d", h[:7], i, p[:7], j)
			}
		}
	}
}

// A random graph of branches and merges whose commit dates run backwards
// by up to ten hours (within maxClockSkew): for random includes and
// excludes the walker lists exactly what git rev-list lists, parents
// first.
func TestWalkerMatchesRevList(t *testing.T) {
	r := newTestRepo(t)
	r.write("a.txt", "a\n")
	r.commit("base")
	tree := r.git("rev-parse", "HEAD^{tree}")
	rng := rand.New(rand.NewPCG(10, 1))
	var all []string
	tips := []string{r.git("rev-parse", "HEAD")}
	all = append(all, tips[0])
	tick := 10
	for i := range 60 {
		tick += 10
		date := tick - rng.IntN(600) // up to 10 hours into the past
		b := rng.IntN(len(tips))
		parents := []string{tips[b]}
		switch k := rng.IntN(10); {
		case k < 2 && len(tips) < 4: // a new branch off this one
			tips = append(tips, tips[b])
		case k < 5 && len(tips) > 1: // merge another branch in
			o := (b + 1 + rng.IntN(len(tips)-1)) % len(tips)
			if tips[o] != tips[b] {
				parents = append(parents, tips[o])
			}
		}
		c := r.commitAt(date, tree, fmt.Sprintf("c%d", i), parents...)
		tips[b] = c
		all = append(all, c)
	}
	for i := range 40 {
		inc := []string{all[rng.IntN(len(all))]}
		if i%3 == 0 {
			inc = append(inc, tips[rng.IntN(len(tips))])
		}
		var exc []string
		for range rng.IntN(3) {
			exc = append(exc, all[rng.IntN(len(all))])
		}
		got := walkHashes(t, r.dir, inc, exc)
		want := revList(r, r.dir, inc, exc)
		if !sameSet(got, want) {
			t.Fatalf("walk %v --not %v: %d commits, git %d\ngot  %v\nwant %v", inc, exc, len(got), len(want), got, want)
		}
		checkParentsFirst(t, r, r.dir, got)
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// Skew past maxClockSkew can make the walk stop before the excluded side
// has painted everything it reaches: it may list an extra commit, never
// leave one out.
func TestWalkerSkewBeyondLimitOnlyAdds(t *testing.T) {
	r := newTestRepo(t)
	r.write("a.txt", "a\n")
	r.commit("base")
	tree := r.git("rev-parse", "HEAD^{tree}")
	base := r.git("rev-parse", "HEAD")
	// old is dated three days before base, though it is its child; main
	// moves on, and a feature branch forks from old.
	old := r.commitAt(-3*24*60, tree, "old", base)
	main := r.commitAt(100, tree, "main", old)
	feature := r.commitAt(200, tree, "feature", old)
	got := walkHashes(t, r.dir, []string{feature}, []string{main})
	want := revList(r, r.dir, []string{feature}, []string{main})
	for _, h := range want {
		if !slices.Contains(got, h) {
			t.Fatalf("walk left out %s: got %v, want at least %v", h, got, want)
		}
	}
}

// A merge whose second parent is dated before the first parent's own
// parent: walking newest first meets that parent's parent before the
// second parent, so the reversed walk order (what the range walk returned
// before) listed the second parent before its own parent. The walker lists
// parents first whatever the dates, oldest first among the ready.
func TestWalkerClockSkewOrder(t *testing.T) {
	r := newTestRepo(t)
	r.write("a.txt", "a\n")
	base := r.commit("base")
	tree := r.git("rev-parse", "HEAD^{tree}")
	z := r.commitAt(80, tree, "z", base)
	x := r.commitAt(90, tree, "x", z)
	y := r.commitAt(1, tree, "y (clock behind)", z)
	m := r.commitAt(100, tree, "merge", x, y)
	r.git("update-ref", "refs/heads/main", m)

	got := walkHashes(t, r.dir, []string{m}, []string{base})
	checkParentsFirst(t, r, r.dir, got)
	if want := []string{z, y, x, m}; !slices.Equal(got, want) {
		t.Fatalf("order %v, want %v", got, want)
	}

	// The range scan lists its commits the same way.
	w := openWalk(t, r.dir)
	cs, err := w.resolve(context.Background(), base+"..main")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range cs {
		names = append(names, strings.TrimSpace(string(c.message)))
	}
	if want := []string{"z", "y (clock behind)", "x", "merge"}; !slices.Equal(names, want) {
		t.Fatalf("range order %q, want %q", names, want)
	}
}

// A shallow clone's boundary commits are walked as roots: the walk lists
// what git rev-list lists in the clone, and a range reaching the cut
// records it.
func TestWalkerShallowBoundary(t *testing.T) {
	up := newTestRepo(t)
	var hs []string
	for i := range 5 {
		up.write("f.txt", fmt.Sprintf("%d\n", i))
		hs = append(hs, up.commit(fmt.Sprintf("c%d", i)))
	}
	clone := filepath.Join(t.TempDir(), "shallow")
	up.gitIn(filepath.Dir(clone), "clone", "-q", "--depth", "2", "file://"+up.dir, clone)

	got := walkHashes(t, clone, []string{hs[4]}, nil)
	want := revList(up, clone, []string{hs[4]}, nil)
	if len(want) != 2 || !slices.Equal(got, []string{hs[3], hs[4]}) {
		t.Fatalf("walk of the shallow clone %v, rev-list %v, want %v", got, want, hs[3:])
	}
	w := openWalk(t, clone)
	cs, err := w.walk(context.Background(), []plumbing.Hash{plumbing.NewHash(hs[4])}, nil)
	if err != nil {
		t.Fatal(err)
	}
	j, err := w.job(cs[0])
	if err != nil {
		t.Fatal(err)
	}
	if len(j.parentTrees) != 0 || !w.cut[plumbing.NewHash(hs[3])] {
		t.Fatalf("boundary commit: %d parent trees, cut %v; want a root and the cut recorded", len(j.parentTrees), w.cut)
	}
}

// A commit the repository lacks is an error for a range, and for the
// history a counted loss the walk goes past.
func TestWalkerMissingCommit(t *testing.T) {
	r := newTestRepo(t)
	r.write("a.txt", "a\n")
	tip := plumbing.NewHash(r.commit("one"))
	gone := plumbing.NewHash(strings.Repeat("ab", 20))

	w := openWalk(t, r.dir)
	if _, err := w.walk(context.Background(), []plumbing.Hash{gone}, nil); err == nil || !strings.Contains(err.Error(), gone.String()) {
		t.Fatalf("walk of a missing commit: %v, want an error naming it", err)
	}

	c := &commitRec{hash: tip, parents: []plumbing.Hash{gone}}
	hw := newWalker(sweptCommits{tip: c})
	var lost []plumbing.Hash
	hw.missing = func(h plumbing.Hash) { lost = append(lost, h) }
	cs, err := hw.walk(context.Background(), []plumbing.Hash{tip}, nil)
	if err != nil || len(cs) != 1 || !slices.Equal(lost, []plumbing.Hash{gone}) {
		t.Fatalf("history walk past a missing parent: %d commits, lost %v, err %v", len(cs), lost, err)
	}
}

// A walk stops when its context ends.
func TestWalkerCancelled(t *testing.T) {
	r := newTestRepo(t)
	r.write("a.txt", "a\n")
	tip := r.commit("one")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	w := openWalk(t, r.dir)
	if _, err := w.walk(ctx, []plumbing.Hash{plumbing.NewHash(tip)}, nil); err == nil {
		t.Fatal("a cancelled walk succeeded")
	}
}

// Differential: every commit the walker reads, parsed by parseCommit
// through the object reader, has the fields go-git's decoder gives (what
// the range walk used before): tree, parents, author, author date and its
// zone, committer date, message. The repository holds a signed-looking
// commit (gpgsig continuation lines, one blank), a mergetag, an encoding
// header, a message with CRLF and trailing blank lines, and one with no
// message at all; the packed case and the loose case are both read.
func TestParseCommitMatchesGoGit(t *testing.T) {
	r := newTestRepo(t)
	r.write("a.txt", "a\n")
	first := r.commit("first")
	tree := r.git("rev-parse", "HEAD^{tree}")
	side := r.commitAt(3, tree, "side", first)
	raw := []string{
		"tree " + tree + "\nparent " + first + "\nparent " + side +
			"\nauthor Ann O'Nym <ann@example.com> 1700000000 +0530\ncommitter C <c@example.com> 1700000100 -0700" +
			"\nmergetag object " + side + "\n type commit\n tag v1\n tagger T <t@example.com> 1700000000 +0000\n \n a tag message\n" +
			"gpgsig -----BEGIN PGP SIGNATURE-----\n \n iQEzBAABCAAdFiEE\n -----END PGP SIGNATURE-----\n" +
			"encoding ISO-8859-1\n\nsubject line\r\n\r\nbody\n\n\n",
		"tree " + tree + "\nparent " + first + "\nauthor A <a@example.com> 1700000000 -0000\ncommitter A <a@example.com> 1700000000 +0000\n",
		"tree " + tree + "\nauthor  <> 1700000000 +0000\ncommitter A <a@example.com> 1700000000 +0000\n\n",
	}
	var hashes []string
	for i, body := range raw {
		path := filepath.Join(t.TempDir(), fmt.Sprintf("c%d", i))
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		hashes = append(hashes, r.git("hash-object", "-t", "commit", "-w", "--literally", path))
	}
	for i, h := range hashes {
		r.git("update-ref", fmt.Sprintf("refs/heads/t%d", i), h)
	}
	hashes = append(hashes, first, side)
	check := func(name string) {
		t.Helper()
		repo, err := New(Options{}).openRepo(r.dir)
		if err != nil {
			t.Fatal(err)
		}
		src := &storedCommits{objects: repo.Storer, read: map[plumbing.Hash]*commitRec{}}
		for _, h := range hashes {
			ours, err := src.commit(plumbing.NewHash(h))
			if err != nil {
				t.Fatalf("%s: read %s: %v", name, h, err)
			}
			obj, err := repo.Storer.EncodedObject(plumbing.CommitObject, plumbing.NewHash(h))
			if err != nil {
				t.Fatal(err)
			}
			var theirs object.Commit
			if err := theirs.Decode(obj); err != nil {
				t.Fatal(err)
			}
			got := fmt.Sprintf("%s %v %q %q %s %d %q", ours.tree, ours.parents, ours.author, ours.email,
				ours.when.Format("2006-01-02T15:04:05 -0700"), ours.commitTime, ours.message)
			want := fmt.Sprintf("%s %v %q %q %s %d %q", theirs.TreeHash, theirs.ParentHashes, theirs.Author.Name, theirs.Author.Email,
				theirs.Author.When.Format("2006-01-02T15:04:05 -0700"), theirs.Committer.When.Unix(), theirs.Message)
			if got != want {
				t.Errorf("%s: commit %s\nparseCommit %s\ngo-git      %s", name, h[:7], got, want)
			}
		}
	}
	check("loose")
	r.git("repack", "-adq")
	check("packed")
}

// countingObjects counts how often each object is read from storage.
type countingObjects struct {
	storer.EncodedObjectStorer
	reads map[plumbing.Hash]int
}

func (c *countingObjects) EncodedObject(t plumbing.ObjectType, h plumbing.Hash) (plumbing.EncodedObject, error) {
	c.reads[h]++
	return c.EncodedObjectStorer.EncodedObject(t, h)
}

// A range walk reads each commit it meets once: resolving HEAD~3, the
// walk itself, the parents' trees a job needs and hasCommit all share one
// read.
func TestRangeWalkReadsEachCommitOnce(t *testing.T) {
	r := newTestRepo(t)
	for i := range 6 {
		r.write("f.txt", fmt.Sprintf("%d\n", i))
		r.commit(fmt.Sprintf("c%d", i))
	}
	r.git("repack", "-adq")
	w := openWalk(t, r.dir)
	src := w.src.(*storedCommits)
	counter := &countingObjects{EncodedObjectStorer: src.objects, reads: map[plumbing.Hash]int{}}
	src.objects = counter
	cs, err := w.resolve(context.Background(), "HEAD~3..HEAD")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if _, err := w.job(c); err != nil {
			t.Fatal(err)
		}
		if !w.hasCommit(c.hash.String()) {
			t.Fatalf("hasCommit(%s) = false", c.hash)
		}
	}
	if len(cs) != 3 {
		t.Fatalf("listed %d commits, want 3", len(cs))
	}
	for h, n := range counter.reads {
		if n != 1 {
			t.Errorf("commit %s read %d times", h, n)
		}
	}
}

// synthHistory is a graph shaped like git/git's: about 85,000 commits,
// a merge every fifth, dates mostly increasing with some skew.
func synthHistory(n int) (sweptCommits, []plumbing.Hash) {
	rng := rand.New(rand.NewPCG(1, 2))
	m := make(sweptCommits, n)
	hs := make([]plumbing.Hash, n)
	for i := range n {
		var h plumbing.Hash
		for j := range h {
			h[j] = byte(rng.Uint32())
		}
		c := &commitRec{hash: h, commitTime: int64(i*60 - rng.IntN(3600))}
		if i > 0 {
			c.parents = append(c.parents, hs[i-1])
		}
		if i > 10 && i%5 == 0 {
			c.parents = append(c.parents, hs[i-2-rng.IntN(8)])
		}
		hs[i], m[h] = h, c
	}
	return m, hs
}

// BenchmarkWalkerHistory is the history's reachability walk (no
// excludes) over a history-sized graph the sweep already parsed.
func BenchmarkWalkerHistory(b *testing.B) {
	m, hs := synthHistory(85000)
	tips := []plumbing.Hash{hs[len(hs)-1], hs[len(hs)-100]}
	b.ReportAllocs()
	for b.Loop() {
		w := newWalker(m)
		set, err := w.reach(context.Background(), tips, nil)
		if err != nil || len(set) != len(hs) {
			b.Fatalf("reached %d of %d: %v", len(set), len(hs), err)
		}
	}
}
