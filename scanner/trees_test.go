package scanner

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/memory"
)

// TestDiffMergeMatchesByName holds the ordered tree diff to the diff by
// name it replaced (refDiffTrees below, the previous implementation, with
// blobAt for a merge's other parents and the full expansion of deleted
// subtrees): on random trees, some unsorted or naming a file and a
// directory alike, with files turning into directories and back, the
// changes scanned, the versions they are compared with and the deleted
// files offered to rename detection are the same, in the same order.
func TestDiffMergeMatchesByName(t *testing.T) {
	for seed := range uint64(400) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			g := newTreeGen(t, seed)
			// A name that is not one path component (".") makes the
			// previous walk's paths ambiguous (path.Join drops it), so its
			// blobAt in the other parent found another file; the merge
			// walk instead skips a subtree identical to the other
			// parent's, which is the intent. Odd names are compared for
			// ordinary diffs only.
			g.dots = seed%2 == 0
			base := g.random(0, false)
			p1 := g.mutate(base, 0, true)
			p2 := g.mutate(base, 0, false)
			m := g.merge(p1, p2, 0)
			h1, h2, hm := g.store(p1), g.store(p2), g.store(m)

			// An ordinary commit: every callback, in order.
			want := collectDiff(t, func(fn func(treeChange) error) error {
				return refDiffTrees(context.Background(), g.repo, h1, hm, "", fn)
			})
			got := collectDiff(t, func(fn func(treeChange) error) error {
				return diffTrees(context.Background(), g.repo, h1, hm, "", fn)
			})
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("diff:\n got %v\nwant %v", got, want)
			}
			// Again with the index of checked trees a range worker keeps,
			// primed as the commit before would: base to p1, then p1 to m
			// compares p1's trees only where m's bytes differ.
			idx := &treeIndexes{}
			hb := g.store(base)
			collectDiff(t, func(fn func(treeChange) error) error {
				return diffMerge(context.Background(), g.repo, idx, hb, nil, h1, "", fn)
			})
			got = collectDiff(t, func(fn func(treeChange) error) error {
				return diffMerge(context.Background(), g.repo, idx, h1, nil, hm, "", fn)
			})
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("indexed diff:\n got %v\nwant %v", got, want)
			}
			// m's index was derived from p1's: diff back from it.
			want = collectDiff(t, func(fn func(treeChange) error) error {
				return refDiffTrees(context.Background(), g.repo, hm, h1, "", fn)
			})
			got = collectDiff(t, func(fn func(treeChange) error) error {
				return diffMerge(context.Background(), g.repo, idx, hm, nil, h1, "", fn)
			})
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("indexed diff back:\n got %v\nwant %v", got, want)
			}
			g.idx = idx

			if g.dots {
				return
			}
			// A merge of p1 and p2.
			wantScan, wantDel := refMerge(t, g.repo, h1, h2, hm)
			gotScan, gotDel := newMerge(t, g.repo, g.idx, h1, h2, hm)
			if !reflect.DeepEqual(gotScan, wantScan) {
				t.Fatalf("merge scans:\n got %v\nwant %v", gotScan, wantScan)
			}
			if !reflect.DeepEqual(gotDel, wantDel) {
				t.Fatalf("merge deletions:\n got %v\nwant %v", gotDel, wantDel)
			}
			g.checked++
		})
	}
}

