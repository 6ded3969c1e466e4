package scanner

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// layouts runs a test on a repository as git left it (loose objects) and
// after git gc (one pack, deltas), since the two are read by different
// code.
var layouts = []struct {
	name string
	pack func(r *testRepo)
}{
	{"loose", func(r *testRepo) {}},
	{"packed", func(r *testRepo) { r.git("gc", "-q") }},
}

func TestHistoryRemovedSecretAttributedToIntroducer(t *testing.T) {
	t.Parallel()
	for _, l := range layouts {
		t.Run(l.name, func(t *testing.T) {
			r := newTestRepo(t)
			c := newCreds(1)
			r.write("README.md", "hello\n")
			r.commit("initial")
			r.write("deploy/config.ini", "# settings\n"+c.ini())
			intro := r.commit("add config")
			r.write("README.md", "hello again\n")
			r.commit("edit readme")
			r.remove("deploy/config.ini")
			r.commit("remove config")
			l.pack(r)

			res := r.scan(HistoryOptions{})
			f := one(t, res, c.keyID)
			if f.Path != "deploy/config.ini" || f.Commit != intro || f.Secret.Reveal() != c.secret {
				t.Errorf("got path %q commit %s secret paired %v; want deploy/config.ini, %s, true", f.Path, f.Commit, f.Secret.Reveal() == c.secret, intro)
			}
			if len(f.PresentIn) != 0 {
				t.Errorf("PresentIn = %q, want empty: the secret was removed", f.PresentIn)
			}
			if f.Author != "Test Author" || f.Email != "author@example.com" || f.Date.IsZero() || f.Line != 3 {
				t.Errorf("provenance = %q %q %v line %d", f.Author, f.Email, f.Date, f.Line)
			}
			if len(res.Warnings) != 0 {
				t.Errorf("warnings: %q", res.Warnings)
			}
		})
	}
}

func TestHistoryRepeatedSecretIsOneFinding(t *testing.T) {
	t.Parallel()
	for _, l := range layouts {
		t.Run(l.name, func(t *testing.T) {
			r := newTestRepo(t)
			c := newCreds(2)
			r.write("app.env", "A=0\n"+c.ini())
			intro := r.commit("add env")
			for i := 1; i <= 25; i++ {
				r.write("app.env", "A="+strconv.Itoa(i)+"\n"+c.ini())
				r.write("other.txt", strings.Repeat("line\n", i))
				r.commit("edit " + strconv.Itoa(i))
			}
			l.pack(r)
			res := r.scan(HistoryOptions{})
			f := one(t, res, c.keyID)
			if f.Commit != intro {
				t.Errorf("commit = %s, want the first, %s", f.Commit, intro)
			}
			if !slices.Equal(f.PresentIn, []string{"main"}) {
				t.Errorf("PresentIn = %q, want [main]", f.PresentIn)
			}
			if len(res.Findings) != 1 {
				t.Errorf("got %d findings, want 1", len(res.Findings))
			}
		})
	}
}

func TestHistoryUnmergedBranch(t *testing.T) {
	t.Parallel()
	r := newTestRepo(t)
	c := newCreds(3)
	r.write("a.txt", "a\n")
	r.commit("initial")
	r.git("checkout", "-q", "-b", "feature")
	r.write("secrets/prod.ini", c.ini())
	intro := r.commit("oops")
	r.git("checkout", "-q", "main")
	r.write("b.txt", "b\n")
	r.commit("main moves on")

	f := one(t, r.scan(HistoryOptions{}), c.keyID)
	if f.Commit != intro || !slices.Equal(f.PresentIn, []string{"feature"}) {
		t.Errorf("commit %s PresentIn %q; want %s [feature]", f.Commit, f.PresentIn, intro)
	}
}

func TestHistoryOnlyUnderTag(t *testing.T) {
	t.Parallel()
	for _, annotated := range []bool{true, false} {
		t.Run("annotated="+strconv.FormatBool(annotated), func(t *testing.T) {
			r := newTestRepo(t)
			c := newCreds(4)
			r.write("a.txt", "a\n")
			r.commit("initial")
			r.git("checkout", "-q", "-b", "release")
			r.write("creds", c.ini())
			intro := r.commit("release build")
			if annotated {
				r.git("tag", "-a", "-m", "release", "v1.0")
			} else {
				r.git("tag", "v1.0")
			}
			r.git("checkout", "-q", "main")
			r.git("branch", "-q", "-D", "release")
			r.git("gc", "-q")

			f := one(t, r.scan(HistoryOptions{}), c.keyID)
			if f.Commit != intro || len(f.PresentIn) != 0 {
				t.Errorf("commit %s PresentIn %q; want %s and no branch", f.Commit, f.PresentIn, intro)
			}
		})
	}
}

