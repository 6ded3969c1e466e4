package scanner

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"sync"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// The staged and range scans read a handful of objects: HEAD's commit, the
// trees along a few paths, the old versions of a few files. go-git reads
// any packed object by first decoding the pack's whole index, verifying
// its checksum and building a map from every offset to its hash (for its
// object cache): about 50 ms for a pack of 300,000 objects, paid by every
// pre-commit hook in a large repository. objectReader instead maps each
// index and binary-searches it, as git does, so a lookup costs
// microseconds whatever the pack's size. Anything it cannot serve
// (a loose object, a pack it cannot map, a corrupt entry) falls back to
// go-git.

// maxPointDeltaDepth bounds a delta chain followed for one object; git
// writes chains of at most 50 by default (pack.depth), 4095 at most.
const maxPointDeltaDepth = 4096

// errNotServed means objectReader cannot serve the object; go-git will.
var errNotServed = errors.New("object not served by the object reader")

// objectReader is a repository's packed objects: every pack of its object
// directory and the alternates that names, each opened once (pack.go).
// It reads single objects by hash, and hands the same packs to the
// history sweep (openObjects), so that whoever reads a repository maps and
// indexes each pack once and the sweep's fallbacks share the point reads'
// delta-base cache.
type objectReader struct {
	objects string
	// dirs are objects and its alternates; packs are theirs, in order.
	dirs  []string
	packs []*pack
	// problems are the packs that could not be opened. Point reads leave
	// their objects to go-git; the sweep reports them.
	problems []FileError
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

// openObjectReader opens the packs under objectsDir and its alternates. It
// never fails: a pack it cannot open is recorded in problems and left to
// go-git.
func openObjectReader(objectsDir string) *objectReader {
	r := &objectReader{objects: objectsDir}
	r.zs.New = func() any {
		z := &inflater{}
		z.bufs.fresh = true // results are cached and shared, not recycled
		return z
	}
	r.dirs = objectDirs(objectsDir, 0, map[string]bool{})
	for _, d := range r.dirs {
		paths, _ := filepath.Glob(filepath.Join(d, "pack", "*.pack"))
		sort.Strings(paths)
		for _, path := range paths {
			p, err := openPack(path)
			if err != nil {
				r.problems = append(r.problems, FileError{Path: path, Err: err})
				continue
			}
			r.packs = append(r.packs, p)
		}
	}
	return r
}

// read returns object h's type, size and, unless it is larger than limit,
// its content. errNotServed means the caller should ask go-git. The
// content may be shared with the delta-base cache: callers must not
// modify it.
func (r *objectReader) read(h plumbing.Hash, limit int64) (plumbing.ObjectType, int64, []byte, error) {
	for _, p := range r.packs {
		if off, ok := p.find(h); ok && p.data != nil {
			z := r.zs.Get().(*inflater)
			defer r.zs.Put(z)
			return r.readPacked(z, p, off, limit, 0)
		}
	}
	return 0, 0, nil, errNotServed
}

// readPacked reads the object at off, following its delta chain through
// the delta-base cache.
func (r *objectReader) readPacked(z *inflater, p *pack, off, limit int64, depth int) (plumbing.ObjectType, int64, []byte, error) {
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
		return 0, 0, nil, errNotServed
	}
	typ, size, n, ok := parseObjectHeader(p.data[off:])
	if !ok {
		return 0, 0, nil, errNotServed
	}
	pos := off + int64(n)
	switch typ {
	case plumbing.CommitObject, plumbing.TreeObject, plumbing.BlobObject, plumbing.TagObject:
		if size > limit {
			return typ, size, nil, nil // too large: the size is enough
		}
		data, err := z.inflateBytes(p.data[pos:], size)
		if err != nil {
			return 0, 0, nil, errNotServed
		}
		r.addCache(p, off, typ, data, depth)
		return typ, size, data, nil
	case plumbing.OFSDeltaObject:
		back, m, ok := parseOffset(p.data[pos:])
		if !ok || back <= 0 || back > off {
			return 0, 0, nil, errNotServed
		}
		return r.applyPacked(z, p, off, off-back, pos+int64(m), size, limit, depth, nil)
	case plumbing.REFDeltaObject:
		if pos+20 > int64(len(p.data)) {
			return 0, 0, nil, errNotServed
		}
		var base plumbing.Hash
		copy(base[:], p.data[pos:pos+20])
		return r.applyPacked(z, p, off, -1, pos+20, size, limit, depth, &base)
	}
	return 0, 0, nil, errNotServed
}

