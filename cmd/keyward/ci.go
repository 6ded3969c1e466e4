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

// ciPlan is what a CI run must check, decided from the CI system's
// environment alone (no git yet), so every event kind can be unit-tested.
// cmd_ci.go resolves it against the clone.
//
// The rule behind every case (issue 9): the pushed commits are compared
// with what the project already accepted — the default branch, a
// configured base, or the push's own "before" when the clone has it —
// never with the pushed branch's own remote-tracking ref, which in CI
// already holds every pushed commit.
type ciPlan struct {
	// system and reason are for the log line that says what was checked.
	system, reason string
	// include are the revisions whose commits are checked, exclude the
	// ones whose commits are not (already accepted).
	include, exclude []string
	// fallback replaces exclude when one of it is not in the clone (a
	// force push's before is never fetched); empty means that is an error.
	fallback []string
	// fallbackWhy says why fallback was needed, for a warning.
	fallbackWhy string
	// history sweeps every ref instead (scheduled runs).
	history bool
	// nothing, when set, is why nothing needs checking (a deletion).
	nothing string
	// expect says the event reports new commits, so finding none in the
	// range means the clone cannot show them: exit 2, never 0.
	expect bool
	// before is the push's previous tip, if any: a push that only
	// rewinds the branch (after is an ancestor of before) brings nothing.
	before string
	// base is the revision the gate's configuration is read from.
	base string
	// fix is the hint when the clone lacks what the plan needs.
	fix string
}

// errNoCIRange means the environment names nothing to check and the
// checkout has no upstream to compare with.
var errNoCIRange = errors.New("cannot tell which commits to scan")

// Fixes for clones that lack history, per system.
const (
	githubFix = "check out with full history: actions/checkout with 'fetch-depth: 0'"
	gitlabFix = "fetch full history and the target branch: variables: {GIT_DEPTH: \"0\"}, and before_script: git fetch origin \"+refs/heads/$CI_DEFAULT_BRANCH:refs/remotes/origin/$CI_DEFAULT_BRANCH\""
	plainFix  = "fetch the branch to compare with (git fetch origin), or name it: keyward ci --base origin/main"
)

// detectCI plans the check from the environment. base is --base (or
// KEYWARD_BASE): the branch to compare pushes with instead of the default
// branch. readFile reads the GitHub event payload.
func detectCI(getenv func(string) string, readFile func(string) ([]byte, error), base string) (ciPlan, error) {
	switch {
	case getenv("GITHUB_ACTIONS") == "true":
		return githubPlan(getenv, readFile, base)
	case getenv("GITLAB_CI") == "true":
		return gitlabPlan(getenv, base)
	}
	p := ciPlan{system: "git", include: []string{"HEAD"}, fix: plainFix}
	if base != "" {
		p.exclude, p.base = []string{base}, base
		p.reason = "commits on this branch that " + base + " does not have"
		return p, nil
	}
	p.exclude, p.base = []string{"@{upstream}"}, "@{upstream}"
	p.reason = "commits on this branch that its upstream does not have"
	return p, nil
}

// githubEvent is the part of a GitHub Actions event payload the gate
// reads ($GITHUB_EVENT_PATH).
type githubEvent struct {
	Before     string            `json:"before"`
	After      string            `json:"after"`
	Ref        string            `json:"ref"`
	Created    bool              `json:"created"`
	Deleted    bool              `json:"deleted"`
	Forced     bool              `json:"forced"`
	Commits    []json.RawMessage `json:"commits"`
	Repository struct {
		DefaultBranch string `json:"default_branch"`
	} `json:"repository"`
	PullRequest *struct {
		Commits int `json:"commits"`
		Head    struct {
			SHA string `json:"sha"`
		} `json:"head"`
		Base struct {
			Ref string `json:"ref"`
			SHA string `json:"sha"`
		} `json:"base"`
	} `json:"pull_request"`
	MergeGroup *struct {
		BaseSHA string `json:"base_sha"`
		HeadSHA string `json:"head_sha"`
		BaseRef string `json:"base_ref"`
	} `json:"merge_group"`
}

func readGitHubEvent(getenv func(string) string, readFile func(string) ([]byte, error)) (githubEvent, error) {
	var ev githubEvent
	path := getenv("GITHUB_EVENT_PATH")
	if path == "" {
		return ev, nil
	}
	data, err := readFile(path)
	if err != nil {
		return ev, fmt.Errorf("read GitHub event: %w", err)
	}
	if err := json.Unmarshal(data, &ev); err != nil {
		return ev, fmt.Errorf("read GitHub event %s: %w", path, err)
	}
	return ev, nil
}