func TestHistoryEvilMerge(t *testing.T) {
	t.Parallel()
	r := newTestRepo(t)
	c := newCreds(5)
	r.write("a.txt", "a\n")
	r.commit("initial")
	r.git("checkout", "-q", "-b", "side")
	r.write("side.txt", "side\n")
	r.commit("side work")
	r.git("checkout", "-q", "main")
	r.write("main.txt", "main\n")
	r.commit("main work")
	r.tick++
	r.git("merge", "-q", "--no-ff", "--no-commit", "side")
	r.write("merged.cfg", c.ini()) // in neither parent
	r.git("add", "-A")
	r.git("commit", "-q", "-m", "merge side")
	merge := r.git("rev-parse", "HEAD")

	f := one(t, r.scan(HistoryOptions{}), c.keyID)
	if f.Commit != merge || f.Path != "merged.cfg" || !slices.Equal(f.PresentIn, []string{"main"}) {
		t.Errorf("got %s %s %q; want the merge %s", f.Commit, f.Path, f.PresentIn, merge)
	}
}

func TestHistoryCommitMessage(t *testing.T) {
	t.Parallel()
	r := newTestRepo(t)
	c := newCreds(6)
	r.write("a.txt", "a\n")
	r.commit("initial")
	r.write("a.txt", "b\n")
	intro := r.commit("rotate key\n\nold: " + c.keyID + " " + c.secret)
	r.write("a.txt", "c\n")
	r.commit("again\n\n" + c.keyID) // the same key again is not a new finding

	f := one(t, r.scan(HistoryOptions{}), c.keyID)
	if f.Kind != KindCommitMessage || f.Commit != intro || f.Path != MessagePath {
		t.Errorf("got kind %q commit %s path %q; want a message finding in %s", f.Kind, f.Commit, f.Path, intro)
	}
}

func TestHistoryRefKinds(t *testing.T) {
	t.Parallel()
	r := newTestRepo(t)
	note, stash, remote := newCreds(7), newCreds(8), newCreds(9)
	r.write("a.txt", "a\n")
	r.commit("initial")
	r.tick++
	r.git("notes", "add", "-m", note.ini())
	r.write("a.txt", stash.ini())
	r.tick++
	r.git("stash", "-q")
	r.git("update-ref", "refs/remotes/origin/leak", r.git("rev-parse", "refs/stash"))
	r.write("b.txt", remote.ini())
	r.git("add", "b.txt")
	r.tick++
	tree := r.git("write-tree")
	c := r.git("commit-tree", "-m", "remote only", tree)
	r.git("update-ref", "refs/remotes/upstream/wip", c)
	r.git("reset", "-q", "--hard")

	res := r.scan(HistoryOptions{})
	if f := one(t, res, note.keyID); f.Path != r.git("rev-parse", "HEAD") {
		t.Errorf("note finding path %q, want the annotated commit", f.Path)
	}
	if f := one(t, res, stash.keyID); f.Path != "a.txt" {
		t.Errorf("stash finding path %q", f.Path)
	}
	if f := one(t, res, remote.keyID); f.Commit != c || !slices.Equal(f.PresentIn, []string{"upstream/wip"}) {
		t.Errorf("remote finding %s %q, want %s [upstream/wip]", f.Commit, f.PresentIn, c)
	}
}

