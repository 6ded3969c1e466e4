package scanner

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
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
