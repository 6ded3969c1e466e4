package scanner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing/format/index"
)

func scanStaged(t *testing.T, e *Engine, dir string) *Result {
	t.Helper()
	if e == nil {
		e = New(Options{})
	}
	res, err := e.ScanStaged(context.Background(), dir)
	if err != nil {
		t.Fatalf("ScanStaged: %v", err)
	}
	return res
}

func TestStagedFirstCommit(t *testing.T) {
	r := newGitRepo(t)
	c := fakeCred(1)
	r.write("creds.ini", c.ini("default"))
	r.write("README", "hello\n")
	r.git("add", "-A")
	res := scanStaged(t, nil, r.dir)
	wantKeys(t, res, c.key)
	f := res.Findings[0]
	if f.Path != "creds.ini" || f.Line != 2 || f.SecretLine != 3 || f.Secret.Reveal() != c.secret {
		t.Fatalf("finding at %s:%d secret line %d", f.Path, f.Line, f.SecretLine)
	}
	if f.Commit != "" || f.IsMessage() {
		t.Fatalf("staged finding has commit provenance: %+v", f.Provenance)
	}
	if res.Files != 2 {
		t.Fatalf("scanned %d files, want 2", res.Files)
	}
}

func TestStagedFromSubdirectory(t *testing.T) {
	r := newGitRepo(t)
	c := fakeCred(1)
	r.write("deep/dir/creds.ini", c.ini("default"))
	r.git("add", "-A")
	res := scanStaged(t, nil, filepath.Join(r.dir, "deep", "dir"))
	wantKeys(t, res, c.key)
	if res.Findings[0].Path != "deep/dir/creds.ini" {
		t.Fatalf("path %q, want it relative to the repository root", res.Findings[0].Path)
	}
}

func TestStagedNothingStaged(t *testing.T) {
	r := newGitRepo(t)
	r.write("creds.ini", fakeCred(1).ini("default"))
	r.commit("old secret")
	res := scanStaged(t, nil, r.dir)
	wantKeys(t, res)
	if res.Files != 0 {
		t.Fatalf("read %d files with nothing staged", res.Files)
	}
}

// An old secret elsewhere in an edited file does not block the commit, but
// a new secret written under an old key ID line is caught, because pairing
// sees the whole staged blob.
func TestStagedAddedLinesOnly(t *testing.T) {
	r := newGitRepo(t)
	old, paired := fakeCred(1), fakeCred(2)
	r.write("config.ini", "name = a\n"+old.ini("default")+"[ci]\naws_access_key_id = "+paired.key+"\nregion = eu-west-1\n")
	r.write("other/app.go", "package app\n")
	r.commit("old secrets")

	r.write("config.ini", "name = b\n"+old.ini("default")+"[ci]\naws_access_key_id = "+paired.key+"\nregion = eu-west-1\n")
	r.git("add", "-A")
	wantKeys(t, scanStaged(t, nil, r.dir))

	r.write("config.ini", "name = b\n"+old.ini("default")+"[ci]\naws_access_key_id = "+paired.key+"\naws_secret_access_key = "+paired.secret+"\nregion = eu-west-1\n")
	r.git("add", "-A")
	res := scanStaged(t, nil, r.dir)
	wantKeys(t, res, paired.key)
	f := res.Findings[0]
	if f.Secret.Reveal() != paired.secret || f.Line != 6 || f.SecretLine != 7 {
		t.Fatalf("paired finding line %d secret line %d (secret matched: %v)", f.Line, f.SecretLine, f.Secret.Reveal() == paired.secret)
	}
}

func TestStagedMergeInProgress(t *testing.T) {
	r := newGitRepo(t)
	r.write("README", "base\n")
	r.commit("base")
	r.git("checkout", "-q", "-b", "feature")
	c := fakeCred(1)
	r.write("feature.ini", c.ini("default"))
	r.commit("feature secret")
	r.git("checkout", "-q", "main")
	r.write("main.txt", "main\n")
	r.commit("main work")
	r.git("merge", "--no-ff", "--no-commit", "feature")
	if _, err := os.Stat(filepath.Join(r.dir, ".git", "MERGE_HEAD")); err != nil {
		t.Fatalf("no merge in progress: %v", err)
	}
	// Compared with HEAD, the merge brings the feature's secret in.
	wantKeys(t, scanStaged(t, nil, r.dir), c.key)
}

