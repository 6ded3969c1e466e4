package scanner

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestHistoryMissingLooseBlobIsIncomplete: a blob a commit's tree names
// is gone from a full (not partial) repository; the sweep must say the
// result is incomplete rather than report a clean history.
func TestHistoryMissingLooseBlobIsIncomplete(t *testing.T) {
	r := newTestRepo(t)
	r.write("a.txt", "kept\n")
	r.write("b.txt", "will be lost\n")
	r.commit("two files")
	blob := r.git("rev-parse", "HEAD:b.txt")
	if err := os.Remove(filepath.Join(r.dir, ".git", "objects", blob[:2], blob[2:])); err != nil {
		t.Fatal(err)
	}
	res, err := New(Options{}).ScanHistory(context.Background(), r.dir, HistoryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	assertMissing(t, res, blob)
}

// TestHistoryMissingPackedBlobIsIncomplete does the same in a packed
// repository whose trees are delta chains, where most entries are not
// looked up (missing.go): the entry that names the lost blob still is.
func TestHistoryMissingPackedBlobIsIncomplete(t *testing.T) {
	r := newTestRepo(t)
	for c := 0; c < 30; c++ {
		for f := 0; f < 40; f++ {
			if c == 0 || (c+f)%7 == 0 {
				r.write(fmt.Sprintf("dir%d/file%d.txt", f%3, f), fmt.Sprintf("file %d edited in commit %d\n%s", f, c, strings.Repeat("filler line\n", 20)))
			}
		}
		r.commit(fmt.Sprintf("c%d", c))
	}
	r.git("gc", "-q", "--aggressive")
	clean, err := New(Options{}).ScanHistory(context.Background(), r.dir, HistoryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(clean.Errors) != 0 {
		t.Fatalf("a complete repository reported %v", clean.Errors)
	}
	lost := r.git("rev-parse", "HEAD~20:dir1/file4.txt")
	list := r.git("rev-list", "--objects", "--all")
	var keep strings.Builder
	for _, line := range strings.Split(list, "\n") {
		if id, _, _ := strings.Cut(line, " "); id != lost {
			keep.WriteString(id + "\n")
		}
	}
	packDir := filepath.Join(r.dir, ".git", "objects", "pack")
	old, _ := filepath.Glob(filepath.Join(packDir, "pack-*"))
	cmd := exec.Command("git", "pack-objects", "-q", filepath.Join(packDir, "pack"))
	cmd.Dir, cmd.Env, cmd.Stdin = r.dir, r.env(), strings.NewReader(keep.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("pack-objects: %v: %s", err, out)
	}
	for _, f := range old {
		os.Remove(f)
	}
	res, err := New(Options{}).ScanHistory(context.Background(), r.dir, HistoryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	assertMissing(t, res, lost)
}

func assertMissing(t *testing.T, res *Result, blob string) {
	t.Helper()
	if len(res.Errors) == 0 {
		t.Fatalf("no error for a missing blob; warnings %q", res.Warnings)
	}
	if w := strings.Join(res.Warnings, "\n"); !strings.Contains(w, blob) || !strings.Contains(w, "incomplete") {
		t.Fatalf("warnings %q do not name the missing blob %s", res.Warnings, blob)
	}
}

// TestHistoryDanglingTreeMissingBlob: a tree no ref reaches may outlive
// its blobs (git prunes unreachable objects piecemeal); that is not a gap
// in the history the sweep covers, so it is reported only with
// --all-objects.
func TestHistoryDanglingTreeMissingBlob(t *testing.T) {
	r := newTestRepo(t)
	r.write("a.txt", "kept\n")
	r.commit("one file")
	mk := exec.Command("git", "mktree", "--missing")
	mk.Dir, mk.Env = r.dir, r.env()
	mk.Stdin = strings.NewReader("100644 blob 1234567890123456789012345678901234567890\tgone.txt\n")
	if out, err := mk.CombinedOutput(); err != nil {
		t.Fatalf("mktree: %v: %s", err, out)
	}
	res, err := New(Options{}).ScanHistory(context.Background(), r.dir, HistoryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Errors) != 0 {
		t.Fatalf("a dangling tree's missing blob made the sweep incomplete: %v", res.Errors)
	}
	res, err = New(Options{}).ScanHistory(context.Background(), r.dir, HistoryOptions{AllObjects: true})
	if err != nil {
		t.Fatal(err)
	}
	assertMissing(t, res, "1234567890123456789012345678901234567890")
}

// TestHistoryMissingCommitIsIncomplete: a commit gone from a repository
// that is not shallow hides its message, its tree and every commit behind
// it; a ref naming an object that is gone hides what it names. Either way
// the sweep says the result is incomplete, which makes a scan with no
// findings exit 2 rather than pass as clean.
func TestHistoryMissingCommitIsIncomplete(t *testing.T) {
	r := newTestRepo(t)
	r.write("a.txt", "one\n")
	r.commit("first")
	r.write("a.txt", "two\n")
	r.commit("second")
	r.write("a.txt", "three\n")
	r.commit("third")
	gone := r.git("rev-parse", "HEAD~1")
	if err := os.Remove(filepath.Join(r.dir, ".git", "objects", gone[:2], gone[2:])); err != nil {
		t.Fatal(err)
	}
	res, err := New(Options{}).ScanHistory(context.Background(), r.dir, HistoryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !hasError(res, "missing commits", gone) {
		t.Errorf("missing commit %s: errors %v, warnings %q", gone, res.Errors, res.Warnings)
	}

	// A ref naming an object that is not in the repository.
	r2 := newTestRepo(t)
	r2.write("a.txt", "one\n")
	r2.commit("first")
	absent := strings.Repeat("1234567890", 4)
	if err := os.WriteFile(filepath.Join(r2.dir, ".git", "refs", "heads", "broken"), []byte(absent+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err = New(Options{}).ScanHistory(context.Background(), r2.dir, HistoryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !hasError(res, "missing refs", "refs/heads/broken") {
		t.Errorf("ref to a missing object: errors %v, warnings %q", res.Errors, res.Warnings)
	}
}

// hasError reports whether res has an error at path whose text holds want.
func hasError(res *Result, path, want string) bool {
	for _, e := range res.Errors {
		if e.Path == path && strings.Contains(e.Err.Error(), want) {
			return true
		}
	}
	return false
}
