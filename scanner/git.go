package scanner

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// This file holds what the git sources share besides opening a repository
// (repository.go): reading blobs within the size limit and diffing trees (which lines are new is in
// addedlines.go). The staged, range and history scans are built from these.

// readBlob returns the content of blob h, or tooLarge and its size when it
// exceeds the engine's limit (the caller records a Skip). label names the
// blob in errors: a path, or commit:path.
func (e *Engine) readBlob(repo *git.Repository, h plumbing.Hash, label string) (data []byte, size int64, tooLarge bool, err error) {
	// The object reader's result is the blob itself, shared with its
	// cache and never modified: no copy through a Reader.
	if ss, ok := repo.Storer.(scanStorage); ok && ss.reader != nil {
		if typ, size, data, err := ss.reader.read(h, e.opts.MaxFileSize); err == nil && typ == plumbing.BlobObject {
			if size > e.opts.MaxFileSize {
				return nil, size, true, nil
			}
			return data, size, false, nil
		}
	}
	blob, err := repo.BlobObject(h)
	if err != nil {
		return nil, 0, false, fmt.Errorf("read blob %s (%s): %w", h, label, err)
	}
	if blob.Size > e.opts.MaxFileSize {
		return nil, blob.Size, true, nil
	}
	r, err := blob.Reader()
	if err != nil {
		return nil, 0, false, fmt.Errorf("read blob %s (%s): %w", h, label, err)
	}
	defer r.Close()
	data, err = io.ReadAll(io.LimitReader(r, e.opts.MaxFileSize+1))
	if err != nil {
		return nil, 0, false, fmt.Errorf("read blob %s (%s): %w", h, label, err)
	}
	return data, int64(len(data)), false, nil
}

// isContent reports whether a tree or index entry of this mode holds file
// content to scan. Submodules (gitlinks) name a commit of another
// repository and are not descended into; that repository is scanned on
// its own.
func isContent(m filemode.FileMode) bool {
	return m == filemode.Regular || m == filemode.Executable || m == filemode.Deprecated || m == filemode.Symlink
}

// treeChange is one path whose content differs between two trees. From is
// the zero hash for an added path, To for a deleted one. A deleted subtree is
// reported once with Tree set, its files expanded only if a rename search
// needs them.
type treeChange struct {
	Path     string
	From, To plumbing.Hash
	Tree     bool
	// Kept, on a deleted subtree (Tree set), is the tree a merge put at
	// Path instead, taken whole from another parent: only what Kept lacks
	// was deleted, expanded only if a rename search needs it.
	Kept plumbing.Hash
	// Others, on a merge's changed file, are the file's versions in the
	// merge's other parents (the zero hash where one has none); nil when
	// the walk could not tell (an entry name that is not one path
	// component), and blobAt answers instead.
	Others []plumbing.Hash
}

// diffTrees calls fn for every file that differs between the trees from
// and to (either may be the zero hash: an empty tree). Subtrees with equal
// hashes are never read, so the cost is proportional to the change, not to
// the repository. Submodule entries are ignored.
func diffTrees(ctx context.Context, repo *git.Repository, from, to plumbing.Hash, prefix string, fn func(treeChange) error) error {
	return diffMerge(ctx, repo, nil, from, nil, to, prefix, fn)
}

