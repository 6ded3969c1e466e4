package scanner

import (
	"bytes"
	"encoding/base64"
	"path/filepath"
	"testing"

	"github.com/keyward/keyward/patterns"
	"github.com/keyward/keyward/patterns/patternstest"
)

// addSeeds adds the rule samples and the seed files under
// testdata/fuzz/scan. Seeds are templates, expanded with generated keys,
// so the committed corpus holds no live-looking key.
func addSeeds(f *testing.F) {
	g := patternstest.New(99)
	for _, r := range patterns.AWS() {
		for _, s := range append(r.Samples.True, r.Samples.False...) {
			text, _ := g.Expand(s)
			f.Add([]byte(text))
		}
	}
	for _, data := range patternstest.SeedFiles(f, filepath.Join("..", "testdata", "fuzz", "scan")) {
		text, _ := g.Expand(string(data))
		f.Add([]byte(text))
	}
}

// FuzzScan checks the engine's invariants on any input: no panic, spans
// inside the input, lines that agree with offsets, and spans that hold what
// was reported (verbatim when plain, decodable otherwise).
func FuzzScan(f *testing.F) {
	addSeeds(f)
	e := New(Options{})
	f.Fuzz(func(t *testing.T, data []byte) {
		fs := e.Scan(data, Provenance{Path: "fuzz"})
		for _, x := range fs {
			if x.Start < 0 || x.End > len(data) || x.Start >= x.End {
				t.Fatalf("span [%d,%d) outside %d bytes", x.Start, x.End, len(data))
			}
			if x.Line < 1 || x.Column < 1 {
				t.Fatalf("line %d column %d", x.Line, x.Column)
			}
			span := data[x.Start:x.End]
			switch x.Encoding {
			case EncPlain:
				want := x.KeyID
				if want == "" {
					want = x.Secret.Reveal()
				}
				if want == "" {
					want = x.SessionToken.Reveal()
				}
				if string(span) != want {
					t.Fatalf("plain span %q does not equal the reported value", span)
				}
				if x.Line != lineOf(data, x.Start) {
					t.Fatalf("line %d, want %d", x.Line, lineOf(data, x.Start))
				}
			case EncUTF16LE, EncUTF16BE:
				if (x.End-x.Start)%2 != 0 {
					t.Fatalf("utf-16 span of odd length %d", x.End-x.Start)
				}
			case EncBase64:
				if _, ok := lenientBase64(span); !ok {
					if _, _, ok := decodeBase64At(span, 0, len(span)); !ok {
						t.Fatalf("base64 span %q does not decode", span)
					}
				}
			case EncURL, EncEscape:
				r, ok := readRun(data, x.Start, len(data))
				if !ok || r.end != x.End {
					t.Fatalf("escaped span [%d,%d) is not a run", x.Start, x.End)
				}
				if v := string(r.decode(data)); v != x.Secret.Reveal() {
					t.Fatalf("escaped span decodes to something else")
				}
			}
		}
	})
}

// FuzzReadRun checks the escape-aware run reader: a run lies inside the
// input, and decoding it yields exactly decodedLen secret characters.
func FuzzReadRun(f *testing.F) {
	for _, s := range []string{`ab%2Fcd`, `x\/y`, `a\u002Fb\u002bc`, `%2`, `\u00`, `%2F%2B`, "key=abc%3Ddef"} {
		f.Add([]byte(s), 0)
	}
	f.Fuzz(func(t *testing.T, data []byte, p int) {
		if p < 0 || p >= len(data) {
			return
		}
		r, ok := readRun(data, p, len(data))
		if !ok {
			return
		}
		if r.start != p || r.end > len(data) || r.end <= r.start {
			t.Fatalf("run [%d,%d) from %d in %d bytes", r.start, r.end, p, len(data))
		}
		if r.decodedLen <= 64 {
			d := r.decode(data)
			if len(d) != r.decodedLen || !isSecretRun(d) {
				t.Fatalf("decoded %q, want %d secret characters", d, r.decodedLen)
			}
		}
	})
}

// FuzzUTF16 checks the UTF-16 view: one view byte per code unit, and the
// offset mapping lands inside the input.
func FuzzUTF16(f *testing.F) {
	f.Add([]byte{0xFF, 0xFE, 'a', 0, 'b', 0})
	f.Add([]byte{0xFE, 0xFF, 0, 'a', 0, 'b'})
	var le bytes.Buffer
	for _, c := range "aws_access_key_id = x\r\n aws_secret_access_key = y\r\n" {
		le.WriteByte(byte(c))
		le.WriteByte(0)
	}
	f.Add(le.Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		view, o, ok := utf16View(data)
		if !ok {
			return
		}
		if want := (len(data) - o.bom) / 2; len(view) != want {
			t.Fatalf("view of %d units, want %d", len(view), want)
		}
		if len(view) > 0 && o.origin(len(view)) > len(data) {
			t.Fatalf("origin %d past %d bytes", o.origin(len(view)), len(data))
		}
	})
}

// FuzzBase64 checks that base64 decoding never panics and never reports an
// end outside the input.
func FuzzBase64(f *testing.F) {
	f.Add([]byte(base64.StdEncoding.EncodeToString([]byte("[default]\naws_access_key_id = x\n"))))
	f.Add([]byte("QUtJQQ=="))
	f.Add([]byte("W2RlZmF1bHRd-_"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if _, end, ok := decodeBase64At(data, 0, len(data)); ok && (end < 0 || end > len(data)) {
			t.Fatalf("end %d outside %d bytes", end, len(data))
		}
		lenientBase64(data)
	})
}
