package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/keyward/keyward/scanner"
)

// streamCases are results Stream must write exactly as Write(New(...)):
// empty, one finding, several with odd bytes, verdicts, skips, errors,
// warnings and suppressed findings.
func streamCases() map[string]*scanner.Result {
	when := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	many := &scanner.Result{
		Findings: []scanner.Finding{
			{RuleID: "aws-access-key-id", Description: "a <key> & \"more\"", KeyID: "AKIAIOSFODNN7EXAMPLE",
				Provenance: scanner.Provenance{Path: "dir/a\xffb.ini", Commit: "c0ffee", Author: "A", Email: "a@x", Date: when},
				Secret:     scanner.NewSecret("0123456789abcdef0123"), Line: 3, Column: 7, Start: 10, End: 30, PresentIn: []string{"x", "y"}},
			{RuleID: "r", Provenance: scanner.Provenance{Path: scanner.TagMessagePath, Kind: scanner.KindTagMessage, Ref: "v1"}},
			{RuleID: "r\u2028", Provenance: scanner.Provenance{Path: "tab\there"}, SessionToken: scanner.NewSecret("tok")},
		},
		Skipped:  []scanner.Skip{{Path: "big.bin", Reason: scanner.SkipTooLarge, Size: 1 << 30}},
		Errors:   []scanner.FileError{{Path: "gone", Err: errors.New("permission denied")}},
		Warnings: []string{"w1", "w<2>"},
		Suppressed: []scanner.Finding{{RuleID: "r", Provenance: scanner.Provenance{Path: "v/x"},
			Suppressed: &scanner.Suppression{Reason: scanner.SuppressBaseline, Detail: "b.json"}},
			{RuleID: "r", Provenance: scanner.Provenance{Path: "v/y", Commit: "abc"}, KeyID: "k",
				Suppressed: &scanner.Suppression{Reason: scanner.SuppressInline, Detail: "test <fixture>"}},
			{RuleID: "q", Provenance: scanner.Provenance{Path: "v/z"},
				Suppressed: &scanner.Suppression{Reason: scanner.SuppressBaseline}}},
		Files: 9, Bytes: 1234, Commits: 2, IgnoredFiles: 1, IgnoredDirs: 2,
	}
	return map[string]*scanner.Result{
		"empty":           {},
		"one":             {Findings: many.Findings[:1]},
		"only suppressed": {Suppressed: many.Suppressed[1:2]},
		"many":            many,
	}
}

// TestStreamMatchesWrite: the streamed report is byte for byte the built
// one, redacted or not, with and without verdicts, so readers (verify
// --report, baseline --from-report, report merging) see no change.
func TestStreamMatchesWrite(t *testing.T) {
	tool := Tool{Name: "keyward", Version: "test"}
	verdict := func(i int) json.RawMessage {
		if i == 1 {
			return nil
		}
		return json.RawMessage(fmt.Sprintf(`{"status":"active","n":%d}`, i))
	}
	for name, res := range streamCases() {
		for _, redact := range []bool{true, false} {
			for _, withVerdicts := range []bool{false, true} {
				rep := New(res, redact, tool, 1500*time.Millisecond)
				var v func(int) json.RawMessage
				if withVerdicts {
					v = verdict
					for i := range rep.Findings {
						rep.Findings[i].Verification = verdict(i)
					}
				}
				var want, got bytes.Buffer
				if err := Write(&want, rep); err != nil {
					t.Fatal(err)
				}
				if err := Stream(&got, res, redact, tool, 1500*time.Millisecond, v); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got.Bytes(), want.Bytes()) {
					t.Errorf("%s redact=%v verdicts=%v:\n got %s\nwant %s", name, redact, withVerdicts, got.Bytes(), want.Bytes())
				}
			}
		}
	}
}

// TestStreamManyFindings: a report of many findings is valid JSON that
// reads back whole, in order.
func TestStreamManyFindings(t *testing.T) {
	const n = 100_000
	res := &scanner.Result{Findings: make([]scanner.Finding, n)}
	for i := range res.Findings {
		res.Findings[i] = scanner.Finding{RuleID: "aws-access-key-id", KeyID: fmt.Sprintf("key-%d", i),
			Provenance: scanner.Provenance{Path: "big.csv"}, Line: i + 1}
	}
	var b bytes.Buffer
	if err := Stream(&b, res, true, Tool{Name: "keyward"}, time.Second, nil); err != nil {
		t.Fatal(err)
	}
	rep, err := Read(b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Findings) != n {
		t.Fatalf("read back %d findings, want %d", len(rep.Findings), n)
	}
	for i, f := range rep.Findings {
		if f.Line != i+1 || f.KeyID != fmt.Sprintf("key-%d", i) {
			t.Fatalf("finding %d read back as line %d key %s", i, f.Line, f.KeyID)
		}
	}
}

// TestStreamWriteError: a failing writer's error is returned.
func TestStreamWriteError(t *testing.T) {
	res := streamCases()["many"]
	err := Stream(failWriter{}, res, true, Tool{}, 0, nil)
	if !errors.Is(err, io.ErrShortWrite) {
		t.Errorf("error %v, want the writer's", err)
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, io.ErrShortWrite }

// BenchmarkReportJSON compares the built report (New, then Write: a
// second copy of every finding and the whole document in memory) with
// Stream, on 100,000 findings; compare B/op.
func BenchmarkReportJSON(b *testing.B) {
	const n = 100_000
	res := &scanner.Result{Findings: make([]scanner.Finding, n)}
	for i := range res.Findings {
		res.Findings[i] = scanner.Finding{RuleID: "aws-access-key-id", KeyID: fmt.Sprintf("key-%016d", i),
			Provenance: scanner.Provenance{Path: "big.csv"}, Line: i + 1, Fingerprint: fmt.Sprintf("big.csv:aws-access-key-id:%d", i)}
	}
	b.Run("built", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := Write(io.Discard, New(res, true, Tool{}, 0)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("streamed", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := Stream(io.Discard, res, true, Tool{}, 0, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
}
