package scanner

import (
	"bytes"
	"io"

	"github.com/go-git/go-git/v5"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// Parsed trees for the staged and range scans. A range walks the trees of
// consecutive commits, and locating each changed file's old version reads
// the trees along its path again; go-git decodes a tree through a
// bufio.Reader, a string allocation per field, and keeps no cache: half
// of a range scan's CPU on git/git after the delta-base cache. The point
// reader parses tree objects straight from their bytes and keeps the
// result.

// maxTreeCacheEntries bounds the tree entries the cache holds (each a few
// dozen bytes plus its name): tens of megabytes at most. When full it is
// emptied, which costs only the re-parsing.
const maxTreeCacheEntries = 1 << 17

// tree returns the entries of tree h, or false if the object reader cannot
// serve it (go-git then decodes it and reports any error).
func (r *objectReader) tree(h plumbing.Hash) ([]object.TreeEntry, bool) {
	r.mu.Lock()
	if es, ok := r.trees[h]; ok {
		r.mu.Unlock()
		return es, true
	}
	r.mu.Unlock()
	typ, _, data, err := r.read(h, maxInt64)
	if err != nil || typ != plumbing.TreeObject {
		return nil, false
	}
	es, ok := parseTree(data)
	if !ok {
		return nil, false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.trees == nil || r.treeEntries+len(es) > maxTreeCacheEntries {
		r.trees, r.treeEntries = map[plumbing.Hash][]object.TreeEntry{}, 0
	}
	r.trees[h] = es
	r.treeEntries += len(es)
	return es, true
}

// parseTree decodes a tree object: entries of an octal mode, a space, a
// name, a NUL and a 20-byte hash. It reports false on anything malformed.
func parseTree(data []byte) ([]object.TreeEntry, bool) {
	n := bytes.Count(data, []byte{0})
	es := make([]object.TreeEntry, 0, n)
	for len(data) > 0 {
		sp := bytes.IndexByte(data, ' ')
		if sp <= 0 || sp > 7 {
			return nil, false
		}
		var mode uint32
		for _, c := range data[:sp] {
			if c < '0' || c > '7' {
				return nil, false
			}
			mode = mode<<3 | uint32(c-'0')
		}
		rest := data[sp+1:]
		nul := bytes.IndexByte(rest, 0)
		if nul < 0 || len(rest) < nul+21 {
			return nil, false
		}
		var h plumbing.Hash
		copy(h[:], rest[nul+1:nul+21])
		es = append(es, object.TreeEntry{Name: string(rest[:nul]), Mode: filemode.FileMode(mode), Hash: h})
		data = rest[nul+21:]
	}
	return es, true
}

// The range diff walks trees as they are stored. A tree object lists its
// entries sorted in git's order (by name, a directory's name taken with a
// trailing '/'), so two versions of a directory are compared in one
// merge-join pass over their bytes: no map of the old entries, no string
// per entry, and a path is built only for an entry that changed. A tree
// that is not sorted, or names one entry twice (a file and a directory of
// the same name), is diffed by name instead (diffTreesByName), which is
// what git fsck would complain about and what old history may still hold.

// rawEntry is one entry of a stored tree; name points into the tree's
// bytes.
type rawEntry struct {
	name []byte
	mode filemode.FileMode
	hash plumbing.Hash
}

// sortsAsDir reports whether git sorts the entry with a trailing '/':
// any mode whose type bits say directory (S_ISDIR), as git's own
// base_name_compare does.
func (e rawEntry) sortsAsDir() bool { return e.mode&0o170000 == 0o040000 }

// nextTreeEntry decodes the first entry of a tree's bytes and returns the
// rest, with the same rules as parseTree; ok is false when it is malformed.
func nextTreeEntry(data []byte) (e rawEntry, rest []byte, ok bool) {
	sp := bytes.IndexByte(data, ' ')
	if sp <= 0 || sp > 7 {
		return e, nil, false
	}
	var mode uint32
	for _, c := range data[:sp] {
		if c < '0' || c > '7' {
			return e, nil, false
		}
		mode = mode<<3 | uint32(c-'0')
	}
	data = data[sp+1:]
	nul := bytes.IndexByte(data, 0)
	if nul < 0 || len(data) < nul+21 {
		return e, nil, false
	}
	e.name, e.mode = data[:nul], filemode.FileMode(mode)
	copy(e.hash[:], data[nul+1:nul+21])
	return e, data[nul+21:], true
}

// rawTree returns tree h's bytes (nil for the zero hash, the empty tree),
// or ok false when h is not a tree this reader can serve as bytes. The
// object reader's bytes are shared with its cache and never modified.
func rawTree(repo *git.Repository, h plumbing.Hash) (data []byte, ok bool) {
	if h.IsZero() {
		return nil, true
	}
	if ss, isScan := repo.Storer.(scanStorage); isScan && ss.reader != nil {
		typ, _, data, err := ss.reader.read(h, maxInt64)
		if err == nil && typ == plumbing.TreeObject {
			return data, true
		}
	}
	obj, err := repo.Storer.EncodedObject(plumbing.TreeObject, h)
	if err != nil {
		return nil, false
	}
	r, err := obj.Reader()
	if err != nil {
		return nil, false
	}
	defer r.Close()
	data, err = io.ReadAll(r)
	return data, err == nil
}

// otherTree is the tree a merge's other parent has at the directory being
// diffed, read only when an entry of the merge differs from the first
// parent's.
type otherTree struct {
	h     plumbing.Hash
	data  []byte
	read  bool
	bad   bool // unreadable or malformed: blobAt answers instead
	looks int
	index map[string]rawEntry // by name, first entry only, once looks pass maxLinearLookups
	cut   bool                // index stops at a malformed entry
}

// maxLinearLookups is how many names are looked up in another parent's
// tree by scanning its bytes before an index of it is built.
const maxLinearLookups = 8

func newOtherTrees(hs []plumbing.Hash) []otherTree {
	if hs == nil {
		return nil
	}
	ts := make([]otherTree, len(hs))
	for i, h := range hs {
		ts[i].h = h
	}
	return ts
}

// lookup returns the first entry named name (blobAt's rule); ok is false
// when the tree cannot be read, and found when it has no such entry.
func (t *otherTree) lookup(repo *git.Repository, name []byte) (e rawEntry, found, ok bool) {
	if t.h.IsZero() {
		return e, false, true
	}
	if !t.read {
		t.read = true
		t.data, t.bad = rawTree(repo, t.h)
		t.bad = !t.bad
	}
	if t.bad {
		return e, false, false
	}
	t.looks++
	if t.index == nil && t.looks > maxLinearLookups {
		idx := map[string]rawEntry{}
		for data := t.data; len(data) > 0; {
			te, rest, ok := nextTreeEntry(data)
			if !ok {
				t.cut = true // entries past a malformed one are never reached
				break
			}
			if _, dup := idx[string(te.name)]; !dup {
				idx[string(te.name)] = te
			}
			data = rest
		}
		t.index = idx
	}
	if t.index != nil {
		e, found = t.index[string(name)]
		if !found && t.cut {
			return e, false, false
		}
		return e, found, true
	}
	for data := t.data; len(data) > 0; {
		te, rest, ok := nextTreeEntry(data)
		if !ok {
			t.bad = true
			return e, false, false
		}
		if bytes.Equal(te.name, name) {
			return te, true, true
		}
		data = rest
	}
	return e, false, true
}

// plainName reports whether a tree entry's name is one path component, so
// that the path built from it leads back to it (blobAt's walk).
func plainName(name []byte) bool {
	return len(name) > 0 && bytes.IndexByte(name, '/') < 0 && !bytes.Equal(name, []byte(".")) && !bytes.Equal(name, []byte(".."))
}

// otherEntries returns the versions the other parents have of new entry
// ne: for a directory (dir set) their subtrees, else their files (the zero
// hash where a parent has none of that kind), and whether one of them is
// ne itself. It returns nil for an ordinary commit, and when it cannot
// tell: a name that is not one path component, or another parent's tree
// that cannot be read.
func (d *treeDiff) otherEntries(ne rawEntry, dir bool) ([]plumbing.Hash, bool) {
	if d.others == nil || !plainName(ne.name) {
		return nil, false
	}
	hs := make([]plumbing.Hash, len(d.others))
	same := false
	for i := range d.others {
		e, found, ok := d.others[i].lookup(d.repo, ne.name)
		if !ok {
			return nil, false
		}
		if found && (dir && e.mode == filemode.Dir || !dir && isContent(e.mode)) {
			hs[i] = e.hash
			same = same || e.hash == ne.hash
		}
	}
	return hs, same
}