func TestStagedUnmergedConflict(t *testing.T) {
	r := newGitRepo(t)
	r.write("f.txt", "base\n")
	r.commit("base")
	r.git("checkout", "-q", "-b", "feature")
	r.write("f.txt", "feature\n")
	r.commit("feature")
	r.git("checkout", "-q", "main")
	r.write("f.txt", "main\n")
	r.commit("main")
	if _, err := r.try("merge", "feature"); err == nil {
		t.Fatal("merge did not conflict")
	}
	res := scanStaged(t, nil, r.dir)
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "f.txt: unmerged") {
		t.Fatalf("warnings %q, want one about the unmerged path", res.Warnings)
	}
}

func TestStagedRebaseConflict(t *testing.T) {
	r := newGitRepo(t)
	r.write("f.txt", "base\n")
	r.commit("base")
	r.git("checkout", "-q", "-b", "topic")
	r.write("f.txt", "topic\n")
	r.commit("topic")
	r.git("checkout", "-q", "main")
	r.write("f.txt", "main\n")
	r.commit("main")
	r.git("checkout", "-q", "topic")
	if _, err := r.try("rebase", "main"); err == nil {
		t.Fatal("rebase did not stop at a conflict")
	}
	c := fakeCred(1)
	r.write("f.txt", "main\ntopic\n"+c.ini("default"))
	r.git("add", "f.txt")
	// HEAD is detached at main's tip while the rebase is stopped.
	wantKeys(t, scanStaged(t, nil, r.dir), c.key)
}

func TestStagedAmend(t *testing.T) {
	r := newGitRepo(t)
	c1, c2 := fakeCred(1), fakeCred(2)
	r.write("a.ini", c1.ini("default"))
	r.commit("first")
	// What `git commit --amend` would record on top of HEAD's parent is
	// HEAD plus the index; the hook compares with HEAD, so only the newly
	// staged key is reported.
	r.write("b.ini", c2.ini("default"))
	r.git("add", "-A")
	wantKeys(t, scanStaged(t, nil, r.dir), c2.key)
	r.git("commit", "-q", "--amend", "--no-edit")
	wantKeys(t, scanStaged(t, nil, r.dir))
}

func TestStagedDetachedHead(t *testing.T) {
	r := newGitRepo(t)
	r.write("README", "x\n")
	r.commit("one")
	r.write("README", "y\n")
	r.commit("two")
	r.git("checkout", "-q", "--detach", "HEAD~1")
	wantKeys(t, scanStaged(t, nil, r.dir))
	c := fakeCred(1)
	r.write("creds.ini", c.ini("default"))
	r.git("add", "-A")
	wantKeys(t, scanStaged(t, nil, r.dir), c.key)
}

func TestStagedWorktree(t *testing.T) {
	r := newGitRepo(t)
	r.write("README", "x\n")
	r.commit("one")
	wt := filepath.Join(r.home, "linked tree")
	r.git("worktree", "add", "-q", "-b", "side", wt)
	c := fakeCred(1)
	if err := os.WriteFile(filepath.Join(wt, "creds.ini"), []byte(c.ini("default")), 0o644); err != nil {
		t.Fatal(err)
	}
	r.gitIn(wt, "add", "creds.ini")
	wantKeys(t, scanStaged(t, nil, wt), c.key)
	// The main work tree's index is its own.
	wantKeys(t, scanStaged(t, nil, r.dir))
}

func TestStagedRename(t *testing.T) {
	r := newGitRepo(t)
	c1, c2 := fakeCred(1), fakeCred(2)
	r.write("dir/creds.ini", "# creds\n"+c1.ini("default"))
	r.commit("old")

	if err := os.Mkdir(filepath.Join(r.dir, "moved"), 0o755); err != nil {
		t.Fatal(err)
	}
	r.git("mv", "dir/creds.ini", "moved/renamed.ini")
	wantKeys(t, scanStaged(t, nil, r.dir)) // a pure rename adds nothing

	r.write("moved/renamed.ini", "# creds, edited\n"+c1.ini("default")+c2.ini("second"))
	r.git("add", "-A")
	res := scanStaged(t, nil, r.dir)
	wantKeys(t, res, c2.key) // rename + edit: only the edited lines
	if res.Findings[0].Path != "moved/renamed.ini" {
		t.Fatalf("path %q", res.Findings[0].Path)
	}
}

