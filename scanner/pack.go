package scanner

import (
	"bufio"
	"bytes"
	"cmp"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"os"
	"slices"
	"sort"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/idxfile"
)

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

// errCorruptObject marks an object whose stored form does not parse.
var errCorruptObject = errors.New("corrupt object")

// packEntry is one object of a pack, in offset order. It is kept small
// (about 40 bytes) because a large repository has millions of them.
type packEntry struct {
	off, end int64 // the object's header to the next object's header
	size     int64 // inflated size from the header; for a delta, the delta's
	base     int32 // index of the delta base in this pack, -1 for none
	id       uint32
	typ      plumbing.ObjectType // as stored: a delta type for deltas
	kind     plumbing.ObjectType // resolved type; 0 while unknown
	hdrLen   uint8
	extBase  bool // a REF_DELTA whose base is not in this pack
	dup      bool // the same object was already seen elsewhere
}

// pack is an open packfile with its entries in offset order, and the delta
// forest over them: children[childStart[i]:childStart[i+1]] are the deltas
// whose base is entry i.
type pack struct {
	path       string
	f          *os.File
	data       []byte // the file mapped read-only, or nil to use ReadAt
	ents       []packEntry
	hashes     []plumbing.Hash // by entry, offset order
	extHashes  map[int32]plumbing.Hash
	childStart []int32
	children   []int32
	size       int64
	// bad counts entries no forest root reaches, so never read;
	// badFirst says why for the first.
	bad      int
	badFirst error
}

// openPack reads a pack's index and the header of every object, so that the
// delta forest is known before anything is inflated.
func openPack(path string) (*pack, error) {
	idxPath := path[:len(path)-len(".pack")] + ".idx"
	idxFile, err := os.Open(idxPath)
	if err != nil {
		return nil, fmt.Errorf("open pack index: %w", err)
	}
	idx := idxfile.NewMemoryIndex()
	err = idxfile.NewDecoder(bufio.NewReader(idxFile)).Decode(idx)
	idxFile.Close()
	if err != nil {
		return nil, fmt.Errorf("read pack index %s: %w", idxPath, err)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open pack: %w", err)
	}
	p := &pack{path: path, f: f}
	if err := p.load(idx); err != nil {
		f.Close()
		return nil, err
	}
	return p, nil
}

func (p *pack) close() {
	if p.data != nil {
		unmapFile(p.data)
		p.data = nil
	}
	p.f.Close()
}

// load lists the entries by offset and parses their headers in one
// sequential read of the file.
func (p *pack) load(idx *idxfile.MemoryIndex) error {
	info, err := p.f.Stat()
	if err != nil {
		return fmt.Errorf("stat pack: %w", err)
	}
	p.size = info.Size()
	var hdr [12]byte
	if _, err := p.f.ReadAt(hdr[:], 0); err != nil || string(hdr[:4]) != "PACK" {
		return fmt.Errorf("read pack: %w: bad header", errCorruptObject)
	}
	// Map the pack, as git does: a sweep reads every object, and one
	// pread per object costs as much as inflating the small ones. Pages
	// are the page cache's, shared and dropped under pressure. If mapping
	// fails (a 32-bit address space), ReadAt still works.
	p.data = mapFile(p.f, p.size)
	if err := p.listEntries(idx); err != nil {
		return err
	}
	end := p.size - packTrailer
	for i := len(p.ents) - 1; i >= 0; i-- {
		p.ents[i].end = end
		end = p.ents[i].off
	}
	return p.readHeaders()
}

