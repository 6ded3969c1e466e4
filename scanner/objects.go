package scanner

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// The staged and range scans read a handful of objects: HEAD's commit, the
// trees along a few paths, the old versions of a few files. go-git reads
// any packed object by first decoding the pack's whole index, verifying
// its checksum and building a map from every offset to its hash (for its
// object cache): about 50 ms for a pack of 300,000 objects, paid by every
// pre-commit hook in a large repository. pointReader instead maps each
// index and binary-searches it, as git does, so a lookup costs
// microseconds whatever the pack's size. Anything it cannot serve
// (alternates, a pack it cannot map, a corrupt entry) falls back to go-git,
// which stays the main path.

// maxPointDeltaDepth bounds a delta chain followed for one object; git
// writes chains of at most 50 by default (pack.depth), 4095 at most.
const maxPointDeltaDepth = 4096

// errPointMiss means pointReader cannot serve the object; go-git will.
var errPointMiss = errors.New("object not served by the point reader")

// pointReader reads single objects from one repository's object store.
type pointReader struct {
	objects string
	packs   []*mappedPack
	// mu guards the caches only: objects are inflated outside it, each
	// read with an inflater of its own from zs, so goroutines sharing the
	// reader (a parallel range scan's workers) inflate in parallel and
	// share each other's delta bases.
	mu    sync.Mutex
	zs    sync.Pool // of *inflater
	cache baseCache
	// trees holds parsed trees (trees.go), treeEntries their entries.
	trees       map[plumbing.Hash][]object.TreeEntry
	treeEntries int
}

// mappedPack is a pack and its version-2 index, both mapped read-only.
type mappedPack struct {
	idx, data []byte
	count     uint32
}

// openPointReader maps the packs under objectsDir. It never fails: a pack
// it cannot use is left to go-git.
func openPointReader(objectsDir string) *pointReader {
	r := &pointReader{objects: objectsDir}
	r.zs.New = func() any {
		z := &inflater{}
		z.bufs.fresh = true // results are cached and shared, not recycled
		return z
	}
	idxs, _ := filepath.Glob(filepath.Join(objectsDir, "pack", "*.idx"))
	for _, name := range idxs {
		if p := mapPack(name); p != nil {
			r.packs = append(r.packs, p)
		}
	}
	// The repository that owns r has no Close; unmap when it is dropped.
	runtime.AddCleanup(r, func(ps []*mappedPack) {
		for _, p := range ps {
			unmapFile(p.idx)
			unmapFile(p.data)
		}
	}, r.packs)
	return r
}

func mapPack(idxPath string) *mappedPack {
	idx := mapWhole(idxPath)
	// magic, version 2, 256 fan-out entries, then the trailer's two hashes.
	if len(idx) < 8+1024+40 || !bytes.Equal(idx[:8], []byte{0xff, 't', 'O', 'c', 0, 0, 0, 2}) {
		unmapFile(idx)
		return nil
	}
	n := binary.BigEndian.Uint32(idx[8+255*4:])
	if uint64(len(idx)) < 8+1024+uint64(n)*28+40 {
		unmapFile(idx)
		return nil
	}
	data := mapWhole(strings.TrimSuffix(idxPath, ".idx") + ".pack")
	if len(data) < 12+20 || !bytes.Equal(data[:4], []byte("PACK")) {
		unmapFile(idx)
		unmapFile(data)
		return nil
	}
	return &mappedPack{idx: idx, data: data, count: n}
}

func mapWhole(path string) []byte {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil
	}
	return mapFile(f, info.Size())
}

