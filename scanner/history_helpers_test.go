package scanner

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyward/keyward/patterns/patternstest"
)

// testRepo is a real git repository in a temporary directory, driven by the
// git binary, with deterministic identities and dates so commit hashes are
// stable across runs.
type testRepo struct {
	t    testing.TB
	dir  string
	home string
	tick int
}

func newTestRepo(t testing.TB) *testRepo {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	r := &testRepo{t: t, dir: filepath.Join(t.TempDir(), "repo"), home: t.TempDir()}
	if err := os.MkdirAll(r.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	r.git("init", "-q", "-b", "main")
	return r
}

func (r *testRepo) env() []string {
	date := fmt.Sprintf("@%d +0000", 1700000000+r.tick*60)
	return append(os.Environ(),
		"HOME="+r.home,
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_AUTHOR_NAME=Test Author",
		"GIT_AUTHOR_EMAIL=author@example.com",
		"GIT_COMMITTER_NAME=Test Committer",
		"GIT_COMMITTER_EMAIL=committer@example.com",
		"GIT_AUTHOR_DATE="+date,
		"GIT_COMMITTER_DATE="+date,
	)
}

// git runs git in the repository and returns its trimmed output.
func (r *testRepo) git(args ...string) string {
	r.t.Helper()
	return r.gitIn(r.dir, args...)
}

func (r *testRepo) gitIn(dir string, args ...string) string {
	r.t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = r.env()
	out, err := cmd.CombinedOutput()
	if err != nil {
		r.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

func (r *testRepo) write(path, content string) {
	r.t.Helper()
	p := filepath.Join(r.dir, path)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		r.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		r.t.Fatal(err)
	}
}

func (r *testRepo) remove(path string) {
	r.t.Helper()
	if err := os.Remove(filepath.Join(r.dir, path)); err != nil {
		r.t.Fatal(err)
	}
}

// commit stages everything and commits it, returning the commit's hash.
func (r *testRepo) commit(msg string) string {
	r.t.Helper()
	r.tick++
	r.git("add", "-A")
	r.git("commit", "-q", "--allow-empty", "-m", msg)
	return r.git("rev-parse", "HEAD")
}

// scan runs a history sweep and fails the test on error.
func (r *testRepo) scan(opts HistoryOptions) *Result {
	r.t.Helper()
	res, err := New(Options{}).ScanHistory(context.Background(), r.dir, opts)
	if err != nil {
		r.t.Fatalf("ScanHistory: %v", err)
	}
	return res
}

// fakeCreds is an ini profile with a fresh fake key pair.
type fakeCreds struct {
	keyID, secret string
}

func newCreds(seed uint64) fakeCreds {
	g := patternstest.New(seed)
	return fakeCreds{keyID: g.KeyID("AKIA", patternstest.DefaultAccount), secret: g.Secret()}
}

func (c fakeCreds) ini() string {
	return "[default]\naws_access_key_id = " + c.keyID + "\naws_secret_access_key = " + c.secret + "\n"
}

// byKey returns the findings for key ID id.
func byKey(res *Result, id string) []Finding {
	var out []Finding
	for _, f := range res.Findings {
		if f.KeyID == id {
			out = append(out, f)
		}
	}
	return out
}

// one asserts there is exactly one finding for id and returns it.
func one(t *testing.T, res *Result, id string) Finding {
	t.Helper()
	fs := byKey(res, id)
	if len(fs) != 1 {
		t.Fatalf("got %d findings for the key, want 1: %+v (warnings %q)", len(fs), fs, res.Warnings)
	}
	return fs[0]
}
