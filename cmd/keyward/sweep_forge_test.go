package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyward/keyward/scanner/fleet"
)

// bareRepos makes n bare repositories with one commit each.
func bareRepos(t *testing.T, n int) []string {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("GIT_CONFIG_NOSYSTEM", "1")
	t.Setenv("GIT_CONFIG_GLOBAL", os.DevNull)
	var out []string
	for i := 0; i < n; i++ {
		w := filepath.Join(dir, fmt.Sprintf("w%d", i))
		bare := filepath.Join(dir, fmt.Sprintf("r%d.git", i))
		for _, args := range [][]string{
			{"init", "-q", w},
			{"-C", w, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "--allow-empty", "-m", "one"},
			{"clone", "-q", "--bare", w, bare},
		} {
			if b, err := exec.Command("git", args...).CombinedOutput(); err != nil {
				t.Fatalf("git %v: %v\n%s", args, err, b)
			}
		}
		out = append(out, bare)
	}
	return out
}

// TestSweepForges lists repositories through a GitHub and a GitLab API
// served locally (GITHUB_API_URL and CI_API_V4_URL point at it, as
// Actions and GitLab CI set them) and sweeps them.
func TestSweepForges(t *testing.T) {
	repos := bareRepos(t, 3)
	var gotAuth []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var items []map[string]string
		switch r.URL.Path {
		case "/orgs/acme/repos":
			gotAuth = append(gotAuth, r.Header.Get("Authorization"))
			for _, p := range repos {
				items = append(items, map[string]string{"clone_url": p})
			}
		case "/api/v4/groups/acme/projects":
			gotAuth = append(gotAuth, r.Header.Get("PRIVATE-TOKEN"))
			for _, p := range repos[:2] {
				items = append(items, map[string]string{"http_url_to_repo": p})
			}
		default:
			http.NotFound(w, r)
			return
		}
		json.NewEncoder(w).Encode(items)
	}))
	defer srv.Close()
	t.Setenv("GITHUB_API_URL", srv.URL)
	t.Setenv("GITHUB_TOKEN", "ghtok")
	t.Setenv("CI_API_V4_URL", srv.URL+"/api/v4")
	t.Setenv("GITLAB_TOKEN", "gltok")

	for _, tc := range []struct {
		args  []string
		want  string
		token string
	}{
		{[]string{"--github-org", "acme"}, "repositories: 3: 3 swept", "Bearer ghtok"},
		{[]string{"--gitlab-group", "acme"}, "repositories: 2: 2 swept", "gltok"},
	} {
		var stdout, stderr bytes.Buffer
		args := append([]string{"sweep", "--cache-dir", t.TempDir()}, tc.args...)
		code := run(context.Background(), args, strings.NewReader(""), &stdout, &stderr)
		if code != exitClean {
			t.Fatalf("%v: exit %d\n%s", tc.args, code, stderr.String())
		}
		if !strings.Contains(stdout.String(), tc.want) {
			t.Errorf("%v: stdout %q, want %q", tc.args, stdout.String(), tc.want)
		}
		if strings.Contains(stdout.String()+stderr.String(), "tok") {
			t.Errorf("%v: a token was printed", tc.args)
		}
		if gotAuth[len(gotAuth)-1] != tc.token {
			t.Errorf("%v: sent %q", tc.args, gotAuth[len(gotAuth)-1])
		}
	}

	// An API that refuses is an error (exit 2), not an empty, clean sweep.
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"sweep", "--cache-dir", t.TempDir(), "--github-org", "nobody"}, strings.NewReader(""), &stdout, &stderr)
	if code != exitError || !strings.Contains(stderr.String(), "404") {
		t.Errorf("unknown org: exit %d, %s", code, stderr.String())
	}
}

func TestCloneAuthEnv(t *testing.T) {
	var repos []fleet.Repo
	for _, u := range []string{"https://github.com/a/x.git", "https://github.com/a/y.git", "git@github.com:a/z.git", "https://ghe.example.com/a/w.git"} {
		r, err := fleet.NewRepo(u)
		if err != nil {
			t.Fatal(err)
		}
		repos = append(repos, r)
	}
	env := cloneAuthEnv(repos, "tok", "x-access-token")
	want := []string{
		"GIT_CONFIG_COUNT=2",
		"GIT_CONFIG_KEY_0=http.https://github.com/.extraheader",
		"GIT_CONFIG_VALUE_0=Authorization: Basic eC1hY2Nlc3MtdG9rZW46dG9r",
		"GIT_CONFIG_KEY_1=http.https://ghe.example.com/.extraheader",
		"GIT_CONFIG_VALUE_1=Authorization: Basic eC1hY2Nlc3MtdG9rZW46dG9r",
	}
	if strings.Join(env, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(env, "\n"), strings.Join(want, "\n"))
	}
	if cloneAuthEnv(repos, "", "x") != nil {
		t.Error("no token should add nothing")
	}
}