// find returns the offset of h in p, by binary search of the sorted names
// between the fan-out bounds for h's first byte.
func (p *mappedPack) find(h plumbing.Hash) (int64, bool) {
	fan := p.idx[8:]
	lo := uint32(0)
	if h[0] > 0 {
		lo = binary.BigEndian.Uint32(fan[(int(h[0])-1)*4:])
	}
	hi := binary.BigEndian.Uint32(fan[int(h[0])*4:])
	if hi > p.count || lo > hi {
		return 0, false
	}
	names := p.idx[8+1024:]
	for lo < hi {
		mid := lo + (hi-lo)/2
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

// offset reads entry i's pack offset: 31 bits, or an index into the table
// of 64-bit offsets when the top bit is set.
func (p *mappedPack) offset(i uint32) (int64, bool) {
	base := 8 + 1024 + uint64(p.count)*24
	off := binary.BigEndian.Uint32(p.idx[base+uint64(i)*4:])
	if off&0x80000000 == 0 {
		return int64(off), true
	}
	large := base + uint64(p.count)*4 + uint64(off&0x7fffffff)*8
	if large+8 > uint64(len(p.idx)) {
		return 0, false
	}
	return int64(binary.BigEndian.Uint64(p.idx[large:])), true
}

// read returns object h's type, size and, unless it is larger than limit,
// its content. errPointMiss means the caller should ask go-git. The
// content may be shared with the delta-base cache: callers must not
// modify it.
func (r *pointReader) read(h plumbing.Hash, limit int64) (plumbing.ObjectType, int64, []byte, error) {
	for _, p := range r.packs {
		if off, ok := p.find(h); ok {
			z := r.zs.Get().(*inflater)
			defer r.zs.Put(z)
			return r.readPacked(z, p, off, limit, 0)
		}
	}
	return 0, 0, nil, errPointMiss
}

// readPacked reads the object at off, following its delta chain through
// the delta-base cache.
func (r *pointReader) readPacked(z *inflater, p *mappedPack, off, limit int64, depth int) (plumbing.ObjectType, int64, []byte, error) {
	r.mu.Lock()
	c, ok := r.cache.get(p, off)
	r.mu.Unlock()
	if ok {
		if int64(len(c.data)) > limit {
			return c.typ, int64(len(c.data)), nil, nil
		}
		return c.typ, int64(len(c.data)), c.data, nil
	}
	if depth > maxPointDeltaDepth || off < 12 || off >= int64(len(p.data))-20 {
		return 0, 0, nil, errPointMiss
	}
	typ, size, n, ok := parseObjectHeader(p.data[off:])
	if !ok {
		return 0, 0, nil, errPointMiss
	}
	pos := off + int64(n)
	switch typ {
	case plumbing.CommitObject, plumbing.TreeObject, plumbing.BlobObject, plumbing.TagObject:
		if size > limit {
			return typ, size, nil, nil // too large: the size is enough
		}
		data, err := z.inflateBytes(p.data[pos:], size)
		if err != nil {
			return 0, 0, nil, errPointMiss
		}
		r.addCache(p, off, typ, data)
		return typ, size, data, nil
	case plumbing.OFSDeltaObject:
		back, m, ok := parseOffset(p.data[pos:])
		if !ok || back <= 0 || back > off {
			return 0, 0, nil, errPointMiss
		}
		return r.applyPacked(z, p, off, off-back, pos+int64(m), size, limit, depth, nil)
	case plumbing.REFDeltaObject:
		if pos+20 > int64(len(p.data)) {
			return 0, 0, nil, errPointMiss
		}
		var base plumbing.Hash
		copy(base[:], p.data[pos:pos+20])
		return r.applyPacked(z, p, off, -1, pos+20, size, limit, depth, &base)
	}
	return 0, 0, nil, errPointMiss
}

// applyPacked reads the base of the delta at off (at baseOff in p, or by
// hash for a REF_DELTA) and applies the delta whose data starts at pos.
func (r *pointReader) applyPacked(z *inflater, p *mappedPack, off, baseOff, pos, deltaLen, limit int64, depth int, baseHash *plumbing.Hash) (plumbing.ObjectType, int64, []byte, error) {
	delta, err := z.inflateBytes(p.data[pos:], deltaLen)
	if err != nil {
		return 0, 0, nil, errPointMiss
	}
	defer z.bufs.put(delta)
	// The result's size is the delta's second header; a too-large object
	// is known without building it.
	_, rest, ok := deltaSize(delta)
	if !ok {
		return 0, 0, nil, errPointMiss
	}
	dst, _, ok := deltaSize(rest)
	if !ok {
		return 0, 0, nil, errPointMiss
	}
	var typ plumbing.ObjectType
	var base []byte
	if baseHash == nil {
		typ, _, base, err = r.readPacked(z, p, baseOff, maxInt64, depth+1)
	} else {
		typ, _, base, err = r.readAny(z, *baseHash, depth+1)
	}
	if err != nil {
		return 0, 0, nil, err
	}
	if int64(dst) > limit {
		return typ, int64(dst), nil, nil
	}
	out, err := z.applyDelta(base, delta)
	if err != nil {
		return 0, 0, nil, errPointMiss
	}
	r.addCache(p, off, typ, out)
	return typ, int64(len(out)), out, nil
}

// readAny finds a REF_DELTA's base in any pack.
func (r *pointReader) readAny(z *inflater, h plumbing.Hash, depth int) (plumbing.ObjectType, int64, []byte, error) {
	for _, p := range r.packs {
		if off, ok := p.find(h); ok {
			return r.readPacked(z, p, off, maxInt64, depth)
		}
	}
	return 0, 0, nil, errPointMiss
}

const maxInt64 = 1<<63 - 1

// addCache puts an object read at off into the delta-base cache. Two
// goroutines reading the same object both build it; the cache keeps one.
func (r *pointReader) addCache(p *mappedPack, off int64, typ plumbing.ObjectType, data []byte) {
	r.mu.Lock()
	r.cache.add(p, off, typ, data)
	r.mu.Unlock()
}

// pointObject is an object the point reader served, in the form go-git's
// object decoders read: a plumbing.EncodedObject. A blob over the size
// limit carries only its size, so deciding to skip it costs nothing; its
// reader then asks go-git, which streams it.
type pointObject struct {
	hash     plumbing.Hash
	typ      plumbing.ObjectType
	size     int64
	data     []byte
	fallback func() (plumbing.EncodedObject, error)
}

// Hash returns the object's ID.
func (o *pointObject) Hash() plumbing.Hash { return o.hash }

// Type returns the object's type.
func (o *pointObject) Type() plumbing.ObjectType { return o.typ }

// SetType is part of plumbing.EncodedObject; objects read from a store
// are not changed.
func (o *pointObject) SetType(t plumbing.ObjectType) { o.typ = t }

// Size returns the object's size, known even when its content was not read.
func (o *pointObject) Size() int64 { return o.size }

// SetSize is part of plumbing.EncodedObject.
func (o *pointObject) SetSize(s int64) { o.size = s }

// Reader returns the content, asking go-git for a large blob not read.
func (o *pointObject) Reader() (io.ReadCloser, error) {
	if o.data == nil && o.size > 0 {
		obj, err := o.fallback()
		if err != nil {
			return nil, err
		}
		return obj.Reader()
	}
	return io.NopCloser(bytes.NewReader(o.data)), nil
}

// Writer is part of plumbing.EncodedObject; read objects are not written.
func (o *pointObject) Writer() (io.WriteCloser, error) {
	return nil, fmt.Errorf("write object %s: read-only", o.hash)
}
