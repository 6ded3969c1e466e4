package fleet

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyward/keyward/patterns/patternstest"
)

func TestShardsCoverTheListExactlyOnce(t *testing.T) {
	var repos []Repo
	for i := 0; i < 1000; i++ {
		r, err := NewRepo(fmt.Sprintf("https://git.example.com/group%d/repo-%d.git", i%7, i))
		if err != nil {
			t.Fatal(err)
		}
		repos = append(repos, r)
	}
	for n := 1; n <= 8; n++ {
		seen := map[string]int{}
		for i := 0; i < n; i++ {
			part, err := Shard(repos, n, i)
			if err != nil {
				t.Fatal(err)
			}
			if n == 4 && (len(part) < 150 || len(part) > 350) {
				t.Errorf("shard %d of 4 has %d of 1000 repositories", i, len(part))
			}
			for _, r := range part {
				seen[r.Key]++
			}
		}
		if len(seen) != len(repos) {
			t.Fatalf("%d shards cover %d of %d repositories", n, len(seen), len(repos))
		}
		for k, c := range seen {
			if c != 1 {
				t.Fatalf("%d shards: %s in %d shards", n, k, c)
			}
		}
	}
	// A repository's shard does not depend on the rest of the list.
	before := ShardOf(repos[500], 4)
	if after := ShardOf(repos[500], 4); after != before {
		t.Fatal("shard moved")
	}
	part, _ := Shard(repos[490:510], 4, before)
	found := false
	for _, r := range part {
		found = found || r.Key == repos[500].Key
	}
	if !found {
		t.Fatal("repository changed shard when the list shrank")
	}
	for _, bad := range [][2]int{{0, 0}, {4, 4}, {4, -1}, {MaxShards + 1, 0}} {
		if _, err := Shard(repos, bad[0], bad[1]); err == nil {
			t.Errorf("Shard(n=%d, i=%d) succeeded", bad[0], bad[1])
		}
	}
}

func TestNormalize(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"https://GitHub.com/acme/api.git", "github.com/acme/api"},
		{"https://github.com/acme/api/", "github.com/acme/api"},
		{"ssh://git@github.com/acme/api.git", "github.com/acme/api"},
		{"git@github.com:acme/api.git", "github.com/acme/api"},
		{"https://user@gitlab.example.com:8443/g/sub/p.git", "gitlab.example.com/g/sub/p"},
		{"file:///srv/git/x.git/", "/srv/git/x"},
		{"/srv/git/x.git/", "/srv/git/x.git"},
	} {
		if got := Normalize(tc.in); got != tc.want {
			t.Errorf("Normalize(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestParseList(t *testing.T) {
	in := "# repositories\n\nhttps://github.com/acme/api.git\n  git@github.com:acme/api \nrelative/repo\n"
	repos, err := ParseList(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(repos) != 2 {
		t.Fatalf("got %d repositories, want 2 (one listed twice): %v", len(repos), repos)
	}
	if !filepath.IsAbs(repos[1].URL) {
		t.Errorf("relative path kept as %q", repos[1].URL)
	}
	if repos[0].ID() == repos[1].ID() || !strings.HasPrefix(repos[0].ID(), "api-") {
		t.Errorf("IDs %q, %q", repos[0].ID(), repos[1].ID())
	}
	for _, bad := range []string{"https://", "A000://", "git@host:", "https://github.com/"} {
		if _, err := ParseList(strings.NewReader(bad + "\n")); err == nil {
			t.Errorf("%q was accepted as a repository", bad)
		}
	}
	if _, err := ParseList(strings.NewReader(strings.Repeat("x", maxListLine+1))); err == nil {
		t.Error("an over-long line was accepted")
	}
}

func TestGitHubOrgPagesAndToken(t *testing.T) {
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/orgs/acme/repos" {
			http.NotFound(w, r)
			return
		}
		if got := r.Header.Get("Authorization"); got != "Bearer tok" {
			t.Errorf("Authorization %q", got)
		}
		if r.URL.Query().Get("page") == "" {
			w.Header().Set("Link", fmt.Sprintf(`<%s/orgs/acme/repos?page=2>; rel="next", <%s/orgs/acme/repos?page=2>; rel="last"`, srv.URL, srv.URL))
			fmt.Fprint(w, `[{"clone_url":"https://github.com/acme/a.git"},{"clone_url":"https://github.com/acme/b.git"}]`)
			return
		}
		fmt.Fprint(w, `[{"clone_url":"https://github.com/acme/c.git"},{"clone_url":"https://github.com/acme/a.git"}]`)
	}))
	defer srv.Close()
	c := &ForgeClient{BaseURL: srv.URL, Token: "tok"}
	repos, err := c.GitHubOrg(context.Background(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range repos {
		got = append(got, r.Key)
	}
	if want := "github.com/acme/a github.com/acme/b github.com/acme/c"; strings.Join(got, " ") != want {
		t.Errorf("got %v, want %s", got, want)
	}
	if _, err := c.GitHubOrg(context.Background(), "nobody"); err == nil || strings.Contains(err.Error(), "tok") {
		t.Errorf("unknown org: %v", err)
	}
}

func TestForgeNeverFollowsAnotherHost(t *testing.T) {
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("request reached another host, Authorization %q", r.Header.Get("Authorization"))
	}))
	defer other.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "<"+other.URL+"/steal>; rel=\"next\"")
		fmt.Fprint(w, `[]`)
	}))
	defer srv.Close()
	c := &ForgeClient{BaseURL: srv.URL, Token: "tok"}
	if _, err := c.GitHubOrg(context.Background(), "acme"); err == nil {
		t.Fatal("followed a next link to another host")
	}
}

