// Package inflate decompresses a whole zlib stream into a buffer of the
// size the caller already knows, as a git object's header gives it.
//
// compress/flate, and klauspost/compress after it, decode through a
// 32 KiB sliding window and copy it out to the reader's buffer: they must,
// since a stream's length is unknown to them. A git object's is known, so
// this decoder writes straight into the caller's buffer and copies a match
// from the bytes it wrote (libdeflate's design: one 64-bit bit buffer
// refilled eight bytes at a time, and lookup tables whose entries carry a
// length or distance's base and extra-bit count, so a match takes one
// refill and two lookups). On the streams a range scan of git/git reads
// it inflates about 1.6 times as fast as klauspost/compress, which keyward
// used before, when inflating was a third of the scan's CPU. FuzzZlib and
// the differential tests check it against compress/zlib.
package inflate

import (
	"encoding/binary"
	"errors"
	"hash/adler32"
	"math/bits"
	"sync"
)

// Errors Zlib returns; each says why the stream was refused.
var (
	ErrHeader   = errors.New("zlib: invalid header")
	ErrCorrupt  = errors.New("zlib: corrupt deflate data")
	ErrShort    = errors.New("zlib: stream ends early")
	ErrLong     = errors.New("zlib: stream holds more than its size")
	ErrSmall    = errors.New("zlib: stream holds less than its size")
	ErrChecksum = errors.New("zlib: checksum mismatch")
)

// Table sizes: the first litlenBits (distBits) bits of a code index the
// main table; a longer code continues in a subtable of at most 2^(15 -
// those bits) entries, one per code at most, which bounds the tables.
const (
	litlenBits   = 9
	distBits     = 8
	codelenBits  = 7
	litlenEnough = 1<<litlenBits + 286<<(15-litlenBits)
	distEnough   = 1<<distBits + 30<<(15-distBits)
)

// A table entry holds, in its low byte, how many bits its code takes (or,
// for a subtable pointer, the main table's bits); in bits 8-11 the extra
// bits that follow (a subtable pointer: the subtable's bits); flags; and in
// the top 16 bits a literal byte, a length or distance base, a code-length
// symbol or a subtable's start.
const (
	flagLiteral  = 1 << 12
	flagEnd      = 1 << 13
	flagSubtable = 1 << 14
	flagInvalid  = 1 << 15
)

// Decoder holds the tables of one stream's current block; its zero value
// is ready, and reusing it saves allocating them per stream. A Decoder is
// not safe for concurrent use.
type Decoder struct {
	litlen  [litlenEnough]uint32
	dist    [distEnough]uint32
	codelen [1 << codelenBits]uint32
	lens    [maxLitlen + maxDist]uint8
	sorted  [maxLitlen]uint16
}

// Symbol counts of the three alphabets.
const (
	maxLitlen  = 288
	maxDist    = 32
	maxCodelen = 19
)

// Values of the symbols' table entries, before their code length is added.
var (
	litlenValues  [maxLitlen]uint32
	distValues    [maxDist]uint32
	codelenValues [maxCodelen]uint32
)

func init() {
	lengthBase := [...]uint16{3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258}
	lengthExtra := [...]uint8{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0}
	distBase := [...]uint16{1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577}
	distExtra := [...]uint8{0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13}
	for s := range litlenValues {
		switch {
		case s < 256:
			litlenValues[s] = flagLiteral | uint32(s)<<16
		case s == 256:
			litlenValues[s] = flagEnd
		case s < 286:
			litlenValues[s] = uint32(lengthBase[s-257])<<16 | uint32(lengthExtra[s-257])<<8
		default:
			litlenValues[s] = flagInvalid
		}
	}
	for s := range distValues {
		if s < 30 {
			distValues[s] = uint32(distBase[s])<<16 | uint32(distExtra[s])<<8
		} else {
			distValues[s] = flagInvalid
		}
	}
	for s := range codelenValues {
		codelenValues[s] = uint32(s) << 16
	}
}

// fixedTables are the tables of a fixed-Huffman block, built once.
var fixedTables = sync.OnceValue(func() *Decoder {
	d := new(Decoder)
	lens := d.lens[:maxLitlen+maxDist]
	for i := range lens {
		switch {
		case i < 144:
			lens[i] = 8
		case i < 256:
			lens[i] = 9
		case i < 280:
			lens[i] = 7
		case i < maxLitlen:
			lens[i] = 8
		default:
			lens[i] = 5
		}
	}
	if !d.build(d.litlen[:], litlenBits, lens[:maxLitlen], litlenValues[:]) ||
		!d.build(d.dist[:], distBits, lens[maxLitlen:], distValues[:]) {
		panic("inflate: fixed tables")
	}
	return d
})

