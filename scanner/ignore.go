package scanner

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/go-git/go-git/v5/plumbing/format/gitignore"
)

// maxIgnoreFileSize bounds a .gitignore or .git/info/exclude read into
// memory: far beyond any real one (git/git's is 5 KB, large monorepos'
// tens of KB), while a symlink to /dev/zero committed as .gitignore costs
// at most this.
const maxIgnoreFileSize = 16 << 20

// ignorer applies .gitignore files met during a walk. It reads each
// directory's .gitignore as the walk enters it, so the tree is read once,
// and matches paths relative to the walk's root as git would relative to
// the work tree. The matcher for a directory (its patterns and its
// ancestors') is built once when the walk enters it, not per path: with
// thousands of patterns, rebuilding it for each of 100k files cost 10x
// what git takes (issue 10).
type ignorer struct {
	on    bool
	root  string
	stack []ignoreFrame
	// warn reports an ignore file that could not be used, so that files
	// it would have excluded being scanned is explained.
	warn func(string)
	// files and dirs count what the ignore files excluded.
	files, dirs int64
}

type ignoreFrame struct {
	dir      string
	patterns []ignorePattern // this frame's and every enclosing frame's
	matcher  *ignoreMatcher  // nil when patterns is empty
}

func newIgnorer(root string, on bool, warn func(string)) *ignorer {
	ig := &ignorer{on: on, root: root, warn: warn}
	if on {
		// .git/info/exclude applies to the whole tree, like the root's
		// .gitignore.
		ig.push(root, ig.read(filepath.Join(root, ".git", "info", "exclude"), nil))
	}
	return ig
}

func (ig *ignorer) push(dir string, own []ignorePattern) {
	var ps []ignorePattern
	if n := len(ig.stack); n > 0 {
		ps = ig.stack[n-1].patterns
	}
	if len(own) > 0 {
		ps = append(append([]ignorePattern{}, ps...), own...)
	}
	f := ignoreFrame{dir: dir, patterns: ps}
	if len(ps) > 0 {
		if n := len(ig.stack); n > 0 && len(own) == 0 {
			f.matcher = ig.stack[n-1].matcher // nothing new: share the parent's
		} else {
			f.matcher = newIgnoreMatcher(ps)
		}
	}
	ig.stack = append(ig.stack, f)
}

func (ig *ignorer) rel(path string) []string {
	r, err := filepath.Rel(ig.root, path)
	if err != nil || r == "." {
		return nil
	}
	return strings.Split(filepath.ToSlash(r), "/")
}

// enter reads dir's .gitignore as the walk enters dir. Frames of
// directories the walk has left are dropped first, so the stack is always
// dir's chain of ancestors.
func (ig *ignorer) enter(dir string) {
	if !ig.on {
		return
	}
	for len(ig.stack) > 1 && !within(dir, ig.stack[len(ig.stack)-1].dir) {
		ig.stack = ig.stack[:len(ig.stack)-1]
	}
	ig.push(dir, ig.read(filepath.Join(dir, ".gitignore"), ig.rel(dir)))
}

// ignored reports whether path is excluded, counting it if so.
func (ig *ignorer) ignored(path string, isDir bool) bool {
	if !ig.on {
		return false
	}
	dir := filepath.Dir(path)
	for i := len(ig.stack) - 1; i >= 0; i-- {
		f := ig.stack[i]
		if !within(dir, f.dir) {
			continue
		}
		if f.matcher == nil || !f.matcher.Match(ig.rel(path), isDir) {
			return false
		}
		if isDir {
			ig.dirs++
		} else {
			ig.files++
		}
		return true
	}
	return false
}

// within reports whether path is dir or below it. WalkDir joins (and so
// cleans) child paths onto its root as given, so both sides are cleaned,
// and a root of "." contains every relative path that does not climb out.
func within(path, dir string) bool {
	path, dir = filepath.Clean(path), filepath.Clean(dir)
	if dir == "." {
		return !filepath.IsAbs(path) && path != ".." && !strings.HasPrefix(path, ".."+string(filepath.Separator))
	}
	return path == dir || strings.HasPrefix(path, strings.TrimSuffix(dir, string(filepath.Separator))+string(filepath.Separator))
}

// read parses one ignore file. A missing one has no patterns; one that is
// not a regular file (a FIFO would block the walk forever) or is too
// large is not used, and the warning says so. Lines are split by hand, with
// no length limit: a line scanner's 64 KiB token limit once dropped every
// pattern after a long line, negations included.
func (ig *ignorer) read(path string, domain []string) []ignorePattern {
	data, err := ReadRegularFile(path, maxIgnoreFileSize)
	if err != nil {
		// ENOTDIR: .git is a file in worktrees and submodules, so there
		// is no .git/info/exclude to read.
		if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR) && ig.warn != nil {
			ig.warn(fmt.Sprintf("%s not used: %v", path, unwrapPathError(err)))
		}
		return nil
	}
	return parseIgnore(data, domain)
}

// parseIgnore parses ignore-file content as git does: comments and blank
// lines skipped, trailing CR dropped.
func parseIgnore(data []byte, domain []string) []ignorePattern {
	var ps []ignorePattern
	for len(data) > 0 {
		line := data
		if nl := bytes.IndexByte(data, '\n'); nl >= 0 {
			line, data = data[:nl], data[nl+1:]
		} else {
			data = nil
		}
		s := strings.TrimRight(string(line), "\r")
		if strings.HasPrefix(s, "#") || strings.TrimSpace(s) == "" {
			continue
		}
		ps = append(ps, ignorePattern{p: gitignore.ParsePattern(s, domain), line: s})
	}
	return ps
}
