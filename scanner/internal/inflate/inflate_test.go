package inflate

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"hash/adler32"
	"io"
	"math/rand/v2"
	"os"
	"testing"
)

// reference inflates src with the standard library, with the semantics
// Zlib promises: the stream must hold exactly size bytes and end with a
// good checksum. ok is false where Zlib must refuse.
func reference(src []byte, size int) (out []byte, ok bool) {
	zr, err := zlib.NewReader(bytes.NewReader(src))
	if err != nil {
		return nil, false
	}
	out = make([]byte, size)
	if _, err := io.ReadFull(zr, out); err != nil {
		return nil, false
	}
	var tail [1]byte
	if n, err := zr.Read(tail[:]); n != 0 || err != io.EOF {
		return nil, false
	}
	return out, true
}

// check compares Zlib with reference on one stream and size.
func check(t *testing.T, d *Decoder, src []byte, size int) {
	t.Helper()
	want, ok := reference(src, size)
	got := make([]byte, size)
	err := d.Zlib(got, src)
	switch {
	case ok && err != nil:
		t.Fatalf("Zlib refused a stream compress/zlib accepts (size %d): %v", size, err)
	case !ok && err == nil:
		t.Fatalf("Zlib accepted a stream compress/zlib refuses (size %d)", size)
	case ok && !bytes.Equal(got, want):
		t.Fatalf("Zlib inflated %d bytes differently from compress/zlib", size)
	}
}

// compress deflates data with the standard library at level.
func compress(t testing.TB, data []byte, level int) []byte {
	var b bytes.Buffer
	zw, err := zlib.NewWriterLevel(&b, level)
	if err != nil {
		t.Fatal(err)
	}
	zw.Write(data)
	zw.Close()
	return b.Bytes()
}

// samples returns inputs that exercise every block type and match shape:
// text, runs (distance 1 and short periods), random bytes (stored
// blocks), and sizes around the decoder's refill and copy boundaries.
func samples() [][]byte {
	r := rand.New(rand.NewPCG(1, 2))
	var out [][]byte
	text := bytes.Repeat([]byte("static int keyward_scan(const char *path, size_t len) { return 0; }\n"), 200)
	out = append(out, nil, []byte("a"), text, bytes.Repeat([]byte{'x'}, 70000), bytes.Repeat([]byte("abc"), 5000))
	for _, n := range []int{1, 7, 8, 9, 15, 16, 17, 255, 256, 257, 258, 259, 266, 1000, 40000, 100000} {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.IntN(256))
		}
		out = append(out, b)
		w := make([]byte, n)
		words := [][]byte{[]byte("the "), []byte("key "), []byte("AKIA"), []byte("\n"), []byte("secret = "), []byte("0123456789abcdef")}
		for i := 0; i < n; {
			i += copy(w[i:], words[r.IntN(len(words))])
		}
		out = append(out, w)
	}
	return out
}

func TestZlibMatchesStandardLibrary(t *testing.T) {
	var d Decoder
	for _, data := range samples() {
		for _, level := range []int{zlib.NoCompression, zlib.BestSpeed, zlib.DefaultCompression, zlib.BestCompression, zlib.HuffmanOnly} {
			src := compress(t, data, level)
			check(t, &d, src, len(data))
			// The stream followed by more bytes, as in a pack.
			check(t, &d, append(append([]byte(nil), src...), 0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7, 8), len(data))
			// A wrong size either way, and every truncation near the end.
			check(t, &d, src, len(data)+1)
			if len(data) > 0 {
				check(t, &d, src, len(data)-1)
			}
			for cut := max(0, len(src)-12); cut < len(src); cut++ {
				check(t, &d, src[:cut], len(data))
			}
		}
	}
}

func TestZlibRefusesDamage(t *testing.T) {
	var d Decoder
	data := samples()[2]
	src := compress(t, data, zlib.DefaultCompression)
	for _, tc := range []struct {
		name string
		edit func([]byte)
		want error
	}{
		{"not deflate", func(b []byte) { b[0] = 0x79 }, ErrHeader},
		{"header check", func(b []byte) { b[1]++ }, ErrHeader},
		{"preset dictionary", func(b []byte) { b[1] = 0xbb }, ErrHeader},
		{"checksum", func(b []byte) { b[len(b)-1]++ }, ErrChecksum},
	} {
		b := append([]byte(nil), src...)
		tc.edit(b)
		if err := d.Zlib(make([]byte, len(data)), b); !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
		}
	}
	// Every single flipped bit is refused or, where the stream still
	// inflates, gives what the standard library gives.
	for i := 2; i < len(src); i++ {
		for bit := range 8 {
			b := append([]byte(nil), src...)
			b[i] ^= 1 << bit
			check(t, &d, b, len(data))
		}
	}
}

