package main

import (
	"os"
	"strings"
	"testing"
)

func TestDetectCI(t *testing.T) {
	a, b := strings.Repeat("1", 40), strings.Repeat("2", 40)
	files := map[string]string{
		"push.json":      `{"before":"` + a + `","after":"` + b + `","ref":"refs/heads/feat","commits":[{}],"repository":{"default_branch":"main"}}`,
		"newbr.json":     `{"before":"` + zeroSHA + `","after":"` + b + `","ref":"refs/heads/feat","created":true,"commits":[{}],"repository":{"default_branch":"main"}}`,
		"forcemain.json": `{"before":"` + a + `","after":"` + b + `","ref":"refs/heads/main","forced":true,"commits":[{}],"repository":{"default_branch":"main"}}`,
		"newmain.json":   `{"before":"` + zeroSHA + `","after":"` + b + `","ref":"refs/heads/main","created":true,"repository":{"default_branch":"main"}}`,
		"tag.json":       `{"before":"` + zeroSHA + `","after":"` + b + `","ref":"refs/tags/v1","created":true,"repository":{"default_branch":"main"}}`,
		"deleted.json":   `{"before":"` + a + `","after":"` + zeroSHA + `","ref":"refs/heads/feat","deleted":true}`,
		"nodefault.json": `{"before":"` + zeroSHA + `","after":"` + b + `","ref":"refs/heads/feat"}`,
		"pr.json":        `{"pull_request":{"commits":2,"head":{"sha":"` + b + `"},"base":{"ref":"main"}}}`,
		"mg.json":        `{"merge_group":{"base_sha":"` + a + `","head_sha":"` + b + `","base_ref":"refs/heads/main"}}`,
		"bad.json":       `{`,
	}
	read := func(p string) ([]byte, error) {
		if s, ok := files[p]; ok {
			return []byte(s), nil
		}
		return nil, os.ErrNotExist
	}
	gh := func(event, path string, more ...string) map[string]string {
		m := map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_EVENT_NAME": event, "GITHUB_EVENT_PATH": path}
		for i := 0; i+1 < len(more); i += 2 {
			m[more[i]] = more[i+1]
		}
		return m
	}
	gl := func(kv ...string) map[string]string {
		m := map[string]string{"GITLAB_CI": "true", "CI_DEFAULT_BRANCH": "main"}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name          string
		env           map[string]string
		include       string
		exclude       string
		fallback      string
		history       bool
		nothing       bool
		expect        bool
		wantErr       bool
		emptyFallback bool
	}{
		{name: "github pr", env: gh("pull_request", "pr.json"), include: b, exclude: "refs/remotes/origin/main", expect: true},
		{name: "github pr no payload", env: gh("pull_request", "", "GITHUB_BASE_REF", "dev"), include: "HEAD", exclude: "refs/remotes/origin/dev"},
		{name: "github pr target", env: gh("pull_request_target", "pr.json"), include: b, exclude: "refs/remotes/origin/main", expect: true},
		{name: "github pr target no payload", env: gh("pull_request_target", "", "GITHUB_BASE_REF", "dev"), wantErr: true},
		{name: "github merge group", env: gh("merge_group", "mg.json"), include: b, exclude: a, expect: true},
		{name: "github push", env: gh("push", "push.json"), include: b, exclude: a, fallback: "refs/remotes/origin/main", expect: true},
		{name: "github new branch", env: gh("push", "newbr.json"), include: b, exclude: "refs/remotes/origin/main", expect: true},
		{name: "github force push to default branch", env: gh("push", "forcemain.json"), include: b, exclude: a, expect: true, emptyFallback: true},
		{name: "github new default branch", env: gh("push", "newmain.json"), include: b, exclude: ""},
		{name: "github tag", env: gh("push", "tag.json"), include: b, exclude: "refs/remotes/origin/main"},
		{name: "github deleted", env: gh("push", "deleted.json"), nothing: true},
		{name: "github no default branch", env: gh("push", "nodefault.json"), wantErr: true},
		{name: "github bad event", env: gh("push", "bad.json"), wantErr: true},
		{name: "github missing event", env: gh("push", "nope.json"), wantErr: true},
		{name: "github schedule", env: gh("schedule", ""), history: true},
		{name: "github dispatch default", env: gh("workflow_dispatch", "", "GITHUB_REF", "refs/heads/main", "GITHUB_SHA", b, "KEYWARD_X", ""), history: true},
		{name: "github unknown event", env: gh("release", ""), wantErr: true},
		{name: "gitlab mr", env: gl("CI_PIPELINE_SOURCE", "merge_request_event", "CI_MERGE_REQUEST_DIFF_BASE_SHA", a, "CI_COMMIT_SHA", b, "CI_MERGE_REQUEST_IID", "7"), include: b, exclude: a, expect: true},
		{name: "gitlab push", env: gl("CI_COMMIT_BEFORE_SHA", a, "CI_COMMIT_SHA", b, "CI_COMMIT_BRANCH", "feat"), include: b, exclude: a, fallback: "refs/remotes/origin/main", expect: true},
		{name: "gitlab new branch", env: gl("CI_COMMIT_BEFORE_SHA", zeroSHA, "CI_COMMIT_SHA", b, "CI_COMMIT_BRANCH", "feat"), include: b, exclude: "refs/remotes/origin/main"},
		{name: "gitlab tag", env: gl("CI_COMMIT_BEFORE_SHA", zeroSHA, "CI_COMMIT_SHA", b, "CI_COMMIT_TAG", "v1"), include: b, exclude: "refs/remotes/origin/main"},
		{name: "gitlab schedule", env: gl("CI_PIPELINE_SOURCE", "schedule"), history: true},
		{name: "gitlab no sha", env: gl(), wantErr: true},
		{name: "plain git", env: map[string]string{}, include: "HEAD", exclude: "@{upstream}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := detectCI(func(k string) string { return tt.env[k] }, read, "")
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if p.history != tt.history || (p.nothing != "") != tt.nothing || p.expect != tt.expect {
				t.Fatalf("plan %+v: history %v nothing %v expect %v", p, tt.history, tt.nothing, tt.expect)
			}
			if tt.history || tt.nothing {
				return
			}
			if got := strings.Join(p.include, " "); got != tt.include {
				t.Errorf("include = %q, want %q", got, tt.include)
			}
			if got := strings.Join(p.exclude, " "); got != tt.exclude {
				t.Errorf("exclude = %q, want %q", got, tt.exclude)
			}
			if tt.emptyFallback && (p.fallback == nil || len(p.fallback) != 0) {
				t.Errorf("fallback = %#v, want an empty, non-nil list (the whole history)", p.fallback)
			}
			if got := strings.Join(p.fallback, " "); got != tt.fallback {
				t.Errorf("fallback = %q, want %q", got, tt.fallback)
			}
			if p.reason == "" || p.fix == "" {
				t.Errorf("plan %+v lacks a reason or a fix", p)
			}
		})
	}
}

// TestGitLabMergeRequestLabel: the IID is shown only when GitLab set it.
func TestGitLabMergeRequestLabel(t *testing.T) {
	env := map[string]string{"GITLAB_CI": "true", "CI_PIPELINE_SOURCE": "merge_request_event", "CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main", "CI_MERGE_REQUEST_DIFF_BASE_SHA": "abc"}
	p, err := detectCI(func(k string) string { return env[k] }, nil, "")
	if err != nil || p.reason != "GitLab merge request into main" {
		t.Fatalf("reason %q, err %v", p.reason, err)
	}
	env["CI_MERGE_REQUEST_IID"] = "42"
	p, _ = detectCI(func(k string) string { return env[k] }, nil, "")
	if p.reason != "GitLab merge request !42 into main" {
		t.Fatalf("reason %q", p.reason)
	}
}
