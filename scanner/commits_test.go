package scanner

import (
	"context"
	"testing"
)

// ScanCommits takes several tips on each side, as a push brings: only the
// commits reachable from an include and from no exclude are scanned, each
// once; a tag pointing at a tree or a blob is scanned whole.
func TestScanCommitsSets(t *testing.T) {
	r := newGitRepo(t)
	old, a, b := fakeCred(1), fakeCred(2), fakeCred(3)
	r.write("old.ini", old.ini("old"))
	base := r.commit("base")
	r.git("checkout", "-q", "-b", "one")
	r.write("a.ini", a.ini("a"))
	one := r.commit("a")
	r.git("checkout", "-q", "-b", "two", base)
	r.write("b.ini", b.ini("b"))
	r.commit("b")
	r.git("checkout", "-q", "-b", "three", "one")
	three := r.commit("on top of one")

	ctx := context.Background()
	res, walked, err := New(Options{}).ScanCommits(ctx, r.dir, []string{one, "two", three}, []string{base}, CommitsOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if walked != 3 {
		t.Errorf("walked %d commits, want 3", walked)
	}
	wantKeys(t, res, a.key, b.key)

	// Excluding one branch's tip leaves the other's commits.
	res, walked, err = New(Options{}).ScanCommits(ctx, r.dir, []string{three, "two"}, []string{base, one}, CommitsOptions{})
	if err != nil || walked != 2 {
		t.Fatalf("walked %d, err %v", walked, err)
	}
	wantKeys(t, res, b.key)

	// Through git (as pre-receive reads the quarantine), the same.
	res, _, err = New(Options{}).ScanCommits(ctx, r.dir, []string{one}, []string{base}, CommitsOptions{ViaGit: true})
	if err != nil {
		t.Fatal(err)
	}
	wantKeys(t, res, a.key)

	// Tags pointing at a tree and at a blob.
	tree := r.git("rev-parse", one+"^{tree}")
	blob := r.git("rev-parse", one+":a.ini")
	r.git("tag", "-a", "-m", "tree", "treetag", tree)
	r.git("tag", "blobtag", blob)
	res, walked, err = New(Options{}).ScanCommits(ctx, r.dir, []string{"refs/tags/treetag", "refs/tags/blobtag"}, nil, CommitsOptions{})
	if err != nil || walked != 0 {
		t.Fatalf("walked %d, err %v", walked, err)
	}
	// The tree holds old.ini and a.ini, the blob is a.ini: whole content,
	// since a tree or blob has no parent to compare with.
	wantKeys(t, res, a.key, a.key, old.key)

	// An exclude that does not resolve is an error, never a smaller scan.
	if _, _, err := New(Options{}).ScanCommits(ctx, r.dir, []string{one}, []string{"no-such-branch"}, CommitsOptions{}); err == nil {
		t.Error("unresolvable exclude: no error")
	}
}
