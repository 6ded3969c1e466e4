package scanner

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/bits"

	// klauspost/compress's zlib is the standard library's with a faster
	// inflate (Huffman decoding specialised for a bytes.Reader): it
	// inflates git's objects about twice as fast, and inflating is half a
	// range scan's CPU. It checks the Adler-32 as the standard one does.
	"github.com/klauspost/compress/zlib"
)

// inflater reads and inflates pack objects, reusing its buffers and zlib
// state: allocating a decompressor per object costs more than small
// objects take to inflate.
type inflater struct {
	comp []byte
	br   bytes.Reader
	zr   io.ReadCloser
	bufs bufCache
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
