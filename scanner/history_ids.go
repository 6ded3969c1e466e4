package scanner

import (
	"encoding/binary"

	"github.com/go-git/go-git/v5/plumbing"
)

// objectIDs numbers every object of a repository densely, so that per-object
// state lives in slices and bitsets rather than maps keyed by 20-byte
// hashes. It is an open-addressing table over the hashes' first eight bytes
// (already uniformly distributed): a lookup is one or two cache misses,
// where a Go map of millions of hashes costs several times that, and a
// history sweep looks up every tree entry of every tree.
//
// It is filled by one goroutine before the sweep starts and only read
// during it, so it needs no lock.
type objectIDs struct {
	hashes []plumbing.Hash
	slots  []uint32 // id+1; 0 is empty
	mask   uint64
}

// newObjectIDs returns a table sized for n objects.
func newObjectIDs(n int) *objectIDs {
	size := 1024
	for size < 2*n {
		size <<= 1
	}
	return &objectIDs{
		hashes: make([]plumbing.Hash, 0, n),
		slots:  make([]uint32, size),
		mask:   uint64(size - 1),
	}
}

// add returns h's id, and whether h was new.
func (t *objectIDs) add(h plumbing.Hash) (uint32, bool) {
	if len(t.hashes)*2 >= len(t.slots) {
		t.grow()
	}
	i := binary.LittleEndian.Uint64(h[:8]) & t.mask
	for {
		s := t.slots[i]
		if s == 0 {
			t.hashes = append(t.hashes, h)
			id := uint32(len(t.hashes) - 1)
			t.slots[i] = id + 1
			return id, true
		}
		if t.hashes[s-1] == h {
			return s - 1, false
		}
		i = (i + 1) & t.mask
	}
}

// get returns h's id, if the repository has that object.
func (t *objectIDs) get(h []byte) (uint32, bool) {
	i := binary.LittleEndian.Uint64(h[:8]) & t.mask
	for {
		s := t.slots[i]
		if s == 0 {
			return 0, false
		}
		if string(t.hashes[s-1][:]) == string(h) {
			return s - 1, true
		}
		i = (i + 1) & t.mask
	}
}

func (t *objectIDs) grow() {
	old := t.hashes
	t.slots = make([]uint32, len(t.slots)*2)
	t.mask = uint64(len(t.slots) - 1)
	t.hashes = t.hashes[:0:len(old)]
	hs := append([]plumbing.Hash(nil), old...)
	for _, h := range hs {
		t.add(h)
	}
}

// len is how many objects are numbered.
func (t *objectIDs) len() int { return len(t.hashes) }

// bitset is a set of object ids.
type bitset []uint64

// newBitset returns an empty set for ids below n.
func newBitset(n int) bitset { return make(bitset, (n+63)/64) }

func (b bitset) has(i uint32) bool { return b[i/64]&(1<<(i%64)) != 0 }
func (b bitset) set(i uint32)      { b[i/64] |= 1 << (i % 64) }