func TestHistoryAllObjects(t *testing.T) {
	t.Parallel()
	for _, l := range layouts {
		t.Run(l.name, func(t *testing.T) {
			r := newTestRepo(t)
			dangling, dropped := newCreds(10), newCreds(11)
			r.write("a.txt", "a\n")
			r.commit("initial")
			r.write("leak.txt", dropped.ini())
			droppedCommit := r.commit("to be reset")
			r.git("reset", "-q", "--hard", "HEAD~1")
			r.git("reflog", "expire", "--expire=now", "--all")
			if err := os.WriteFile(filepath.Join(r.dir, "blob.txt"), []byte(dangling.ini()), 0o644); err != nil {
				t.Fatal(err)
			}
			blob := r.git("hash-object", "-w", "blob.txt")
			os.Remove(filepath.Join(r.dir, "blob.txt"))
			if l.name == "packed" {
				// Keep unreachable objects in the pack rather than loose.
				r.git("repack", "-a", "-d", "-q")
			}

			res := r.scan(HistoryOptions{})
			if len(byKey(res, dangling.keyID))+len(byKey(res, dropped.keyID)) != 0 {
				t.Errorf("unreachable content reported without AllObjects: %+v", res.Findings)
			}
			res = r.scan(HistoryOptions{AllObjects: true})
			if f := one(t, res, dangling.keyID); f.Path != blob || f.Commit != "" {
				t.Errorf("dangling blob finding at %q commit %q, want path %s", f.Path, f.Commit, blob)
			}
			if f := one(t, res, dropped.keyID); f.Path != "leak.txt" || f.Commit != droppedCommit {
				t.Errorf("dropped commit finding at %q %q, want leak.txt %s", f.Path, f.Commit, droppedCommit)
			}
		})
	}
}

// TestHistoryCommitCount checks the walk against git itself on a graph
// with the shapes go-git's Log gets wrong: merges whose second parents are
// only reachable through them, refs that are annotated tags, a tag of a
// tag.
func TestHistoryCommitCount(t *testing.T) {
	t.Parallel()
	r := newTestRepo(t)
	r.write("f", "0\n")
	r.commit("root")
	for i := 0; i < 4; i++ {
		b := "side" + strconv.Itoa(i)
		r.git("checkout", "-q", "-b", b)
		for j := 0; j < 3; j++ {
			r.write(b+".txt", strconv.Itoa(j)+"\n")
			r.commit(b + " " + strconv.Itoa(j))
		}
		r.git("checkout", "-q", "main")
		r.write("f", strconv.Itoa(i)+"\n")
		r.commit("main " + strconv.Itoa(i))
		r.tick++
		r.git("merge", "-q", "--no-ff", "-m", "merge "+b, b)
		r.git("branch", "-q", "-D", b) // only reachable through the merge now
	}
	r.git("checkout", "-q", "--orphan", "orphan")
	r.write("o", "o\n")
	r.commit("orphan root")
	r.write("o", "o2\n")
	r.commit("orphan tip")
	r.git("tag", "-a", "-m", "annotated", "t1")
	r.git("tag", "-a", "-m", "tag of tag", "t2", "t1")
	r.git("checkout", "-q", "main")
	r.git("branch", "-q", "-D", "orphan")
	r.git("checkout", "-q", "--detach", "HEAD~1")
	r.write("d", "detached\n")
	r.commit("detached head")

	want, _ := strconv.Atoi(r.git("rev-list", "--all", "--count"))
	for _, l := range layouts {
		l.pack(r)
		s, h, err := New(Options{}).sweepHistory(context.Background(), r.dir, HistoryOptions{})
		if err != nil {
			t.Fatal(err)
		}
		s.st.close()
		if len(h.reachable) != want {
			t.Errorf("%s: walked %d commits, git rev-list --all --count says %d", l.name, len(h.reachable), want)
		}
	}
}

// A blob over the in-memory limit is scanned as a stream, loose and
// packed, and its finding attributed like any other (issue 9, item 8; it
// used to be skipped).
func TestHistoryLargeBlobStreamed(t *testing.T) {
	t.Parallel()
	for _, l := range layouts {
		t.Run(l.name, func(t *testing.T) {
			r := newTestRepo(t)
			c := newCreds(13)
			r.write("big.bin", strings.Repeat("x\n", 3*minStreamWindow)+c.ini())
			intro := r.commit("big")
			l.pack(r)
			res, err := New(Options{MaxFileSize: 1024}).ScanHistory(context.Background(), r.dir, HistoryOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Skipped) != 0 {
				t.Errorf("skipped = %+v, want nothing", res.Skipped)
			}
			f := one(t, res, c.keyID)
			if f.Path != "big.bin" || f.Commit != intro || f.Line != 3*minStreamWindow+2 || f.Secret.Reveal() != c.secret ||
				!slices.Equal(f.PresentIn, []string{"main"}) {
				t.Errorf("got %s line %d commit %s paired %v present %q", f.Path, f.Line, f.Commit, f.Secret.Reveal() == c.secret, f.PresentIn)
			}
		})
	}
}

