package scanner

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func scanRange(t *testing.T, dir, spec string) *Result {
	t.Helper()
	res, err := New(Options{}).ScanRange(context.Background(), dir, spec)
	if err != nil {
		t.Fatalf("ScanRange(%q): %v", spec, err)
	}
	return res
}

// commitsOf lists the short commits findings are attributed to.
func commitsOf(res *Result) []string {
	var cs []string
	for _, f := range res.Findings {
		cs = append(cs, f.Commit[:7])
	}
	return cs
}

// An evil merge adds a line in the merge commit itself that neither parent
// had: it must be found and attributed to the merge, while what the merge
// merely brought over from a branch stays with that branch's commit.
func TestRangeEvilMerge(t *testing.T) {
	r := newGitRepo(t)
	r.write("config.ini", "[base]\nregion = eu-west-1\n")
	base := r.commit("base")
	r.git("checkout", "-q", "-b", "feature")
	fromBranch := fakeCred(1)
	r.write("feature.ini", fromBranch.ini("feature"))
	branchCommit := r.commit("feature secret")
	r.git("checkout", "-q", "main")
	r.write("main.txt", "main\n")
	r.commit("main work")
	r.git("merge", "-q", "--no-ff", "--no-commit", "feature")
	evil := fakeCred(2)
	r.write("config.ini", "[base]\nregion = eu-west-1\n"+evil.ini("evil"))
	r.git("add", "-A")
	r.git("commit", "-q", "-m", "Merge branch 'feature'")
	merge := r.git("rev-parse", "HEAD")

	res := scanRange(t, r.dir, base+"..main")
	if len(res.Findings) != 2 {
		t.Fatalf("found %v in %v, want the branch's key and the merge's", keyIDs(res.Findings), commitsOf(res))
	}
	for _, f := range res.Findings {
		switch f.KeyID {
		case evil.key:
			if f.Commit != merge || f.Path != "config.ini" || f.Line != 4 {
				t.Errorf("evil merge line attributed to %s %s:%d", f.Commit, f.Path, f.Line)
			}
		case fromBranch.key:
			if f.Commit != branchCommit {
				t.Errorf("branch key attributed to %s, want the branch commit %s", f.Commit, branchCommit)
			}
		}
		if f.Author != "Test Author" || f.Email != "author@example.com" || f.Date.IsZero() {
			t.Errorf("provenance %+v", f.Provenance)
		}
	}

	// The merge alone: only what neither parent had.
	wantKeys(t, scanRange(t, r.dir, merge), evil.key)
}

// A merge resolving a conflict with lines from both sides adds nothing.
func TestRangeCleanConflictResolution(t *testing.T) {
	r := newGitRepo(t)
	r.write("f.ini", "x\n")
	r.commit("base")
	r.git("checkout", "-q", "-b", "feature")
	a := fakeCred(1)
	r.write("f.ini", "x\n"+a.ini("a"))
	r.commit("a")
	r.git("checkout", "-q", "main")
	b := fakeCred(2)
	r.write("f.ini", "x\n"+b.ini("b"))
	r.commit("b")
	if _, err := r.try("merge", "feature"); err == nil {
		t.Fatal("merge did not conflict")
	}
	r.write("f.ini", "x\n"+a.ini("a")+b.ini("b"))
	r.git("add", "-A")
	r.git("commit", "-q", "--no-edit")
	wantKeys(t, scanRange(t, r.dir, "HEAD"))
}

func TestRangeForms(t *testing.T) {
	r := newGitRepo(t)
	keys := make([]cred, 6)
	commits := make([]string, 6)
	for i := range keys {
		keys[i] = fakeCred(uint64(10 + i))
		r.write(fmt.Sprintf("c%d.ini", i), keys[i].ini("p"))
		commits[i] = r.commit(fmt.Sprintf("commit %d", i))
	}
	r.git("tag", "v1", commits[2])
	// A side branch from c3, so A...B differs from a plain A..B reading.
	r.git("checkout", "-q", "-b", "side", commits[3])
	side := fakeCred(99)
	r.write("side.ini", side.ini("p"))
	r.commit("side")
	r.git("checkout", "-q", "main")

	tests := []struct {
		spec string
		want []string
	}{
		{commits[3] + ".." + commits[5], []string{keys[4].key, keys[5].key}},
		{"v1..main", []string{keys[3].key, keys[4].key, keys[5].key}},
		{"HEAD~2..", []string{keys[4].key, keys[5].key}},
		{"main...side", []string{side.key}},
		{"side...main", []string{keys[4].key, keys[5].key}},
		{"side..main", []string{keys[4].key, keys[5].key}},
		{commits[1][:7], []string{keys[1].key}},
		{"HEAD~5", []string{keys[0].key}},
		{"main..main", nil},
		{"main..v1", nil},
		// No remote-tracking refs: everything reachable.
		{strings.Repeat("0", 40) + "..main", []string{keys[0].key, keys[1].key, keys[2].key, keys[3].key, keys[4].key, keys[5].key}},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			res := scanRange(t, r.dir, tt.spec)
			got := keyIDs(res.Findings)
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Fatalf("found %v, want %v", got, tt.want)
			}
		})
	}
}