// TestZlibHandBuiltBlocks covers blocks compress/flate's writer never
// makes: a lone one-bit distance code, a block with no distance codes,
// and codes of 15 bits, which need the subtables.
func TestZlibHandBuiltBlocks(t *testing.T) {
	var d Decoder
	// Skewed literal frequencies give codes of up to 15 bits.
	var skew []byte
	for i := range 20 {
		skew = append(skew, bytes.Repeat([]byte{byte('a' + i)}, 1<<min(i, 16))...)
	}
	r := rand.New(rand.NewPCG(3, 4))
	r.Shuffle(len(skew), func(i, j int) { skew[i], skew[j] = skew[j], skew[i] })
	for _, level := range []int{zlib.HuffmanOnly, zlib.BestCompression} {
		check(t, &d, compress(t, skew, level), len(skew))
	}
	// A fixed-Huffman block holding one literal, then distance code 30
	// (invalid) after a length code.
	var w bitWriter
	w.bits(1, 1)
	w.bits(1, 2) // fixed
	w.code(0x30+'k', 8)
	w.code(0, 7) // end of block
	check(t, &d, w.zlib([]byte("k")), 1)
	var bad bitWriter
	bad.bits(1, 1)
	bad.bits(1, 2)
	bad.code(0x30+'k', 8)
	bad.code(1, 7) // length 3
	bad.code(30, 5)
	bad.code(0, 7)
	if err := d.Zlib(make([]byte, 4), bad.zlib([]byte("kkkk"))); err == nil {
		t.Error("distance code 30 accepted")
	}
}

// bitWriter writes DEFLATE bits, for hand-built streams.
type bitWriter struct {
	out  []byte
	acc  uint64
	nacc uint
}

func (w *bitWriter) bits(v uint64, n uint) {
	w.acc |= v << w.nacc
	w.nacc += n
	for w.nacc >= 8 {
		w.out = append(w.out, byte(w.acc))
		w.acc >>= 8
		w.nacc -= 8
	}
}

// code writes a Huffman code, most significant bit first.
func (w *bitWriter) code(c uint64, n uint) {
	w.bits(uint64(reverse(int(c), n)), n)
}

// zlib wraps the bits written in a zlib header and data's checksum.
func (w *bitWriter) zlib(data []byte) []byte {
	if w.nacc > 0 {
		w.bits(0, 8-w.nacc)
	}
	out := append([]byte{0x78, 0x9c}, w.out...)
	return binary.BigEndian.AppendUint32(out, adler32.Checksum(data))
}

// FuzzZlib checks Zlib against compress/zlib on any stream and size: the
// same bytes where the standard library accepts it, an error where it
// does not, and never a panic.
func FuzzZlib(f *testing.F) {
	for i, data := range samples() {
		if len(data) < 5000 {
			f.Add(compress(f, data, []int{1, 6, 9, -2}[i%4]), uint16(len(data)))
		}
	}
	var d Decoder
	f.Fuzz(func(t *testing.T, src []byte, size uint16) {
		check(t, &d, src, int(size))
		// And as compressed data of a fresh stream, which reaches
		// block shapes a mutated header rarely does.
		check(t, &d, append([]byte{0x78, 0x9c}, src...), int(size))
	})
}

// corpus reads the streams in $KEYWARD_INFLATE_CORPUS: records of a
// little-endian uint32 compressed length, a uint32 inflated size and the
// stream, as a range scan of a real repository read them.
func corpus(b *testing.B) (streams [][]byte, sizes []int, total int64) {
	path := os.Getenv("KEYWARD_INFLATE_CORPUS")
	if path == "" {
		// Without one: the samples, compressed at git's level.
		for _, s := range samples() {
			streams = append(streams, compress(b, s, zlib.DefaultCompression))
			sizes = append(sizes, len(s))
			total += int64(len(s))
		}
		return streams, sizes, total
	}
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	for len(data) >= 8 {
		n, size := binary.LittleEndian.Uint32(data), binary.LittleEndian.Uint32(data[4:])
		streams = append(streams, data[8:8+n])
		sizes = append(sizes, int(size))
		total += int64(size)
		data = data[8+n:]
	}
	return streams, sizes, total
}

// readAll reads exactly len(out) bytes and the end of the stream, where
// zlib checks the checksum, as Zlib does.
func readAll(zr io.Reader, out []byte) error {
	if _, err := io.ReadFull(zr, out); err != nil {
		return err
	}
	var tail [1]byte
	if n, err := zr.Read(tail[:]); n != 0 || err != io.EOF {
		return errors.New("stream longer than its size")
	}
	return nil
}

// BenchmarkInflate compares Zlib with the standard library on the same
// streams (set KEYWARD_INFLATE_CORPUS for real ones).
func BenchmarkInflate(b *testing.B) {
	streams, sizes, total := corpus(b)
	out := make([][]byte, len(sizes))
	for i, n := range sizes {
		out[i] = make([]byte, n)
	}
	b.Run("keyward", func(b *testing.B) {
		var d Decoder
		b.SetBytes(total)
		for b.Loop() {
			for i, s := range streams {
				if err := d.Zlib(out[i], s); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("stdlib", func(b *testing.B) {
		var br bytes.Reader
		zr, _ := zlib.NewReader(bytes.NewReader(streams[0]))
		b.SetBytes(total)
		for b.Loop() {
			for i, s := range streams {
				br.Reset(s)
				zr.(zlib.Resetter).Reset(&br, nil)
				if err := readAll(zr, out[i]); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}
