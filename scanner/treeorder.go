package scanner

import (
	"bytes"
	"sort"
	"sync"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
)

// Comparing two versions of a directory in git's tree order: the
// merge-join of their entries, the checks that make it equivalent to
// matching entries by name, and the per-worker index that lets the next
// commit's version be compared only where its bytes differ. diffMerge
// (git.go) walks the directories; trees.go reads them.

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
	if int64(len(oldData)) > maxIndexedTree || int64(len(newData)) > maxIndexedTree {
		idx = nil // offsets are 32 bits
	}
	if idx != nil && !oldH.IsZero() && !newH.IsZero() {
		// An index that does not fit the bytes (it cannot, for one
		// object name) is ignored rather than trusted.
		if offs, ok := idx.get(oldH); ok && (len(offs) == 0) == (len(oldData) == 0) && (len(offs) == 0 || int(offs[len(offs)-1]) < len(oldData)) {
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
		if !hasO && !hasN {
			return out, true
		}
		out, hasO, hasN = joinStep(out, oe, ne, hasO, hasN)
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
		if !hasO && !hasN {
			idx.put(newH, newOffs)
			return out, true
		}
		out, hasO, hasN = joinStep(out, oe, ne, hasO, hasN)
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

// joinStep is one step of the merge-join over two trees in git's order,
// with at least one of the next old and new entries present: the side
// whose entry sorts first is taken (an entry only it has, reported), or
// both when the names match (reported if hash or mode differ). It returns
// out with the pair appended and which sides still hold their entry.
func joinStep(out []treePair, oe, ne rawEntry, hasO, hasN bool) ([]treePair, bool, bool) {
	c := 0
	switch {
	case !hasN:
		c = -1
	case !hasO:
		c = 1
	default:
		c = compareTreeKeys(oe, ne)
	}
	switch {
	case c < 0:
		return append(out, treePair{old: oe, hasOld: true}), false, hasN
	case c > 0:
		return append(out, treePair{new: ne, hasNew: true}), hasO, false
	}
	if oe.hash != ne.hash || oe.mode != ne.mode {
		out = append(out, treePair{old: oe, new: ne, hasOld: true, hasNew: true})
	}
	return out, false, false
}

// treeIndexes remembers where the entries of checked trees start, for the
// workers of a range scan: the new tree of one commit is the old tree of
// the next. It is safe for concurrent use; the offsets it hands out are
// never modified.
type treeIndexes struct {
	mu      sync.Mutex
	m       map[plumbing.Hash][]uint32
	entries int
	// byName, set only by the tests that compare the two, diffs every
	// level by name, reads no other parent's tree and skips nothing: the
	// diff the merge-join replaced.
	byName bool
}

// maxIndexedTree is the largest tree whose entries' offsets are kept:
// they are 32-bit.
const maxIndexedTree = 1<<32 - 1

// maxTreeIndexEntries bounds the offsets a worker remembers (four bytes
// each); when full the cache is emptied, which costs only decoding.
const maxTreeIndexEntries = 1 << 18

func (c *treeIndexes) get(h plumbing.Hash) ([]uint32, bool) {
	if c.byName {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	offs, ok := c.m[h]
	return offs, ok
}

func (c *treeIndexes) put(h plumbing.Hash, offs []uint32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || c.entries+len(offs) > maxTreeIndexEntries {
		c.m, c.entries = map[plumbing.Hash][]uint32{}, 0
	}
	if _, ok := c.m[h]; !ok {
		c.m[h] = offs
		c.entries += len(offs)
	}
}
