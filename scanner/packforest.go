package scanner

import (
	"bufio"
	"cmp"
	"fmt"
	"io"
	"slices"
	"sort"

	"github.com/go-git/go-git/v5/plumbing"
)

// The history sweep reads a pack in pack order, resolving each delta
// forest depth-first (history_sweep.go). packForest is what that needs to
// know about a pack before inflating anything: every object's header, in
// offset order, and which deltas are based on which object. It is built
// from the pack's index and the mapped pack the point reads use, by one
// pass over the object headers.

// packEntry is one object of a pack, in offset order. It is kept small
// (about 40 bytes) because a large repository has millions of them.
type packEntry struct {
	off, end int64 // the object's header to the next object's header
	size     int64 // inflated size from the header; for a delta, the delta's
	base     int32 // index of the delta base in this pack, -1 for none
	// id is the object's number in the sweep's objectStore; until
	// openObjects numbers it, its position in the pack index.
	id      uint32
	typ     plumbing.ObjectType // as stored: a delta type for deltas
	kind    plumbing.ObjectType // resolved type; 0 while unknown
	hdrLen  uint8
	extBase bool // a REF_DELTA whose base is not in this pack
	dup     bool // the same object was already seen elsewhere
}

// packForest is a pack's entries in offset order and the delta forest
// over them: children[childStart[i]:childStart[i+1]] are the deltas whose
// base is entry i. The entries' ids are the sweep's, so each sweep builds
// its own forest over the shared pack.
type packForest struct {
	*pack
	ents       []packEntry
	extHashes  map[int32]plumbing.Hash
	childStart []int32
	children   []int32
	// bad counts entries no forest root reaches, so never read;
	// badFirst says why for the first.
	bad      int
	badFirst error
}

// newPackForest reads the header of every object of p, so that the delta
// forest is known before anything is inflated.
func newPackForest(p *pack) (*packForest, error) {
	f := &packForest{pack: p}
	if err := f.listEntries(); err != nil {
		return nil, err
	}
	end := p.size - packTrailer
	for i := len(f.ents) - 1; i >= 0; i-- {
		f.ents[i].end = end
		end = f.ents[i].off
	}
	f.readHeaders()
	f.buildForest()
	return f, nil
}

// listEntries fills f.ents in offset order from the index. (Sorting
// 16-byte pairs, then filling the entries, moves less than half the bytes
// sorting the entries themselves would.)
func (f *packForest) listEntries() error {
	type entry struct {
		off int64
		pos uint32
	}
	order := make([]entry, f.count)
	for i := range f.count {
		off, ok := f.offset(i)
		if !ok {
			return fmt.Errorf("read pack index: %w: 64-bit offset out of range", errCorruptObject)
		}
		order[i] = entry{off, i}
	}
	slices.SortFunc(order, func(a, b entry) int { return cmp.Compare(a.off, b.off) })
	f.ents = make([]packEntry, len(order))
	for k, e := range order {
		f.ents[k] = packEntry{off: e.off, base: -1, id: e.pos}
	}
	return nil
}

// at is the entry at pack offset off, by binary search.
func (f *packForest) at(off int64) (int32, bool) {
	j := sort.Search(len(f.ents), func(j int) bool { return f.ents[j].off >= off })
	return int32(j), j < len(f.ents) && f.ents[j].off == off
}