// listEntries fills p.ents and p.hashes in offset order from the index's
// tables. (MemoryIndex.EntriesByOffset does the same with an allocation per
// entry and an interface sort: a quarter of opening a large pack.)
func (p *pack) listEntries(idx *idxfile.MemoryIndex) error {
	n := int(idx.Fanout[255])
	type entry struct {
		off int64
		i   int32
	}
	order := make([]entry, 0, n)
	hashes := make([]plumbing.Hash, 0, n)
	prev := uint32(0)
	for first := range 256 {
		count := int(idx.Fanout[first]) - int(prev)
		prev = idx.Fanout[first]
		if count <= 0 {
			continue
		}
		m := idx.FanoutMapping[first]
		if m < 0 || m >= len(idx.Names) || m >= len(idx.Offset32) ||
			len(idx.Names[m]) < count*20 || len(idx.Offset32[m]) < count*4 {
			return fmt.Errorf("read pack index: %w: short tables", errCorruptObject)
		}
		names, offs := idx.Names[m], idx.Offset32[m]
		for j := range count {
			off := uint64(binary.BigEndian.Uint32(offs[4*j:]))
			if off&(1<<31) != 0 {
				k := 8 * (off &^ (1 << 31))
				if k+8 > uint64(len(idx.Offset64)) {
					return fmt.Errorf("read pack index: %w: 64-bit offset out of range", errCorruptObject)
				}
				off = binary.BigEndian.Uint64(idx.Offset64[k:])
			}
			if off > math.MaxInt64 {
				return fmt.Errorf("read pack index: %w: offset out of range", errCorruptObject)
			}
			var h plumbing.Hash
			copy(h[:], names[20*j:])
			order = append(order, entry{int64(off), int32(len(hashes))})
			hashes = append(hashes, h)
		}
	}
	slices.SortFunc(order, func(a, b entry) int { return cmp.Compare(a.off, b.off) })
	p.ents = make([]packEntry, len(order))
	p.hashes = make([]plumbing.Hash, len(order))
	for k, e := range order {
		p.ents[k] = packEntry{off: e.off, base: -1}
		p.hashes[k] = hashes[e.i]
	}
	return nil
}

// readHeaders parses each object's type, size and delta base. Objects
// whose header does not parse keep typ 0 and are reported when the sweep
// reaches them.
func (p *pack) readHeaders() error {
	var r *bufio.Reader // without a mapping, one sequential read
	if p.data == nil {
		r = bufio.NewReaderSize(io.NewSectionReader(p.f, 0, p.size), 1<<20)
	}
	var pos int64
	var buf [maxObjectHeader]byte
	refs := map[plumbing.Hash]int32{}
	var refDeltas []int32
	var refBases []plumbing.Hash
	for i := range p.ents {
		e := &p.ents[i]
		if e.off < pos || e.end <= e.off {
			continue // overlapping offsets: a corrupt index
		}
		var h []byte
		if p.data != nil {
			if e.off >= int64(len(p.data)) {
				break // truncated pack: the rest stay typ 0
			}
			h = p.data[e.off:min(e.off+maxObjectHeader, e.end, int64(len(p.data)))]
		} else {
			if _, err := r.Discard(int(e.off - pos)); err != nil {
				break
			}
			pos = e.off
			n, _ := io.ReadFull(r, buf[:min(int64(len(buf)), e.end-e.off)])
			pos += int64(n)
			h = buf[:n]
		}
		typ, size, hl, ok := parseObjectHeader(h)
		if !ok {
			continue
		}
		e.typ, e.size, e.hdrLen = typ, size, uint8(hl)
		switch typ {
		case plumbing.OFSDeltaObject:
			rel, l, ok := parseOffset(h[hl:])
			if !ok || rel <= 0 || rel > e.off {
				e.typ = 0
				continue
			}
			e.hdrLen += uint8(l)
			j := sort.Search(i, func(j int) bool { return p.ents[j].off >= e.off-rel })
			if j >= i || p.ents[j].off != e.off-rel {
				e.typ = 0
				continue
			}
			e.base = int32(j)
		case plumbing.REFDeltaObject:
			if len(h) < hl+20 {
				e.typ = 0
				continue
			}
			var bh plumbing.Hash
			copy(bh[:], h[hl:hl+20])
			e.hdrLen += 20
			refDeltas = append(refDeltas, int32(i))
			refBases = append(refBases, bh)
		case plumbing.CommitObject, plumbing.TreeObject, plumbing.BlobObject, plumbing.TagObject:
			e.kind = typ
		default:
			e.typ = 0
		}
	}
	if len(refDeltas) > 0 {
		for i, h := range p.hashes {
			refs[h] = int32(i)
		}
		for k, i := range refDeltas {
			if j, ok := refs[refBases[k]]; ok && j != i {
				p.ents[i].base = j
				continue
			}
			p.ents[i].extBase = true
			if p.extHashes == nil {
				p.extHashes = map[int32]plumbing.Hash{}
			}
			p.extHashes[i] = refBases[k]
		}
	}
	p.buildForest()
	return nil
}

