package scanner

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
)

// maxReflogSize bounds the stash reflog read into memory: a line is about
// 150 bytes, so this is room for a hundred thousand stash entries, while a
// reflog replaced by something huge (or a symlink to /dev/zero) costs at
// most this much.
const maxReflogSize = 16 << 20

// stashRef is the ref whose reflog lists the stash entries: stash@{0} is
// the ref itself, stash@{1} and older are only in the reflog (issue 10).
const stashRef = "refs/stash"

// refLabel is the kind and name given to commits that only a stash entry
// or a notes ref reaches, so a finding in them names where it is.
type refLabel struct {
	kind Kind
	ref  string
}

// stashEntries reads the stash reflog of the repository at gitDir and
// returns the entries' commits, stash@{0} first. A missing reflog has no
// entries; one that cannot be read is an error the caller reports.
func stashEntries(gitDir string) ([]plumbing.Hash, error) {
	path := filepath.Join(commonDir(gitDir), "logs", filepath.FromSlash(stashRef))
	// Lstat first: a FIFO here would block the open forever.
	info, err := os.Lstat(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read stash reflog: %w", unwrapPathError(err))
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("read stash reflog: %s is not a regular file", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read stash reflog: %w", unwrapPathError(err))
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxReflogSize+1))
	if err != nil {
		return nil, fmt.Errorf("read stash reflog: %w", err)
	}
	if len(data) > maxReflogSize {
		return nil, fmt.Errorf("read stash reflog: larger than %d bytes", maxReflogSize)
	}
	return parseReflog(data), nil
}

// parseReflog returns the new-value hashes of a reflog's lines, newest
// first (the file is oldest first). Malformed lines are skipped: git
// itself ignores them.
func parseReflog(data []byte) []plumbing.Hash {
	var out []plumbing.Hash
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), maxReflogSize)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		var h plumbing.Hash
		if !decodeHash([]byte(fields[1]), &h) || h.IsZero() {
			continue
		}
		out = append(out, h)
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// stashEntryName is how git names the n-th stash entry.
func stashEntryName(n int) string { return fmt.Sprintf("stash@{%d}", n) }

// withStashEntries adds a ref for every stash entry after the newest (which
// refs/stash itself names), so the sweep walks each one's commits.
func withStashEntries(refs []*plumbing.Reference, entries []plumbing.Hash) []*plumbing.Reference {
	for i, h := range entries {
		if i == 0 {
			continue
		}
		refs = append(refs, plumbing.NewHashReference(plumbing.ReferenceName(stashRef+"@{"+fmt.Sprint(i)+"}"), h))
	}
	return refs
}

// isSideRef reports whether a ref is a stash entry or a notes ref: history
// kept beside the project's, whose commits are labelled.
func isSideRef(name plumbing.ReferenceName) bool {
	n := name.String()
	return n == stashRef || strings.HasPrefix(n, stashRef+"@{") || strings.HasPrefix(n, "refs/notes/")
}

// labelSideCommits labels the commits that only stash entries or notes
// refs reach: a stash entry's work-tree, index and untracked-files commits,
// and a notes ref's commits. Commits some branch, tag or remote also reaches
// keep no label, since the finding belongs to that history.
func (h *history) labelSideCommits(s *sweep, refs []*plumbing.Reference, stash []plumbing.Hash) {
	h.labels = map[plumbing.Hash]refLabel{}
	// The one commit walker (walk.go) over the swept commits; a commit the
	// sweep lacks is skipped (walk warned of it), so with a context that
	// never ends these walks cannot fail.
	w := newWalker(sweptCommits(s.commits))
	w.missing = func(plumbing.Hash) {}
	var tips []plumbing.Hash
	for _, r := range refs {
		if isSideRef(r.Name()) {
			continue
		}
		if c, typ, ok := peel(s, r.Hash()); ok && typ == plumbing.CommitObject {
			tips = append(tips, c)
		}
	}
	ordinary, _ := w.reach(context.Background(), tips, nil)
	label := func(root plumbing.Hash, l refLabel) {
		known := func(c plumbing.Hash) bool {
			_, o := ordinary[c]
			_, done := h.labels[c]
			return o || done
		}
		only, _ := w.reachUntil(context.Background(), []plumbing.Hash{root}, known)
		for c := range only {
			h.labels[c] = l
		}
	}
	for i, c := range stash {
		label(c, refLabel{kind: KindStash, ref: stashEntryName(i)})
	}
	for _, r := range refs {
		if strings.HasPrefix(r.Name().String(), "refs/notes/") {
			label(r.Hash(), refLabel{kind: KindNote, ref: r.Name().String()})
		}
	}
}