func githubPlan(getenv func(string) string, readFile func(string) ([]byte, error), base string) (ciPlan, error) {
	event := getenv("GITHUB_EVENT_NAME")
	ev, err := readGitHubEvent(getenv, readFile)
	if err != nil {
		return ciPlan{}, err
	}
	p := ciPlan{system: "GitHub Actions", fix: githubFix}
	defaultBranch := firstNonEmpty(base, ev.Repository.DefaultBranch)
	switch event {
	case "pull_request", "pull_request_target":
		target := getenv("GITHUB_BASE_REF")
		head := "HEAD"
		if pr := ev.PullRequest; pr != nil {
			target = firstNonEmpty(pr.Base.Ref, target)
			head = firstNonEmpty(pr.Head.SHA, head)
			p.expect = pr.Commits > 0
		}
		if target == "" {
			return ciPlan{}, fmt.Errorf("%w: GitHub %s event names no base branch (GITHUB_BASE_REF)", errNoCIRange, event)
		}
		if event == "pull_request_target" && head == "HEAD" {
			// pull_request_target checks out the base branch: HEAD would
			// be a check of nothing.
			return ciPlan{}, fmt.Errorf("%w: the pull_request_target event names no head commit (pull_request.head.sha)", errNoCIRange)
		}
		p.include, p.exclude, p.base = []string{head}, []string{remoteRef(target)}, remoteRef(target)
		p.reason = "GitHub pull request into " + target
		if event == "pull_request_target" {
			p.fix = githubFix + ", and 'ref: ${{ github.event.pull_request.head.sha }}' so the pull request's commits are in the clone"
		}
		return p, nil
	case "merge_group":
		mg := ev.MergeGroup
		if mg == nil || mg.BaseSHA == "" || mg.HeadSHA == "" {
			return ciPlan{}, fmt.Errorf("%w: the merge_group event has no base_sha and head_sha", errNoCIRange)
		}
		p.include, p.exclude, p.base, p.expect = []string{mg.HeadSHA}, []string{mg.BaseSHA}, mg.BaseSHA, true
		p.reason = "GitHub merge queue into " + strings.TrimPrefix(mg.BaseRef, "refs/heads/")
		return p, nil
	case "push":
		return githubPush(getenv, ev, defaultBranch)
	case "schedule":
		p.history, p.reason = true, "GitHub scheduled run: every branch, tag and unique blob"
		return p, nil
	case "workflow_dispatch":
		ref, sha := getenv("GITHUB_REF"), getenv("GITHUB_SHA")
		branch, isBranch := strings.CutPrefix(ref, "refs/heads/")
		if sha == "" || defaultBranch == "" || (isBranch && branch == defaultBranch) || !isBranch {
			p.history, p.reason = true, "GitHub manual run: every branch, tag and unique blob"
			return p, nil
		}
		p.include, p.exclude, p.base = []string{sha}, []string{remoteRef(defaultBranch)}, remoteRef(defaultBranch)
		p.reason = "GitHub manual run on " + branch + ": its commits that " + defaultBranch + " does not have"
		return p, nil
	}
	return ciPlan{}, usagef("run 'keyward scan --history' for a full sweep, or 'keyward scan --range BASE..HEAD'",
		"keyward ci does not know the GitHub %q event; it handles push, pull_request, pull_request_target, merge_group, workflow_dispatch and schedule", event)
}

func githubPush(getenv func(string) string, ev githubEvent, defaultBranch string) (ciPlan, error) {
	p := ciPlan{system: "GitHub Actions", fix: githubFix}
	ref := firstNonEmpty(ev.Ref, getenv("GITHUB_REF"))
	after := firstNonEmpty(ev.After, getenv("GITHUB_SHA"))
	if ev.Deleted || isZeroOID(after) {
		p.nothing = "the push deleted " + ref + ": no commits arrive"
		return p, nil
	}
	if after == "" {
		return ciPlan{}, fmt.Errorf("%w: the push event names no commit (after, GITHUB_SHA)", errNoCIRange)
	}
	p.include, p.expect = []string{after}, len(ev.Commits) > 0
	branch, isBranch := strings.CutPrefix(ref, "refs/heads/")
	onDefault := isBranch && branch == defaultBranch
	accepted, acceptedWhy, err := acceptedBase(onDefault, defaultBranch, "the push event does not name the repository's default branch")
	if err != nil {
		return ciPlan{}, err
	}
	before := ev.Before
	if before == "" || isZeroOID(before) || ev.Created {
		p.exclude = accepted
		p.reason = "GitHub push of new " + refKind(ref) + " " + shortRef(ref) + ": " + acceptedWhy
	} else {
		p.exclude, p.before = []string{before}, before
		p.fallback = accepted
		p.fallbackWhy = "the push's before commit " + shortCommit(before) + " is not in this clone (a force push, or a shallow clone); checking " + acceptedWhy + " instead"
		p.reason = "GitHub push " + shortCommit(before) + ".." + shortCommit(after)
	}
	if len(p.exclude) > 0 {
		p.base = p.exclude[0]
	}
	return p, nil
}