// buildForest links each delta to its base and gives every object the type
// of its forest's root, so totals are known before inflating anything.
func (p *pack) buildForest() {
	p.childStart = make([]int32, len(p.ents)+1)
	for _, e := range p.ents {
		if e.base >= 0 {
			p.childStart[e.base+1]++
		}
	}
	for i := 1; i < len(p.childStart); i++ {
		p.childStart[i] += p.childStart[i-1]
	}
	p.children = make([]int32, p.childStart[len(p.ents)])
	fill := append([]int32(nil), p.childStart[:len(p.ents)]...)
	for i, e := range p.ents {
		if e.base >= 0 {
			p.children[fill[e.base]] = int32(i)
			fill[e.base]++
		}
	}
	var mark func(i int32, kind plumbing.ObjectType, depth int)
	mark = func(i int32, kind plumbing.ObjectType, depth int) {
		for _, c := range p.kids(i) {
			if p.ents[c].kind == 0 {
				p.ents[c].kind = kind
				mark(c, kind, depth+1)
			}
		}
	}
	for i := range p.ents {
		if p.ents[i].base < 0 && p.ents[i].kind != 0 {
			mark(int32(i), p.ents[i].kind, 0)
		}
	}
	// What no root reaches (a header that did not parse, a delta whose
	// base did not, a cycle of REF_DELTAs) can never be read.
	reached := make([]bool, len(p.ents))
	var reach func(i int32)
	reach = func(i int32) {
		reached[i] = true
		for _, c := range p.kids(i) {
			if !reached[c] {
				reach(c)
			}
		}
	}
	for i := range p.ents {
		if p.isRoot(i) {
			reach(int32(i))
		}
	}
	for i, ok := range reached {
		if !ok {
			p.bad++
			if p.badFirst == nil {
				p.badFirst = fmt.Errorf("object at offset %d: %w: bad header or missing delta base", p.ents[i].off, errCorruptObject)
			}
		}
	}
}

// kids are the deltas based on entry i.
func (p *pack) kids(i int32) []int32 {
	return p.children[p.childStart[i]:p.childStart[i+1]]
}