// TestMergeTreesRejectsDisorder checks the cases the merge-join must hand
// to the diff by name.
func TestMergeTreesRejectsDisorder(t *testing.T) {
	enc := func(es ...object.TreeEntry) []byte {
		var b []byte
		for _, e := range es {
			b = appendTreeEntry(b, e.Mode, e.Name, e.Hash)
		}
		return b
	}
	f := func(n string) object.TreeEntry { return object.TreeEntry{Name: n, Mode: filemode.Regular} }
	d := func(n string) object.TreeEntry { return object.TreeEntry{Name: n, Mode: filemode.Dir} }
	for _, tc := range []struct {
		name string
		tree []byte
		ok   bool
	}{
		{"sorted", enc(f("a"), f("a.c"), d("a0"), f("b")), true},
		{"dir sorts with slash", enc(f("a-b"), d("a"), f("a0")), true},
		{"unsorted", enc(f("b"), f("a")), false},
		{"repeated", enc(f("a"), f("a")), false},
		{"file and dir alike", enc(f("a"), f("a.c"), d("a")), false},
		{"file and dir alike, far apart", enc(f("a"), f("a-1"), f("a-2"), f("a.c"), d("a")), false},
		{"dir before file", enc(d("a"), f("a")), false},
		{"prefix file then longer dir", enc(f("a"), d("ab")), true},
		{"malformed", []byte("100644 a"), false},
	} {
		_, ok := mergeTrees(nil, tc.tree, nil)
		if ok != tc.ok {
			t.Errorf("%s: ok = %v, want %v", tc.name, ok, tc.ok)
		}
	}

	// The same checks when only the bytes that differ from a tree checked
	// before are decoded: a repeated name across the edges of the part
	// that changed.
	for _, tc := range []struct {
		name     string
		old, new []byte
		ok       bool
	}{
		{"insert in the middle", enc(f("a"), f("b"), f("d")), enc(f("a"), f("b"), f("c"), f("d")), true},
		{"dir named like a file before it", enc(f("a"), f("a.c"), f("b")), enc(f("a"), f("a.c"), d("a"), f("b")), false},
		{"file named like a dir after it", enc(f("a-1"), d("a"), f("b")), enc(f("a"), f("a-1"), d("a"), f("b")), false},
		{"out of order at the start of the suffix", enc(f("a"), f("c"), f("d")), enc(f("a"), f("e"), f("c"), f("d")), false},
		{"out of order at the end of the prefix", enc(f("b"), f("c"), f("d")), enc(f("b"), f("a"), f("d")), false},
		{"all different", enc(f("a"), f("b")), enc(f("c"), f("d")), true},
		// The shared tail of the bytes starts inside an entry of the new
		// tree, whose name ends with the old tree's last entry.
		{"suffix inside a new entry", enc(f("a"), f("y")), enc(f("a"), f("b100644 y")), true},
		{"emptied", enc(f("a"), f("b")), nil, true},
	} {
		idx := &treeIndexes{}
		ho, hp, hn := plumbing.Hash{1}, plumbing.Hash{2}, plumbing.Hash{3}
		if _, ok := mergeIndexed(idx, ho, tc.old, hp, tc.old, nil); !ok {
			t.Fatalf("%s: old tree rejected", tc.name)
		}
		if _, known := idx.get(ho); !known {
			t.Fatalf("%s: old tree not remembered", tc.name)
		}
		pairs, ok := mergeIndexed(idx, ho, tc.old, hn, tc.new, nil)
		if ok != tc.ok {
			t.Errorf("%s (indexed): ok = %v, want %v", tc.name, ok, tc.ok)
		}
		want, wantOK := mergeTrees(tc.old, tc.new, nil)
		if ok && (!wantOK || !reflect.DeepEqual(pairs, want)) {
			t.Errorf("%s (indexed): pairs %v, want %v", tc.name, pairs, want)
		}
	}
}

// treeGen builds random trees in memory.
type treeGen struct {
	t       *testing.T
	r       *rand.Rand
	repo    *git.Repository
	checked int
	dots    bool         // "." may be an entry name
	idx     *treeIndexes // trees checked by the ordinary diffs, for the merge
}

// genNode is a directory being built: entries by name, in any order.
type genNode struct {
	names    []string
	entries  map[string]genEntry
	shuffled bool
	hash     plumbing.Hash
	stored   bool
}

type genEntry struct {
	mode filemode.FileMode
	hash plumbing.Hash // files
	dir  *genNode
	// twin is a file of the same name written beside a directory: a
	// malformed tree.
	twin *genEntry
}

var genNames = []string{"a", "a.c", "a-b", "a0", "ab", "b", "b.c", "c", "t", "t0", "t.sh", ".",
	"d", "d-1", "d.h", "e", "f", "g", "h", "i", "j", "k", "l", "m"}