func TestGitLabGroupPagesAndToken(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.EscapedPath() != "/api/v4/groups/acme%2Fplatform/projects" {
			t.Errorf("path %s", r.URL.EscapedPath())
			http.NotFound(w, r)
			return
		}
		if got := r.Header.Get("PRIVATE-TOKEN"); got != "gl" {
			t.Errorf("PRIVATE-TOKEN %q", got)
		}
		if r.URL.Query().Get("include_subgroups") != "true" {
			t.Error("subgroups not included")
		}
		switch r.URL.Query().Get("page") {
		case "1":
			w.Header().Set("X-Next-Page", "2")
			fmt.Fprint(w, `[{"http_url_to_repo":"https://gitlab.example.com/acme/platform/x.git"}]`)
		case "2":
			w.Header().Set("X-Next-Page", "")
			fmt.Fprint(w, `[{"http_url_to_repo":"https://gitlab.example.com/acme/platform/sub/y.git"}]`)
		default:
			t.Errorf("page %q", r.URL.Query().Get("page"))
		}
	}))
	defer srv.Close()
	c := &ForgeClient{BaseURL: srv.URL + "/api/v4/", Token: "gl"}
	repos, err := c.GitLabGroup(context.Background(), "acme/platform")
	if err != nil {
		t.Fatal(err)
	}
	if len(repos) != 2 || repos[1].Key != "gitlab.example.com/acme/platform/sub/y" {
		t.Fatalf("got %v", repos)
	}
}

func TestForgeBadAnswers(t *testing.T) {
	for name, h := range map[string]http.HandlerFunc{
		"status":   func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no", http.StatusUnauthorized) },
		"not json": func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `<html>`) },
		"endless": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Next-Page", "1")
			fmt.Fprint(w, `[]`)
		},
	} {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(h)
			defer srv.Close()
			c := &ForgeClient{BaseURL: srv.URL, Token: "secret-token"}
			_, err := c.GitLabGroup(context.Background(), "g")
			if err == nil {
				t.Fatal("no error")
			}
			if strings.Contains(err.Error(), "secret-token") {
				t.Fatalf("token in error: %v", err)
			}
		})
	}
}

func TestStateSaveIsPrivateAndAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	st, err := LoadState(path)
	if err != nil || len(st.Repos) != 0 {
		t.Fatalf("missing state: %v, %v", st, err)
	}
	st.Repos["k"] = RepoState{URL: "u", Status: StatusSwept, Refs: "abc", Sweeps: 1}
	for i := 0; i < 2; i++ { // the second save replaces the first
		if err := st.Save(path); err != nil {
			t.Fatal(err)
		}
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", info.Mode().Perm())
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("left behind: %v", ents)
	}
	back, err := LoadState(path)
	if err != nil || back.Repos["k"].Refs != "abc" {
		t.Fatalf("reload: %+v, %v", back, err)
	}
	os.WriteFile(path, []byte(`{"version": 99}`), 0o600)
	if _, err := LoadState(path); err == nil {
		t.Error("a state of another version was read")
	}
	os.WriteFile(path, []byte(`{`), 0o600)
	if _, err := LoadState(path); err == nil {
		t.Error("a truncated state was read")
	}
}

