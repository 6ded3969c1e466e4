package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// zeroSHA is what git and CI systems put where a commit does not exist yet:
// the "before" of a newly pushed branch.
const zeroSHA = "0000000000000000000000000000000000000000"

// ciRange is the commit range a CI run should gate, and why it was chosen,
// so the log says which commits were checked.
type ciRange struct {
	spec   string
	reason string
}

// errNoCIRange means the environment names no range and the checkout has
// no upstream to compare with.
var errNoCIRange = errors.New("cannot tell which commits to scan")

// detectCIRange picks the range from the CI system's environment:
//
//   - GitHub Actions pull_request: the merge base with the base branch,
//     origin/BASE...HEAD (needs actions/checkout with fetch-depth: 0);
//   - GitHub Actions push: the event's before..after, or, for a new branch
//     (before is all zeros), what no remote-tracking ref has;
//   - GitLab CI merge request pipelines: CI_MERGE_REQUEST_DIFF_BASE_SHA..HEAD;
//   - GitLab CI branch pipelines: CI_COMMIT_BEFORE_SHA..CI_COMMIT_SHA, with
//     the same rule for a new branch;
//   - anywhere else: the upstream of the current branch, @{upstream}..HEAD,
//     which the caller resolves.
//
// readFile reads the GitHub event payload; getenv reads the environment.
func detectCIRange(getenv func(string) string, readFile func(string) ([]byte, error)) (ciRange, error) {
	switch {
	case getenv("GITHUB_ACTIONS") == "true":
		return githubRange(getenv, readFile)
	case getenv("GITLAB_CI") == "true":
		return gitlabRange(getenv)
	}
	return ciRange{spec: upstreamRange, reason: "commits on this branch that its upstream does not have"}, nil
}

// upstreamRange is the range outside a known CI system; the caller resolves
// @{upstream} with git.
const upstreamRange = "@{upstream}..HEAD"

func githubRange(getenv func(string) string, readFile func(string) ([]byte, error)) (ciRange, error) {
	event := getenv("GITHUB_EVENT_NAME")
	switch event {
	case "pull_request", "pull_request_target", "merge_group":
		if base := getenv("GITHUB_BASE_REF"); base != "" {
			return ciRange{spec: "origin/" + base + "...HEAD", reason: "GitHub pull request against " + base}, nil
		}
	case "push":
		path := getenv("GITHUB_EVENT_PATH")
		if path == "" {
			break
		}
		data, err := readFile(path)
		if err != nil {
			return ciRange{}, fmt.Errorf("read GitHub event: %w", err)
		}
		var ev struct {
			Before string `json:"before"`
			After  string `json:"after"`
		}
		if err := json.Unmarshal(data, &ev); err != nil {
			return ciRange{}, fmt.Errorf("read GitHub event %s: %w", path, err)
		}
		if ev.After == "" {
			ev.After = getenv("GITHUB_SHA")
		}
		if ev.After == "" || ev.After == zeroSHA {
			return ciRange{}, fmt.Errorf("%w: the push deleted the branch", errNoCIRange)
		}
		before := ev.Before
		if before == "" {
			before = zeroSHA
		}
		return ciRange{spec: before + ".." + ev.After, reason: "GitHub push " + shortCommit(before) + ".." + shortCommit(ev.After)}, nil
	}
	if sha := getenv("GITHUB_SHA"); sha != "" {
		return ciRange{spec: sha, reason: "GitHub " + event + " event: the checked-out commit"}, nil
	}
	return ciRange{}, fmt.Errorf("%w: GitHub event %q names no commits", errNoCIRange, event)
}

func gitlabRange(getenv func(string) string) (ciRange, error) {
	if base := getenv("CI_MERGE_REQUEST_DIFF_BASE_SHA"); base != "" {
		return ciRange{spec: base + "..HEAD", reason: "GitLab merge request !" + getenv("CI_MERGE_REQUEST_IID")}, nil
	}
	sha := getenv("CI_COMMIT_SHA")
	if sha == "" {
		return ciRange{}, fmt.Errorf("%w: CI_COMMIT_SHA is not set", errNoCIRange)
	}
	before := getenv("CI_COMMIT_BEFORE_SHA")
	if before == "" {
		before = zeroSHA
	}
	if before == zeroSHA && strings.TrimSpace(getenv("CI_COMMIT_TAG")) != "" {
		return ciRange{spec: sha, reason: "GitLab tag pipeline: the tagged commit"}, nil
	}
	return ciRange{spec: before + ".." + sha, reason: "GitLab push " + shortCommit(before) + ".." + shortCommit(sha)}, nil
}
