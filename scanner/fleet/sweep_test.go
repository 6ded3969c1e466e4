package fleet

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/keyward/keyward/scanner"
)

// makeRepos builds n bare repositories with one commit each.
func makeRepos(t *testing.T, n int) []Repo {
	t.Helper()
	dir := t.TempDir()
	git := func(args ...string) {
		cmd := exec.Command("git", args...)
		cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null", "HOME="+dir,
			"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	var repos []Repo
	for i := 0; i < n; i++ {
		w := filepath.Join(dir, fmt.Sprintf("w%d", i))
		git("init", "-q", w)
		os.WriteFile(filepath.Join(w, "f.txt"), []byte(fmt.Sprintf("file %d\n", i)), 0o644)
		git("-C", w, "add", ".")
		git("-C", w, "commit", "-qm", "one")
		r, err := NewRepo(w)
		if err != nil {
			t.Fatal(err)
		}
		repos = append(repos, r)
	}
	return repos
}

// TestSweeperResumesAfterACrash stops a sweep after two repositories, as
// a killed process would, and checks that the state on disk already holds
// them and a re-run sweeps only the rest.
func TestSweeperResumesAfterACrash(t *testing.T) {
	repos := makeRepos(t, 5)
	cache := t.TempDir()
	statePath := filepath.Join(cache, "state.json")
	newSweeper := func(report func(Outcome) (string, error)) *Sweeper {
		st, err := LoadState(statePath)
		if err != nil {
			t.Fatal(err)
		}
		return &Sweeper{Engine: scanner.New(scanner.Options{}), Git: &Git{}, CacheDir: cache, Jobs: 1,
			State: st, StatePath: statePath, Config: "c1", Report: report}
	}
	reportFile := func(o Outcome) (string, error) {
		p := filepath.Join(cache, o.Repo.ID()+".json")
		return p, os.WriteFile(p, []byte("{}"), 0o600)
	}

	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	s := newSweeper(func(o Outcome) (string, error) {
		n++
		if n == 2 {
			cancel() // the process dies after its second repository
		}
		return reportFile(o)
	})
	if _, err := s.Run(ctx, repos); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run: %v", err)
	}
	st, err := LoadState(statePath)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Repos) != 2 {
		t.Fatalf("state after the crash holds %d repositories, want 2", len(st.Repos))
	}

	swept := 0
	s = newSweeper(func(o Outcome) (string, error) { swept++; return reportFile(o) })
	outs, err := s.Run(context.Background(), repos)
	if err != nil {
		t.Fatal(err)
	}
	unchanged := 0
	for _, o := range outs {
		if o.Status == StatusUnchanged {
			unchanged++
		}
	}
	if swept != 3 || unchanged != 2 {
		t.Fatalf("re-run swept %d and skipped %d, want 3 and 2", swept, unchanged)
	}

	// Other rules: everything is swept again.
	swept = 0
	s = newSweeper(func(o Outcome) (string, error) { swept++; return reportFile(o) })
	s.Config = "c2"
	if _, err := s.Run(context.Background(), repos); err != nil {
		t.Fatal(err)
	}
	if swept != 5 {
		t.Fatalf("with a new config %d swept, want 5", swept)
	}

	// A report that cannot be written stops the sweep with an error.
	s = newSweeper(func(o Outcome) (string, error) { return "", errors.New("disk full") })
	s.Config = "c3"
	if _, err := s.Run(context.Background(), repos); err == nil {
		t.Fatal("a failed report write was ignored")
	}
}
