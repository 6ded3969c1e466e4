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
// entry; a missing one makes the result incomplete (an error: exit 2 when
// nothing was found), never a silent gap.
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

// missingSet is what the tree phase found missing.
type missingSet struct {
	mu     sync.Mutex
	hashes map[plumbing.Hash]bool
	more   int // beyond maxMissingKept
}

// noteMissing records that a tree names h, which the repository lacks.
func (s *sweep) noteMissing(h []byte) {
	m := &s.missing
	m.mu.Lock()
	defer m.mu.Unlock()
	var k plumbing.Hash
	copy(k[:], h)
	if m.hashes[k] {
		return
	}
	if len(m.hashes) >= maxMissingKept {
		m.more++
		return
	}
	if m.hashes == nil {
		m.hashes = map[plumbing.Hash]bool{}
	}
	m.hashes[k] = true
}

// summary returns how many distinct missing objects were seen (at least)
// and the smallest hash among them, or 0.
func (m *missingSet) summary() (int, plumbing.Hash) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.hashes) == 0 {
		return 0, plumbing.ZeroHash
	}
	hs := make([]plumbing.Hash, 0, len(m.hashes))
	for h := range m.hashes {
		hs = append(hs, h)
	}
	sort.Slice(hs, func(i, j int) bool { return hs[i].String() < hs[j].String() })
	return len(hs) + m.more, hs[0]
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
