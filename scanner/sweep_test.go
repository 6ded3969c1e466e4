package scanner

import (
	"bytes"
	"encoding/base64"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/keyward/keyward/patterns"
	"github.com/keyward/keyward/patterns/patternstest"
)

// TestSweepMatchesReference holds the engine, whose finders share one
// round of block-by-block passes, to the engine as it was with a pass per
// finder (reference_test.go): the same findings, in the same order, on
// generated content that puts credentials, keywords and base64 anchors
// across block boundaries, in mixed case, encoded and in UTF-16.
func TestSweepMatchesReference(t *testing.T) {
	g := patternstest.New(61)
	var frags []string
	for _, r := range patterns.All() {
		for _, s := range append(r.Samples.True, r.Samples.False...) {
			text, _ := g.Expand(s)
			frags = append(frags, text)
		}
		frags = append(frags, r.Keywords...)
	}
	frags = append(frags, "secret", "SECRET", "sEcret", "seCRET", "token", "TOKEN", "toKEN", "cret", "ken",
		"aws_secret_access_key = ", "aws_session_token = ", "A", "AKIA", "ASIA", "QUtJQ", "W2RlZmF1bHRd",
		"\\n", "%2F", "\\u002F", "[default]\n", "[profile x]\n")

	engines := map[string]*Engine{
		"all":    New(Options{}),
		"aws":    New(Options{Rules: patterns.AWS()}),
		"others": New(Options{Rules: patterns.Others()}),
	}
	r := rand.New(rand.NewPCG(62, 63))
	for i := 0; i < 300; i++ {
		data := sweepInput(r, g, frags)
		for name, e := range engines {
			got := e.Scan(data, Provenance{Path: "x"})
			want := e.refScan(data, Provenance{Path: "x"})
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%s engine, input %d (%d bytes): %d findings, reference %d\ngot  %+v\nwant %+v",
					name, i, len(data), len(got), len(want), got, want)
			}
		}
	}
}

// sweepInput builds one test input: filler with fragments scattered
// through it, a fragment straddling each gateBlock boundary, and
// sometimes a fragment base64-encoded or the whole text in UTF-16.
func sweepInput(r *rand.Rand, g *patternstest.Gen, frags []string) []byte {
	size := r.IntN(3 * gateBlock)
	if r.IntN(3) == 0 {
		size = r.IntN(600)
	}
	var b bytes.Buffer
	pick := func() string {
		f := frags[r.IntN(len(frags))]
		switch r.IntN(8) {
		case 0:
			f = base64.StdEncoding.EncodeToString([]byte(f))
		case 1:
			f = strings.ToUpper(f)
		case 2:
			f = "aws_access_key_id=" + g.KeyID("ASIA", patternstest.DefaultAccount) + "\naws_session_token=" + g.SessionToken() + "\n"
		}
		return f
	}
	for b.Len() < size {
		if r.IntN(4) == 0 {
			b.WriteString(pick())
		} else {
			b.WriteString(" \n\t=:\"_-.ACkKQWYcz"[r.IntN(17):][:1])
			b.WriteString(strings.Repeat("x", r.IntN(40)))
		}
	}
	data := b.Bytes()
	for at := gateBlock; at < len(data); at += gateBlock {
		f := pick()
		start := max(0, at-r.IntN(len(f)+1))
		copy(data[start:], f)
	}
	if r.IntN(10) == 0 {
		units := utf16.Encode([]rune(string(data)))
		out := []byte{0xFF, 0xFE}
		for _, u := range units {
			out = append(out, byte(u), byte(u>>8))
		}
		data = out
	}
	return data
}

// TestBase64First checks that base64First holds the first byte of every
// base64 anchor, which the sweep files their hits under.
func TestBase64First(t *testing.T) {
	for _, a := range base64Anchors {
		if !strings.Contains(base64First, string(a[:1])) {
			t.Errorf("anchor %q starts with a byte missing from base64First %q", a, base64First)
		}
	}
}

// FuzzSweep is TestSweepMatchesReference on any input: the engine and the
// pass-per-finder reference report the same findings.
func FuzzSweep(f *testing.F) {
	addSeeds(f)
	g := patternstest.New(64)
	for _, r := range patterns.Others() {
		for _, s := range r.Samples.True {
			text, _ := g.Expand(s)
			f.Add([]byte(text))
		}
	}
	e := New(Options{})
	f.Fuzz(func(t *testing.T, data []byte) {
		got := e.Scan(data, Provenance{Path: "fuzz"})
		want := e.refScan(data, Provenance{Path: "fuzz"})
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%d findings, reference %d", len(got), len(want))
		}
	})
}
