package scanner

import (
	"bytes"
	"compress/zlib"
	"fmt"
	"io"
	"math/bits"

	"github.com/keyward/keyward/scanner/internal/inflate"
)

// inflater reads and inflates pack objects, reusing its buffers and
// decoder tables: allocating them per object costs more than small
// objects take to inflate.
type inflater struct {
	// dec inflates whole objects, whose size their header gives
	// (internal/inflate: a third of a range scan's CPU was inflating).
	dec inflate.Decoder
	// comp holds a compressed object the sweep copied out of a pack it
	// reads rather than maps (packforest.go).
	comp []byte
	// scratch is inflateScratch's buffer.
	scratch []byte
	// br and zr read the start of a loose object, whose header gives
	// its size.
	br   bytes.Reader
	zr   io.ReadCloser
	bufs bufCache
}

// inflateBytes inflates a zlib stream that must yield exactly size bytes.
func (z *inflater) inflateBytes(comp []byte, size int64) ([]byte, error) {
	if err := checkInflatedSize(comp, size); err != nil {
		return nil, err
	}
	out := z.bufs.get(int(size))
	if err := z.inflateInto(out, comp); err != nil {
		z.bufs.put(out)
		return nil, err
	}
	return out, nil
}

// maxScratch bounds the scratch buffer an inflater keeps.
const maxScratch = 8 << 20

// inflateScratch is inflateBytes into the inflater's scratch buffer, which
// the next call overwrites: for data read once and dropped, a delta's
// instructions.
func (z *inflater) inflateScratch(comp []byte, size int64) ([]byte, error) {
	if err := checkInflatedSize(comp, size); err != nil {
		return nil, err
	}
	if int64(cap(z.scratch)) < size {
		buf := make([]byte, size)
		if size > maxScratch {
			return buf, z.inflateInto(buf, comp)
		}
		z.scratch = buf
	}
	out := z.scratch[:size]
	return out, z.inflateInto(out, comp)
}

// checkInflatedSize refuses a size no stream of comp's length can inflate
// to, before a buffer of that size is allocated.
func checkInflatedSize(comp []byte, size int64) error {
	if size > int64(len(comp))*maxInflateRatio+64 {
		return fmt.Errorf("inflate object: %w: claims %d bytes from %d", errCorruptObject, size, len(comp))
	}
	return nil
}

// inflateInto inflates the zlib stream at the start of comp into out,
// which it must fill exactly.
func (z *inflater) inflateInto(out, comp []byte) error {
	if err := z.dec.Zlib(out, comp); err != nil {
		return fmt.Errorf("inflate object: %w: %w", errCorruptObject, err)
	}
	return nil
}

// reset points the zlib reader at z.br. Only a loose object's header is
// read this way, so the standard library's reader serves.
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
	// the object reader keeps what it reads in its delta-base cache and
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