func TestStagedDelete(t *testing.T) {
	r := newGitRepo(t)
	r.write("creds.ini", fakeCred(1).ini("default"))
	r.write("gone/deep/x.ini", fakeCred(2).ini("default"))
	r.commit("old")
	r.git("rm", "-q", "-r", "creds.ini", "gone")
	res := scanStaged(t, nil, r.dir)
	wantKeys(t, res)
	if res.Files != 0 {
		t.Fatalf("scanned %d files for a deletion", res.Files)
	}
}

func TestStagedSubmodule(t *testing.T) {
	r := newGitRepo(t)
	sub := newGitRepo(t)
	sub.write("creds.ini", fakeCred(1).ini("default"))
	sub.commit("secret in the submodule")
	r.write("README", "x\n")
	r.commit("one")
	r.git("-c", "protocol.file.allow=always", "submodule", "add", "-q", sub.dir, "vendor/sub")
	res := scanStaged(t, nil, r.dir)
	wantKeys(t, res) // a gitlink is not descended into
	if res.Files != 1 {
		t.Fatalf("scanned %d files, want only .gitmodules", res.Files)
	}
}

func TestStagedOddPaths(t *testing.T) {
	for _, name := range []string{"with space/creds file.ini", "ünïcödé/ключ.ini", "a\xffb.ini"} {
		t.Run(strings.ToValidUTF8(name, "?"), func(t *testing.T) {
			r := newGitRepo(t)
			r.git("config", "core.quotePath", "true")
			c := fakeCred(7)
			r.write(name, c.ini("default"))
			r.git("add", "-A")
			res := scanStaged(t, nil, r.dir)
			wantKeys(t, res, c.key)
			if res.Findings[0].Path != name {
				t.Fatalf("path %q, want %q", res.Findings[0].Path, name)
			}
		})
	}
}

func TestStagedAutoCRLF(t *testing.T) {
	r := newGitRepo(t)
	r.git("config", "core.autocrlf", "true")
	old, c := fakeCred(1), fakeCred(2)
	r.write("creds.ini", strings.ReplaceAll(old.ini("default"), "\n", "\r\n"))
	r.commit("old, CRLF in the work tree")
	if blob := r.git("cat-file", "-p", "HEAD:creds.ini"); strings.Contains(blob, "\r") {
		t.Fatal("autocrlf did not normalise the blob")
	}
	r.write("creds.ini", strings.ReplaceAll(old.ini("default")+c.ini("new"), "\n", "\r\n"))
	r.git("add", "-A")
	res := scanStaged(t, nil, r.dir)
	wantKeys(t, res, c.key)
	if f := res.Findings[0]; f.Line != 5 || f.SecretLine != 6 || f.Secret.Reveal() != c.secret {
		t.Fatalf("finding at line %d, secret line %d", f.Line, f.SecretLine)
	}
}

// A staged file over the in-memory limit is scanned as a stream, not
// skipped (issue 9, item 8; it used to be skipped).
func TestStagedHugeFileStreamed(t *testing.T) {
	r := newGitRepo(t)
	c := fakeCred(1)
	r.write("big.txt", strings.Repeat("x\n", 3*minStreamWindow)+c.ini("default"))
	r.write("small.ini", c.ini("default"))
	r.git("add", "-A")
	res := scanStaged(t, New(Options{MaxFileSize: 1024}), r.dir)
	wantKeys(t, res, c.key, c.key)
	if len(res.Skipped) != 0 {
		t.Fatalf("skipped %+v, want nothing", res.Skipped)
	}
	for _, f := range res.Findings {
		if f.Path == "big.txt" && f.Line != 3*minStreamWindow+2 {
			t.Errorf("big.txt finding at line %d, want %d", f.Line, 3*minStreamWindow+2)
		}
	}
}

func TestStagedBinary(t *testing.T) {
	r := newGitRepo(t)
	c := fakeCred(1)
	r.write("blob.bin", "\x00\x01\x02"+c.ini("default")+"\x00\xff")
	r.git("add", "-A")
	wantKeys(t, scanStaged(t, nil, r.dir), c.key)
}

func TestStagedNotARepository(t *testing.T) {
	_, err := New(Options{}).ScanStaged(context.Background(), t.TempDir())
	if err == nil || !errors.Is(err, ErrNotRepository) || !strings.HasPrefix(err.Error(), "open repository: ") {
		t.Fatalf("error %v, want open repository: ... not a git repository", err)
	}
}

