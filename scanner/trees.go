package scanner

import (
	"bytes"
	"io"
	"sort"

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

// tree returns the entries of tree h, or false if the point reader cannot
// serve it (go-git then decodes it and reports any error).
func (r *pointReader) tree(h plumbing.Hash) ([]object.TreeEntry, bool) {
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

// compareTreeKeys orders two entries as git sorts a tree.
func compareTreeKeys(a, b rawEntry) int {
	n := min(len(a.name), len(b.name))
	if c := bytes.Compare(a.name[:n], b.name[:n]); c != 0 {
		return c
	}
	return cmpInt(treeKeyByte(a, n), treeKeyByte(b, n))
}

// treeKeyByte is the byte at i of e's sort key: its name, then '/' for a
// directory, then nothing (-1).
func treeKeyByte(e rawEntry, i int) int {
	switch {
	case i < len(e.name):
		return int(e.name[i])
	case i == len(e.name) && e.sortsAsDir():
		return '/'
	}
	return -1
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// treeOrder checks that a tree's entries come in strictly increasing git
// order and that no name is both a file and a directory. A file named n
// and a directory named n are not neighbours in git's order (n.c sorts
// between them), so the files that such a directory could still repeat
// are kept on a stack: each is a prefix of the ones above it, and one is
// dropped once an entry sorts past where its directory twin would be.
type treeOrder struct {
	prev    rawEntry
	started bool
	files   [][]byte
}

// next reports whether e may follow the entries seen so far.
func (o *treeOrder) next(e rawEntry) bool {
	if o.started && compareTreeKeys(o.prev, e) >= 0 {
		return false
	}
	o.prev, o.started = e, true
	for len(o.files) > 0 {
		f := o.files[len(o.files)-1]
		if !bytes.HasPrefix(e.name, f) {
			o.files = o.files[:len(o.files)-1]
			continue
		}
		if len(e.name) == len(f) {
			if e.sortsAsDir() {
				return false // a directory named like an earlier file
			}
			break
		}
		if e.name[len(f)] >= '/' {
			o.files = o.files[:len(o.files)-1]
			continue
		}
		break
	}
	if !e.sortsAsDir() {
		o.files = append(o.files, e.name)
	}
	return true
}

// treePair is an entry that differs between two sorted trees: an entry of
// the old tree (hasOld), of the new one (hasNew), or both when they share
// a sort key but not a hash or mode.
type treePair struct {
	old, new       rawEntry
	hasOld, hasNew bool
}

// mergeTrees lists the entries that differ between two trees' bytes, in
// git order. ok is false when either tree is malformed, unsorted or
// repeats a name; the caller then diffs by name. With idx, a tree whose
// entries were already checked (as the new tree of the commit before) is
// compared only where its bytes differ, and the new tree is remembered in
// turn.
func mergeTrees(oldData, newData []byte, out []treePair) ([]treePair, bool) {
	return mergeIndexed(nil, plumbing.ZeroHash, oldData, plumbing.ZeroHash, newData, out)
}

// mergeIndexed is mergeTrees with the trees' hashes and an index cache
// (nil for none).
func mergeIndexed(idx *treeIndexes, oldH plumbing.Hash, oldData []byte, newH plumbing.Hash, newData []byte, out []treePair) ([]treePair, bool) {
	if idx != nil && !oldH.IsZero() && !newH.IsZero() {
		if offs, ok := idx.get(oldH); ok {
			return mergeKnown(idx, offs, oldData, newH, newData, out)
		}
	}
	var oldOffs, newOffs *[]uint32
	var oo, no treeOrder
	if idx != nil {
		oldOffs, newOffs = new([]uint32), new([]uint32)
	}
	out, ok := mergeRegion(oldData, 0, &oo, oldOffs, newData, 0, &no, newOffs, out)
	if ok && idx != nil {
		if !oldH.IsZero() {
			idx.put(oldH, *oldOffs)
		}
		if !newH.IsZero() {
			idx.put(newH, *newOffs)
		}
	}
	return out, ok
}

// mergeRegion merge-joins the entries of two byte ranges of trees, which
// start at offsets oldAt and newAt of their trees. A nil order trusts that
// side (its entries were checked before); offs, if set, collect where each
// entry starts.
func mergeRegion(oldData []byte, oldAt int, oo *treeOrder, oldOffs *[]uint32, newData []byte, newAt int, no *treeOrder, newOffs *[]uint32, out []treePair) ([]treePair, bool) {
	var oe, ne rawEntry
	hasO, hasN := false, false
	var ok bool
	oldEnd, newEnd := oldAt+len(oldData), newAt+len(newData)
	for {
		if !hasO && len(oldData) > 0 {
			if oldOffs != nil {
				*oldOffs = append(*oldOffs, uint32(oldEnd-len(oldData)))
			}
			if oe, oldData, ok = nextTreeEntry(oldData); !ok || oo != nil && !oo.next(oe) {
				return nil, false
			}
			hasO = true
		}
		if !hasN && len(newData) > 0 {
			if newOffs != nil {
				*newOffs = append(*newOffs, uint32(newEnd-len(newData)))
			}
			if ne, newData, ok = nextTreeEntry(newData); !ok || no != nil && !no.next(ne) {
				return nil, false
			}
			hasN = true
		}
		switch {
		case !hasO && !hasN:
			return out, true
		case !hasN:
			out = append(out, treePair{old: oe, hasOld: true})
			hasO = false
		case !hasO:
			out = append(out, treePair{new: ne, hasNew: true})
			hasN = false
		default:
			switch c := compareTreeKeys(oe, ne); {
			case c < 0:
				out = append(out, treePair{old: oe, hasOld: true})
				hasO = false
			case c > 0:
				out = append(out, treePair{new: ne, hasNew: true})
				hasN = false
			default:
				if oe.hash != ne.hash || oe.mode != ne.mode {
					out = append(out, treePair{old: oe, new: ne, hasOld: true, hasNew: true})
				}
				hasO, hasN = false, false
			}
		}
	}
}

// mergeKnown is mergeTrees for an old tree already checked, whose entries
// start at offs. Two versions of a directory share most of their entries,
// and an entry's bytes alone say where it ends, so bytes of the new tree
// equal to a run of the old tree's entries are that run: they are skipped
// with one comparison, in runs that double while they match, and only the
// entries that differ are decoded. The checks a whole tree gets are kept:
// each decoded entry's order after what precedes it (a skipped run's last
// entry), the run's first entry after the entry before it, repeated names
// among decoded entries (treeOrder), and a decoded entry named like an
// entry of the other kind in the old tree (which may only be an entry
// the new tree dropped: the diff by name then answers, as it would for
// any file that became a directory).
func mergeKnown(idx *treeIndexes, offs []uint32, oldData []byte, newH plumbing.Hash, newData []byte, out []treePair) ([]treePair, bool) {
	n := len(offs)
	end := func(k int) int { // where old entry k ends
		if k+1 < n {
			return int(offs[k+1])
		}
		return len(oldData)
	}
	at := func(k int) rawEntry {
		e, _, _ := nextTreeEntry(oldData[offs[k]:])
		return e
	}
	var no treeOrder
	newOffs := make([]uint32, 0, n+8)
	k, pos := 0, 0 // the next old entry, the next byte of the new tree
	var oe, ne rawEntry
	hasO, hasN := false, false
	for {
		if !hasO && !hasN && k < n {
			run := 0
			for m := 1; m >= 1 && k+run < n; {
				m = min(m, n-k-run)
				from, to := int(offs[k+run]), end(k+run+m-1)
				if l := to - from; pos+l <= len(newData) && bytes.Equal(oldData[from:to], newData[pos:pos+l]) {
					for q := k + run; q < k+run+m; q++ {
						newOffs = append(newOffs, uint32(int(offs[q])-from+pos))
					}
					pos += l
					run += m
					m *= 2
				} else {
					m /= 2
				}
			}
			if run > 0 {
				if no.started && compareTreeKeys(no.prev, at(k)) >= 0 {
					return nil, false
				}
				no.prev, no.started = at(k+run-1), true
				k += run
			}
		}
		if !hasO && k < n {
			oe, hasO = at(k), true
			k++
		}
		if !hasN && pos < len(newData) {
			newOffs = append(newOffs, uint32(pos))
			e, rest, ok := nextTreeEntry(newData[pos:])
			if !ok || !no.next(e) || hasEntry(oldData, offs, e.name, !e.sortsAsDir()) {
				return nil, false
			}
			ne, hasN = e, true
			pos = len(newData) - len(rest)
		}
		switch {
		case !hasO && !hasN:
			idx.put(newH, newOffs)
			return out, true
		case !hasN:
			out = append(out, treePair{old: oe, hasOld: true})
			hasO = false
		case !hasO:
			out = append(out, treePair{new: ne, hasNew: true})
			hasN = false
		default:
			switch c := compareTreeKeys(oe, ne); {
			case c < 0:
				out = append(out, treePair{old: oe, hasOld: true})
				hasO = false
			case c > 0:
				out = append(out, treePair{new: ne, hasNew: true})
				hasN = false
			default:
				if oe.hash != ne.hash || oe.mode != ne.mode {
					out = append(out, treePair{old: oe, new: ne, hasOld: true, hasNew: true})
				}
				hasO, hasN = false, false
			}
		}
	}
}

// hasEntry reports whether the sorted entries of data at offs include one
// named name that sorts as a directory (dir) or as a file.
func hasEntry(data []byte, offs []uint32, name []byte, dir bool) bool {
	want := rawEntry{name: name}
	if dir {
		want.mode = filemode.Dir
	}
	k := sort.Search(len(offs), func(k int) bool {
		e, _, _ := nextTreeEntry(data[offs[k]:])
		return compareTreeKeys(e, want) >= 0
	})
	if k == len(offs) {
		return false
	}
	e, _, _ := nextTreeEntry(data[offs[k]:])
	return bytes.Equal(e.name, name) && e.sortsAsDir() == dir
}

// treeIndexes remembers where the entries of checked trees start, for one
// range worker: the new tree of one commit is the old tree of the next.
type treeIndexes struct {
	m       map[plumbing.Hash][]uint32
	entries int
	// byName, set only by the tests that compare the two, diffs every
	// level by name, reads no other parent's tree and skips nothing: the
	// diff the merge-join replaced.
	byName bool
}

// maxTreeIndexEntries bounds the offsets a worker remembers (four bytes
// each); when full the cache is emptied, which costs only decoding.
const maxTreeIndexEntries = 1 << 18

func (c *treeIndexes) get(h plumbing.Hash) ([]uint32, bool) {
	if c.byName {
		return nil, false
	}
	offs, ok := c.m[h]
	return offs, ok
}

func (c *treeIndexes) put(h plumbing.Hash, offs []uint32) {
	if c.m == nil || c.entries+len(offs) > maxTreeIndexEntries {
		c.m, c.entries = map[plumbing.Hash][]uint32{}, 0
	}
	if _, ok := c.m[h]; !ok {
		c.m[h] = offs
		c.entries += len(offs)
	}
}

// rawTree returns tree h's bytes (nil for the zero hash, the empty tree),
// or ok false when h is not a tree this reader can serve as bytes. The
// point reader's bytes are shared with its cache and never modified.
func rawTree(repo *git.Repository, h plumbing.Hash) (data []byte, ok bool) {
	if h.IsZero() {
		return nil, true
	}
	if ss, isScan := repo.Storer.(scanStorage); isScan && ss.point != nil {
		typ, _, data, err := ss.point.read(h, maxInt64)
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