// build fills t, a table whose main part indexes tb bits, with the
// canonical Huffman code the code lengths lens describe, each symbol's
// entry being values[symbol] with its code length. It reports false for
// lengths that describe no code: over-subscribed, or incomplete other than
// a lone one-bit code (which zlib, and so git, accepts).
func (d *Decoder) build(t []uint32, tb uint, lens []uint8, values []uint32) bool {
	var count, offs [16]uint16
	for _, l := range lens {
		count[l]++
	}
	count[0] = 0
	maxLen := uint(15)
	for maxLen > 0 && count[maxLen] == 0 {
		maxLen--
	}
	main := t[:1<<tb]
	if maxLen == 0 {
		// No codes: legal for the distances of a block that has only
		// literals; any lookup is an error.
		for i := range main {
			main[i] = flagInvalid
		}
		return true
	}
	left := 1
	for l := 1; l <= 15; l++ {
		left = left<<1 - int(count[l])
		if left < 0 {
			return false
		}
	}
	if left > 0 {
		if maxLen != 1 || count[1] != 1 {
			return false
		}
		for i := range main {
			main[i] = flagInvalid
		}
	}
	for l := 1; l < 15; l++ {
		offs[l+1] = offs[l] + count[l]
	}
	sorted := d.sorted[:]
	for s, l := range lens {
		if l != 0 {
			sorted[offs[l]] = uint16(s)
			offs[l]++
		}
	}

	// Codes of up to tb bits, shortest first. Each is written once, in
	// the table for its own length (the first 2^l entries), and that
	// table is doubled into the next length's: the longer table's entries
	// are the shorter one's, as the extra bit does not matter to them.
	code, i := 0, 0
	for l := uint(1); l <= tb; l++ {
		if l > 1 {
			copy(main[1<<(l-1):1<<l], main[:1<<(l-1)])
		}
		if l > maxLen {
			continue
		}
		for n := count[l]; n > 0; n-- {
			main[reverse(code, l)] = values[sorted[i]] | uint32(l)
			code++
			i++
		}
		code <<= 1
	}
	if maxLen <= tb {
		return true
	}

	// Codes longer than tb: each distinct first tb bits gets a subtable
	// wide enough for the longest code under it (zlib's inflate_table).
	rem := count
	next := 1 << tb
	prefix, start, subBits := -1, 0, uint(0)
	for l := tb + 1; l <= maxLen; l++ {
		for n := count[l]; n > 0; n-- {
			if p := code >> (l - tb); p != prefix {
				prefix = p
				subBits = l - tb
				avail := 1 << subBits
				for subBits+tb < maxLen {
					avail -= int(rem[subBits+tb])
					if avail <= 0 {
						break
					}
					subBits++
					avail <<= 1
				}
				start = next
				next += 1 << subBits
				if next > len(t) {
					return false
				}
				main[reverse(p, tb)] = flagSubtable | uint32(start)<<16 | uint32(subBits)<<8 | uint32(tb)
			}
			e := values[sorted[i]] | uint32(l-tb)
			for r := reverse(code&(1<<(l-tb)-1), l-tb); r < 1<<subBits; r += 1 << (l - tb) {
				t[start+r] = e
			}
			rem[l]--
			code++
			i++
		}
		code <<= 1
	}
	return true
}

// reverse returns the low n bits of code in reverse order: DEFLATE sends a
// code's most significant bit first, into the low bit of the bit buffer.
func reverse(code int, n uint) int {
	return int(bits.Reverse16(uint16(code)) >> (16 - n))
}

// bitReader reads DEFLATE's bits from the low end of a 64-bit buffer.
// Past the end of src it reads zero bytes and counts them in pos, so that
// a decode needs no length checks between refills; overrun tells whether
// any were used.
type bitReader struct {
	src []byte
	pos int    // bytes of src moved into buf, past the end included
	buf uint64 // bits not yet used, from the low end
	n   uint   // how many of buf's bits are valid
}