// applyPacked reads the base of the delta at off (at baseOff in p, or by
// hash for a REF_DELTA) and applies the delta whose data starts at pos.
func (r *objectReader) applyPacked(z *inflater, p *pack, off, baseOff, pos, deltaLen, limit int64, depth int, baseHash *plumbing.Hash) (plumbing.ObjectType, int64, []byte, error) {
	// The base first: the delta is then inflated into the inflater's
	// scratch buffer and applied before any other read can reuse it.
	// Nothing keeps a delta, and a fresh buffer for each (8.6 MB of them
	// in a range scan of git/git) only grew the heap.
	var typ plumbing.ObjectType
	var base []byte
	var err error
	if baseHash == nil {
		typ, _, base, err = r.readPacked(z, p, baseOff, maxInt64, depth+1)
	} else {
		typ, _, base, err = r.readAny(z, *baseHash, depth+1)
	}
	if err != nil {
		return 0, 0, nil, err
	}
	delta, err := z.inflateScratch(p.data[pos:], deltaLen)
	if err != nil {
		return 0, 0, nil, errNotServed
	}
	// The result's size is the delta's second header; a too-large object
	// is known without building it.
	_, rest, ok := deltaSize(delta)
	if !ok {
		return 0, 0, nil, errNotServed
	}
	dst, _, ok := deltaSize(rest)
	if !ok {
		return 0, 0, nil, errNotServed
	}
	if int64(dst) > limit {
		return typ, int64(dst), nil, nil
	}
	out, err := z.applyDelta(base, delta)
	if err != nil {
		return 0, 0, nil, errNotServed
	}
	r.addCache(p, off, typ, out, depth)
	return typ, int64(len(out)), out, nil
}

// readAny finds a REF_DELTA's base in any pack.
func (r *objectReader) readAny(z *inflater, h plumbing.Hash, depth int) (plumbing.ObjectType, int64, []byte, error) {
	for _, p := range r.packs {
		if off, ok := p.find(h); ok && p.data != nil {
			return r.readPacked(z, p, off, maxInt64, depth)
		}
	}
	return 0, 0, nil, errNotServed
}

const maxInt64 = 1<<63 - 1

// addCache puts an object read at off into the delta-base cache. Two
// goroutines reading the same object both build it; the cache keeps one.
// A blob asked for itself (depth 0) is not cached: a range reads each new
// file version once, and in a pack newer versions are the bases of older
// ones, not the reverse, so caching them only evicts the chain roots and
// trees that later reads need (on git/git's last hundred commits, 25 MB
// inflated per scan became 22 MB, re-inflations 5 MB became 2 MB).
func (r *objectReader) addCache(p *pack, off int64, typ plumbing.ObjectType, data []byte, depth int) {
	if depth == 0 && typ == plumbing.BlobObject {
		return
	}
	r.mu.Lock()
	r.cache.add(p, off, typ, data)
	r.mu.Unlock()
}

// packedObject is an object the object reader served, in the form go-git's
// object decoders read: a plumbing.EncodedObject. A blob over the size
// limit carries only its size, so deciding to skip it costs nothing; its
// reader then asks go-git, which streams it.
type packedObject struct {
	hash     plumbing.Hash
	typ      plumbing.ObjectType
	size     int64
	data     []byte
	fallback func() (plumbing.EncodedObject, error)
}

// Hash returns the object's ID.
func (o *packedObject) Hash() plumbing.Hash { return o.hash }

// Type returns the object's type.
func (o *packedObject) Type() plumbing.ObjectType { return o.typ }

// SetType is part of plumbing.EncodedObject; objects read from a store
// are not changed.
func (o *packedObject) SetType(t plumbing.ObjectType) { o.typ = t }

// Size returns the object's size, known even when its content was not read.
func (o *packedObject) Size() int64 { return o.size }

// SetSize is part of plumbing.EncodedObject.
func (o *packedObject) SetSize(s int64) { o.size = s }

// Reader returns the content, asking go-git for a large blob not read.
func (o *packedObject) Reader() (io.ReadCloser, error) {
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
func (o *packedObject) Writer() (io.WriteCloser, error) {
	return nil, fmt.Errorf("write object %s: read-only", o.hash)
}
