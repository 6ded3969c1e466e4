package scanner

import (
	"fmt"
)

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
