package scanner

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
)

// TestOpenRepositoryFindsWhatGitFinds opens repositories from several
// places and checks the git directory against git's own answer
// (git rev-parse --absolute-git-dir).
func TestOpenRepositoryFindsWhatGitFinds(t *testing.T) {
	t.Parallel()
	r := newTestRepo(t)
	r.write("sub/a.txt", "a\n")
	r.commit("first")
	bare := filepath.Join(r.dir, "nested.git") // a bare repository inside a worktree
	r.git("clone", "-q", "--bare", r.dir, bare)
	linked := filepath.Join(t.TempDir(), "linked")
	r.git("worktree", "add", "-q", linked)

	cases := []struct {
		name, dir, common string
	}{
		{"worktree root", r.dir, ""},
		{"worktree subdirectory", filepath.Join(r.dir, "sub"), ""},
		{"bare repository", bare, ""},
		{"inside a bare repository", filepath.Join(bare, "refs"), ""},
		{"linked worktree", linked, filepath.Join(r.dir, ".git")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cmd := exec.Command("git", "rev-parse", "--absolute-git-dir")
			cmd.Dir, cmd.Env = c.dir, r.env()
			out, err := cmd.Output()
			if err != nil {
				t.Fatal(err)
			}
			want := strings.TrimSpace(string(out))
			repo, err := OpenRepository(context.Background(), c.dir, OpenOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer repo.Close()
			if same(t, repo.GitDir) != same(t, want) {
				t.Errorf("GitDir %s, git says %s", repo.GitDir, want)
			}
			common := c.common
			if common == "" {
				common = want
			}
			if same(t, repo.CommonDir) != same(t, common) {
				t.Errorf("CommonDir %s, want %s", repo.CommonDir, common)
			}
			if _, err := repo.Head(); err != nil {
				t.Errorf("HEAD: %v", err)
			}

			// The working tree's top, which config loading reads
			// .keyward.toml from: git's --show-toplevel, none when bare.
			gitOut := func(args ...string) string {
				cmd := exec.Command("git", append([]string{"rev-parse"}, args...)...)
				cmd.Dir, cmd.Env = c.dir, r.env()
				out, err := cmd.Output()
				if err != nil {
					t.Fatalf("git rev-parse %v: %v", args, err)
				}
				return strings.TrimSpace(string(out))
			}
			wantTop := ""
			if gitOut("--is-bare-repository") == "false" {
				wantTop = gitOut("--show-toplevel")
			}
			loc, err := FindRepository(c.dir)
			if err != nil {
				t.Fatal(err)
			}
			if (loc.WorkTree == "") != (wantTop == "") || (wantTop != "" && same(t, loc.WorkTree) != same(t, wantTop)) {
				t.Errorf("WorkTree %q, git says %q", loc.WorkTree, wantTop)
			}
		})
	}

	t.Run("not a repository", func(t *testing.T) {
		_, err := OpenRepository(context.Background(), t.TempDir(), OpenOptions{})
		if !errors.Is(err, ErrNotRepository) {
			t.Errorf("err = %v, want ErrNotRepository", err)
		}
	})
}

// same resolves symbolic links, so paths compare as git prints them.
func same(t *testing.T, p string) string {
	t.Helper()
	r, err := filepath.EvalSymlinks(p)
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Clean(r)
}

// TestOpenRepositoryViaGitCloseEndsGit checks that a ViaGit repository
// reads an object its own store lacks through git (here one git finds in
// an object directory named only by the environment), and that Close ends
// the git process.
func TestOpenRepositoryViaGitCloseEndsGit(t *testing.T) {
	r := newTestRepo(t)
	r.write("a.txt", "a\n")
	r.commit("first")
	extra := filepath.Join(t.TempDir(), "objects")
	if err := os.MkdirAll(extra, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("git", "hash-object", "-w", "--stdin")
	cmd.Dir = r.dir
	cmd.Env = append(r.env(), "GIT_OBJECT_DIRECTORY="+extra, "GIT_ALTERNATE_OBJECT_DIRECTORIES="+filepath.Join(r.dir, ".git", "objects"))
	cmd.Stdin = strings.NewReader("only in the extra directory\n")
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	id := strings.TrimSpace(string(out))
	t.Setenv("GIT_ALTERNATE_OBJECT_DIRECTORIES", extra)

	plain, err := OpenRepository(context.Background(), r.dir, OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := plain.BlobObject(plumbing.NewHash(id)); err == nil {
		t.Fatal("go-git alone read an object outside the repository; the test proves nothing")
	}
	repo, err := OpenRepository(context.Background(), r.dir, OpenOptions{ViaGit: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := repo.BlobObject(plumbing.NewHash(id)); err != nil {
		t.Errorf("via git: %v", err)
	}
	g := repo.git
	repo.Close()
	if g.cmd.ProcessState == nil || !g.cmd.ProcessState.Exited() {
		t.Error("git cat-file still running after Close")
	}
}

// ObjectFormat reads what git reads: sha256 for a repository made with
// --object-format=sha256, from the repository and from a linked
// worktree's subdirectory, and sha1 for an ordinary one.
func TestObjectFormatMatchesGit(t *testing.T) {
	r := newGitRepo(t)
	r.write("a.txt", "a\n")
	r.commit("one")
	wt := filepath.Join(t.TempDir(), "wt")
	r.git("worktree", "add", "-q", wt)
	base := t.TempDir()
	sha := filepath.Join(base, "sha256")
	if _, err := r.tryIn(base, "init", "-q", "--object-format=sha256", sha); err != nil {
		t.Skip("this git cannot make SHA-256 repositories")
	}
	bare := filepath.Join(base, "bare256.git")
	r.gitIn(base, "init", "-q", "--bare", "--object-format=sha256", bare)
	if err := os.MkdirAll(filepath.Join(sha, "sub", "dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{r.dir, wt, sha, filepath.Join(sha, "sub", "dir"), bare} {
		want := r.gitIn(dir, "rev-parse", "--show-object-format")
		got, err := ObjectFormat(dir)
		if err != nil || got != want {
			t.Errorf("%s: %q, %v; git says %q", dir, got, err, want)
		}
	}
	if _, err := ObjectFormat(base); err == nil {
		t.Errorf("%s is no repository, yet ObjectFormat answered", base)
	}
}
