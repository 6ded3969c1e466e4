package scanner

import (
	"context"
	"fmt"
	"io"
	"path"
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
	// The point reader's result is the blob itself, shared with its
	// cache and never modified: no copy through a Reader.
	if ss, ok := repo.Storer.(scanStorage); ok && ss.point != nil {
		if typ, size, data, err := ss.point.read(h, e.opts.MaxFileSize); err == nil && typ == plumbing.BlobObject {
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
}

// diffTrees calls fn for every file that differs between the trees from
// and to (either may be the zero hash: an empty tree). Subtrees with equal
// hashes are never read, so the cost is proportional to the change, not to
// the repository. Submodule entries are ignored.
func diffTrees(ctx context.Context, repo *git.Repository, from, to plumbing.Hash, prefix string, fn func(treeChange) error) error {
	if from == to {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	oldEntries, err := treeEntries(repo, from)
	if err != nil {
		return err
	}
	newEntries, err := treeEntries(repo, to)
	if err != nil {
		return err
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
		p := path.Join(prefix, ne.Name)
		switch {
		case ne.Mode == filemode.Dir:
			var fromTree plumbing.Hash
			if had && oe.Mode == filemode.Dir {
				fromTree = oe.Hash
			} else if had && isContent(oe.Mode) {
				if err := fn(treeChange{Path: p, From: oe.Hash}); err != nil {
					return err
				}
			}
			if err := diffTrees(ctx, repo, fromTree, ne.Hash, p, fn); err != nil {
				return err
			}
		case isContent(ne.Mode):
			var fromBlob plumbing.Hash
			if had && isContent(oe.Mode) {
				fromBlob = oe.Hash
			} else if had && oe.Mode == filemode.Dir {
				if err := fn(treeChange{Path: p, From: oe.Hash, Tree: true}); err != nil {
					return err
				}
			}
			if fromBlob != ne.Hash {
				if err := fn(treeChange{Path: p, From: fromBlob, To: ne.Hash}); err != nil {
					return err
				}
			}
		}
	}
	// What is left was deleted; report in a stable order.
	names := make([]string, 0, len(old))
	for n := range old {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		oe := old[n]
		if oe.Mode != filemode.Dir && !isContent(oe.Mode) {
			continue
		}
		if err := fn(treeChange{Path: path.Join(prefix, n), From: oe.Hash, Tree: oe.Mode == filemode.Dir}); err != nil {
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
	if ss, ok := repo.Storer.(scanStorage); ok && ss.point != nil {
		if entries, ok := ss.point.tree(h); ok {
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
