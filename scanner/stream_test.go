package scanner

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/keyward/keyward/patterns"
	"github.com/keyward/keyward/patterns/patternstest"
)

// streamCuts returns the stream offsets where ScanStream hands findings
// from one window to the next, for an engine of window win over n bytes.
func streamCuts(win, n int) []int {
	var cuts []int
	for base := 0; base+win < n; base += win - streamOverlap {
		cuts = append(cuts, base+win-streamOverlap/2)
	}
	return cuts
}

// TestStreamMatchesWhole holds the windowed scan to a scan of the whole
// content: the same findings with the same offsets, lines and columns, on
// content with credentials placed right at and around every hand-over
// point, on long lines and short, read in small and odd-sized pieces.
func TestStreamMatchesWhole(t *testing.T) {
	g := patternstest.New(81)
	var frags []string
	for _, r := range patterns.All() {
		for _, s := range r.Samples.True {
			text, _ := g.Expand(s)
			frags = append(frags, text)
		}
	}
	rnd := rand.New(rand.NewPCG(82, 83))
	small := New(Options{MaxFileSize: 1024}) // window minStreamWindow
	whole := New(Options{MaxFileSize: 64 << 20})
	win := small.streamWindow()
	const size = 5 * minStreamWindow
	for _, lineLen := range []int{40, 5000, 300 << 10} { // the last longer than streamOverlap/2
		var b bytes.Buffer
		for b.Len() < size {
			// Filler lines, then a credential fragment every so often.
			n := rnd.IntN(2 * lineLen)
			b.WriteString(strings.Repeat("q", n) + "\n")
			if rnd.IntN(12) == 0 { // under MaxFindingsPerContent in all
				b.WriteString(frags[rnd.IntN(len(frags))] + "\n")
			}
		}
		data := b.Bytes()
		// Credentials straddling and next to every hand-over point.
		for _, cut := range streamCuts(win, len(data)) {
			for _, d := range []int{-300, -41, -20, -1, 0, 1, 19, 300} {
				f := frags[rnd.IntN(len(frags))]
				at := cut + d
				if at > 0 && at+len(f) < len(data) {
					copy(data[at:], f)
				}
			}
		}
		want := whole.Scan(data, Provenance{Path: "big"})
		got, n, err := small.ScanStream(context.Background(), iotest.HalfReader(bytes.NewReader(data)), Provenance{Path: "big"})
		if err != nil || n != int64(len(data)) {
			t.Fatalf("line length %d: read %d of %d bytes, %v", lineLen, n, len(data), err)
		}
		if len(want) < 10 {
			t.Fatalf("line length %d: only %d findings to compare", lineLen, len(want))
		}
		for i := range want {
			want[i].secretStart = 0 // internal, consumed by locate
		}
		if !reflect.DeepEqual(got, want) {
			for i := range min(len(got), len(want)) {
				if !reflect.DeepEqual(got[i], want[i]) {
					t.Fatalf("line length %d: finding %d of %d/%d differs\ngot  %+v\nwant %+v", lineLen, i, len(got), len(want), got[i], want[i])
				}
			}
			t.Fatalf("line length %d: %d findings, whole scan %d", lineLen, len(got), len(want))
		}
	}
}

// TestStreamFileOnDisk: a file over the limit is scanned, not skipped,
// whatever its size relative to the window; an archive over the limit is
// scanned as bytes and said to be unopened.
func TestStreamFileOnDisk(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	c := newCreds(84)
	big := filepath.Join(dir, "big.log")
	os.WriteFile(big, []byte(strings.Repeat("line\n", minStreamWindow)+c.ini()), 0o644)
	zipped := filepath.Join(dir, "big.zip")
	noise := make([]byte, 4096) // incompressible, so the zip is over the limit
	rand.NewChaCha8([32]byte{84}).Read(noise)
	os.WriteFile(zipped, zipOf(t, "a.bin", string(noise)), 0o644)
	res, err := New(Options{MaxFileSize: 1024}).ScanPaths(context.Background(), []string{dir})
	if err != nil {
		t.Fatal(err)
	}
	f := one(t, res, c.keyID)
	if f.Path != big || f.Line != minStreamWindow+2 || f.Column != 21 {
		t.Errorf("finding %s:%d:%d", f.Path, f.Line, f.Column)
	}
	if len(res.Skipped) != 1 || res.Skipped[0].Path != zipped || res.Skipped[0].Reason != SkipArchiveLimit {
		t.Errorf("skipped %+v", res.Skipped)
	}
	if res.Files != 2 {
		t.Errorf("files %d, want 2", res.Files)
	}
}

// TestStreamReader: standard input over the limit is streamed too.
func TestStreamReader(t *testing.T) {
	t.Parallel()
	c := newCreds(85)
	r := io.MultiReader(strings.NewReader(strings.Repeat("z", 3*minStreamWindow)+"\n"), strings.NewReader(c.ini()))
	res, err := New(Options{MaxFileSize: 1024}).ScanReader(context.Background(), r, Provenance{Path: "-", Kind: KindStdin})
	if err != nil {
		t.Fatal(err)
	}
	if f := one(t, res, c.keyID); f.Line != 3 || res.Bytes != int64(3*minStreamWindow+1+len(c.ini())) {
		t.Errorf("line %d, bytes %d", f.Line, res.Bytes)
	}
}

// TestStreamInterrupted: a cancelled context stops a stream between reads.
func TestStreamInterrupted(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, _, err := New(Options{}).ScanStream(ctx, strings.NewReader("x"), Provenance{})
	if err != context.Canceled {
		t.Errorf("err %v, want context.Canceled", err)
	}
}
