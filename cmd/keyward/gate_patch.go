package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/keyward/keyward/scanner"
)

// This file is the gates' way through repositories go-git v5 cannot open:
// SHA-256 object names (extensions.objectFormat = sha256; go-git v5 reads
// SHA-1 only, issue 9). git itself reads them, so the gates ask git for the
// added lines (git diff --cached, git log -p) and scan them with the Patch
// source (scanner/patch.go), at their line numbers so findings point at
// the right line. Merges are read as combined diffs (--cc), and a line
// counts only when it is new against every parent, as the go-git range
// scan does.

// needsGitPlumbing says the repository in the working directory must be
// read through git: its object names are SHA-256. A repository whose
// format cannot be read is left to go-git, whose open then says why.
func needsGitPlumbing() bool {
	f, err := scanner.ObjectFormat(".")
	return err == nil && f == "sha256"
}

// splitIndex reports whether the index may be split (git update-index
// --split-index, core.splitIndex): go-git v5 rejects the index's "link"
// extension. A leftover shared index only makes the staged check go
// through git, which is as thorough.
func splitIndex(ctx context.Context) bool {
	dir, err := gitOut(ctx, "rev-parse", "--git-dir")
	if err != nil {
		return false
	}
	m, _ := filepath.Glob(filepath.Join(dir, "sharedindex.*"))
	return len(m) > 0
}

// stagedSource is what scan --staged and the pre-commit hook read: the
// index through go-git, or through git's own diff where go-git cannot
// read the repository or its index.
func stagedSource(ctx context.Context) gateSourceFunc {
	if needsGitPlumbing() || splitIndex(ctx) {
		return patchStaged()
	}
	return func(ctx context.Context, eng *scanner.Engine) (*scanner.Result, error) {
		return eng.ScanStaged(ctx, ".")
	}
}

// patchStaged scans the staged changes' added lines.
func patchStaged() gateSourceFunc {
	return func(ctx context.Context, eng *scanner.Engine) (*scanner.Result, error) {
		return scanPatch(ctx, eng, "diff", "--cached")
	}
}

// patchCommits scans the added lines and messages of the commits
// reachable from include and from none of exclude.
func patchCommits(include, exclude []string) gateSourceFunc {
	return func(ctx context.Context, eng *scanner.Engine) (*scanner.Result, error) {
		if len(include) == 0 {
			return &scanner.Result{}, nil
		}
		// git log's own format, whatever the user's log.* settings: full
		// object names, ISO dates, no signatures; scanner.Patch reads it.
		args := append([]string{"log", "--cc", "--format=medium", "--no-abbrev-commit", "--date=iso", "--no-show-signature"}, include...)
		if len(exclude) > 0 {
			args = append(append(args, "--not"), exclude...)
		}
		return scanPatch(ctx, eng, args...)
	}
}

// scanPatch runs git with args (a diff or log -p) and scans what it adds
// with the Patch source, as 'scan --patch' does.
func scanPatch(ctx context.Context, eng *scanner.Engine, args ...string) (*scanner.Result, error) {
	full := append([]string{"-c", "core.quotepath=off", args[0], "--no-color", "--no-ext-diff", "--no-renames", "--text"}, args[1:]...)
	cmd := exec.CommandContext(ctx, "git", full...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("git %s: %w", args[0], err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("git %s: %w", args[0], err)
	}
	res, perr := eng.Collect(ctx, scanner.Patch{R: out, Name: "git " + args[0]})
	if perr != nil {
		io.Copy(io.Discard, out) // let git finish writing before Wait
	}
	werr := cmd.Wait()
	if werr != nil {
		msg, _, _ := strings.Cut(strings.TrimSpace(stderr.String()), "\n")
		return nil, fmt.Errorf("git %s: %s", args[0], firstNonEmpty(msg, werr.Error()))
	}
	if perr != nil {
		return nil, perr
	}
	return res, nil
}

// patchRange is ScanRange's spec (A..B, A...B, one commit, the zero name
// of a new branch) for a repository go-git cannot open, given to git log
// in its own syntax with the same meaning.
func patchRange(ctx context.Context, spec string) (gateSourceFunc, error) {
	left, right, isRange := strings.Cut(spec, "...")
	if isRange {
		return patchCommits([]string{orHEAD(left) + "..." + orHEAD(right)}, nil), nil
	}
	left, right, isRange = strings.Cut(spec, "..")
	if !isRange {
		// C^! is git's "C and none of its parents": that one commit.
		return patchCommits([]string{spec + "^!"}, nil), nil
	}
	left, right = orHEAD(left), orHEAD(right)
	if zeroName(right) {
		return nil, fmt.Errorf("resolve range %q: the right side is the zero object name (a deleted ref): nothing to scan", spec)
	}
	if zeroName(left) {
		// A new branch: what no remote-tracking ref has, as ScanRange.
		return patchCommits([]string{right}, []string{"--remotes"}), nil
	}
	if _, err := gitOut(ctx, "cat-file", "-e", left+"^{commit}"); err != nil {
		return nil, fmt.Errorf("resolve range %q: %s is not a commit in this repository", spec, left)
	}
	return patchCommits([]string{right}, []string{left}), nil
}

// patchHistory is --history for a repository go-git cannot open: the added
// lines and messages of every commit reachable from a ref or a reflog
// entry (every stash entry included), as git log reads them, and every
// annotated tag's message.
func patchHistory() gateSourceFunc {
	commits := patchCommits([]string{"--all", "--reflog"}, nil)
	return func(ctx context.Context, eng *scanner.Engine) (*scanner.Result, error) {
		res, err := commits(ctx, eng)
		if err != nil {
			return nil, err
		}
		if err := scanTagMessages(ctx, eng, res); err != nil {
			return nil, err
		}
		res.Sort()
		return res, nil
	}
}

// scanTagMessages scans the message of every annotated tag under
// refs/tags, read with git cat-file so SHA-256 names work.
func scanTagMessages(ctx context.Context, eng *scanner.Engine, res *scanner.Result) error {
	list, err := gitOut(ctx, "for-each-ref", "--format=%(objecttype) %(objectname) %(refname:short)", "refs/tags")
	if err != nil {
		return fmt.Errorf("list tags: %w", err)
	}
	for _, line := range strings.Split(list, "\n") {
		typ, rest, _ := strings.Cut(line, " ")
		id, name, _ := strings.Cut(rest, " ")
		if typ != "tag" {
			continue
		}
		body, err := exec.CommandContext(ctx, "git", "cat-file", "tag", id).Output()
		if err != nil {
			return fmt.Errorf("read tag %s: %w", name, err)
		}
		// A tag object is headers, a blank line, then the message.
		_, msg, _ := bytes.Cut(body, []byte("\n\n"))
		res.Findings = append(res.Findings, eng.Scan(msg, scanner.Provenance{
			Path: scanner.TagMessagePath, Kind: scanner.KindTagMessage, Ref: name,
		})...)
	}
	return nil
}

func orHEAD(rev string) string {
	if rev == "" {
		return "HEAD"
	}
	return rev
}

// zeroName reports whether s is git's all-zero object name (SHA-1 or
// SHA-256 length), which hooks pass for a ref that does not exist.
func zeroName(s string) bool {
	return (len(s) == 40 || len(s) == 64) && strings.Trim(s, "0") == ""
}