// readHeaders parses each object's type, size and delta base. Objects
// whose header does not parse keep typ 0 and are reported when the sweep
// reaches them.
func (f *packForest) readHeaders() {
	var r *bufio.Reader // without a mapping, one sequential read
	if f.data == nil {
		r = bufio.NewReaderSize(io.NewSectionReader(f.f, 0, f.size), 1<<20)
	}
	var pos int64
	var buf [maxObjectHeader]byte
	for i := range f.ents {
		e := &f.ents[i]
		if e.off < pos || e.end <= e.off {
			continue // overlapping offsets: a corrupt index
		}
		var h []byte
		if f.data != nil {
			if e.off >= int64(len(f.data)) {
				break // truncated pack: the rest stay typ 0
			}
			h = f.data[e.off:min(e.off+maxObjectHeader, e.end, int64(len(f.data)))]
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
			j, ok := f.at(e.off - rel)
			if !ok || j >= int32(i) {
				e.typ = 0
				continue
			}
			e.base = j
		case plumbing.REFDeltaObject:
			if len(h) < hl+20 {
				e.typ = 0
				continue
			}
			var bh plumbing.Hash
			copy(bh[:], h[hl:hl+20])
			e.hdrLen += 20
			// The base by the index, as a point read finds it.
			if off, ok := f.find(bh); ok {
				if j, ok := f.at(off); ok && j != int32(i) {
					e.base = j
					continue
				}
			}
			e.extBase = true
			if f.extHashes == nil {
				f.extHashes = map[int32]plumbing.Hash{}
			}
			f.extHashes[int32(i)] = bh
		case plumbing.CommitObject, plumbing.TreeObject, plumbing.BlobObject, plumbing.TagObject:
			e.kind = typ
		default:
			e.typ = 0
		}
	}
}

// buildForest links each delta to its base and gives every object the type
// of its forest's root, so totals are known before inflating anything.
func (f *packForest) buildForest() {
	f.childStart = make([]int32, len(f.ents)+1)
	for _, e := range f.ents {
		if e.base >= 0 {
			f.childStart[e.base+1]++
		}
	}
	for i := 1; i < len(f.childStart); i++ {
		f.childStart[i] += f.childStart[i-1]
	}
	f.children = make([]int32, f.childStart[len(f.ents)])
	fill := append([]int32(nil), f.childStart[:len(f.ents)]...)
	for i, e := range f.ents {
		if e.base >= 0 {
			f.children[fill[e.base]] = int32(i)
			fill[e.base]++
		}
	}
	var mark func(i int32, kind plumbing.ObjectType, depth int)
	mark = func(i int32, kind plumbing.ObjectType, depth int) {
		for _, c := range f.kids(i) {
			if f.ents[c].kind == 0 {
				f.ents[c].kind = kind
				mark(c, kind, depth+1)
			}
		}
	}
	for i := range f.ents {
		if f.ents[i].base < 0 && f.ents[i].kind != 0 {
			mark(int32(i), f.ents[i].kind, 0)
		}
	}
	// What no root reaches (a header that did not parse, a delta whose
	// base did not, a cycle of REF_DELTAs) can never be read.
	reached := make([]bool, len(f.ents))
	var reach func(i int32)
	reach = func(i int32) {
		reached[i] = true
		for _, c := range f.kids(i) {
			if !reached[c] {
				reach(c)
			}
		}
	}
	for i := range f.ents {
		if f.isRoot(i) {
			reach(int32(i))
		}
	}
	for i, ok := range reached {
		if !ok {
			f.bad++
			if f.badFirst == nil {
				f.badFirst = fmt.Errorf("object at offset %d: %w: bad header or missing delta base", f.ents[i].off, errCorruptObject)
			}
		}
	}
}

// kids are the deltas based on entry i.
func (f *packForest) kids(i int32) []int32 {
	return f.children[f.childStart[i]:f.childStart[i+1]]
}

// isRoot reports whether entry i starts a delta forest: a whole object, or a
// delta whose base lives outside the pack.
func (f *packForest) isRoot(i int) bool {
	e := &f.ents[i]
	return e.base < 0 && (e.kind != 0 || e.extBase)
}

// inflate returns entry i's inflated bytes: the object itself, or for a
// delta the delta instructions.
func (z *inflater) inflate(f *packForest, i int32) ([]byte, error) {
	e := &f.ents[i]
	n := e.end - e.off
	var comp []byte
	if f.data != nil {
		if e.end > int64(len(f.data)) {
			return nil, fmt.Errorf("read object at offset %d: %w", e.off, io.ErrUnexpectedEOF)
		}
		comp = f.data[e.off:e.end]
	} else {
		if cap(z.comp) < int(n) {
			z.comp = make([]byte, n)
		}
		comp = z.comp[:n]
		if m, err := f.f.ReadAt(comp, e.off); int64(m) < n {
			return nil, fmt.Errorf("read object at offset %d: %w", e.off, errOr(err, io.ErrUnexpectedEOF))
		}
	}
	return z.inflateBytes(comp[e.hdrLen:], e.size)
}
