package scanner

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/keyward/keyward/scanner/config"
)

// TestSuppressionsEverySource holds Engine.Run's one suppression pipeline
// to every source: a custom rule scoped to deploy/** reports its token
// there and nowhere else, an allowlist path moves an AWS key under
// vendor/ to Suppressed, and a baseline entry accepts a known key, for
// files on disk, the index, a range, a history sweep and a gate's own
// source (the commits of a push). Before issue 10 only callers that ran
// Filter.Apply themselves got the path scope. Not parallel: it changes
// the working directory to name files relative to it.
func TestSuppressionsEverySource(t *testing.T) {
	cfg, err := config.ParseConfig([]byte(`
[[rules]]
id = "internal-token"
regex = 'ktok_[a-z0-9]{20}'
keywords = ["ktok_"]
paths = ["deploy/**"]

[[allowlist]]
description = "vendored fixtures"
paths = ["vendor/**"]
`), ".keyward.toml")
	if err != nil {
		t.Fatal(err)
	}
	r := newTestRepo(t)
	r.write("README", "x\n")
	base := r.commit("initial")
	inScope, outScope := "ktok_q7m2x9c4v1b8n5k3j6h0", "ktok_z1y2x3w4v5u6t7s8r9p0"
	vendored, known, fresh := newCreds(71), newCreds(72), newCreds(73)
	r.write("deploy/app.env", "TOKEN="+inScope+"\n")
	r.write("docs/notes.txt", "TOKEN="+outScope+"\n")
	r.write("vendor/lib/creds.ini", vendored.ini())
	r.write("old/known.ini", known.ini())
	r.write("new/fresh.ini", fresh.ini())
	r.git("add", "-A")

	// The baseline accepts the known key at its path, built the way
	// 'keyward baseline create' builds it.
	bres, err := New(Options{}).Run(context.Background(), Paths{filepath.Join(r.dir, "old")})
	if err != nil {
		t.Fatal(err)
	}
	b := NewBaseline(time.Now())
	for i := range bres.Findings {
		b.Add([]BaselineEntry{EntryFor(&bres.Findings[i], Paths(nil).RelTo(r.dir))})
	}
	if len(b.Entries) == 0 {
		t.Fatal("baseline: no entries")
	}

	opts := Options{Root: r.dir, Baseline: b, BaselineDetail: ".keyward-baseline.json"}
	opts.Configure(cfg)
	check := func(name string, res *Result) {
		t.Helper()
		var scoped, outside, fresher int
		for _, f := range res.Findings {
			switch {
			case f.RuleID == "internal-token" && f.Secret.Reveal() == inScope:
				scoped++
			case f.RuleID == "internal-token":
				outside++
			case f.KeyID == fresh.keyID:
				fresher++
			case f.KeyID == vendored.keyID || f.KeyID == known.keyID:
				t.Errorf("%s: %s at %s not suppressed", name, f.KeyID, f.Path)
			}
		}
		if scoped == 0 || outside != 0 || fresher == 0 {
			t.Errorf("%s: %d in scope (want >0), %d outside deploy/ (want 0), fresh key found %d times", name, scoped, outside, fresher)
		}
		why := map[string]SuppressReason{}
		for _, f := range res.Suppressed {
			why[f.KeyID] = f.Suppressed.Reason
		}
		if why[vendored.keyID] != SuppressAllowlist || why[known.keyID] != SuppressBaseline {
			t.Errorf("%s: suppressed %v, want vendored by allowlist and known by baseline", name, why)
		}
	}
	run := func(name string, src Source) {
		t.Helper()
		res, err := New(opts).Run(context.Background(), src)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		check(name, res)
	}

	// Files named relative to the working directory and absolute: the
	// scope and baseline paths are relative to Root either way.
	t.Chdir(filepath.Dir(r.dir))
	run("paths", Paths{filepath.Base(r.dir)})
	run("paths absolute", Paths{r.dir})
	run("staged", Staged{Dir: r.dir})
	r.commit("add files")
	run("range", Range{Dir: r.dir, Spec: base + "..HEAD"})
	run("history", History{Dir: r.dir})
	run("gate", SourceFunc(func(ctx context.Context, e *Engine) (*Result, error) {
		res, _, err := e.ScanCommits(ctx, r.dir, []string{"HEAD"}, []string{base}, CommitsOptions{})
		return res, err
	}))
}
