package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/keyward/keyward/scanner"
)

// This file is the gates' way through repositories go-git v5 cannot open:
// SHA-256 object names (extensions.objectFormat = sha256; go-git v5 reads
// SHA-1 only, issue 9). git itself reads them, so the gates ask git for the
// added lines (git diff --cached, git log -p) and scan those, placed at
// their line numbers so findings point at the right line. Merges are read
// as combined diffs (--cc), and a line counts only when it is new against
// every parent, as the go-git range scan does.

// maxPatchLine bounds the line number a hunk may claim, so a corrupt or
// hostile diff cannot make the gap-filling allocate without end.
const maxPatchLine = 50_000_000

// objectFormat is the repository's object name format: "sha1" or
// "sha256"; empty when git cannot tell (no repository, or a git too old
// to know the option, which also predates SHA-256).
func objectFormat(ctx context.Context) string {
	out, err := gitOut(ctx, "rev-parse", "--show-object-format")
	if err != nil {
		return ""
	}
	return out
}

// needsGitPlumbing says the repository must be read through git.
func needsGitPlumbing(ctx context.Context) bool {
	return objectFormat(ctx) == "sha256"
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
	if needsGitPlumbing(ctx) || splitIndex(ctx) {
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
		args := append([]string{"log", "--cc", "--format=%x00%H%n%B%x00"}, include...)
		if len(exclude) > 0 {
			args = append(append(args, "--not"), exclude...)
		}
		return scanPatch(ctx, eng, args...)
	}
}

// scanPatch runs git with args (a diff or log -p) and scans what it adds.
func scanPatch(ctx context.Context, eng *scanner.Engine, args ...string) (*scanner.Result, error) {
	full := append([]string{"-c", "core.quotepath=off", args[0], "-U0", "--no-color", "--no-ext-diff", "--no-renames", "--text"}, args[1:]...)
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
	res := &scanner.Result{}
	perr := parsePatch(out, eng, res)
	werr := cmd.Wait()
	if perr != nil {
		return nil, perr
	}
	if werr != nil {
		msg, _, _ := strings.Cut(strings.TrimSpace(stderr.String()), "\n")
		return nil, fmt.Errorf("git %s: %s", args[0], firstNonEmpty(msg, werr.Error()))
	}
	res.Sort()
	return res, nil
}

// patchFile collects one file's added lines at their line numbers.
type patchFile struct {
	path  string
	lines [][]byte
	next  int // the line number the next added line of the hunk gets
	any   bool
}

func (f *patchFile) add(line []byte) {
	for len(f.lines) < f.next-1 {
		f.lines = append(f.lines, nil)
	}
	f.lines = append(f.lines, append([]byte(nil), line...))
	f.next++
	f.any = true
}

// parsePatch reads git's patch output: for a log, NUL-framed commit
// headers (hash, then message) before each commit's patch.
func parsePatch(r io.Reader, eng *scanner.Engine, res *scanner.Result) error {
	br := bufio.NewReaderSize(r, 1<<20)
	var commit string
	var cur *patchFile
	cols := 1
	flush := func() {
		if cur != nil && cur.any {
			data := bytes.Join(cur.lines, []byte("\n"))
			res.Files++
			res.Bytes += int64(len(data))
			res.Findings = append(res.Findings, eng.Scan(data, scanner.Provenance{Path: cur.path, Commit: commit})...)
		}
		cur = nil
	}
	for {
		line, err := br.ReadBytes('\n')
		if len(line) == 0 && err != nil {
			break
		}
		line = bytes.TrimSuffix(line, []byte("\n"))
		switch {
		case len(line) > 0 && line[0] == 0:
			// A log's commit header: "\0HASH\nMESSAGE\0".
			flush()
			rest := append([]byte(nil), line[1:]...)
			for !bytes.Contains(rest, []byte{0}) {
				more, err := br.ReadBytes('\n')
				rest = append(rest, more...)
				if err != nil {
					break
				}
			}
			head, _, _ := bytes.Cut(rest, []byte{0})
			hash, msg, _ := bytes.Cut(head, []byte("\n"))
			commit = string(hash)
			res.Commits++
			res.Findings = append(res.Findings, eng.Scan(msg, scanner.Provenance{Path: scanner.MessagePath, Commit: commit, Kind: scanner.KindCommitMessage})...)
		case bytes.HasPrefix(line, []byte("diff --git ")) || bytes.HasPrefix(line, []byte("diff --cc ")) || bytes.HasPrefix(line, []byte("diff --combined ")):
			flush()
			cur = &patchFile{}
		case cur != nil && bytes.HasPrefix(line, []byte("+++ ")):
			p := string(line[4:])
			cur.path = strings.TrimPrefix(p, "b/")
		case cur != nil && bytes.HasPrefix(line, []byte("@@")):
			// "@@ -a,b +c,d @@" or, combined, "@@@ -a -b +c @@@".
			cols = bytes.IndexFunc(line, func(r rune) bool { return r != '@' }) - 1
			if cols < 1 {
				cols = 1
			}
			f := strings.Fields(string(line))
			for _, x := range f {
				if strings.HasPrefix(x, "+") {
					n, _, _ := strings.Cut(x[1:], ",")
					v, err := strconv.Atoi(n)
					if err != nil || v < 0 || v > maxPatchLine {
						return fmt.Errorf("read git's patch: bad hunk header %q", line)
					}
					cur.next = max(v, 1)
				}
			}
		case cur != nil && cur.path != "" && cur.next > 0 && len(line) >= cols:
			prefix := line[:cols]
			if bytes.Count(prefix, []byte("+")) == cols {
				cur.add(line[cols:])
			} else if !bytes.Contains(prefix, []byte("-")) {
				cur.next++ // a context line of a combined diff
			}
		}
		if err != nil {
			break
		}
	}
	flush()
	return nil
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
