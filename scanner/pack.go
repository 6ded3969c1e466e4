package scanner

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"runtime"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
)

// A repository's packs are opened once, by the repository's object reader
// (objects.go), and read two ways: by hash, through the index, for the
// staged and range scans' point reads; and in pack order, through the
// delta forest packforest.go builds from the same index, for the history
// sweep. Both read the same mapping of the same files (issue 10: "one pack
// reader shared by point reads and the sweep").

// Pack limits. A packfile is untrusted input (a clone of someone else's
// repository), so every size it claims is checked before memory is spent
// on it.
const (
	// maxInflateRatio is how much larger than its compressed form an object
	// may claim to be. DEFLATE cannot do better than about 1032:1, so a
	// header claiming more is corrupt, and believing it would allocate
	// whatever a flipped bit asks for.
	maxInflateRatio = 1100

	// maxObjectHeader is the longest object header in a pack: a 10-byte
	// size varint, then a 10-byte offset varint or a 20-byte base hash.
	maxObjectHeader = 32

	// packTrailer is the SHA-1 checksum closing every pack.
	packTrailer = 20
)

// Version-2 pack index layout (git's Documentation/gitformat-pack.txt):
// magic and version, a 256-entry fan-out table, then per object a 20-byte
// name, a CRC-32 and a 4-byte offset, sorted by name; then the 8-byte
// offsets of objects past 2 GiB; then two checksums.
const (
	idxHeader  = 8
	idxFanout  = 256 * 4
	idxTrailer = 2 * 20
	// idxPerObject is the bytes each object takes in the three tables.
	idxPerObject = 20 + 4 + 4
)

var idxMagic = []byte{0xff, 't', 'O', 'c', 0, 0, 0, 2}

// errCorruptObject marks an object whose stored form does not parse.
var errCorruptObject = errors.New("corrupt object")

// pack is one packfile and its index. It is safe for concurrent use: it
// is never modified after openPack, and readers keep their own buffers.
type pack struct {
	path string
	// data is the pack mapped read-only, or nil when it could not be
	// mapped (a 32-bit address space, a system without mmap): the sweep
	// then reads f with ReadAt, and point reads leave the pack to go-git.
	data []byte
	f    *os.File // open only while data is nil
	size int64
	// idx is the version-2 index, mapped (or read, where mapping is not
	// available); count is its number of objects.
	idx   []byte
	count uint32
}

// packMaps is what a pack's cleanup releases.
type packMaps struct {
	data, idx []byte
	idxMapped bool
}

// openPack opens the pack at path (ending ".pack") and its index, checking
// their headers and the index's size. The mappings are released when the
// pack is no longer referenced: the repository that owns it has no Close
// (go-git's has none), and the sweep and point reads hold it for as long
// as they read it.
func openPack(path string) (*pack, error) {
	idxPath := strings.TrimSuffix(path, ".pack") + ".idx"
	idx, idxMapped, err := mapOrRead(idxPath)
	if err != nil {
		return nil, fmt.Errorf("open pack index: %w", err)
	}
	m := packMaps{idx: idx, idxMapped: idxMapped}
	p, err := openPackData(path, idxPath, idx, &m)
	if err != nil {
		m.release()
		return nil, err
	}
	runtime.AddCleanup(p, packMaps.release, m)
	return p, nil
}

// openPackData checks the index and opens the pack itself, recording its
// mapping in m.
func openPackData(path, idxPath string, idx []byte, m *packMaps) (*pack, error) {
	if len(idx) < idxHeader+idxFanout+idxTrailer || !bytes.Equal(idx[:idxHeader], idxMagic) {
		return nil, fmt.Errorf("read pack index %s: %w: not a version-2 index", idxPath, errCorruptObject)
	}
	n := binary.BigEndian.Uint32(idx[idxHeader+255*4:])
	if uint64(len(idx)) < idxHeader+idxFanout+uint64(n)*idxPerObject+idxTrailer {
		return nil, fmt.Errorf("read pack index %s: %w: short tables", idxPath, errCorruptObject)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open pack: %w", err)
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("stat pack: %w", err)
	}
	p := &pack{path: path, f: f, size: info.Size(), idx: idx, count: n}
	var hdr [12]byte
	if _, err := f.ReadAt(hdr[:], 0); err != nil || string(hdr[:4]) != "PACK" {
		f.Close()
		return nil, fmt.Errorf("read pack: %w: bad header", errCorruptObject)
	}
	// Map the pack, as git does: a sweep reads every object, and one
	// pread per object costs as much as inflating the small ones; a
	// point read touches a few pages. Pages are the page cache's, shared
	// and dropped under pressure. If mapping fails, ReadAt still works
	// for the sweep.
	if p.data = mapFile(f, p.size); p.data != nil {
		m.data = p.data
		f.Close()
		p.f = nil
	}
	return p, nil
}