func TestHistoryProgress(t *testing.T) {
	t.Parallel()
	r := newTestRepo(t)
	c := newCreds(12)
	for i := 0; i < 5; i++ {
		r.write("f"+strconv.Itoa(i), c.ini()+strconv.Itoa(i))
		r.commit("c")
	}
	r.git("gc", "-q")
	var last HistoryProgress
	calls := 0
	res := r.scan(HistoryOptions{Progress: func(p HistoryProgress) {
		calls++
		last = p
	}})
	if calls == 0 || last.Blobs != last.BlobsTotal || last.Bytes != last.BytesTotal || last.Blobs != res.Files || last.Phase != "trees" {
		t.Errorf("last progress %+v after %d calls; result scanned %d blobs", last, calls, res.Files)
	}
}

func TestHistoryEmptyRepository(t *testing.T) {
	t.Parallel()
	r := newTestRepo(t)
	res := r.scan(HistoryOptions{})
	if len(res.Findings) != 0 || len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "no commits") {
		t.Errorf("got %d findings, warnings %q", len(res.Findings), res.Warnings)
	}
}

func TestHistoryNotARepository(t *testing.T) {
	t.Parallel()
	_, err := New(Options{}).ScanHistory(context.Background(), t.TempDir(), HistoryOptions{})
	if err == nil || !strings.HasPrefix(err.Error(), "open repository: ") {
		t.Errorf("err = %v, want open repository: ...", err)
	}
}

func TestHistoryShallowClone(t *testing.T) {
	t.Parallel()
	r := newTestRepo(t)
	old, tip := newCreds(13), newCreds(14)
	r.write("old.ini", old.ini())
	r.commit("old")
	r.remove("old.ini")
	r.write("tip.ini", tip.ini())
	r.commit("tip")
	clone := filepath.Join(t.TempDir(), "clone")
	r.gitIn(r.dir, "clone", "-q", "--depth", "1", "file://"+r.dir, clone)

	res, err := New(Options{}).ScanHistory(context.Background(), clone, HistoryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	one(t, res, tip.keyID)
	if len(byKey(res, old.keyID)) != 0 {
		t.Error("found a key from history the clone does not have")
	}
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "shallow") {
		t.Errorf("warnings = %q, want one about the shallow clone", res.Warnings)
	}
}

// TestHistoryCorruptPack damages a pack in several ways; each must give an
// error or a partial result with a warning, never a panic or silence.
func TestHistoryCorruptPack(t *testing.T) {
	t.Parallel()
	damage := []struct {
		name string
		do   func(t *testing.T, pack string)
	}{
		{"flipped bytes", func(t *testing.T, pack string) {
			b, _ := os.ReadFile(pack)
			for i := len(b) / 3; i < len(b)/3+64 && i < len(b); i++ {
				b[i] ^= 0x5a
			}
			os.WriteFile(pack, b, 0o644)
		}},
		{"truncated", func(t *testing.T, pack string) {
			info, _ := os.Stat(pack)
			os.Truncate(pack, info.Size()/2)
		}},
		{"garbage header", func(t *testing.T, pack string) {
			os.WriteFile(pack, []byte("not a pack at all"), 0o644)
		}},
	}
	r := newTestRepo(t)
	c := newCreds(15)
	for i := 0; i < 20; i++ {
		r.write("f"+strconv.Itoa(i%5)+".txt", strings.Repeat("content "+strconv.Itoa(i)+"\n", 50))
		r.commit("c" + strconv.Itoa(i))
	}
	r.write("k.ini", c.ini())
	r.commit("key")
	r.git("gc", "-q")
	for _, d := range damage {
		t.Run(d.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "repo")
			if err := os.CopyFS(dir, os.DirFS(r.dir)); err != nil {
				t.Fatal(err)
			}
			packs, _ := filepath.Glob(filepath.Join(dir, ".git", "objects", "pack", "*.pack"))
			if len(packs) != 1 {
				t.Fatalf("packs: %q", packs)
			}
			os.Chmod(packs[0], 0o644)
			d.do(t, packs[0])
			res, err := New(Options{}).ScanHistory(context.Background(), dir, HistoryOptions{})
			if err != nil {
				t.Logf("error: %v", err)
				return // a clear error is fine
			}
			t.Logf("%d findings, warnings %q, errors %v", len(res.Findings), res.Warnings, res.Errors)
			if len(res.Warnings) == 0 || len(res.Errors) == 0 {
				t.Errorf("corrupt pack gave no warning or error: %+v", res)
			}
		})
	}
}