// A new branch pushed for the first time: pre-push passes the zero SHA on
// the left; what the remotes already have is not scanned again.
func TestRangeZeroWithRemoteRefs(t *testing.T) {
	upstream := newGitRepo(t)
	old := fakeCred(1)
	upstream.write("old.ini", old.ini("p"))
	upstream.commit("old secret upstream")

	r := newGitRepo(t)
	r.git("remote", "add", "origin", upstream.dir)
	r.git("fetch", "-q", "origin")
	r.git("checkout", "-q", "-b", "topic", "origin/main")
	c := fakeCred(2)
	r.write("new.ini", c.ini("p"))
	r.commit("new secret")
	wantKeys(t, scanRange(t, r.dir, strings.Repeat("0", 40)+"..topic"), c.key)
}

// pre-push after the remote moved on: its old tip was never fetched here.
// The scan falls back to what no remote-tracking ref has, with a warning.
func TestRangeUnknownLeftHash(t *testing.T) {
	r := newGitRepo(t)
	r.write("README", "x\n")
	r.commit("one")
	c := fakeCred(1)
	r.write("new.ini", c.ini("p"))
	r.commit("two")
	res := scanRange(t, r.dir, strings.Repeat("ab", 20)+"..HEAD")
	wantKeys(t, res, c.key)
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "not in this repository") {
		t.Fatalf("warnings %q", res.Warnings)
	}
}

func TestRangeCommitMessage(t *testing.T) {
	r := newGitRepo(t)
	r.write("README", "x\n")
	r.commit("first")
	c := fakeCred(1)
	r.write("README", "y\n")
	h := r.commit("rotate keys\n\nold one was\n" + c.ini("leak"))
	res := scanRange(t, r.dir, "HEAD~1..HEAD")
	wantKeys(t, res, c.key)
	f := res.Findings[0]
	if f.Kind != KindCommitMessage || f.Path != MessagePath || f.Commit != h || f.Line != 5 {
		t.Fatalf("message finding %+v at line %d", f.Provenance, f.Line)
	}
}

func TestRangeRenameAndDelete(t *testing.T) {
	r := newGitRepo(t)
	c1, c2 := fakeCred(1), fakeCred(2)
	r.write("a/creds.ini", c1.ini("p"))
	base := r.commit("add")
	r.git("mv", "a", "b")
	r.commit("pure rename")
	r.write("b/creds.ini", c1.ini("p")+c2.ini("q"))
	r.git("mv", "b/creds.ini", "b/moved.ini")
	r.commit("rename and edit")
	r.git("rm", "-q", "b/moved.ini")
	r.commit("delete")
	wantKeys(t, scanRange(t, r.dir, base+"..HEAD"), c2.key)
}

func TestRangeShallowClone(t *testing.T) {
	up := newGitRepo(t)
	c := fakeCred(1)
	up.write("creds.ini", c.ini("p"))
	up.commit("one")
	up.write("README", "two\n")
	up.commit("two")
	up.write("README", "three\n")
	up.commit("three")

	r := newGitRepo(t)
	clone := filepath.Join(r.home, "shallow")
	r.gitIn(r.home, "clone", "-q", "--depth", "2", "file://"+up.dir, clone)
	// The clone's remote-tracking ref already has everything; drop it so
	// the new-branch form walks down to the cut.
	r.gitIn(clone, "update-ref", "-d", "refs/remotes/origin/main")
	r.gitIn(clone, "update-ref", "-d", "refs/remotes/origin/HEAD")
	res, err := New(Options{}).ScanRange(context.Background(), clone, strings.Repeat("0", 40)+"..HEAD")
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "shallow clone") {
		t.Fatalf("warnings %q, want one about the shallow clone", res.Warnings)
	}
	// The boundary commit "two" is scanned as a root, so the older key in
	// its tree is reported there.
	wantKeys(t, res, c.key)

	// A cut met only on the excluded side warns of nothing.
	r.gitIn(clone, "update-ref", "refs/remotes/origin/main", "HEAD")
	if err := os.WriteFile(filepath.Join(clone, "new.txt"), []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r.gitIn(clone, "add", "new.txt")
	r.gitIn(clone, "commit", "-q", "-m", "four")
	res = scanRange(t, clone, "origin/main..HEAD")
	if len(res.Warnings) != 0 || res.Files != 1 {
		t.Fatalf("warnings %q, %d files scanned", res.Warnings, res.Files)
	}
}