// The comparison reads HEAD's trees only where the index differs.
func TestIndexTreeHashMatchesGit(t *testing.T) {
	r := newGitRepo(t)
	for _, p := range []string{"a.txt", "a-b", "a/b/c.txt", "a/d", "a0", "z/y", "exe.sh"} {
		r.write(p, p+"\n")
	}
	r.git("update-index", "--add", "--chmod=+x", "exe.sh")
	r.commit("tree")
	repo, err := New(Options{}).openRepo(r.dir)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := repo.Storer.Index()
	if err != nil {
		t.Fatal(err)
	}
	var unmerged []string
	got := buildIndexDir(idx.Entries, 0, &unmerged).hash.String()
	if want := r.git("rev-parse", "HEAD^{tree}"); got != want {
		t.Fatalf("index tree hash %s, git wrote %s", got, want)
	}
}

// `git commit -a` and `git commit PATH` run the pre-commit hook with
// GIT_INDEX_FILE naming a temporary index; that index is what is committed.
func TestStagedIndexFileEnv(t *testing.T) {
	r := newGitRepo(t)
	r.write("README", "x\n")
	r.commit("one")
	c := fakeCred(1)
	r.write("README", "x\n"+c.ini("default"))
	tmp := filepath.Join(r.home, "next-index.lock")
	data, err := os.ReadFile(filepath.Join(r.dir, ".git", "index"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GIT_INDEX_FILE", tmp)
	r.git("add", "README") // into the temporary index only
	wantKeys(t, scanStaged(t, nil, r.dir), c.key)
	t.Setenv("GIT_INDEX_FILE", "")
	wantKeys(t, scanStaged(t, nil, r.dir))
}

// parseIndex must agree with go-git's decoder on every index version git
// writes, including intent-to-add entries (version 3), conflict stages,
// symlinks, submodules and prefix-compressed names (version 4).
func TestParseIndexMatchesGoGit(t *testing.T) {
	r := newGitRepo(t)
	for _, p := range []string{"a.txt", "a-b", "a/b/c.txt", "a/b/d.txt", "a/bb/long-" + strings.Repeat("n", 200), "z/y", "ü/ñ", "sp ace"} {
		r.write(p, p+"\n")
	}
	if err := os.Symlink("a.txt", filepath.Join(r.dir, "link")); err != nil {
		t.Fatal(err)
	}
	r.write("f.txt", "base\n")
	r.commit("base")
	r.git("update-index", "--add", "--cacheinfo", "160000,"+r.git("rev-parse", "HEAD")+",vendor/sub")
	r.git("checkout", "-q", "-b", "other")
	r.write("f.txt", "other\n")
	r.commit("other")
	r.git("checkout", "-q", "main")
	r.write("f.txt", "main\n")
	r.commit("main")
	if _, err := r.try("merge", "other"); err == nil {
		t.Fatal("no conflict")
	}
	r.write("new.txt", "x\n")
	r.git("add", "-N", "new.txt")
	r.git("update-index", "--skip-worktree", "a.txt")
	for _, version := range []string{"3", "4", "2"} {
		if version == "2" {
			r.git("rm", "-q", "--cached", "new.txt") // version 2 cannot hold intent-to-add
			r.git("update-index", "--no-skip-worktree", "a.txt")
		}
		r.git("update-index", "--index-version", version)
		data, err := os.ReadFile(filepath.Join(r.dir, ".git", "index"))
		if err != nil {
			t.Fatal(err)
		}
		got, ok := parseIndex(data)
		if !ok {
			t.Fatalf("version %s: parseIndex gave up", version)
		}
		want := &index.Index{}
		if err := index.NewDecoder(bytes.NewReader(data)).Decode(want); err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want.Entries) {
			t.Fatalf("version %s: %d entries, go-git has %d", version, len(got), len(want.Entries))
		}
		for i, w := range want.Entries {
			g := got[i]
			if g.Name != w.Name || g.Hash != w.Hash || g.Mode != w.Mode || g.Stage != w.Stage || g.IntentToAdd != w.IntentToAdd || g.SkipWorktree != w.SkipWorktree {
				t.Errorf("version %s entry %d: got %q %s %o stage %d ita %v skip %v, go-git %q %s %o stage %d ita %v skip %v", version, i,
					g.Name, g.Hash, g.Mode, g.Stage, g.IntentToAdd, g.SkipWorktree, w.Name, w.Hash, w.Mode, w.Stage, w.IntentToAdd, w.SkipWorktree)
			}
		}
	}
	if _, ok := parseIndex([]byte("DIRC\x00\x00\x00\x02\x00\x00\x00\x05truncated")); ok {
		t.Fatal("a truncated index parsed")
	}
}

// FuzzParseIndex: any bytes, no panic; what parses agrees with go-git.
func FuzzParseIndex(f *testing.F) {
	for _, version := range []uint32{2, 3, 4} {
		idx := &index.Index{Version: version}
		for _, name := range []string{"a", "a/b", "a/c d", "ü", strings.Repeat("x", 300)} {
			e := idx.Add(name)
			e.Mode = 0o100644
			e.Hash[0] = byte(len(name))
			e.IntentToAdd = version == 3 && name == "a"
		}
		var buf bytes.Buffer
		if err := index.NewEncoder(&buf).Encode(idx); err != nil {
			f.Fatal(err)
		}
		f.Add(buf.Bytes())
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, ok := parseIndex(data)
		if !ok {
			return
		}
		want := &index.Index{}
		if err := index.NewDecoder(bytes.NewReader(data)).Decode(want); err != nil {
			return // go-git also checks the checksum, which parseIndex skips
		}
		if len(got) != len(want.Entries) {
			t.Fatalf("%d entries, go-git has %d", len(got), len(want.Entries))
		}
		for i, w := range want.Entries {
			if got[i].Name != w.Name || got[i].Hash != w.Hash || got[i].Stage != w.Stage {
				t.Fatalf("entry %d: %q, go-git %q", i, got[i].Name, w.Name)
			}
		}
	})
}