// refill makes at least 56 bits valid.
func (b *bitReader) refill() {
	if b.pos+8 <= len(b.src) {
		// Load eight bytes and keep the whole ones that fit: the bits
		// above n are then the stream's next bits, as a later load
		// writes them again.
		b.buf |= binary.LittleEndian.Uint64(b.src[b.pos:]) << b.n
		b.pos += int(63-b.n) >> 3
		b.n |= 56
		return
	}
	for b.n <= 56 {
		if b.pos < len(b.src) {
			b.buf |= uint64(b.src[b.pos]) << b.n
		}
		b.pos++
		b.n += 8
	}
}

// overrun reports whether the bits used so far run past the end of src.
func (b *bitReader) overrun() bool {
	return b.pos > len(b.src) && uint(b.pos-len(b.src))*8 > b.n
}

// take removes and returns the next k bits (k ≤ n).
func (b *bitReader) take(k uint) uint32 {
	v := uint32(b.buf & (1<<k - 1))
	b.buf >>= k
	b.n -= k
	return v
}

// Zlib inflates the zlib stream at the start of src into dst, which must
// be exactly the stream's inflated size; src may run on past the stream.
// It checks the stream's Adler-32, as zlib does.
func (d *Decoder) Zlib(dst, src []byte) error {
	if len(src) < 2 {
		return ErrShort
	}
	cmf, flg := src[0], src[1]
	if cmf&0x0f != 8 || cmf>>4 > 7 || (uint(cmf)<<8|uint(flg))%31 != 0 || flg&0x20 != 0 {
		return ErrHeader
	}
	br := bitReader{src: src, pos: 2}
	op := 0
	for {
		br.refill()
		final := br.take(1)
		var err error
		switch br.take(2) {
		case 0:
			op, err = d.stored(&br, dst, op)
		case 1:
			f := fixedTables()
			op, err = decodeBlock(&br, dst, op, &f.litlen, &f.dist)
		case 2:
			if err = d.readTables(&br); err == nil {
				op, err = decodeBlock(&br, dst, op, &d.litlen, &d.dist)
			}
		default:
			err = ErrCorrupt
		}
		if err != nil {
			return err
		}
		if br.overrun() {
			return ErrShort
		}
		if final == 1 {
			break
		}
	}
	if op != len(dst) {
		return ErrSmall
	}
	// The checksum starts at the next whole byte.
	at := (br.pos*8 - int(br.n) + 7) / 8
	if at+4 > len(src) {
		return ErrShort
	}
	if binary.BigEndian.Uint32(src[at:]) != adler32.Checksum(dst) {
		return ErrChecksum
	}
	return nil
}

// stored copies a stored block.
func (d *Decoder) stored(br *bitReader, dst []byte, op int) (int, error) {
	// Drop to the byte boundary and hand the bytes still in the buffer
	// back to src.
	br.take(br.n % 8)
	at := br.pos - int(br.n/8)
	br.buf, br.n = 0, 0
	if at+4 > len(br.src) {
		return op, ErrShort
	}
	n := int(binary.LittleEndian.Uint16(br.src[at:]))
	if binary.LittleEndian.Uint16(br.src[at+2:]) != ^uint16(n) {
		return op, ErrCorrupt
	}
	at += 4
	if at+n > len(br.src) {
		return op, ErrShort
	}
	if op+n > len(dst) {
		return op, ErrLong
	}
	copy(dst[op:], br.src[at:at+n])
	br.pos = at + n
	return op + n, nil
}

// codelenOrder is the order a dynamic block sends its code-length code's
// lengths in.
var codelenOrder = [maxCodelen]uint8{16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15}

// readTables reads a dynamic block's code lengths and builds its tables.
func (d *Decoder) readTables(br *bitReader) error {
	br.refill()
	nlit := int(br.take(5)) + 257
	ndist := int(br.take(5)) + 1
	nclen := int(br.take(4)) + 4
	if nlit > 286 || ndist > 30 {
		return ErrCorrupt
	}
	var clens [maxCodelen]uint8
	for i := range nclen {
		if br.n < 3 {
			br.refill()
		}
		clens[codelenOrder[i]] = uint8(br.take(3))
	}
	if !d.build(d.codelen[:], codelenBits, clens[:], codelenValues[:]) {
		return ErrCorrupt
	}
	lens := d.lens[:nlit+ndist]
	for i := 0; i < len(lens); {
		br.refill()
		if br.overrun() {
			return ErrShort
		}
		e := d.codelen[br.buf&(1<<codelenBits-1)]
		if e&flagInvalid != 0 {
			return ErrCorrupt
		}
		br.take(uint(e & 0xff))
		sym := e >> 16
		if sym < 16 {
			lens[i] = uint8(sym)
			i++
			continue
		}
		var rep int
		var v uint8
		switch sym {
		case 16:
			if i == 0 {
				return ErrCorrupt
			}
			v, rep = lens[i-1], 3+int(br.take(2))
		case 17:
			rep = 3 + int(br.take(3))
		default:
			rep = 11 + int(br.take(7))
		}
		if i+rep > len(lens) {
			return ErrCorrupt
		}
		for range rep {
			lens[i] = v
			i++
		}
	}
	if !d.build(d.litlen[:], litlenBits, lens[:nlit], litlenValues[:]) ||
		!d.build(d.dist[:], distBits, lens[nlit:], distValues[:]) {
		return ErrCorrupt
	}
	return nil
}

