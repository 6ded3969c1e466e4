package main

import (
	"errors"
	"os"
	"strings"
	"testing"
)

func TestDetectCIRange(t *testing.T) {
	files := map[string]string{
		"push.json":    `{"before":"1111111111111111111111111111111111111111","after":"2222222222222222222222222222222222222222"}`,
		"newbr.json":   `{"before":"0000000000000000000000000000000000000000","after":"2222222222222222222222222222222222222222"}`,
		"deleted.json": `{"before":"1111111111111111111111111111111111111111","after":"0000000000000000000000000000000000000000"}`,
		"bad.json":     `{`,
	}
	read := func(p string) ([]byte, error) {
		if s, ok := files[p]; ok {
			return []byte(s), nil
		}
		return nil, os.ErrNotExist
	}
	tests := []struct {
		name    string
		env     map[string]string
		want    string
		wantErr bool
	}{
		{"github pr", map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_EVENT_NAME": "pull_request", "GITHUB_BASE_REF": "main"}, "origin/main...HEAD", false},
		{"github push", map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_EVENT_NAME": "push", "GITHUB_EVENT_PATH": "push.json"},
			"1111111111111111111111111111111111111111..2222222222222222222222222222222222222222", false},
		{"github new branch", map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_EVENT_NAME": "push", "GITHUB_EVENT_PATH": "newbr.json"},
			zeroSHA + "..2222222222222222222222222222222222222222", false},
		{"github branch deleted", map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_EVENT_NAME": "push", "GITHUB_EVENT_PATH": "deleted.json"}, "", true},
		{"github bad event", map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_EVENT_NAME": "push", "GITHUB_EVENT_PATH": "bad.json"}, "", true},
		{"github missing event", map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_EVENT_NAME": "push", "GITHUB_EVENT_PATH": "nope.json"}, "", true},
		{"github schedule", map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_EVENT_NAME": "schedule", "GITHUB_SHA": "abc"}, "abc", false},
		{"gitlab mr", map[string]string{"GITLAB_CI": "true", "CI_MERGE_REQUEST_DIFF_BASE_SHA": "base", "CI_MERGE_REQUEST_IID": "7"}, "base..HEAD", false},
		{"gitlab push", map[string]string{"GITLAB_CI": "true", "CI_COMMIT_BEFORE_SHA": "aaa", "CI_COMMIT_SHA": "bbb"}, "aaa..bbb", false},
		{"gitlab new branch", map[string]string{"GITLAB_CI": "true", "CI_COMMIT_BEFORE_SHA": zeroSHA, "CI_COMMIT_SHA": "bbb"}, zeroSHA + "..bbb", false},
		{"gitlab tag", map[string]string{"GITLAB_CI": "true", "CI_COMMIT_BEFORE_SHA": zeroSHA, "CI_COMMIT_SHA": "bbb", "CI_COMMIT_TAG": "v1"}, "bbb", false},
		{"gitlab no sha", map[string]string{"GITLAB_CI": "true"}, "", true},
		{"plain git", map[string]string{}, "@{upstream}..HEAD", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := detectCIRange(func(k string) string { return tt.env[k] }, read)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err != nil {
				if !errors.Is(err, errNoCIRange) && !strings.Contains(err.Error(), "GitHub event") {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			if got.spec != tt.want || got.reason == "" {
				t.Fatalf("got %q (%s), want %q", got.spec, got.reason, tt.want)
			}
		})
	}
}