func newTreeGen(t *testing.T, seed uint64) *treeGen {
	repo, err := git.Init(memory.NewStorage(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return &treeGen{t: t, r: rand.New(rand.NewPCG(seed, 7)), repo: repo}
}

func (g *treeGen) blob() plumbing.Hash {
	var h plumbing.Hash
	for i := range h {
		h[i] = byte(g.r.IntN(4)) // few distinct versions: equal files are common
	}
	return h
}

func (g *treeGen) fileMode() filemode.FileMode {
	return []filemode.FileMode{filemode.Regular, filemode.Regular, filemode.Executable, filemode.Symlink, filemode.Submodule}[g.r.IntN(5)]
}

func (n *genNode) set(name string, e genEntry) {
	if _, ok := n.entries[name]; !ok {
		n.names = append(n.names, name)
	}
	n.entries[name] = e
}

func newNode() *genNode { return &genNode{entries: map[string]genEntry{}} }

// random builds a fresh directory; odd allows malformed trees.
func (g *treeGen) random(depth int, odd bool) *genNode {
	n := newNode()
	for _, name := range genNames {
		if g.r.IntN(3) != 0 || name == "." && (!g.dots || g.r.IntN(4) != 0) {
			continue
		}
		if depth < 3 && g.r.IntN(3) == 0 {
			n.set(name, genEntry{mode: filemode.Dir, dir: g.random(depth+1, odd)})
		} else {
			n.set(name, genEntry{mode: g.fileMode(), hash: g.blob()})
		}
	}
	g.disorder(n, odd)
	return n
}

// disorder makes n unsorted, or (odd) gives a directory a file twin.
func (g *treeGen) disorder(n *genNode, odd bool) {
	n.shuffled = g.r.IntN(10) == 0
	if !odd || g.r.IntN(8) != 0 {
		return
	}
	for _, name := range n.names {
		if e := n.entries[name]; e.dir != nil {
			e.twin = &genEntry{mode: filemode.Regular, hash: g.blob()}
			n.entries[name] = e
			return
		}
	}
}

// mutate derives a changed copy of n, sharing the subtrees it keeps.
func (g *treeGen) mutate(n *genNode, depth int, odd bool) *genNode {
	out := newNode()
	changed := false
	for _, name := range n.names {
		e := n.entries[name]
		switch g.r.IntN(8) {
		case 0: // deleted
			changed = true
			continue
		case 1: // new version or kind
			changed = true
			if e.dir != nil && g.r.IntN(2) == 0 {
				e = genEntry{mode: filemode.Dir, dir: g.mutate(e.dir, depth+1, odd)}
			} else if depth < 3 && g.r.IntN(3) == 0 {
				e = genEntry{mode: filemode.Dir, dir: g.random(depth+1, odd)}
			} else {
				e = genEntry{mode: g.fileMode(), hash: g.blob()}
			}
		case 2:
			if e.dir != nil {
				changed = true
				e = genEntry{mode: filemode.Dir, dir: g.mutate(e.dir, depth+1, odd)}
			}
		}
		out.set(name, e)
	}
	for _, name := range genNames {
		if _, ok := n.entries[name]; !ok && g.r.IntN(6) == 0 && name != "." {
			changed = true
			out.set(name, genEntry{mode: g.fileMode(), hash: g.blob()})
		}
	}
	if !changed {
		return n
	}
	g.disorder(out, odd)
	return out
}

// merge builds a merge result of a and b: each name from either side, from
// both merged, or changed in the merge itself.
func (g *treeGen) merge(a, b *genNode, depth int) *genNode {
	if a == b || g.r.IntN(6) == 0 {
		return []*genNode{a, b}[g.r.IntN(2)]
	}
	out := newNode()
	names := append(append([]string(nil), a.names...), b.names...)
	for _, name := range names {
		if _, done := out.entries[name]; done {
			continue
		}
		ea, inA := a.entries[name]
		eb, inB := b.entries[name]
		switch g.r.IntN(6) {
		case 0, 1:
			if inA {
				out.set(name, ea)
			}
		case 2, 3:
			if inB {
				out.set(name, eb)
			}
		case 4:
			if inA && inB && ea.dir != nil && eb.dir != nil {
				out.set(name, genEntry{mode: filemode.Dir, dir: g.merge(ea.dir, eb.dir, depth+1)})
			} else if inA || inB {
				out.set(name, genEntry{mode: g.fileMode(), hash: g.blob()}) // evil
			}
		}
	}
	g.disorder(out, true)
	return out
}

// store writes n's trees and returns its hash.
func (g *treeGen) store(n *genNode) plumbing.Hash {
	if n.stored {
		return n.hash
	}
	type ent struct {
		name string
		mode filemode.FileMode
		hash plumbing.Hash
	}
	var es []ent
	for _, name := range n.names {
		e := n.entries[name]
		if e.dir != nil {
			es = append(es, ent{name, filemode.Dir, g.store(e.dir)})
			if e.twin != nil {
				es = append(es, ent{name, e.twin.mode, e.twin.hash})
			}
		} else {
			es = append(es, ent{name, e.mode, e.hash})
		}
	}
	key := func(e ent) string {
		if e.mode == filemode.Dir {
			return e.name + "/"
		}
		return e.name
	}
	sort.Slice(es, func(i, j int) bool { return key(es[i]) < key(es[j]) })
	if n.shuffled {
		g.r.Shuffle(len(es), func(i, j int) { es[i], es[j] = es[j], es[i] })
	}
	var data []byte
	for _, e := range es {
		data = appendTreeEntry(data, e.mode, e.name, e.hash)
	}
	obj := g.repo.Storer.NewEncodedObject()
	obj.SetType(plumbing.TreeObject)
	w, err := obj.Writer()
	if err != nil {
		g.t.Fatal(err)
	}
	w.Write(data)
	w.Close()
	h, err := g.repo.Storer.SetEncodedObject(obj)
	if err != nil {
		g.t.Fatal(err)
	}
	n.hash, n.stored = h, true
	return h
}

func collectDiff(t *testing.T, run func(fn func(treeChange) error) error) []string {
	t.Helper()
	var out []string
	err := run(func(tc treeChange) error {
		out = append(out, fmt.Sprintf("%s %s>%s tree=%v", tc.Path, tc.From.String()[:4], tc.To.String()[:4], tc.Tree))
		return nil
	})
	if err != nil {
		return []string{"error: " + err.Error()}
	}
	return out
}

// refMerge is how a merge was scanned before: the first parent's diff by
// name, blobAt in the other parent for each changed file, every deleted
// subtree expanded whole.
func refMerge(t *testing.T, repo *git.Repository, p1, p2, m plumbing.Hash) (scans, deleted []string) {
	t.Helper()
	var rs renameSources
	var changes []treeChange
	err := refDiffTrees(context.Background(), repo, p1, m, "", func(tc treeChange) error {
		if tc.To.IsZero() {
			rs.deleted = append(rs.deleted, deletedFile{Path: tc.Path, Hash: tc.From, Tree: tc.Tree})
		} else {
			changes = append(changes, tc)
		}
		return nil
	})
	if err != nil {
		return []string{"error: " + err.Error()}, nil
	}
	for _, tc := range changes {
		h, err := blobAt(repo, p2, tc.Path)
		if err != nil {
			return []string{"error: " + err.Error()}, nil
		}
		if h != tc.To {
			scans = append(scans, fmt.Sprintf("%s %s %s>%s", tc.Path, tc.From.String()[:4], h.String()[:4], tc.To.String()[:4]))
		}
	}
	return scans, expandedNames(t, repo, &rs)
}

// newMerge is how scanJob scans a merge now.
func newMerge(t *testing.T, repo *git.Repository, idx *treeIndexes, p1, p2, m plumbing.Hash) (scans, deleted []string) {
	t.Helper()
	if p2 == m {
		return nil, refDeletedWhenKept(t, repo, p1, m)
	}
	var rs renameSources
	var changes []treeChange
	others := []plumbing.Hash{p2}
	err := diffMerge(context.Background(), repo, idx, p1, others, m, "", func(tc treeChange) error {
		if tc.To.IsZero() {
			rs.deleted = append(rs.deleted, deletedFile{Path: tc.Path, Hash: tc.From, Tree: tc.Tree, Kept: tc.Kept})
		} else {
			changes = append(changes, tc)
		}
		return nil
	})
	if err != nil {
		return []string{"error: " + err.Error()}, nil
	}
	for _, tc := range changes {
		from, fromParent, err := mergeSources(repo, tc, others)
		if err != nil {
			return []string{"error: " + err.Error()}, nil
		}
		if !fromParent {
			scans = append(scans, fmt.Sprintf("%s %s %s>%s", tc.Path, from[0].String()[:4], from[1].String()[:4], tc.To.String()[:4]))
		}
	}
	return scans, expandedNames(t, repo, &rs)
}

// refDeletedWhenKept: scanJob skips a merge that kept another parent's
// whole tree, whose changes are all taken from that parent; its deletions
// would only matter to rename detection of files it does not scan. The
// reference's list is returned so the comparison covers the changes.
func refDeletedWhenKept(t *testing.T, repo *git.Repository, p1, m plumbing.Hash) []string {
	_, del := refMerge(t, repo, p1, m, m)
	return del
}

func expandedNames(t *testing.T, repo *git.Repository, rs *renameSources) []string {
	t.Helper()
	if err := rs.expand(context.Background(), repo); err != nil {
		return []string{"error: " + err.Error()}
	}
	var out []string
	for _, d := range rs.deleted {
		out = append(out, d.Path+" "+d.Hash.String()[:4])
	}
	return out
}

// refDiffTrees is diffTrees as it was before the ordered diff: entries
// matched by name through a map.
func refDiffTrees(ctx context.Context, repo *git.Repository, from, to plumbing.Hash, prefix string, fn func(treeChange) error) error {
	if from == to {
		return nil
	}
	oldEntries, err := treeEntries(repo, from)
	if err != nil {
		return err
	}
	newEntries, err := treeEntries(repo, to)
	if err != nil {
		return err
	}
	old := make(map[string]object.TreeEntry, len(oldEntries))
	for _, te := range oldEntries {
		old[te.Name] = te
	}
	for _, ne := range newEntries {
		oe, had := old[ne.Name]
		delete(old, ne.Name)
		if had && oe.Hash == ne.Hash && oe.Mode == ne.Mode {
			continue
		}
		p := path.Join(prefix, ne.Name)
		switch {
		case ne.Mode == filemode.Dir:
			var fromTree plumbing.Hash
			if had && oe.Mode == filemode.Dir {
				fromTree = oe.Hash
			} else if had && isContent(oe.Mode) {
				if err := fn(treeChange{Path: p, From: oe.Hash}); err != nil {
					return err
				}
			}
			if err := refDiffTrees(ctx, repo, fromTree, ne.Hash, p, fn); err != nil {
				return err
			}
		case isContent(ne.Mode):
			var fromBlob plumbing.Hash
			if had && isContent(oe.Mode) {
				fromBlob = oe.Hash
			} else if had && oe.Mode == filemode.Dir {
				if err := fn(treeChange{Path: p, From: oe.Hash, Tree: true}); err != nil {
					return err
				}
			}
			if fromBlob != ne.Hash {
				if err := fn(treeChange{Path: p, From: fromBlob, To: ne.Hash}); err != nil {
					return err
				}
			}
		}
	}
	names := make([]string, 0, len(old))
	for n := range old {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		oe := old[n]
		if oe.Mode != filemode.Dir && !isContent(oe.Mode) {
			continue
		}
		if err := fn(treeChange{Path: path.Join(prefix, n), From: oe.Hash, Tree: oe.Mode == filemode.Dir}); err != nil {
			return err
		}
	}
	return nil
}

// TestRangeMergeDiffMatchesByName scans a history of merges with the
// ordered diff and with the diff it replaced (every level by name, each
// changed file looked up in the other parents from their roots, nothing
// skipped), and wants the same Result. The history holds what the merge
// walk treats specially: topics whose subtrees a merge takes whole
// (including files they deleted and renamed, which a file the merge adds
// may have been renamed from), evil changes inside such subtrees and in
// files both sides changed, a merge adding a file that holds a key from a
// file the topic deleted, a file that becomes a directory, an octopus
// merge and a merge whose tree is the topic's own.
func TestRangeMergeDiffMatchesByName(t *testing.T) {
	r := newGitRepo(t)
	rng := rand.New(rand.NewPCG(21, 4))
	seed := uint64(500)
	key := func(profile string) string { seed++; return fakeCred(seed).ini(profile) }
	for d := range 4 {
		for f := range 5 {
			r.write(fmt.Sprintf("src/d%d/f%d.ini", d, f), key("base")+fmt.Sprintf("line %d\n", f))
		}
	}
	r.write("docs/a.txt", "docs\n")
	r.write("thing", "a file that becomes a directory\n")
	first := r.commit("base")
	edit := func(p string) {
		b, _ := os.ReadFile(filepath.Join(r.dir, p))
		r.write(p, string(b)+[]string{key("new"), "plain line\n", fmt.Sprintf("n %d\n", rng.IntN(100))}[rng.IntN(3)])
	}
	for i := range 8 {
		topic := fmt.Sprintf("topic%d", i)
		r.git("checkout", "-q", "-b", topic)
		d := rng.IntN(4)
		edit(fmt.Sprintf("src/d%d/f%d.ini", d, rng.IntN(5)))
		var deleted []byte
		if i%4 == 2 {
			// The topic deletes a file the merge then re-adds elsewhere.
			p := fmt.Sprintf("src/d%d/f0.ini", d)
			deleted, _ = os.ReadFile(filepath.Join(r.dir, p))
			r.git("rm", "-q", "--ignore-unmatch", p)
		}
		if i%3 == 1 {
			// The topic deletes a file and renames another.
			r.git("rm", "-q", "--ignore-unmatch", fmt.Sprintf("src/d%d/f0.ini", d))
			r.try("mv", fmt.Sprintf("src/d%d/f1.ini", d), fmt.Sprintf("src/d%d/moved%d.ini", d, i))
		}
		if i == 4 {
			r.git("rm", "-q", "thing")
			r.write("thing/inside.ini", key("inside"))
		}
		r.commit(topic + " work")
		edit(fmt.Sprintf("src/d%d/f%d.ini", d, 2+rng.IntN(3)))
		r.commit(topic + " more")
		r.git("checkout", "-q", "main")
		if i != 6 { // topic6 merges into an unchanged main: its tree is the topic's
			edit(fmt.Sprintf("src/d%d/f%d.ini", (d+1)%4, rng.IntN(5)))
			edit("docs/a.txt")
			r.commit("main " + topic)
		}
		r.git("merge", "-q", "--no-ff", "--no-commit", topic)
		switch i % 4 {
		case 1: // an evil key inside a subtree taken from the topic
			p := fmt.Sprintf("src/d%d/f4.ini", d)
			if _, err := os.Stat(filepath.Join(r.dir, p)); err == nil {
				edit(p)
				edit(p)
			}
		case 2: // a new file holding the keys of the file the topic deleted
			r.write(fmt.Sprintf("evil/new%d.ini", i), string(deleted)+key("evil"))
		}
		r.commit("merge " + topic)
	}
	// An octopus merge of two topics.
	for _, b := range []string{"oct1", "oct2"} {
		r.git("checkout", "-q", "-b", b, "main")
		edit("src/d" + b[3:] + "/f4.ini")
		r.commit(b)
		r.git("checkout", "-q", "main")
	}
	r.git("merge", "-q", "--no-ff", "-m", "octopus", "oct1", "oct2")

	scan := func(byName bool) *Result {
		t.Helper()
		e := New(Options{})
		e.diffByName = byName
		res, err := e.ScanRange(context.Background(), r.dir, first+"..main")
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	want := scan(true)
	if len(want.Findings) < 15 || want.Commits < 30 {
		t.Fatalf("the repository is too tame: %d findings, %d commits", len(want.Findings), want.Commits)
	}
	if got := scan(false); !reflect.DeepEqual(got, want) {
		t.Fatalf("ordered diff: %d findings %v, %d files; by name: %d findings %v, %d files",
			len(got.Findings), keyIDs(got.Findings), got.Files, len(want.Findings), keyIDs(want.Findings), want.Files)
	}
}

// FuzzMergeTrees holds the merge-join to a model of it on any two byte
// strings: it accepts exactly the pairs of trees that decode, are strictly
// in git order and name no file and directory alike; what it reports is
// every entry without an identical twin on the other side; and comparing
// against an indexed old tree (mergeKnown) gives the same answer and a
// correct index of the new one.
func FuzzMergeTrees(f *testing.F) {
	enc := func(es ...string) []byte { // "name" a file, "name/" a directory
		var b []byte
		for i, e := range es {
			mode := filemode.Regular
			if strings.HasSuffix(e, "/") {
				mode, e = filemode.Dir, strings.TrimSuffix(e, "/")
			}
			b = appendTreeEntry(b, mode, e, plumbing.Hash{byte(i)})
		}
		return b
	}
	f.Add(enc("a", "b/", "c"), enc("a", "b/", "d"))
	f.Add(enc("a", "a.c", "a/"), enc("a.c", "a/", "b"))
	f.Add(enc("x", "y"), enc("y", "x"))
	f.Add([]byte("100644 a\x00"), enc("a"))
	f.Add(enc("a", "y"), enc("a", "b100644 y"))
	f.Fuzz(func(t *testing.T, old, new []byte) {
		if len(old)+len(new) > maxFuzzObjectInput {
			return
		}
		pairs, ok := mergeTrees(old, new, nil)
		oes, okOld := modelTree(old)
		nes, okNew := modelTree(new)
		if ok != (okOld && okNew) {
			t.Fatalf("accepted %v, model says old %v new %v", ok, okOld, okNew)
		}
		if !ok {
			return
		}
		type key struct {
			name string
			dir  bool
		}
		index := func(es []rawEntry) map[key]rawEntry {
			m := map[key]rawEntry{}
			for _, e := range es {
				m[key{string(e.name), e.sortsAsDir()}] = e
			}
			return m
		}
		om, nm := index(oes), index(nes)
		want := 0
		for k, e := range om {
			if n, ok := nm[k]; !ok || n.hash != e.hash || n.mode != e.mode {
				want++
			}
		}
		for k, e := range nm {
			if o, ok := om[k]; !ok || o.hash != e.hash || o.mode != e.mode {
				want++
			}
		}
		got := 0
		for _, p := range pairs {
			if p.hasOld {
				got++
			}
			if p.hasNew {
				got++
			}
		}
		if got != want {
			t.Fatalf("%d entries reported, %d differ", got, want)
		}

		idx := &treeIndexes{}
		ho, hp, hn := plumbing.Hash{1}, plumbing.Hash{2}, plumbing.Hash{3}
		if _, ok := mergeIndexed(idx, ho, old, hp, old, nil); !ok {
			t.Fatal("old tree rejected against itself")
		}
		ipairs, iok := mergeIndexed(idx, ho, old, hn, new, nil)
		// mergeKnown may also refuse a file turned directory (it cannot
		// tell a dropped twin from a repeated name); the caller then
		// diffs by name.
		if iok && !reflect.DeepEqual(ipairs, pairs) {
			t.Fatalf("indexed pairs %v, want %v", ipairs, pairs)
		}
		if iok {
			offs, known := idx.get(hn)
			if !known || len(offs) != len(nes) {
				t.Fatalf("index of the new tree: %v (%d entries)", offs, len(nes))
			}
			for i, o := range offs {
				e, _, ok := nextTreeEntry(new[o:])
				if !ok || !bytes.Equal(e.name, nes[i].name) {
					t.Fatalf("entry %d indexed at %d", i, o)
				}
			}
		}
	})
}

// modelTree decodes a tree and checks it the slow way: keys (a
// directory's name with a '/') strictly increasing, no name twice.
func modelTree(data []byte) ([]rawEntry, bool) {
	var es []rawEntry
	for len(data) > 0 {
		e, rest, ok := nextTreeEntry(data)
		if !ok {
			return nil, false
		}
		es = append(es, e)
		data = rest
	}
	names := map[string]bool{}
	prev := ""
	for i, e := range es {
		k := string(e.name)
		if e.sortsAsDir() {
			k += "/"
		}
		if i > 0 && k <= prev || names[string(e.name)] {
			return nil, false
		}
		prev = k
		names[string(e.name)] = true
	}
	return es, true
}