// isRoot reports whether entry i starts a delta forest: a whole object, or a
// delta whose base lives outside the pack.
func (p *pack) isRoot(i int) bool {
	e := &p.ents[i]
	return e.base < 0 && (e.kind != 0 || e.extBase)
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

// inflater reads and inflates pack objects, reusing its buffers and zlib
// state: allocating a decompressor per object costs more than small
// objects take to inflate.
type inflater struct {
	comp []byte
	br   bytes.Reader
	zr   io.ReadCloser
	bufs bufCache
}

// inflate returns entry i's inflated bytes: the object itself, or for a
// delta the delta instructions.
func (z *inflater) inflate(p *pack, i int32) ([]byte, error) {
	e := &p.ents[i]
	n := e.end - e.off
	if p.data == nil && cap(z.comp) < int(n) {
		z.comp = make([]byte, n)
	}
	var comp []byte
	if p.data != nil {
		if e.end > int64(len(p.data)) {
			return nil, fmt.Errorf("read object at offset %d: %w", e.off, io.ErrUnexpectedEOF)
		}
		comp = p.data[e.off:e.end]
	} else {
		comp = z.comp[:n]
		if m, err := p.f.ReadAt(comp, e.off); int64(m) < n {
			return nil, fmt.Errorf("read object at offset %d: %w", e.off, errOr(err, io.ErrUnexpectedEOF))
		}
	}
	return z.inflateBytes(comp[e.hdrLen:], e.size)
}

// inflateBytes inflates a zlib stream that must yield exactly size bytes.
func (z *inflater) inflateBytes(comp []byte, size int64) ([]byte, error) {
	if size > int64(len(comp))*maxInflateRatio+64 {
		return nil, fmt.Errorf("inflate object: %w: claims %d bytes from %d", errCorruptObject, size, len(comp))
	}
	z.br.Reset(comp)
	if err := z.reset(); err != nil {
		return nil, err
	}
	out := z.bufs.get(int(size))
	if _, err := io.ReadFull(z.zr, out); err != nil {
		z.bufs.put(out)
		return nil, fmt.Errorf("inflate object: %w", err)
	}
	// Read to the end of the stream, where zlib checks its Adler-32: a
	// flipped bit that still inflates is caught here.
	var tail [1]byte
	if n, err := z.zr.Read(tail[:]); n != 0 || err != io.EOF {
		z.bufs.put(out)
		return nil, fmt.Errorf("inflate object: %w: %w", errCorruptObject, errOr(err, errors.New("longer than its header says")))
	}
	return out, nil
}

// reset points the zlib reader at z.br.
func (z *inflater) reset() error {
	if z.zr == nil {
		zr, err := zlib.NewReader(&z.br)
		if err != nil {
			return fmt.Errorf("inflate object: %w", err)
		}
		z.zr = zr
		return nil
	}
	if err := z.zr.(zlib.Resetter).Reset(&z.br, nil); err != nil {
		return fmt.Errorf("inflate object: %w", err)
	}
	return nil
}

// Delta limits, from git's patch-delta.c: a copy instruction names up to
// four offset bytes and three size bytes, so one copy moves up to
// maxDeltaCopy bytes, and a copy whose size bytes are all absent moves
// deltaCopyDefault (64 KiB). An insert carries at most 127 literal bytes.
const (
	maxDeltaCopy     = 0xffffff
	deltaCopyDefault = 0x10000
	maxDeltaInsert   = 0x7f

	// maxDeltaResult bounds the object a delta may build: a few bytes of
	// copy instructions over a large base can legally claim gigabytes,
	// and believing them would allocate whatever a hostile pack asks. An
	// object past it is reported unreadable, never dropped silently.
	maxDeltaResult = 1 << 30
)

// applyDelta rebuilds an object from its base and git's delta
// instructions (copy a range of the base, or insert literal bytes) into a
// buffer from z's cache. go-git's packfile.PatchDelta does the same into a
// growing bytes.Buffer, which zeroes and copies each result again as it
// grows: 15% of a sweep's time in profiles, for the same bytes.
func (z *inflater) applyDelta(base, delta []byte) ([]byte, error) {
	return z.applyDeltaSegs(base, delta, nil)
}

// applyDeltaSegs is applyDelta that also records each instruction in
// *segs, when segs is not nil, for keyword tracking (deltakw.go).
func (z *inflater) applyDeltaSegs(base, delta []byte, segs *[]deltaSeg) ([]byte, error) {
	bad := func(why string) error { return fmt.Errorf("apply delta: %w: %s", errCorruptObject, why) }
	srcSize, delta, ok := deltaSize(delta)
	if !ok || srcSize != uint64(len(base)) {
		return nil, bad("base size mismatch")
	}
	dstSize, delta, ok := deltaSize(delta)
	// Each instruction byte yields at most one copy's worth (a copy is
	// never larger than the base) or one insert's.
	perByte := max(min(uint64(len(base)), maxDeltaCopy), maxDeltaInsert)
	if !ok || dstSize > uint64(len(delta))*perByte || dstSize > maxDeltaResult {
		return nil, bad("implausible size")
	}
	if segs != nil {
		*segs = (*segs)[:0]
	}
	out := z.bufs.get(int(dstSize))
	o := uint64(0)
	for len(delta) > 0 {
		cmd := delta[0]
		delta = delta[1:]
		switch {
		case cmd&0x80 != 0:
			var off, n uint64
			for i := uint(0); i < 7; i++ {
				if cmd&(1<<i) == 0 {
					continue
				}
				if len(delta) == 0 {
					z.bufs.put(out)
					return nil, bad("truncated copy")
				}
				if i < 4 {
					off |= uint64(delta[0]) << (8 * i)
				} else {
					n |= uint64(delta[0]) << (8 * (i - 4))
				}
				delta = delta[1:]
			}
			if n == 0 {
				n = deltaCopyDefault
			}
			if off+n > uint64(len(base)) || o+n > dstSize {
				z.bufs.put(out)
				return nil, bad("copy out of range")
			}
			copy(out[o:], base[off:off+n])
			if segs != nil {
				*segs = append(*segs, deltaSeg{dst: int(o), n: int(n), src: int(off)})
			}
			o += n
		case cmd != 0:
			n := uint64(cmd)
			if n > uint64(len(delta)) || o+n > dstSize {
				z.bufs.put(out)
				return nil, bad("insert out of range")
			}
			copy(out[o:], delta[:n])
			if segs != nil {
				*segs = append(*segs, deltaSeg{dst: int(o), n: int(n), src: -1})
			}
			delta = delta[n:]
			o += n
		default:
			z.bufs.put(out)
			return nil, bad("reserved instruction")
		}
	}
	if o != dstSize {
		z.bufs.put(out)
		return nil, bad("short result")
	}
	return out, nil
}

// deltaSize reads one of a delta's two leading little-endian base-128
// sizes.
func deltaSize(b []byte) (uint64, []byte, bool) {
	var v uint64
	for i := 0; i < len(b) && i < 10; i++ {
		v |= uint64(b[i]&0x7f) << (7 * i)
		if b[i]&0x80 == 0 {
			return v, b[i+1:], true
		}
	}
	return 0, nil, false
}

// Buffer cache limits: a worker keeps inflated buffers for reuse, so that
// the steady state of a sweep allocates (and zeroes) little; bounded so a
// burst of large blobs does not stay resident.
const (
	bufCachePerClass = 8        // free buffers kept per size class
	bufCacheBytes    = 32 << 20 // free bytes kept per worker
	bufCacheMin      = 4 << 10  // smaller buffers are left to the allocator
	bufCacheMax      = 8 << 20  // larger ones too: rare, and big to keep
)

// bufCache is one worker's free lists of byte buffers, by power-of-two
// size class, so that any free buffer of a class fits any request in it.
type bufCache struct {
	free  [32][][]byte
	bytes int
	// fresh makes every buffer a new allocation that is never reused:
	// the point reader keeps what it reads in its delta-base cache and
	// hands it out, so nothing it produced may be written again.
	fresh bool
}

// sizeClass is the power of two at or above n.
func sizeClass(n int) int { return bits.Len(uint(n - 1)) }

// get returns a buffer of length n. Its contents are garbage: callers
// overwrite all of it.
func (c *bufCache) get(n int) []byte {
	if c.fresh || n < bufCacheMin || n > bufCacheMax {
		return make([]byte, n)
	}
	k := sizeClass(n)
	if l := c.free[k]; len(l) > 0 {
		b := l[len(l)-1]
		c.free[k] = l[:len(l)-1]
		c.bytes -= cap(b)
		return b[:n]
	}
	return make([]byte, n, 1<<k)
}

// put gives a buffer back; it must no longer be referenced.
func (c *bufCache) put(b []byte) {
	n := cap(b)
	if c.fresh || n < bufCacheMin || n > bufCacheMax || n&(n-1) != 0 {
		return // not one of ours
	}
	k := sizeClass(n)
	if len(c.free[k]) >= bufCachePerClass || c.bytes+n > bufCacheBytes {
		return
	}
	c.free[k] = append(c.free[k], b)
	c.bytes += n
}

// errOr is err, or def when err says nothing more than "end of input".
func errOr(err, def error) error {
	if err == nil || err == io.EOF {
		return def
	}
	return err
}