func TestHistoryCancel(t *testing.T) {
	t.Parallel()
	r := newTestRepo(t)
	r.write("a", "a")
	r.commit("a")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := New(Options{}).ScanHistory(ctx, r.dir, HistoryOptions{})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

// TestHistoryPackedAndLoose covers the usual state of a working
// repository: old history in a pack, new commits loose, one object in
// both.
func TestHistoryPackedAndLoose(t *testing.T) {
	t.Parallel()
	r := newTestRepo(t)
	old, fresh := newCreds(16), newCreds(17)
	r.write("old.ini", old.ini())
	oldCommit := r.commit("old")
	r.git("gc", "-q")
	r.remove("old.ini")
	r.commit("remove old")
	r.write("again.ini", old.ini()) // the same blob, now loose too
	r.write("new.ini", fresh.ini())
	freshCommit := r.commit("new")
	r.git("hash-object", "-w", "again.ini")

	res := r.scan(HistoryOptions{})
	if f := one(t, res, fresh.keyID); f.Commit != freshCommit {
		t.Errorf("fresh key commit %s, want %s", f.Commit, freshCommit)
	}
	fs := byKey(res, old.keyID)
	if len(fs) != 2 {
		t.Fatalf("old key: %d findings, want one per path: %+v", len(fs), fs)
	}
	for _, f := range fs {
		switch f.Path {
		case "old.ini":
			if f.Commit != oldCommit || len(f.PresentIn) != 0 {
				t.Errorf("old.ini: %s %q", f.Commit, f.PresentIn)
			}
		case "again.ini":
			if f.Commit != freshCommit || !slices.Equal(f.PresentIn, []string{"main"}) {
				t.Errorf("again.ini: %s %q", f.Commit, f.PresentIn)
			}
		}
	}
}

// TestHistoryTagOfBlob covers a ref that names a blob directly, as
// `git tag` allows: the blob is reachable, and the ref names its place.
func TestHistoryTagOfBlob(t *testing.T) {
	t.Parallel()
	r := newTestRepo(t)
	c := newCreds(18)
	r.write("a.txt", "a\n")
	r.commit("initial")
	if err := os.WriteFile(filepath.Join(r.dir, "k.ini"), []byte(c.ini()), 0o644); err != nil {
		t.Fatal(err)
	}
	blob := r.git("hash-object", "-w", "k.ini")
	os.Remove(filepath.Join(r.dir, "k.ini"))
	r.git("tag", "-a", "-m", "a key, tagged", "keyblob", blob)

	if f := one(t, r.scan(HistoryOptions{}), c.keyID); f.Path != "refs/tags/keyblob" {
		t.Errorf("path %q, want the tag's name", f.Path)
	}
}

// TestHistoryDeterministic checks that the result does not depend on how
// many workers swept or in which order they finished.
func TestHistoryDeterministic(t *testing.T) {
	t.Parallel()
	r := newTestRepo(t)
	for i := 0; i < 12; i++ {
		c := newCreds(uint64(100 + i))
		r.write("d"+strconv.Itoa(i%3)+"/k"+strconv.Itoa(i%4)+".ini", c.ini()+strings.Repeat("x\n", i))
		r.commit("c" + strconv.Itoa(i) + "\n\n" + c.keyID)
		if i == 6 {
			r.git("gc", "-q")
		}
	}
	var want []Finding
	for _, workers := range []int{1, 2, 5} {
		res, err := New(Options{Workers: workers}).ScanHistory(context.Background(), r.dir, HistoryOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if want == nil {
			want = res.Findings
			continue
		}
		if !reflect.DeepEqual(res.Findings, want) {
			t.Errorf("%d workers: findings differ from 1 worker's", workers)
		}
	}
	if len(want) == 0 {
		t.Fatal("no findings")
	}
}
