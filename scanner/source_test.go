package scanner

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/keyward/keyward/scanner/config"
)

// TestSources runs every Source through Engine.Run on one repository that
// holds a key in a committed, staged file: each finds it and says where.
func TestSources(t *testing.T) {
	t.Parallel()
	r := newTestRepo(t)
	c := newCreds(61)
	r.write("README", "x\n")
	base := r.commit("initial")
	r.write("app.env", c.ini())
	r.git("add", "app.env")
	for _, tc := range []struct {
		name string
		src  Source
		kind Kind
	}{
		{"staged", Staged{Dir: r.dir}, ""},
		{"paths", Paths{filepath.Join(r.dir, "app.env")}, ""},
		{"reader", Reader{R: strings.NewReader(c.ini()), Prov: Provenance{Path: "-", Kind: KindStdin}}, KindStdin},
	} {
		res, err := New(Options{}).Run(context.Background(), tc.src)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if f := one(t, res, c.keyID); f.Kind != tc.kind {
			t.Errorf("%s: kind %q", tc.name, f.Kind)
		}
	}
	intro := r.commit("add env")
	for _, tc := range []struct {
		name string
		src  Source
	}{
		{"range", Range{Dir: r.dir, Spec: base + "..HEAD"}},
		{"history", History{Dir: r.dir}},
	} {
		res, err := New(Options{}).Run(context.Background(), tc.src)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if f := one(t, res, c.keyID); f.Commit != intro || f.Path != "app.env" || res.Commits == 0 {
			t.Errorf("%s: commit %s path %s, %d commits", tc.name, f.Commit, f.Path, res.Commits)
		}
	}
}

// TestRangeProgress: a range reports progress in commits, one call per
// commit, counting up to the range's size.
func TestRangeProgress(t *testing.T) {
	t.Parallel()
	r := newTestRepo(t)
	r.write("a", "1\n")
	base := r.commit("one")
	for i := range 3 {
		r.write("a", strings.Repeat("x", i+2)+"\n")
		r.commit("more")
	}
	var got []RangeProgress
	_, err := New(Options{}).Run(context.Background(), Range{Dir: r.dir, Spec: base + "..HEAD", Progress: func(p RangeProgress) { got = append(got, p) }})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("%d progress calls, want 3", len(got))
	}
	for i, p := range got {
		if p.Commits != int64(i+1) || p.CommitsTotal != 3 {
			t.Errorf("call %d: %d of %d", i, p.Commits, p.CommitsTotal)
		}
	}
}

// contributedSource is a source written the way a new contributor would,
// in its own file, with nothing but Run's services: content scanned in
// parallel, a stream over the size limit, and what could not be read.
type contributedSource struct {
	items  map[string]string
	stream string
}

func (c contributedSource) Scan(ctx context.Context, run *Run) error {
	var wg sync.WaitGroup
	for name, text := range c.items {
		wg.Add(1)
		go func() {
			defer wg.Done()
			run.Content([]byte(text), Provenance{Path: name})
		}()
	}
	wg.Wait()
	run.Unreadable("gone.txt", errors.New("vanished"))
	run.Warn("one item was not listed")
	run.Skip(Skip{Path: "blob.bin", Reason: SkipTooLarge, Size: 1 << 30})
	run.Count(Counts{Commits: 2})
	return run.Read(ctx, strings.NewReader(c.stream), Provenance{Path: "stream.log", Kind: KindStdin})
}

// TestContributedSource: a source built on Run's services alone gets
// what every source gets from Engine.Run: findings sorted by path, counts,
// skips, errors and warnings kept, content over the limit streamed, and
// the project's suppressions (an allowlisted path) applied.
func TestContributedSource(t *testing.T) {
	t.Parallel()
	cfg, err := config.ParseConfig([]byte("[[allowlist]]\ndescription = \"fixtures\"\npaths = [\"fixtures/**\"]\n"), ".keyward.toml")
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{MaxFileSize: 4096}
	opts.Configure(cfg)
	keys := map[string]fakeCreds{}
	items := map[string]string{}
	for i, p := range []string{"z/last.ini", "a/first.ini", "m/mid.ini", "fixtures/ok.ini"} {
		c := newCreds(uint64(90 + i))
		keys[p], items[p] = c, c.ini()
	}
	late := newCreds(99)
	stream := strings.Repeat("filler line of a long log\n", 400) + late.ini() // past the 4 KiB limit
	res, err := New(opts).Run(context.Background(), contributedSource{items: items, stream: stream})
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, f := range res.Findings {
		paths = append(paths, f.Path)
	}
	if want := []string{"a/first.ini", "m/mid.ini", "stream.log", "z/last.ini"}; strings.Join(paths, " ") != strings.Join(want, " ") {
		t.Errorf("finding paths %q, want %q", paths, want)
	}
	if f := one(t, res, late.keyID); f.Kind != KindStdin || f.Line != 402 || f.Secret.Reveal() != late.secret {
		t.Errorf("streamed finding: kind %q line %d", f.Kind, f.Line)
	}
	if len(res.Suppressed) != 1 || res.Suppressed[0].KeyID != keys["fixtures/ok.ini"].keyID {
		t.Errorf("suppressed %+v, want the allowlisted fixture", res.Suppressed)
	}
	if res.Files != 5 || res.Commits != 2 || res.Bytes != int64(len(stream))+int64(4*len(late.ini())) {
		t.Errorf("counts: %d files, %d commits, %d bytes", res.Files, res.Commits, res.Bytes)
	}
	if len(res.Errors) != 1 || len(res.Warnings) != 1 || len(res.Skipped) != 1 || !res.Skipped[0].Incomplete() {
		t.Errorf("errors %v, warnings %q, skipped %+v", res.Errors, res.Warnings, res.Skipped)
	}
}