func TestRangeErrors(t *testing.T) {
	r := newGitRepo(t)
	e := New(Options{})
	_, err := e.ScanRange(context.Background(), r.dir, "HEAD")
	if err == nil || !strings.Contains(err.Error(), "no commits yet") || !strings.HasPrefix(err.Error(), `resolve range "HEAD": `) {
		t.Fatalf("empty repository: %v", err)
	}
	r.write("README", "x\n")
	r.commit("one")
	for _, spec := range []string{"nosuchbranch", "main..nosuch", "HEAD~5", "main.." + strings.Repeat("0", 40)} {
		_, err := e.ScanRange(context.Background(), r.dir, spec)
		if err == nil || !strings.HasPrefix(err.Error(), fmt.Sprintf("resolve range %q: ", spec)) || strings.Contains(err.Error(), "\n") {
			t.Errorf("spec %q: error %v", spec, err)
		}
	}
	_, err = e.ScanRange(context.Background(), t.TempDir(), "HEAD")
	if err == nil || !strings.HasPrefix(err.Error(), "open repository: ") {
		t.Fatalf("not a repository: %v", err)
	}
}

// A missing object is an error naming it, not a panic.
func TestRangeCorruptObject(t *testing.T) {
	r := newGitRepo(t)
	r.write("a.txt", "some content\n")
	r.commit("one")
	blob := r.git("rev-parse", "HEAD:a.txt")
	if err := os.Remove(filepath.Join(r.dir, ".git", "objects", blob[:2], blob[2:])); err != nil {
		t.Fatal(err)
	}
	_, err := New(Options{}).ScanRange(context.Background(), r.dir, "HEAD")
	if err == nil || !strings.Contains(err.Error(), blob) || strings.Contains(err.Error(), "\n") {
		t.Fatalf("error %v, want one line naming blob %s", err, blob)
	}
}

// A hundred commits scan in well under a second; the time is logged, not
// asserted, since a test must not fail because the machine was slow.
func TestRangeHundredCommits(t *testing.T) {
	r := newGitRepo(t)
	var script strings.Builder
	when := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	for i := range 100 {
		content := fmt.Sprintf("line %d\n", i)
		if i == 50 {
			content += fakeCred(5).ini("p")
		}
		fmt.Fprintf(&script, "commit refs/heads/main\ncommitter C <c@example.com> %d +0000\ndata %d\ncommit %d\n", when+int64(i)*60, len(fmt.Sprintf("commit %d", i)), i)
		fmt.Fprintf(&script, "M 100644 inline dir%d/file%d.txt\ndata %d\n%s\n", i%7, i, len(content), content)
	}
	r.feed(script.String(), "fast-import", "--quiet")
	start := time.Now()
	res := scanRange(t, r.dir, strings.Repeat("0", 40)+"..main")
	t.Logf("100 commits in %v", time.Since(start))
	wantKeys(t, res, fakeCred(5).key)
	if res.Files != 100 {
		t.Fatalf("scanned %d blobs, want 100", res.Files)
	}
}

// A bare repository (a server's pre-receive hook, a CI mirror) is scanned
// as itself.
func TestRangeBareRepository(t *testing.T) {
	r := newGitRepo(t)
	c := fakeCred(1)
	r.write("creds.ini", c.ini("p"))
	r.commit("one")
	bare := filepath.Join(r.home, "bare.git")
	r.gitIn(r.home, "clone", "-q", "--bare", r.dir, bare)
	wantKeys(t, scanRange(t, bare, "HEAD"), c.key)
}

// BenchmarkRangeHundredCommits: a hundred commits of small changes, a
// typical pull request gate being generous.
func BenchmarkRangeHundredCommits(b *testing.B) {
	r := newGitRepo(b)
	var script strings.Builder
	for i := range 100 {
		content := strings.Repeat(fmt.Sprintf("line %d\n", i), 50)
		fmt.Fprintf(&script, "commit refs/heads/main\ncommitter C <c@example.com> %d +0000\ndata 2\nc\n", 1700000000+i*60)
		fmt.Fprintf(&script, "M 100644 inline dir%d/file%d.txt\ndata %d\n%s\n", i%7, i, len(content), content)
	}
	r.feed(script.String(), "fast-import", "--quiet")
	e := New(Options{})
	for b.Loop() {
		if _, err := e.ScanRange(context.Background(), r.dir, "main"+"~99..main"); err != nil {
			b.Fatal(err)
		}
	}
}
