package scanner

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestHistoryTagMessage: a key pasted into an annotated tag's message is
// found by a history sweep and names the tag, with the tag's target commit
// and tagger (issue 10: parseTag used to keep only the target).
func TestHistoryTagMessage(t *testing.T) {
	t.Parallel()
	for _, l := range layouts {
		t.Run(l.name, func(t *testing.T) {
			r := newTestRepo(t)
			c := newCreds(21)
			r.write("a.txt", "a\n")
			head := r.commit("initial")
			r.tick++
			r.git("tag", "-a", "v1.0", "-m", "release notes\n\n"+c.ini())
			l.pack(r)
			res := r.scan(HistoryOptions{})
			f := one(t, res, c.keyID)
			if f.Kind != KindTagMessage || f.Ref != "v1.0" || f.Path != TagMessagePath || f.Commit != head {
				t.Errorf("got kind %q ref %q path %q commit %s; want tag-message v1.0 %s %s", f.Kind, f.Ref, f.Path, f.Commit, TagMessagePath, head)
			}
			if f.Secret.Reveal() != c.secret || f.Line != 4 || f.Author != "Test Committer" {
				t.Errorf("secret paired %v line %d tagger %q", f.Secret.Reveal() == c.secret, f.Line, f.Author)
			}
		})
	}
}

// TestHistoryTagMessageUnreachable: a deleted tag's message is reported only
// with --all-objects, like any other object no ref reaches.
func TestHistoryTagMessageUnreachable(t *testing.T) {
	t.Parallel()
	r := newTestRepo(t)
	c := newCreds(22)
	r.write("a.txt", "a\n")
	r.commit("initial")
	r.git("tag", "-a", "gone", "-m", c.ini())
	r.git("tag", "-d", "gone")
	if fs := byKey(r.scan(HistoryOptions{}), c.keyID); len(fs) != 0 {
		t.Errorf("deleted tag reported without --all-objects: %+v", fs)
	}
	if f := one(t, r.scan(HistoryOptions{AllObjects: true}), c.keyID); f.Kind != KindTagMessage || f.Ref != "gone" {
		t.Errorf("got kind %q ref %q", f.Kind, f.Ref)
	}
}

// TestHistoryEveryStashEntry: stash@{2} is reachable only through the
// stash's reflog; the sweep reads it and the finding names the entry.
func TestHistoryEveryStashEntry(t *testing.T) {
	t.Parallel()
	for _, l := range layouts {
		t.Run(l.name, func(t *testing.T) {
			r := newTestRepo(t)
			old, staged, newest := newCreds(23), newCreds(24), newCreds(25)
			r.write("a.txt", "a\n")
			r.commit("initial")
			r.write("a.txt", old.ini())
			r.tick++
			r.git("stash", "-q") // becomes stash@{2}
			r.write("b.txt", staged.ini())
			r.git("add", "b.txt")
			r.tick++
			r.git("stash", "-q") // becomes stash@{1}, a staged-only file
			r.write("a.txt", "x\n"+newest.ini())
			r.tick++
			r.git("stash", "-q") // stash@{0}
			l.pack(r)

			res := r.scan(HistoryOptions{})
			for _, tc := range []struct {
				c    fakeCreds
				path string
				ref  string
			}{{old, "a.txt", "stash@{2}"}, {staged, "b.txt", "stash@{1}"}, {newest, "a.txt", "stash@{0}"}} {
				f := one(t, res, tc.c.keyID)
				if f.Kind != KindStash || f.Ref != tc.ref || f.Path != tc.path {
					t.Errorf("got kind %q ref %q path %q; want stash %s %s", f.Kind, f.Ref, f.Path, tc.ref, tc.path)
				}
			}
			if len(res.Warnings) != 0 {
				t.Errorf("warnings: %q", res.Warnings)
			}
		})
	}
}

// TestHistoryNoteKind: git notes were already swept; their findings now say
// they are notes and name the notes ref.
func TestHistoryNoteKind(t *testing.T) {
	t.Parallel()
	r := newTestRepo(t)
	c := newCreds(26)
	r.write("a.txt", "a\n")
	head := r.commit("initial")
	r.tick++
	r.git("notes", "add", "-m", c.ini())
	f := one(t, r.scan(HistoryOptions{}), c.keyID)
	if f.Kind != KindNote || f.Ref != "refs/notes/commits" || f.Path != head {
		t.Errorf("got kind %q ref %q path %q; want note refs/notes/commits %s", f.Kind, f.Ref, f.Path, head)
	}
}

