package main

import (
	"fmt"
	"sort"
	"strings"

	"github.com/keyward/keyward/hooks"
	"github.com/keyward/keyward/scanner"
)

// This file says what to do after a gate blocked: the scan above it listed
// the findings; these lines name the real key IDs, files and commits, and
// give commands that can be pasted as they are (issue 9).

// maxAdviceItems bounds how many files or commits the advice names; the
// findings above list them all.
const maxAdviceItems = 5

// keyIDs lists the distinct AWS key IDs among findings, in order.
func keyIDs(res *scanner.Result) []string {
	var ids []string
	seen := map[string]bool{}
	if res == nil {
		return nil
	}
	for _, f := range res.Findings {
		if f.KeyID != "" && !seen[f.KeyID] {
			seen[f.KeyID] = true
			ids = append(ids, f.KeyID)
		}
	}
	return ids
}

// findingPaths lists the distinct files findings are in (not messages).
func findingPaths(res *scanner.Result) []string {
	var ps []string
	seen := map[string]bool{}
	if res == nil {
		return nil
	}
	for _, f := range res.Findings {
		if !f.IsMessage() && !seen[f.Path] {
			seen[f.Path] = true
			ps = append(ps, f.Path)
		}
	}
	return ps
}

// shellArg quotes p for a POSIX shell when it needs it.
func shellArg(p string) string {
	if p != "" && strings.Trim(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._/-+=@,") == "" {
		return p
	}
	return "'" + strings.ReplaceAll(p, "'", `'\''`) + "'"
}

// idList is key IDs for a message: "AKIA… and AKIA…".
func idList(ids []string) string {
	if len(ids) > maxAdviceItems {
		return strings.Join(ids[:maxAdviceItems], ", ") + fmt.Sprintf(" and %d more", len(ids)-maxAdviceItems)
	}
	return strings.Join(ids, ", ")
}

// respondHint tells how to contain each key that may have left.
func respondHint(e *env, ids []string, already bool) {
	when := "if it has already left this machine (pushed, pasted, synced)"
	if already {
		when = "it has reached the server's quarantine only, but if it was pushed or shared anywhere else"
	}
	switch len(ids) {
	case 0:
		hintf(e.stderr, "%s, revoke the credential with its provider: anyone who read it can use it", when)
	case 1:
		hintf(e.stderr, "%s, treat it as leaked: keyward respond --key-id %s", when, ids[0])
	default:
		hintf(e.stderr, "%s, treat them as leaked: keyward respond --key-id ID, for each of %s", when, idList(ids))
	}
}

// blockedHints is the advice of the client-side hooks.
func blockedHints(e *env, name string, hargs []string, res *scanner.Result) {
	ids := keyIDs(res)
	what := "credentials"
	if len(ids) > 0 {
		what = "AWS key " + idList(ids)
	}
	switch name {
	case hooks.PreCommit:
		paths := findingPaths(res)
		errorf(e.stderr, "commit blocked: the staged changes contain %s", what)
		if len(paths) > maxAdviceItems {
			paths = paths[:maxAdviceItems]
		}
		var q []string
		for _, p := range paths {
			q = append(q, shellArg(p))
		}
		if len(q) > 0 {
			hintf(e.stderr, "remove the key from %s (read it from the environment or ~/.aws/credentials instead), then: git add %s && git commit", strings.Join(paths, ", "), strings.Join(q, " "))
			hintf(e.stderr, "if the file should not be in git at all: git rm --cached %s && printf '%%s\\n' %s >> .gitignore", strings.Join(q, " "), strings.Join(q, " "))
		}
		respondHint(e, ids, false)
	case hooks.CommitMsg:
		errorf(e.stderr, "commit blocked: the commit message contains %s", what)
		file := ".git/COMMIT_EDITMSG"
		if len(hargs) == 1 {
			file = hargs[0]
		}
		hintf(e.stderr, "your message is kept in %s: take the key out and commit again with: git commit -e -F %s", file, shellArg(file))
		respondHint(e, ids, false)
	case hooks.PrePush:
		errorf(e.stderr, "push blocked: the commits being pushed contain %s", what)
		rewriteHints(e, res)
		respondHint(e, ids, false)
	}
	hintf(e.stderr, "a false positive? end that line with a 'keyward:allow <reason>' comment; as a last resort, %s skips the check", bypassCommand(name))
}

// rewriteHints names the commits that add a key and the rebase that
// removes it from each.
func rewriteHints(e *env, res *scanner.Result) {
	var commits []string
	seen := map[string]bool{}
	if res != nil {
		for _, f := range res.Findings {
			if f.Commit != "" && !seen[f.Commit] {
				seen[f.Commit] = true
				commits = append(commits, f.Commit)
			}
		}
	}
	sort.Strings(commits)
	if len(commits) == 0 {
		hintf(e.stderr, "rewrite the commits that add the key, then push again; deleting it in a new commit still pushes the old one")
		return
	}
	oldest := commits[0]
	if len(commits) > 1 {
		// rebase from the earliest: any parent line works, and one rebase
		// reaches them all.
		hintf(e.stderr, "the key is added in %d commits (%s)", len(commits), idList(shortAll(commits)))
	}
	hintf(e.stderr, "rewrite the commit that adds it, then push again: git rebase -i %s~1 (mark %s 'edit', remove the key, git commit --amend -a, git rebase --continue); for the last commit, git commit --amend is enough; for a root commit use git rebase -i --root", shortCommit(oldest), shortCommit(oldest))
	hintf(e.stderr, "deleting the key in a new commit is not enough: the old commit would still be pushed")
}

func shortAll(cs []string) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = shortCommit(c)
	}
	return out
}

// blockedPush is the server's answer to a rejected push; git prefixes each
// line with "remote:".
func blockedPush(e *env, res *scanner.Result, name string, allowSkip bool) {
	ids := keyIDs(res)
	what := "credentials"
	if len(ids) > 0 {
		what = "AWS key " + idList(ids)
	}
	errorf(e.stderr, "push rejected: the pushed commits contain %s", what)
	rewriteHints(e, res)
	hintf(e.stderr, "then push the rewritten branch (git push --force-with-lease if it was pushed before)")
	respondHint(e, ids, true)
	if allowSkip {
		hintf(e.stderr, "a false positive? end that line with a 'keyward:allow <reason>' comment; or push with %s", bypassCommand(name))
	} else {
		hintf(e.stderr, "a false positive? end that line with a 'keyward:allow <reason>' comment and push again")
	}
}
