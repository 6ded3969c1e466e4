package scanner

import (
	"path/filepath"
	"strings"
	"testing"
)

// A range's sides resolve to the commits git names, ancestry steps
// included: the walker takes HEAD~3, main^2 and v1~1^ itself, and the
// rest goes to go-git.
func TestRevisionMatchesGit(t *testing.T) {
	r := newGitRepo(t)
	for i := range 4 {
		r.write("a.txt", strings.Repeat("a", i+1))
		r.commit("main")
	}
	r.git("tag", "-a", "-m", "annotated", "v1")
	r.git("checkout", "-q", "-b", "topic", "HEAD~2")
	r.write("b.txt", "topic\n")
	r.commit("topic 1")
	r.write("b.txt", "topic 2\n")
	r.commit("topic 2")
	r.git("checkout", "-q", "main")
	r.git("merge", "-q", "--no-ff", "-m", "merge topic", "topic")
	r.write("a.txt", "after\n")
	r.commit("after")

	w := openWalk(t, r.dir)
	for _, rev := range []string{
		"HEAD", "HEAD~", "HEAD~0", "HEAD^0", "HEAD~1", "HEAD^", "HEAD^^", "HEAD~1^2", "HEAD^^2~1",
		"HEAD~2^1~1", "HEAD~4", "main~1^2", "v1", "v1~1", "v1^", "v1~2^0", "topic~1",
		r.git("rev-parse", "--short", "HEAD~1") + "^2",
	} {
		want := r.git("rev-parse", "--verify", "-q", rev+"^{commit}")
		got, err := w.revision(rev)
		if err != nil {
			t.Errorf("%s: %v, want %s", rev, err, want)
			continue
		}
		if got.String() != want {
			t.Errorf("%s: %s, want %s", rev, got, want)
		}
	}

	for rev, want := range map[string]string{
		"HEAD~40":  "goes past the first commit",
		"HEAD^3":   "has no parent 3",
		"HEAD~1^3": "has no parent 3",
		"nope~2":   "nope~2",
	} {
		if _, err := w.revision(rev); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want one saying %q", rev, err, want)
		}
	}

	// A shallow clone's history ends at its boundary, which a step past
	// it is told of by name.
	clone := filepath.Join(t.TempDir(), "shallow")
	r.gitIn(filepath.Dir(clone), "clone", "-q", "--depth", "2", "file://"+r.dir, clone)
	sw := openWalk(t, clone)
	if _, err := sw.revision("HEAD~1"); err != nil {
		t.Errorf("HEAD~1 in the shallow clone: %v", err)
	}
	if _, err := sw.revision("HEAD~3"); err == nil || !strings.Contains(err.Error(), "shallow clone") {
		t.Errorf("HEAD~3 in a clone of depth 2: error %v, want one naming the shallow boundary", err)
	}
}

// splitAncestry leaves for go-git what it does not take apart.
func TestSplitAncestry(t *testing.T) {
	for rev, want := range map[string]string{
		"HEAD~3":        "HEAD",
		"main^2~1":      "main",
		"~3":            "~3",
		"HEAD":          "HEAD",
		":/fix^2":       ":/fix^2",
		"v1^{commit}~1": "v1^{commit}~1",
		"HEAD~99999999": "HEAD~99999999",
		"a~b":           "a~b",
	} {
		if base, _ := splitAncestry(rev); base != want {
			t.Errorf("splitAncestry(%q) base %q, want %q", rev, base, want)
		}
	}
}