// TestRangeTagMessage: pre-push passes a pushed annotated tag as
// <zero>..<tag object>; the tag's message is scanned with the commits, and
// so is a tag named on the right of a range.
func TestRangeTagMessage(t *testing.T) {
	t.Parallel()
	r := newTestRepo(t)
	c := newCreds(27)
	r.write("a.txt", "a\n")
	head := r.commit("initial")
	r.tick++
	r.git("tag", "-a", "v2", "-m", "notes\n"+c.ini())
	tagObj := r.git("rev-parse", "refs/tags/v2")
	for _, spec := range []string{zeroHash + ".." + tagObj, "HEAD..v2", "v2", tagObj} {
		res, err := New(Options{}).ScanRange(context.Background(), r.dir, spec)
		if err != nil {
			t.Fatalf("%s: %v", spec, err)
		}
		f := one(t, res, c.keyID)
		if f.Kind != KindTagMessage || f.Ref != "v2" || f.Commit != head || f.Line != 3 {
			t.Errorf("%s: got kind %q ref %q commit %s line %d", spec, f.Kind, f.Ref, f.Commit, f.Line)
		}
	}
	// A range ending at a commit pushes no tag.
	res, err := New(Options{}).ScanRange(context.Background(), r.dir, "HEAD")
	if err != nil {
		t.Fatal(err)
	}
	if fs := byKey(res, c.keyID); len(fs) != 0 {
		t.Errorf("tag message reported for a commit range: %+v", fs)
	}
}

const zeroHash = "0000000000000000000000000000000000000000"

// TestSubmoduleWarning: a repository with submodules says its sweep and
// ranges do not enter them.
func TestSubmoduleWarning(t *testing.T) {
	t.Parallel()
	sub := newTestRepo(t)
	sub.write("a.txt", "a\n")
	sub.commit("sub")
	r := newTestRepo(t)
	r.write("README", "top\n")
	r.commit("initial")
	r.git("-c", "protocol.file.allow=always", "submodule", "add", "-q", sub.dir, "vendor/sub")
	r.commit("add submodule")
	res := r.scan(HistoryOptions{})
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "1 submodule(s)") {
		t.Errorf("history warnings %q", res.Warnings)
	}
	rng, err := New(Options{}).ScanRange(context.Background(), r.dir, "HEAD")
	if err != nil {
		t.Fatal(err)
	}
	if len(rng.Warnings) != 1 || !strings.Contains(rng.Warnings[0], "range scans do not enter them") {
		t.Errorf("range warnings %q", rng.Warnings)
	}
}

// TestLargeMessagesStreamed: commit and tag messages over the in-memory
// limit are scanned (as streams), in history and in ranges; they were
// dropped or skipped before.
func TestLargeMessagesStreamed(t *testing.T) {
	t.Parallel()
	r := newTestRepo(t)
	c, tc := newCreds(28), newCreds(29)
	pad := strings.Repeat("padding line\n", 2*minStreamWindow/13)
	r.write("a.txt", "a\n")
	base := r.commit("initial")
	r.write("b.txt", "b\n")
	r.git("add", "-A")
	// Messages from files: a 2 MiB -m argument is past the exec limit.
	cmsg, tmsg := filepath.Join(r.home, "cmsg"), filepath.Join(r.home, "tmsg")
	os.WriteFile(cmsg, []byte("big\n\n"+pad+c.ini()), 0o644)
	os.WriteFile(tmsg, []byte(pad+tc.ini()), 0o644)
	r.tick++
	r.git("commit", "-q", "-F", cmsg)
	r.tick++
	r.git("tag", "-a", "big", "-F", tmsg)
	e := New(Options{MaxFileSize: 1024})
	res, err := e.ScanHistory(context.Background(), r.dir, HistoryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if f := one(t, res, c.keyID); f.Kind != KindCommitMessage {
		t.Errorf("history commit message: kind %q", f.Kind)
	}
	if f := one(t, res, tc.keyID); f.Kind != KindTagMessage {
		t.Errorf("history tag message: kind %q", f.Kind)
	}
	rng, err := e.ScanRange(context.Background(), r.dir, base+"..big")
	if err != nil {
		t.Fatal(err)
	}
	one(t, rng, c.keyID)
	one(t, rng, tc.keyID)
	if len(rng.Skipped)+len(res.Skipped) != 0 {
		t.Errorf("skipped %+v %+v", rng.Skipped, res.Skipped)
	}
}