// `git sparse-checkout` sets extensions.worktreeConfig, which go-git alone
// refuses, and with --sparse-index the index holds whole directories as
// single entries.
func TestStagedSparseCheckout(t *testing.T) {
	r := newGitRepo(t)
	old := fakeCred(1)
	r.write("in/a.txt", "a\n")
	r.write("out/deep/creds.ini", old.ini("p"))
	r.commit("one")
	r.git("sparse-checkout", "set", "--sparse-index", "in")
	if !strings.Contains(r.git("ls-files", "--sparse"), "out/") {
		t.Skip("this git does not write sparse directory entries")
	}
	wantKeys(t, scanStaged(t, nil, r.dir))
	c := fakeCred(2)
	r.write("in/a.txt", "a\n"+c.ini("p"))
	r.git("add", "in/a.txt")
	wantKeys(t, scanStaged(t, nil, r.dir), c.key)
}

// BenchmarkStagedLargeRepo: ten staged files in a 30,000-file repository,
// the pre-commit case the staged scan is built for.
func BenchmarkStagedLargeRepo(b *testing.B) {
	r := newGitRepo(b)
	var script strings.Builder
	script.WriteString("commit refs/heads/main\ncommitter C <c@example.com> 1700000000 +0000\ndata 3\nbig\n")
	for d := range 1000 {
		for f := range 30 {
			content := fmt.Sprintf("file %d/%d\n", d, f)
			fmt.Fprintf(&script, "M 100644 inline src/d%03d/s%d/f%02d.txt\ndata %d\n%s\n", d, f%3, f, len(content), content)
		}
	}
	r.feed(script.String(), "fast-import", "--quiet")
	r.git("reset", "-q", "--hard")
	for i := range 10 {
		r.write(fmt.Sprintf("src/d%03d/s1/f01.txt", i*97), fmt.Sprintf("changed %d\n", i))
	}
	r.git("add", "-A")
	e := New(Options{})
	for b.Loop() {
		res, err := e.ScanStaged(context.Background(), r.dir)
		if err != nil || res.Files != 10 {
			b.Fatalf("files %v, err %v", res, err)
		}
	}
}

// A corrupt staged blob is a one-line error naming it, not a panic.
func TestStagedCorruptObject(t *testing.T) {
	r := newGitRepo(t)
	r.write("a.txt", "content\n")
	r.git("add", "a.txt")
	blob := r.git("rev-parse", ":a.txt")
	p := filepath.Join(r.dir, ".git", "objects", blob[:2], blob[2:])
	if err := os.Chmod(p, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("not zlib at all"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := New(Options{}).ScanStaged(context.Background(), r.dir)
	if err == nil || !strings.Contains(err.Error(), blob) || strings.Contains(err.Error(), "\n") {
		t.Fatalf("error %v, want one line naming blob %s", err, blob)
	}
}