func TestGroupPutsPairsFirst(t *testing.T) {
	places := []Place{
		{Repository: "r1", RuleID: "github-pat", SecretSHA256: "g", Fingerprint: "f1", Path: "a"},
		{Repository: "r2", RuleID: "aws-access-key-id", SecretSHA256: "k1", Fingerprint: "f2", Path: "b"},
		{Repository: "r1", RuleID: "aws-access-key-id", SecretSHA256: "k1", Fingerprint: "f3", Path: "c", Pair: true},
		{Repository: "r3", RuleID: "aws-access-key-id", SecretSHA256: "k2", Fingerprint: "f4", Path: "d", Pair: true, Canary: true},
		{Repository: "r3", RuleID: "aws-access-key-id", SecretSHA256: "k3", Fingerprint: "f5", Path: "e", Pair: true},
	}
	got := Group(places)
	var order []string
	for _, c := range got {
		order = append(order, fmt.Sprintf("%s/%d", c.SecretSHA256, len(c.Places)))
	}
	// k1 (a pair in two places) before k3 (a pair in one), the canary
	// pair after them, then the rest.
	if want := "k1/2 k3/1 k2/1 g/1"; strings.Join(order, " ") != want {
		t.Errorf("order %v, want %s", order, want)
	}
	if got[0].Places[0] != 2 || got[0].Places[1] != 1 {
		t.Errorf("places of k1 not in repository order: %v", got[0].Places)
	}
	dup := append(places, places[1])
	if keep := DedupePlaces(dup); len(keep) != len(places) {
		t.Errorf("kept %d of %d with one duplicate", len(keep), len(dup))
	}
}

// FuzzParseList: any list parses or fails cleanly, keys are unique, and
// shards partition what was parsed.
func FuzzParseList(f *testing.F) {
	for _, data := range patternstest.SeedFiles(f, filepath.Join("..", "..", "testdata", "fuzz", "sweeplist")) {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		repos, err := ParseList(strings.NewReader(string(data)))
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, r := range repos {
			if r.Key == "" || r.URL == "" || seen[r.Key] {
				t.Fatalf("bad or repeated repository %+v", r)
			}
			seen[r.Key] = true
		}
		total := 0
		for i := 0; i < 3; i++ {
			part, err := Shard(repos, 3, i)
			if err != nil {
				t.Fatal(err)
			}
			total += len(part)
		}
		if total != len(repos) {
			t.Fatalf("3 shards hold %d of %d", total, len(repos))
		}
	})
}

// TestStateJournalSurvivesACrash records repositories one line at a time,
// as a sweep does, and reads them back without a compaction, as after a
// kill; a line cut short is ignored.
func TestStateJournalSurvivesACrash(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	st, _ := LoadState(path)
	st.Config = "c1"
	if err := st.Compact(path); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"a", "b", "c"} {
		if err := st.Record(path, k, RepoState{URL: k, Status: StatusSwept, Refs: "r-" + k}); err != nil {
			t.Fatal(err)
		}
	}
	info, err := os.Stat(path + journalSuffix)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("journal: %v, %v", info, err)
	}
	f, _ := os.OpenFile(path+journalSuffix, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"config":"c1","key":"d","state":{"url":`) // the crash
	f.Close()
	back, err := LoadState(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(back.Repos) != 3 || back.Repos["b"].Refs != "r-b" {
		t.Fatalf("replayed %v", back.Repos)
	}
	if err := back.Compact(path); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path + journalSuffix); !os.IsNotExist(err) {
		t.Errorf("journal left after compaction: %v", err)
	}
	again, err := LoadState(path)
	if err != nil || len(again.Repos) != 3 {
		t.Fatalf("after compaction: %v, %v", again, err)
	}
	// A journal line from another configuration does not count.
	again.Config = "c2"
	again.Record(path, "e", RepoState{Status: StatusSwept})
	last, _ := LoadState(path)
	if _, ok := last.Repos["e"]; ok {
		t.Error("a line recorded under another config was replayed")
	}
}
