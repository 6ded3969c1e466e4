package scanner

import (
	"bytes"
	"encoding/base64"

	"github.com/keyward/keyward/patterns"
)

// Secrets hide behind encodings that change '/' and '+': URL encoding
// (%2F, %2B), JSON's "\/" and JavaScript's \u002F. Rather than decoding
// whole files, which costs a pass and an offset map per encoding, the
// scanner reads a value's run with these escapes as single characters, so
// the reported span stays in the original bytes and decoding happens only
// around keyword and key-ID hits.

// run is a maximal sequence of secret-alphabet characters and escapes.
type run struct {
	start, end int
	decodedLen int
	enc        Encoding
	// trailingEq is set when '=' follows: the run is base64 padding's
	// neighbour, not a free-standing secret.
	trailingEq bool
}

// maxEscapeLayers is how many layers of JSON or JavaScript string escapes
// are read through: two covers JSON encoded into a JSON string (a PHP
// json_encode result logged in a JSON log line writes '/' as `\\\/`, or
// `\\/` without its escaped slashes); a third layer is rare and would
// make every run of backslashes a candidate escape (issue 10).
const maxEscapeLayers = 2

// maxEscapeBackslashes is the longest run of backslashes that
// maxEscapeLayers of escaping put before an escaped character: each layer
// doubles what the previous wrote and adds its own, 2^layers - 1.
const maxEscapeBackslashes = 1<<maxEscapeLayers - 1

// escapeAt returns the decoded byte and the escape's length if data[i:]
// starts with an escape for '/' or '+': URL encoding, or up to
// maxEscapeLayers of JSON escapes ("\/", "\u002F", and each of those
// escaped again).
func escapeAt(data []byte, i int) (byte, int, Encoding) {
	rest := data[i:]
	if len(rest) >= 3 && rest[0] == '%' && rest[1] == '2' {
		switch rest[2] | 0x20 {
		case 'f':
			return '/', 3, EncURL
		case 'b':
			return '+', 3, EncURL
		}
		return 0, 0, EncPlain
	}
	k := 0
	for k < len(rest) && k <= maxEscapeBackslashes && rest[k] == '\\' {
		k++
	}
	if k == 0 || k > maxEscapeBackslashes {
		return 0, 0, EncPlain
	}
	rest = rest[k:]
	switch {
	case len(rest) >= 1 && rest[0] == '/':
		return '/', k + 1, EncEscape
	case len(rest) >= 5 && rest[0] == 'u' && rest[1] == '0' && rest[2] == '0' && rest[3] == '2':
		switch rest[4] | 0x20 {
		case 'f':
			return '/', k + 5, EncEscape
		case 'b':
			return '+', k + 5, EncEscape
		}
	}
	return 0, 0, EncPlain
}

// readRun reads the run that starts at p, if a run starts there: p must be
// on a boundary and at a secret character or escape. The run is capped at
// 64 decoded characters, more than any value it is read for needs.
func readRun(data []byte, p, limit int) (run, bool) {
	if p >= limit {
		return run{}, false
	}
	if _, n, _ := escapeAt(data, p); n == 0 && !isSecretByte(data[p]) {
		return run{}, false
	}
	if escapeLetter(data, p) {
		return run{}, false
	}
	if !boundaryBefore(data, p, isSecretByte) {
		return run{}, false
	}
	r := run{start: p}
	q := p
	for q < limit && r.decodedLen <= 64 {
		if isSecretByte(data[q]) {
			q++
			r.decodedLen++
			continue
		}
		if _, n, enc := escapeAt(data, q); n > 0 {
			q += n
			r.decodedLen++
			r.enc = enc
			continue
		}
		break
	}
	if r.decodedLen > 64 {
		// Too long to be anything we read runs for: skip to its end so
		// the caller does not re-read its tail.
		for q < limit && isSecretByte(data[q]) {
			q++
		}
		r.decodedLen = 1 << 20
	}
	r.end = q
	r.trailingEq = q < limit && data[q] == '='
	return r, true
}

