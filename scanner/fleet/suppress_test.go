package fleet

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/keyward/keyward/scanner"
	"github.com/keyward/keyward/scanner/config"
)

// TestSweeperAppliesSuppressions: the many-repository sweep gets the
// engine's suppression pipeline too (Engine.Run): a custom rule scoped to
// deploy/** reports nothing in docs/, and an allowlisted path is withheld
// as suppressed, in the Result the report is written from.
func TestSweeperAppliesSuppressions(t *testing.T) {
	dir := t.TempDir()
	w := filepath.Join(dir, "w")
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null", "HOME="+dir,
			"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	git("init", "-q", w)
	for path, token := range map[string]string{
		"deploy/app.env": "ktok_q7m2x9c4v1b8n5k3j6h0",
		"docs/notes.txt": "ktok_z1y2x3w4v5u6t7s8r9p0",
		"vendor/fix.txt": "ktok_m3n4b5v6c7x8z9a1s2d3",
	} {
		p := filepath.Join(w, filepath.FromSlash(path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("TOKEN="+token+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	git("-C", w, "add", ".")
	git("-C", w, "commit", "-qm", "tokens")
	repo, err := NewRepo(w)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.ParseConfig([]byte(`
[[rules]]
id = "internal-token"
regex = 'ktok_[a-z0-9]{20}'
keywords = ["ktok_"]
paths = ["deploy/**", "vendor/**"]

[[allowlist]]
description = "vendored"
paths = ["vendor/**"]
`), ".keyward.toml")
	if err != nil {
		t.Fatal(err)
	}
	var opts scanner.Options
	opts.Configure(cfg)
	st, err := LoadState("")
	if err != nil {
		t.Fatal(err)
	}
	var got *scanner.Result
	s := &Sweeper{Engine: scanner.New(opts), Git: &Git{}, CacheDir: t.TempDir(), Jobs: 1, State: st, Config: "c",
		Report: func(o Outcome) (string, error) { got = o.Result; return "", nil }}
	if _, err := s.Run(context.Background(), []Repo{repo}); err != nil {
		t.Fatal(err)
	}
	if got == nil {
		t.Fatal("no result reported")
	}
	var paths []string
	for _, f := range got.Findings {
		paths = append(paths, f.Path)
	}
	if len(got.Findings) != 1 || got.Findings[0].Path != "deploy/app.env" {
		t.Errorf("findings at %v, want only deploy/app.env", paths)
	}
	if len(got.Suppressed) != 1 || got.Suppressed[0].Path != "vendor/fix.txt" {
		t.Errorf("suppressed %d, want vendor/fix.txt", len(got.Suppressed))
	}
}