func gitlabPlan(getenv func(string) string, base string) (ciPlan, error) {
	p := ciPlan{system: "GitLab CI", fix: gitlabFix}
	sha := getenv("CI_COMMIT_SHA")
	defaultBranch := firstNonEmpty(base, getenv("CI_DEFAULT_BRANCH"))
	source := getenv("CI_PIPELINE_SOURCE")
	if source == "schedule" {
		p.history, p.reason = true, "GitLab scheduled pipeline: every branch, tag and unique blob"
		return p, nil
	}
	if source == "merge_request_event" || getenv("CI_MERGE_REQUEST_DIFF_BASE_SHA") != "" {
		target := getenv("CI_MERGE_REQUEST_TARGET_BRANCH_NAME")
		label := "GitLab merge request"
		if iid := getenv("CI_MERGE_REQUEST_IID"); iid != "" {
			label += " !" + iid
		}
		if target != "" {
			label += " into " + target
		}
		baseRev := getenv("CI_MERGE_REQUEST_DIFF_BASE_SHA")
		if baseRev == "" && target != "" {
			baseRev = remoteRef(target)
		}
		if baseRev == "" {
			return ciPlan{}, fmt.Errorf("%w: the merge request pipeline names no base (CI_MERGE_REQUEST_DIFF_BASE_SHA)", errNoCIRange)
		}
		p.include = []string{firstNonEmpty(sha, "HEAD")}
		p.exclude, p.base, p.expect, p.reason = []string{baseRev}, baseRev, true, label
		return p, nil
	}
	if sha == "" {
		return ciPlan{}, fmt.Errorf("%w: CI_COMMIT_SHA is not set", errNoCIRange)
	}
	p.include = []string{sha}
	branch := getenv("CI_COMMIT_BRANCH")
	tag := getenv("CI_COMMIT_TAG")
	onDefault := tag == "" && branch != "" && branch == defaultBranch
	accepted, acceptedWhy, err := acceptedBase(onDefault, defaultBranch, "CI_DEFAULT_BRANCH is not set")
	if err != nil {
		return ciPlan{}, err
	}
	before := getenv("CI_COMMIT_BEFORE_SHA")
	what := "branch " + branch
	if tag != "" {
		what = "tag " + tag
	}
	if tag != "" || before == "" || isZeroOID(before) {
		p.exclude = accepted
		p.reason = "GitLab push of new " + what + ": " + acceptedWhy
	} else {
		p.exclude, p.before, p.expect = []string{before}, before, before != sha
		p.fallback = accepted
		p.fallbackWhy = "CI_COMMIT_BEFORE_SHA " + shortCommit(before) + " is not in this clone (a force push, or a push longer than GIT_DEPTH); checking " + acceptedWhy + " instead"
		p.reason = "GitLab push " + shortCommit(before) + ".." + shortCommit(sha)
	}
	if len(p.exclude) > 0 {
		p.base = p.exclude[0]
	}
	return p, nil
}

// acceptedBase is what the project had already accepted, for a push whose
// own before commit cannot say: the default branch, or for the default
// branch itself nothing (its whole history is checked). The slice is empty,
// not nil, in that case: "no exclusion" is a valid fallback. Off the default
// branch with no default branch known there is no honest range, so it is a
// usage error saying why (unknown).
func acceptedBase(onDefault bool, defaultBranch, unknown string) (accepted []string, why string, err error) {
	switch {
	case onDefault:
		return []string{}, "its whole history (it is the default branch)", nil
	case defaultBranch != "":
		return []string{remoteRef(defaultBranch)}, "what " + defaultBranch + " does not have", nil
	}
	return nil, "", usagef("pass the branch pushes are compared with: keyward ci --base main",
		"%v: %s", errNoCIRange, unknown)
}

// remoteRef is the remote-tracking ref CI clones keep a branch under.
func remoteRef(branch string) string {
	if strings.HasPrefix(branch, "refs/") {
		return branch
	}
	return "refs/remotes/origin/" + branch
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

func isZeroOID(s string) bool {
	return s != "" && strings.Trim(s, "0") == ""
}

func refKind(ref string) string {
	if strings.HasPrefix(ref, "refs/tags/") {
		return "tag"
	}
	return "branch"
}

func shortRef(ref string) string {
	for _, p := range []string{"refs/heads/", "refs/tags/"} {
		if s, ok := strings.CutPrefix(ref, p); ok {
			return s
		}
	}
	return ref
}
