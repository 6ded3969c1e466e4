package scanner

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
)

// TestSweepAndPointReadsShareOnePack checks that a repository's packs are
// opened once, whoever reads them (issue 10): the history sweep's pack-order
// forests wrap the very packs the repository's point reads use, a point
// read through the repository caches its delta bases against those packs,
// and (on Linux) the process maps each pack file exactly once.
func TestSweepAndPointReadsShareOnePack(t *testing.T) {
	t.Parallel()
	r := newTestRepo(t)
	creds := newCreds(61)
	body := strings.Repeat("int main(void) { return 0; }\n", 200)
	for i := range 8 {
		content := body + "// version " + strconv.Itoa(i) + "\n"
		if i == 5 {
			content += creds.ini()
		}
		r.write("main.c", content)
		r.commit("c" + strconv.Itoa(i))
	}
	r.git("gc", "-q")
	// A second pack, as a fetch leaves one.
	r.write("main.c", body+"// later\n")
	r.commit("later")
	r.git("repack", "-q")
	files, _ := filepath.Glob(filepath.Join(r.dir, ".git", "objects", "pack", "*.pack"))
	if len(files) != 2 {
		t.Fatalf("packs on disk: %q, want 2", files)
	}

	e := New(Options{})
	s, h, err := e.sweepHistory(context.Background(), r.dir, HistoryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.blobFinds) == 0 {
		t.Fatal("the sweep found nothing; the test repository is wrong")
	}
	if n := s.fallbacks.Load(); n != 0 {
		t.Errorf("%d object(s) read through the fallback", n)
	}
	ss, ok := h.repo.Storer.(scanStorage)
	if !ok {
		t.Fatalf("repository storage is %T, not the scanner's", h.repo.Storer)
	}
	reader := ss.reader
	if reader != s.st.reader {
		t.Fatal("the sweep and the repository have different object readers")
	}
	if len(reader.packs) != len(files) || len(s.st.packs) != len(files) {
		t.Fatalf("%d packs on disk, %d opened by the repository, %d swept", len(files), len(reader.packs), len(s.st.packs))
	}
	for i, f := range s.st.packs {
		if f.pack != reader.packs[i] {
			t.Errorf("sweep's pack %d (%s) is not the repository's pack object", i, f.path)
		}
	}

	// A point read, as a range scan makes, of a blob stored as a delta:
	// its chain lands in the delta-base cache keyed by the swept packs.
	head, err := h.repo.Head()
	if err != nil {
		t.Fatal(err)
	}
	c, err := h.repo.CommitObject(head.Hash())
	if err != nil {
		t.Fatal(err)
	}
	old, err := h.repo.CommitObject(c.ParentHashes[0])
	if err != nil {
		t.Fatal(err)
	}
	blob, err := blobAt(h.repo, old.TreeHash, "main.c")
	if err != nil || blob == plumbing.ZeroHash {
		t.Fatalf("main.c in %s: %v", old.Hash, err)
	}
	if _, _, tooLarge, err := e.readBlob(h.repo, blob, "main.c"); err != nil || tooLarge {
		t.Fatalf("point read: %v (too large %v)", err, tooLarge)
	}
	swept := map[*pack]bool{}
	for _, f := range s.st.packs {
		swept[f.pack] = true
	}
	reader.mu.Lock()
	cached := len(reader.cache.byKey)
	for k := range reader.cache.byKey {
		if !swept[k.p] {
			t.Errorf("delta-base cache holds an object of a pack the sweep did not read (%s)", k.p.path)
		}
	}
	reader.mu.Unlock()
	if cached == 0 {
		t.Error("the point read cached nothing")
	}

	if runtime.GOOS == "linux" {
		for _, file := range files {
			real, err := filepath.EvalSymlinks(file)
			if err != nil {
				t.Fatal(err)
			}
			if n := mappings(t, real); n != 1 {
				t.Errorf("%s is mapped %d times, want once", filepath.Base(file), n)
			}
		}
	}
	runtime.KeepAlive(s)
	runtime.KeepAlive(h)
}

// mappings counts this process's memory mappings of the file at path.
func mappings(t *testing.T, path string) int {
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		t.Skipf("no /proc/self/maps: %v", err)
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.HasSuffix(sc.Text(), " "+path) {
			n++
		}
	}
	return n
}

