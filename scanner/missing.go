package scanner

import (
	"sort"
	"sync"

	"github.com/go-git/go-git/v5/plumbing"
)

// Missing objects (issue 10, item 7). A repository can lack a blob its
// trees name: a partial clone whose promisor remote is gone, an
// interrupted copy, a bad disk. The sweep reads what is there, so a
// missing blob would simply never be scanned and the history would look
// clean. The tree phase therefore runs on every sweep and looks up every
// entry; a missing one named by a tree a ref reaches makes the result
// incomplete (an error: exit 2 when nothing was found), never a silent gap.
//
// Looking up every entry of every tree costs a hash-table probe per entry:
// git/git's trees hold about 150 million entries (5.8 GB). But a tree is
// almost always a delta of another tree, and an entry copied whole from
// the base tree, where it was found, is found again: only entries that
// touch the delta's inserted bytes, or that land where the base had no
// entry hash, are looked up.

// maxMissingKept bounds how many missing hashes are remembered (for the
// count of distinct ones and the first to name); past it they are counted.
const maxMissingKept = 1 << 12

// missingSet is what the tree phase found missing, by the tree that
// names it: only trees a ref reaches count (unless --all-objects), since
// git prunes unreachable objects piecemeal and a dangling tree may outlive
// its blobs (the git/git mirror holds such trees).
type missingSet struct {
	mu     sync.Mutex
	byTree map[uint32][]plumbing.Hash
	kept   int // hashes kept in byTree, at most maxMissingKept
}

// noteMissing records that tree names h, which the repository lacks.
func (s *sweep) noteMissing(tree uint32, h []byte) {
	m := &s.missing
	m.mu.Lock()
	defer m.mu.Unlock()
	var k plumbing.Hash
	copy(k[:], h)
	if m.byTree == nil {
		m.byTree = map[uint32][]plumbing.Hash{}
	}
	if m.kept >= maxMissingKept {
		// Keep the tree, so its reachability still counts, with one hash.
		if len(m.byTree[tree]) == 0 {
			m.byTree[tree] = append(m.byTree[tree], k)
		}
		return
	}
	m.byTree[tree] = append(m.byTree[tree], k)
	m.kept++
}

// missingReached returns how many distinct objects the trees a ref
// reaches (every tree, if all) name but the repository lacks, and the
// smallest of their hashes.
func (s *sweep) missingReached(h *history, all bool) (int, plumbing.Hash) {
	m := &s.missing
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.byTree) == 0 {
		return 0, plumbing.ZeroHash
	}
	var reached bitset
	if !all {
		reached = newBitset(s.st.ids.len())
		var visit func(uint32)
		visit = func(t uint32) {
			if reached.has(t) {
				return
			}
			reached.set(t)
			if rec, ok := s.treeRec(t); ok {
				for _, sub := range rec.subs {
					visit(sub.id)
				}
			}
		}
		for _, c := range h.reachable {
			if id, ok := s.st.ids.get(c.tree[:]); ok {
				visit(id)
			}
		}
		for _, r := range h.extraRoots {
			if id, ok := s.st.ids.get(r.hash[:]); ok && r.typ == plumbing.TreeObject {
				visit(id)
			}
		}
	}
	seen := map[plumbing.Hash]bool{}
	var first plumbing.Hash
	for tree, hs := range m.byTree {
		if !all && !reached.has(tree) {
			continue
		}
		for _, k := range hs {
			if !seen[k] {
				seen[k] = true
				if len(seen) == 1 || k.String() < first.String() {
					first = k
				}
			}
		}
	}
	return len(seen), first
}

// coverage answers, entry by entry in offset order, whether a tree entry's
// hash at some offset was copied whole by a delta instruction from a place
// in the base tree where an entry hash was found present.
type coverage struct {
	segs []deltaSeg
	from []int32 // sorted offsets of the base's present entry hashes
	on   bool
	j    int // the segment reached
	k    int // the base entry after the last one matched
}

func (c *coverage) covered(at int32) bool {
	if !c.on {
		return false
	}
	p := int(at)
	for c.j < len(c.segs) && c.segs[c.j].dst+c.segs[c.j].n <= p {
		c.j++
	}
	if c.j == len(c.segs) {
		return false
	}
	s := c.segs[c.j]
	if s.src < 0 || p < s.dst || p+20 > s.dst+s.n {
		return false
	}
	q := int32(s.src + p - s.dst)
	// Consecutive entries copied in one run are consecutive in the base:
	// try the one after the last found before searching.
	if c.k < len(c.from) && c.from[c.k] == q {
		c.k++
		return true
	}
	k := sort.Search(len(c.from), func(i int) bool { return c.from[i] >= q })
	if k < len(c.from) && c.from[k] == q {
		c.k = k + 1
		return true
	}
	return false
}