// decodeBlock decodes one Huffman-coded block's symbols into dst from op,
// returning where its output ends.
func decodeBlock(br *bitReader, dst []byte, op int, litlen *[litlenEnough]uint32, dist *[distEnough]uint32) (int, error) {
	// Local copies keep the bit buffer in registers.
	buf, n, pos, src := br.buf, br.n, br.pos, br.src
	var err error
loop:
	for {
		// Refill to at least 56 bits: enough for a length code and its
		// extra bits (20) and a distance code and its extra bits (28).
		if pos+8 <= len(src) {
			buf |= binary.LittleEndian.Uint64(src[pos:]) << n
			pos += int(63-n) >> 3
			n |= 56
		} else {
			for n <= 56 {
				if pos < len(src) {
					buf |= uint64(src[pos]) << n
				}
				pos++
				n += 8
			}
			if pos > len(src) && uint(pos-len(src))*8 > n {
				err = ErrShort
				break loop
			}
		}
		e := litlen[buf&(1<<litlenBits-1)]
		if e&flagSubtable != 0 {
			buf >>= litlenBits
			n -= litlenBits
			e = litlen[e>>16+uint32(buf)&(1<<(e>>8&0xf)-1)]
		}
		buf >>= e & 0xff
		n -= uint(e & 0xff)
		if e&flagLiteral != 0 {
			if op >= len(dst) {
				err = ErrLong
				break loop
			}
			dst[op] = byte(e >> 16)
			op++
			// Two more literals fit in the bits left (56-15 ≥ 2×15).
			for range 2 {
				e = litlen[buf&(1<<litlenBits-1)]
				if e&flagLiteral == 0 {
					break
				}
				buf >>= e & 0xff
				n -= uint(e & 0xff)
				if op >= len(dst) {
					err = ErrLong
					break loop
				}
				dst[op] = byte(e >> 16)
				op++
			}
			continue
		}
		if e&(flagEnd|flagInvalid) != 0 {
			if e&flagInvalid != 0 {
				err = ErrCorrupt
				break loop
			}
			break loop
		}
		extra := e >> 8 & 0xf
		length := int(e>>16) + int(uint32(buf)&(1<<extra-1))
		buf >>= extra
		n -= uint(extra)

		e = dist[buf&(1<<distBits-1)]
		if e&flagSubtable != 0 {
			buf >>= distBits
			n -= distBits
			e = dist[e>>16+uint32(buf)&(1<<(e>>8&0xf)-1)]
		}
		if e&flagInvalid != 0 {
			err = ErrCorrupt
			break loop
		}
		buf >>= e & 0xff
		n -= uint(e & 0xff)
		extra = e >> 8 & 0xf
		d := int(e>>16) + int(uint32(buf)&(1<<extra-1))
		buf >>= extra
		n -= uint(extra)

		if d > op {
			err = ErrCorrupt
			break loop
		}
		if length > len(dst)-op {
			err = ErrLong
			break loop
		}
		from := op - d
		switch {
		case d >= 8 && length <= 32 && op+40 <= len(dst):
			// A short match: eight bytes at a time, each from bytes
			// already written, perhaps writing past its end (bytes
			// the next symbols overwrite).
			for i := 0; i < length; i += 8 {
				binary.LittleEndian.PutUint64(dst[op+i:], binary.LittleEndian.Uint64(dst[from+i:]))
			}
		case d >= length:
			copy(dst[op:op+length], dst[from:])
		default:
			// The match overlaps what it copies: copy what is there,
			// doubling each time (a run of one byte, a short pattern).
			for done := 0; done < length; {
				done += copy(dst[op+done:op+length], dst[from:op+done])
			}
		}
		op += length
	}
	br.buf, br.n, br.pos = buf, n, pos
	return op, err
}