// TestAlternatesReadOnce covers a clone made with --shared, whose history
// lives in another repository's packs (objects/info/alternates): the
// history sweep and the range scan both find a key stored only there, and
// the repository's one object reader opens those packs, so point reads
// serve them too rather than leaving them to go-git.
func TestAlternatesReadOnce(t *testing.T) {
	t.Parallel()
	origin := newTestRepo(t)
	creds := newCreds(62)
	origin.write("README", "hello\n")
	first := origin.commit("first")
	origin.write("deploy.ini", creds.ini())
	second := origin.commit("key")
	origin.git("gc", "-q")

	dir := filepath.Join(t.TempDir(), "shared")
	origin.git("clone", "-q", "--shared", origin.dir, dir)
	if _, err := os.Stat(filepath.Join(dir, ".git", "objects", "info", "alternates")); err != nil {
		t.Fatalf("clone --shared wrote no alternates: %v", err)
	}
	if packs, _ := filepath.Glob(filepath.Join(dir, ".git", "objects", "pack", "*.pack")); len(packs) != 0 {
		t.Fatalf("the shared clone has packs of its own: %q", packs)
	}

	r, err := OpenRepository(context.Background(), dir, OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.objects.dirs) != 2 || len(r.objects.packs) != 1 || len(r.objects.problems) != 0 {
		t.Fatalf("object reader: dirs %q, %d packs, problems %v", r.objects.dirs, len(r.objects.packs), r.objects.problems)
	}
	c, err := r.CommitObject(plumbing.NewHash(second))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := r.objects.read(c.TreeHash, maxInt64); err != nil {
		t.Errorf("point read of a tree in the alternate's pack: %v", err)
	}

	hist, err := New(Options{}).ScanHistory(context.Background(), dir, HistoryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(byKey(hist, creds.keyID)) != 1 || len(hist.Errors) != 0 {
		t.Errorf("history: %d findings for the key, errors %v, warnings %q", len(byKey(hist, creds.keyID)), hist.Errors, hist.Warnings)
	}
	rng, err := New(Options{}).ScanRange(context.Background(), dir, first+".."+second)
	if err != nil {
		t.Fatal(err)
	}
	if len(byKey(rng, creds.keyID)) != 1 {
		t.Errorf("range: %d findings for the key, warnings %q", len(byKey(rng, creds.keyID)), rng.Warnings)
	}
}

// TestPackFindMatchesIndex checks the lookup of every object of a pack
// against git's own listing of its index (git show-index), and that names
// next to each one's, absent from the pack, are not found: interpolating
// from a name's value must land where halving the range would.
func TestPackFindMatchesIndex(t *testing.T) {
	r := newTestRepo(t)
	var script strings.Builder
	script.WriteString("commit refs/heads/main\ncommitter C <c@example.com> 1700000000 +0000\ndata 1\nx\n")
	for i := range 3000 {
		content := fmt.Sprintf("file %d\n", i)
		fmt.Fprintf(&script, "M 100644 inline f%04d\ndata %d\n%s\n", i, len(content), content)
	}
	cmd := exec.Command("git", "fast-import", "--quiet")
	cmd.Dir, cmd.Env, cmd.Stdin = r.dir, r.env(), strings.NewReader(script.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("fast-import: %v\n%s", err, out)
	}
	r.git("repack", "-adq")
	idxs, _ := filepath.Glob(filepath.Join(r.dir, ".git", "objects", "pack", "*.idx"))
	if len(idxs) != 1 {
		t.Fatalf("%d pack indexes, want 1", len(idxs))
	}
	p, err := openPack(strings.TrimSuffix(idxs[0], ".idx") + ".pack")
	if err != nil {
		t.Fatal(err)
	}
	idx, err := os.Open(idxs[0])
	if err != nil {
		t.Fatal(err)
	}
	defer idx.Close()
	show := exec.Command("git", "show-index")
	show.Stdin = idx
	out, err := show.Output()
	if err != nil {
		t.Fatal(err)
	}
	want := map[plumbing.Hash]int64{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var off int64
		var name string
		if _, err := fmt.Sscanf(line, "%d %s", &off, &name); err != nil {
			t.Fatalf("show-index line %q: %v", line, err)
		}
		want[plumbing.NewHash(name)] = off
	}
	if len(want) < 3000 {
		t.Fatalf("pack holds %d objects, want over 3000", len(want))
	}
	for h, off := range want {
		if got, ok := p.find(h); !ok || got != off {
			t.Fatalf("find(%s) = %d, %v; want %d", h, got, ok, off)
		}
		for _, i := range []int{1, 8, 19} {
			for _, d := range []byte{1, 0xff} {
				near := h
				near[i] += d
				if _, in := want[near]; in {
					continue
				}
				if got, ok := p.find(near); ok {
					t.Fatalf("find(%s), not in the pack, = %d", near, got)
				}
			}
		}
	}
}