// diffMerge is diffTrees for a merge: others are the trees at prefix in
// the merge's other parents (nil for an ordinary commit), and idx, if set,
// the range worker's index of trees already checked. A subtree of to
// identical to one of theirs came whole from that parent, so nothing in it
// is new: it is not read, and what it deleted relative to from is reported
// as one change with Kept set. Each changed file carries its versions in
// the other parents (Others).
func diffMerge(ctx context.Context, repo *git.Repository, idx *treeIndexes, from plumbing.Hash, others []plumbing.Hash, to plumbing.Hash, prefix string, fn func(treeChange) error) error {
	if from == to {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	oldData, okOld := rawTree(repo, from)
	newData, okNew := rawTree(repo, to)
	var pairs []treePair
	ok := okOld && okNew
	if ok {
		pairs, ok = mergeIndexed(idx, from, oldData, to, newData, nil)
	}
	d := &treeDiff{ctx: ctx, repo: repo, idx: idx, prefix: prefix, fn: fn, others: newOtherTrees(others)}
	if !ok || idx != nil && idx.byName {
		return d.byName(from, to)
	}
	// An entry that changed between file and directory has two sort keys
	// (n and n/): pair the halves by name, as a diff by name would.
	var lone []int // old entries with no new entry of their key
	for i, p := range pairs {
		if p.hasOld && !p.hasNew {
			lone = append(lone, i)
		}
	}
	taken := make([]bool, len(lone))
	var byName map[string]int
	if len(lone) > maxLinearTwins {
		byName = make(map[string]int, len(lone))
		for k, i := range lone {
			byName[string(pairs[i].old.name)] = k
		}
	}
	twin := func(name []byte) (int, bool) {
		if byName != nil {
			k, ok := byName[string(name)]
			return k, ok
		}
		for k, i := range lone {
			if bytes.Equal(pairs[i].old.name, name) {
				return k, true
			}
		}
		return 0, false
	}
	for _, p := range pairs {
		if !p.hasNew {
			continue
		}
		had, oe := p.hasOld, p.old
		if !had && len(lone) > 0 {
			if k, ok := twin(p.new.name); ok {
				had, oe, taken[k] = true, pairs[lone[k]].old, true
			}
		}
		if err := d.entry(had, oe, p.new); err != nil {
			return err
		}
	}
	// What is left was deleted; report in a stable order (names are
	// unique here, so byte order is sort.Strings' order).
	var gone []rawEntry
	for k, i := range lone {
		if !taken[k] {
			gone = append(gone, pairs[i].old)
		}
	}
	sort.Slice(gone, func(i, j int) bool { return bytes.Compare(gone[i].name, gone[j].name) < 0 })
	for _, oe := range gone {
		if err := d.deleted(oe); err != nil {
			return err
		}
	}
	return nil
}

// maxLinearTwins is how many deleted entries of one directory are searched
// one by one for a same-named entry of the other kind; past it a map is
// built.
const maxLinearTwins = 16

// treeDiff is one directory level of diffMerge.
type treeDiff struct {
	ctx    context.Context
	repo   *git.Repository
	idx    *treeIndexes
	prefix string
	fn     func(treeChange) error
	others []otherTree
}

// entry handles new entry ne, which differs from old entry oe of the same
// name when had is set.
func (d *treeDiff) entry(had bool, oe, ne rawEntry) error {
	p := path.Join(d.prefix, string(ne.name))
	switch {
	case ne.mode == filemode.Dir:
		var fromTree plumbing.Hash
		if had && oe.mode == filemode.Dir {
			fromTree = oe.hash
		} else if had && isContent(oe.mode) {
			if err := d.fn(treeChange{Path: p, From: oe.hash}); err != nil {
				return err
			}
		}
		subs, same := d.otherEntries(ne, true)
		if same {
			if fromTree.IsZero() {
				return nil
			}
			return d.fn(treeChange{Path: p, From: fromTree, Tree: true, Kept: ne.hash})
		}
		return diffMerge(d.ctx, d.repo, d.idx, fromTree, subs, ne.hash, p, d.fn)
	case isContent(ne.mode):
		var fromBlob plumbing.Hash
		if had && isContent(oe.mode) {
			fromBlob = oe.hash
		} else if had && oe.mode == filemode.Dir {
			if err := d.fn(treeChange{Path: p, From: oe.hash, Tree: true}); err != nil {
				return err
			}
		}
		if fromBlob != ne.hash {
			others, _ := d.otherEntries(ne, false)
			return d.fn(treeChange{Path: p, From: fromBlob, To: ne.hash, Others: others})
		}
	}
	return nil
}

// deleted reports old entry oe, which the new tree lacks.
func (d *treeDiff) deleted(oe rawEntry) error {
	if oe.mode != filemode.Dir && !isContent(oe.mode) {
		return nil
	}
	return d.fn(treeChange{Path: path.Join(d.prefix, string(oe.name)), From: oe.hash, Tree: oe.mode == filemode.Dir})
}

// byName is the diff of trees that are not in git's order (or repeat a
// name), matching entries by name as git's order cannot.
func (d *treeDiff) byName(from, to plumbing.Hash) error {
	oldEntries, err := treeEntries(d.repo, from)
	if err != nil {
		return err
	}
	newEntries, err := treeEntries(d.repo, to)
	if err != nil {
		return err
	}
	raw := func(te object.TreeEntry) rawEntry {
		return rawEntry{name: []byte(te.Name), mode: te.Mode, hash: te.Hash}
	}
	old := make(map[string]object.TreeEntry, len(oldEntries))
	for _, te := range oldEntries {
		old[te.Name] = te
	}
	for _, ne := range newEntries {
		oe, had := old[ne.Name]
		delete(old, ne.Name)
		if had && oe.Hash == ne.Hash && oe.Mode == ne.Mode {
			continue // unchanged: most entries of a large directory
		}
		if err := d.entry(had, raw(oe), raw(ne)); err != nil {
			return err
		}
	}
	for _, n := range slices.Sorted(maps.Keys(old)) {
		if err := d.deleted(raw(old[n])); err != nil {
			return err
		}
	}
	return nil
}

// treeEntries reads tree h; the zero hash is the empty tree.
func treeEntries(repo *git.Repository, h plumbing.Hash) ([]object.TreeEntry, error) {
	if h.IsZero() {
		return nil, nil
	}
	if ss, ok := repo.Storer.(scanStorage); ok && ss.reader != nil {
		if entries, ok := ss.reader.tree(h); ok {
			return entries, nil
		}
	}
	t, err := repo.TreeObject(h)
	if err != nil {
		return nil, fmt.Errorf("read tree %s: %w", h, err)
	}
	return t.Entries, nil
}

// blobAt returns the hash of the file at p in tree root, or the zero hash
// when there is none (or it is not file content). It reads one tree per
// path component and validates nothing, so odd names in old history still
// resolve.
func blobAt(repo *git.Repository, root plumbing.Hash, p string) (plumbing.Hash, error) {
	h := root
	for h != plumbing.ZeroHash {
		entries, err := treeEntries(repo, h)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		name, rest, more := cutPath(p)
		h = plumbing.ZeroHash
		for _, te := range entries {
			if te.Name != name {
				continue
			}
			if !more && isContent(te.Mode) {
				return te.Hash, nil
			}
			if more && te.Mode == filemode.Dir {
				h, p = te.Hash, rest
			}
			break
		}
	}
	return plumbing.ZeroHash, nil
}

// cutPath splits a slash-separated path at its first component.
func cutPath(p string) (first, rest string, more bool) {
	if i := strings.IndexByte(p, '/'); i >= 0 {
		return p[:i], p[i+1:], true
	}
	return p, "", false
}

// guardGit turns a panic inside go-git into an error naming the operation.
// go-git has panicked on corrupt packfiles and malformed objects (index out
// of range while decoding); a scan of a damaged repository must fail with a
// message and exit status 2, not crash the hook that runs it. The panic
// value describes the decoder's state, never file content.
func guardGit(what string, err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("%s: corrupt repository data: %v", what, r)
	}
}
