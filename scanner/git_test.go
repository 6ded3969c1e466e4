package scanner

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/patterns/patternstest"
)

// gitRepo is a real git repository in a temporary directory, driven by the
// git binary, so the scans are tested against what git itself writes.
type gitRepo struct {
	t    testing.TB
	dir  string
	home string
	// clock advances one minute per git command, so commit dates are
	// ordered as in real life and runs are reproducible.
	clock time.Time
}

// newGitRepo initialises an empty repository on branch main.
func newGitRepo(t testing.TB) *gitRepo {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	base := t.TempDir()
	r := &gitRepo{t: t, dir: filepath.Join(base, "repo"), home: base, clock: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)}
	if err := os.Mkdir(r.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	r.git("init", "-q", "-b", "main")
	r.git("config", "core.autocrlf", "false")
	return r
}

// gitIn runs git in dir and returns its trimmed standard output.
func (r *gitRepo) gitIn(dir string, args ...string) string {
	r.t.Helper()
	out, err := r.tryIn(dir, args...)
	if err != nil {
		r.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func (r *gitRepo) tryIn(dir string, args ...string) (string, error) {
	return r.run(dir, "", args...)
}

// feed runs git in the repository with input on its standard input.
func (r *gitRepo) feed(input string, args ...string) {
	r.t.Helper()
	if out, err := r.run(r.dir, input, args...); err != nil {
		r.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func (r *gitRepo) run(dir, input string, args ...string) (string, error) {
	r.clock = r.clock.Add(time.Minute)
	date := r.clock.Format(time.RFC3339)
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null", "HOME="+r.home,
		"GIT_AUTHOR_NAME=Test Author", "GIT_AUTHOR_EMAIL=author@example.com",
		"GIT_COMMITTER_NAME=Test Committer", "GIT_COMMITTER_EMAIL=committer@example.com",
		"GIT_AUTHOR_DATE="+date, "GIT_COMMITTER_DATE="+date,
		"GIT_EDITOR=true", "GIT_SEQUENCE_EDITOR=true", "LC_ALL=C",
	)
	cmd.Stdin = strings.NewReader(input)
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

func (r *gitRepo) git(args ...string) string {
	r.t.Helper()
	return r.gitIn(r.dir, args...)
}

func (r *gitRepo) try(args ...string) (string, error) { return r.tryIn(r.dir, args...) }

// write creates or replaces a file in the work tree.
func (r *gitRepo) write(name, content string) {
	r.t.Helper()
	p := filepath.Join(r.dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		r.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		r.t.Fatal(err)
	}
}

// commit stages everything and commits it, returning the commit's hash.
func (r *gitRepo) commit(msg string) string {
	r.t.Helper()
	r.git("add", "-A")
	r.git("commit", "-q", "--allow-empty", "-m", msg)
	return r.git("rev-parse", "HEAD")
}

// cred is one fake credential pair, never a committed literal.
type cred struct{ key, secret string }

// fakeCred returns a fresh pair; seeds keep failures reproducible.
func fakeCred(seed uint64) cred {
	g := patternstest.New(seed)
	return cred{key: g.KeyID("AKIA", patternstest.DefaultAccount), secret: g.Secret()}
}

// ini renders c as a credentials-file profile.
func (c cred) ini(profile string) string {
	return fmt.Sprintf("[%s]\naws_access_key_id = %s\naws_secret_access_key = %s\n", profile, c.key, c.secret)
}

// keyIDs lists the key IDs found, in order, for compact assertions.
func keyIDs(fs []Finding) []string {
	var ids []string
	for _, f := range fs {
		if f.KeyID != "" {
			ids = append(ids, f.KeyID)
		}
	}
	return ids
}

// wantKeys fails unless exactly the keys want were found.
func wantKeys(t *testing.T, res *Result, want ...string) {
	t.Helper()
	got := keyIDs(res.Findings)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("found key IDs %v, want %v (findings: %+v)", got, want, res.Findings)
	}
}

func TestLineSetKeepAdded(t *testing.T) {
	e := New(Options{})
	old, c2 := fakeCred(1), fakeCred(2)
	before := "x = 1\n" + old.ini("default")
	// The edit adds a line and a new profile; the old one stays.
	after := "x = 2\n" + old.ini("default") + c2.ini("other")
	set := newLineSet()
	set.add([]byte(before))
	fs := keepAdded([]byte(after), e.Scan([]byte(after), Provenance{Path: "f"}), set)
	if got := keyIDs(fs); len(got) != 1 || got[0] != c2.key {
		t.Fatalf("kept %v, want only the new key", got)
	}
	// CRLF versions of old lines are old.
	crlf := strings.ReplaceAll(before, "\n", "\r\n")
	if fs := keepAdded([]byte(crlf), e.Scan([]byte(crlf), Provenance{Path: "f"}), set); len(fs) != 0 {
		t.Fatalf("line-ending change reported %d findings", len(fs))
	}
}