// decode returns the run's characters with escapes resolved.
func (r run) decode(data []byte) []byte {
	if r.enc == EncPlain {
		return data[r.start:r.end]
	}
	out := make([]byte, 0, r.decodedLen)
	for q := r.start; q < r.end; {
		if c, n, _ := escapeAt(data, q); n > 0 {
			out = append(out, c)
			q += n
			continue
		}
		out = append(out, data[q])
		q++
	}
	return out
}

// escapeLetter reports whether data[p] is the letter of a "\n", "\r" or
// "\t" escape. No run starts there: otherwise a secret written right after
// an escaped newline, as in a JSON log line, would be read as "n" plus its
// 40 characters and missed, and the scan would never look at its real
// start, where boundaryBefore lets a run begin.
func escapeLetter(data []byte, p int) bool {
	return p >= 1 && data[p-1] == '\\' && (data[p] == 'n' || data[p] == 'r' || data[p] == 't') &&
		(p < 2 || data[p-2] != '\\')
}

// boundaryBefore reports whether a token may start at i: the byte before it
// is not part of a token, or ends an escape such as "\n", "%3D" or
// "\u003d" (a key after an escaped newline in a JSON log line, or an
// encoded '=' in a URL, is still a key).
func boundaryBefore(data []byte, i int, inToken func(byte) bool) bool {
	if i == 0 || !inToken(data[i-1]) {
		return true
	}
	if i >= 2 && data[i-2] == '\\' && (data[i-1] == 'n' || data[i-1] == 'r' || data[i-1] == 't') {
		return true
	}
	if i >= 3 && data[i-3] == '%' && isHex(data[i-2]) && isHex(data[i-1]) {
		return true
	}
	if i >= 6 && data[i-6] == '\\' && data[i-5] == 'u' && isHex(data[i-4]) && isHex(data[i-3]) && isHex(data[i-2]) && isHex(data[i-1]) {
		return true
	}
	return false
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func isBase64Byte(c byte) bool { return isSecretByte(c) }

// decodeBase64At decodes the base64 text starting at start, of at most n
// characters plus padding, returning the bytes and the end of the encoded
// text.
func decodeBase64At(data []byte, start, n int) ([]byte, int, bool) {
	q := start
	for q < len(data) && q-start < n && isBase64Byte(data[q]) {
		q++
	}
	for q < len(data) && data[q] == '=' && (q-start)%4 != 0 {
		q++
	}
	enc := base64.StdEncoding
	if (q-start)%4 != 0 {
		enc = base64.RawStdEncoding
	}
	out, err := enc.DecodeString(string(data[start:q]))
	if err != nil {
		return nil, 0, false
	}
	return out, q, true
}

// base64Anchors are the base64 encodings of what a credential blob starts
// with: a key ID prefix, "AWS_", "aws_", "[default]" or "[profile". A
// base64 run is decoded only when it starts with one of these, which keeps
// the cost of looking inside encoded data proportional to the encoded
// credentials, not to the amount of base64 in a repository.
var base64Anchors = [][]byte{
	[]byte("QUtJQ"), []byte("QVNJQ"), []byte("QUJJQ"), []byte("QUNDQ"), []byte("QTNU"),
	[]byte("QVdTX"), []byte("YXdzX"), []byte("W2RlZmF1bHRd"), []byte("W3Byb2ZpbGUg"),
}

// minBase64Run is the encoded length of a 20-character key ID without its
// padding: nothing shorter can hold a credential.
const minBase64Run = 27

// findBase64 decodes base64 runs that start with a credential anchor, at
// the positions the sweep found. A run that is exactly a key ID comes back
// as a key candidate for pairing with what surrounds it; any other run is
// scanned as content of its own, its findings reported at the encoded run.
func (e *Engine) findBase64(data []byte, anchors [len(base64First)][]int, prov Provenance, depth int, find hitFinder) ([]candidate, []Finding) {
	var keys []candidate
	var fs []Finding
	for _, hits := range anchors {
		i := 0 // a run decoded hides the anchors inside it
		for _, at := range hits {
			if at < i {
				continue
			}
			i = at + 1
			q := at
			for q < len(data) && q-at < maxBase64Run && (isBase64Byte(data[q]) || data[q] == '-' || data[q] == '_') {
				q++
			}
			if q-at < minBase64Run {
				continue
			}
			decoded, end, ok := decodeBase64At(data, at, q-at)
			if !ok {
				// Line-wrapped or URL-safe base64 is decoded leniently: drop
				// what is not in the alphabet, then decode.
				decoded, ok = lenientBase64(data[at:q])
				end = q
				if !ok {
					continue
				}
			}
			if v := bytes.TrimSpace(decoded); e.keyID != nil && patterns.IsKeyIDShape(v) {
				if !e.keyID.Allow.Allowed(v, e.keyID.MinEntropy) {
					keys = append(keys, candidate{start: at, end: end, value: string(v), enc: EncBase64, context: true})
				}
				i = end
				continue
			}
			for _, f := range e.scanView(decoded, prov, depth+1, find) {
				f.Start, f.End = at, end
				f.Encoding = EncBase64
				f.secretStart = at // located by Scan at the encoded run
				fs = append(fs, f)
			}
			i = end
		}
	}
	return keys, fs
}

func hasAnchor(b []byte) bool {
	for _, a := range base64Anchors {
		if bytes.HasPrefix(b, a) {
			return true
		}
	}
	return false
}

func lenientBase64(b []byte) ([]byte, bool) {
	s := bytes.Map(func(r rune) rune {
		switch r {
		case '-':
			return '+'
		case '_':
			return '/'
		}
		return r
	}, b)
	s = s[:len(s)/4*4]
	out, err := base64.StdEncoding.DecodeString(string(s))
	return out, err == nil
}

// byteOrder is the order of a UTF-16 text.
type byteOrder struct {
	bom  int
	big  bool
	name string
}

var (
	littleEndian = byteOrder{name: "le"}
	bigEndian    = byteOrder{big: true, name: "be"}
)

// origin maps an offset in the UTF-16 view back to the original bytes:
// each view byte stands for one 2-byte code unit.
func (o byteOrder) origin(off int) int { return o.bom + 2*off }

// utf16View returns a one-byte-per-code-unit view of UTF-16 text: ASCII
// units become their byte and everything else becomes 0x1A, which no rule
// matches. Keys are ASCII, and the fixed width keeps offsets trivially
// mappable. UTF-16 is recognised by its byte-order mark, or by NULs in
// every other byte of the opening, as Windows tools write without a BOM.
func utf16View(data []byte) ([]byte, byteOrder, bool) {
	var o byteOrder
	switch {
	case bytes.HasPrefix(data, []byte{0xFF, 0xFE}):
		o = littleEndian
		o.bom = 2
	case bytes.HasPrefix(data, []byte{0xFE, 0xFF}):
		o = bigEndian
		o.bom = 2
	default:
		var ok bool
		if o, ok = sniffUTF16(data); !ok {
			return nil, o, false
		}
	}
	body := data[o.bom:]
	view := make([]byte, len(body)/2)
	for i := range view {
		lo, hi := body[2*i], body[2*i+1]
		if o.big {
			lo, hi = hi, lo
		}
		if hi == 0 && lo < 0x80 {
			view[i] = lo
		} else {
			view[i] = 0x1A
		}
	}
	return view, o, true
}

// sniffUTF16 looks at up to 512 bytes: UTF-16 text that is mostly ASCII has
// a NUL in nearly every high byte and almost none in the low bytes.
func sniffUTF16(data []byte) (byteOrder, bool) {
	n := min(len(data), 512) &^ 1
	if n < 16 {
		return byteOrder{}, false
	}
	var evenNUL, oddNUL int
	for i := 0; i < n; i += 2 {
		if data[i] == 0 {
			evenNUL++
		}
		if data[i+1] == 0 {
			oddNUL++
		}
	}
	pairs := n / 2
	switch {
	case oddNUL*10 >= pairs*9 && evenNUL*10 < pairs:
		return littleEndian, true
	case evenNUL*10 >= pairs*9 && oddNUL*10 < pairs:
		return bigEndian, true
	}
	return byteOrder{}, false
}
