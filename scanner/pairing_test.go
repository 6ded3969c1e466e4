package scanner

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/keyward/keyward/patterns/patternstest"
)

// csvPairs is an IAM credentials export with n rows, and its key IDs and
// secrets.
func csvPairs(n int) (string, []string, []string) {
	g := patternstest.New(91)
	var b strings.Builder
	b.WriteString("User name,Access key ID,Secret access key\n")
	ids, secrets := make([]string, n), make([]string, n)
	for i := range n {
		ids[i], secrets[i] = g.KeyID("AKIA", patternstest.DefaultAccount), g.Secret()
		fmt.Fprintf(&b, "user%d,%s,%s\n", i, ids[i], secrets[i])
	}
	return b.String(), ids, secrets
}

// TestPairingManyRows: every row of a large CSV pairs its own key ID and
// secret. (Its speed is BenchmarkPairingCSV's business; this checks that
// the linear pairing pairs exactly as the quadratic one did.)
func TestPairingManyRows(t *testing.T) {
	t.Parallel()
	text, ids, secrets := csvPairs(5000)
	fs := New(Options{}).Scan([]byte(text), Provenance{Path: "export.csv"})
	if len(fs) != len(ids) {
		t.Fatalf("%d findings for %d rows", len(fs), len(ids))
	}
	for i, f := range fs {
		if f.KeyID != ids[i] || f.Secret.Reveal() != secrets[i] || f.Line != i+2 {
			t.Fatalf("row %d: key %s line %d paired with its own secret %v", i, f.KeyID, f.Line, f.Secret.Reveal() == secrets[i])
		}
	}
}

// TestPairingManyRowsStaged: the same through --staged, whose added-lines
// filter once counted lines from the top for every finding.
func TestPairingManyRowsStaged(t *testing.T) {
	t.Parallel()
	r := newTestRepo(t)
	text, ids, _ := csvPairs(3000)
	r.write("export.csv", text)
	r.git("add", "export.csv")
	res, err := New(Options{}).ScanStaged(context.Background(), r.dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Findings) != len(ids) {
		t.Fatalf("%d findings for %d rows", len(res.Findings), len(ids))
	}
}

// BenchmarkPairingCSV scans IAM credential exports of growing size: the
// time per byte should stay flat (it grew with the square of the size
// before pairing was indexed: 1.8 s at 0.6 MiB, 99 s at 4.7 MiB).
func BenchmarkPairingCSV(b *testing.B) {
	for _, rows := range []int{1000, 10000, 50000} {
		text, _, _ := csvPairs(rows)
		data := []byte(text)
		e := New(Options{})
		b.Run(fmt.Sprintf("rows=%d", rows), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				e.Scan(data, Provenance{Path: "export.csv"})
			}
		})
	}
}

// TestFindingsCap: a file of more key IDs than MaxFindingsPerContent keeps
// the first ones and says so, on disk and as a stream.
func TestFindingsCap(t *testing.T) {
	t.Parallel()
	g := patternstest.New(92)
	var b strings.Builder
	for range MaxFindingsPerContent + 500 {
		b.WriteString(g.KeyID("AKIA", patternstest.DefaultAccount) + "\n")
	}
	data := []byte(b.String())
	fs, skips := New(Options{}).ScanContent(data, Provenance{Path: "ids.txt"})
	if len(fs) != MaxFindingsPerContent || len(skips) != 1 || skips[0].Reason != SkipFindingsCap || skips[0].Incomplete() {
		t.Errorf("%d findings, skips %+v", len(fs), skips)
	}
	fs, _, skips, err := New(Options{MaxFileSize: 1024}).streamFrom(context.Background(), strings.NewReader(b.String()), Provenance{Path: "ids.txt"}, "ids.txt")
	if err != nil || len(fs) != MaxFindingsPerContent || len(skips) != 1 || skips[0].Reason != SkipFindingsCap {
		t.Errorf("stream: %d findings, skips %+v, %v", len(fs), skips, err)
	}
}