// mapOrRead maps the file at path, or reads it where it cannot be mapped.
func mapOrRead(path string) (b []byte, mapped bool, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, false, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, false, err
	}
	if b := mapFile(f, info.Size()); b != nil {
		return b, true, nil
	}
	b, err = os.ReadFile(path)
	return b, false, err
}

func (m packMaps) release() {
	if m.data != nil {
		unmapFile(m.data)
	}
	if m.idxMapped {
		unmapFile(m.idx)
	}
}

// find returns the offset of h in p, by binary search of the sorted names
// between the fan-out bounds for h's first byte.
func (p *pack) find(h plumbing.Hash) (int64, bool) {
	fan := p.idx[idxHeader:]
	lo := uint32(0)
	if h[0] > 0 {
		lo = binary.BigEndian.Uint32(fan[(int(h[0])-1)*4:])
	}
	hi := binary.BigEndian.Uint32(fan[int(h[0])*4:])
	if hi > p.count || lo > hi {
		return 0, false
	}
	names := p.idx[idxHeader+idxFanout:]
	key := binary.BigEndian.Uint64(h[1:9])
	for step := 0; lo < hi; step++ {
		mid := lo + (hi-lo)/2
		if step < maxInterpolations && hi-lo > 8 {
			mid = interpolate(names, lo, hi, key)
		}
		switch c := bytes.Compare(names[mid*20:mid*20+20], h[:]); {
		case c == 0:
			return p.offset(mid)
		case c < 0:
			lo = mid + 1
		default:
			hi = mid
		}
	}
	return 0, false
}

// maxInterpolations bounds the interpolation steps of a lookup before it
// halves the range instead: object names are uniformly distributed, so
// guessing a name's place from its value finds it in two or three probes
// where halving a bucket of git/git's 850,000 objects takes twelve (the
// comparisons were 2% of a range scan's CPU, and each probe may touch a
// page of the index not yet read); a damaged index's order is not, and
// halving bounds the search whatever it holds.
const maxInterpolations = 3

// interpolate guesses where, among names[lo:hi) (hi-lo > 1), an entry
// whose bytes 1 to 8 are key would be, from those of the first and last
// entries: within [lo, hi).
func interpolate(names []byte, lo, hi uint32, key uint64) uint32 {
	first := binary.BigEndian.Uint64(names[lo*20+1:])
	last := binary.BigEndian.Uint64(names[(hi-1)*20+1:])
	switch {
	case key <= first:
		return lo
	case key >= last:
		return hi - 1
	}
	at := lo + uint32(float64(key-first)/float64(last-first)*float64(hi-1-lo))
	return min(at, hi-1)
}

// hashAt is the name of the index's entry i.
func (p *pack) hashAt(i uint32) plumbing.Hash {
	var h plumbing.Hash
	copy(h[:], p.idx[idxHeader+idxFanout+uint64(i)*20:])
	return h
}

// offset reads entry i's pack offset: 31 bits, or an index into the table
// of 64-bit offsets when the top bit is set.
func (p *pack) offset(i uint32) (int64, bool) {
	base := idxHeader + idxFanout + uint64(p.count)*24
	off := binary.BigEndian.Uint32(p.idx[base+uint64(i)*4:])
	if off&0x80000000 == 0 {
		return int64(off), true
	}
	large := base + uint64(p.count)*4 + uint64(off&0x7fffffff)*8
	if large+8 > uint64(len(p.idx)) {
		return 0, false
	}
	o := binary.BigEndian.Uint64(p.idx[large:])
	if o > math.MaxInt64 {
		return 0, false
	}
	return int64(o), true
}

// parseObjectHeader decodes a pack object header: 3 bits of type and a
// little-endian base-128 size.
func parseObjectHeader(h []byte) (plumbing.ObjectType, int64, int, bool) {
	if len(h) == 0 {
		return 0, 0, 0, false
	}
	c := h[0]
	typ := plumbing.ObjectType((c >> 4) & 7)
	size := int64(c & 15)
	shift := uint(4)
	n := 1
	for c&0x80 != 0 {
		if n >= len(h) || shift > 56 {
			return 0, 0, 0, false
		}
		c = h[n]
		n++
		size |= int64(c&0x7f) << shift
		shift += 7
	}
	return typ, size, n, size >= 0
}

// parseOffset decodes an OFS_DELTA's distance back to its base, in git's
// offset encoding (each continuation adds one before shifting).
func parseOffset(h []byte) (int64, int, bool) {
	if len(h) == 0 {
		return 0, 0, false
	}
	c := h[0]
	off := int64(c & 0x7f)
	n := 1
	for c&0x80 != 0 {
		if n >= len(h) || off > 1<<55 {
			return 0, 0, false
		}
		c = h[n]
		n++
		off = ((off + 1) << 7) | int64(c&0x7f)
	}
	return off, n, true
}
