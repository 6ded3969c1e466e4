package scanner

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/patterns/patternstest"
)

func finding(rule, path, keyID string, line int) Finding {
	f := Finding{RuleID: rule, KeyID: keyID, Line: line, Provenance: Provenance{Path: path}}
	f.Fingerprint = fingerprint(rule, path, keyID)
	return f
}

func TestBaselineApply(t *testing.T) {
	b := NewBaseline(time.Unix(0, 0))
	old := finding("r", "a.env", "KEY1", 3)
	gone := finding("r", "old/name.env", "KEY2", 1)
	b.Add([]BaselineEntry{EntryFor(&old, nil), EntryFor(&gone, nil)})
	exists := func(p string) bool { return p == "a.env" }

	tests := []struct {
		name string
		f    Finding
		want bool // suppressed
	}{
		{"same place", finding("r", "a.env", "KEY1", 3), true},
		{"moved line", finding("r", "a.env", "KEY1", 40), true},
		{"other secret, same line", finding("r", "a.env", "KEY9", 3), false},
		{"other rule", finding("q", "a.env", "KEY1", 3), false},
		{"copy while original exists", finding("r", "b.env", "KEY1", 3), false},
		{"renamed", finding("r", "new/name.env", "KEY2", 1), true},
		{"commit message", finding("r", MessagePath, "KEY2", 1), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := &Result{Findings: []Finding{tt.f}}
			b.Apply(res, BaselineMatch{Exists: exists, Detail: "bl"})
			if got := len(res.Suppressed) == 1; got != tt.want {
				t.Fatalf("suppressed = %v, want %v", got, tt.want)
			}
			if tt.want && (res.Suppressed[0].Suppressed.Reason != SuppressBaseline || !strings.HasPrefix(res.Suppressed[0].Suppressed.Detail, "bl")) {
				t.Errorf("got %+v", res.Suppressed[0].Suppressed)
			}
		})
	}
}

func TestBaselineRoundTripAndPrune(t *testing.T) {
	b := NewBaseline(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	fs := []Finding{finding("r", "z.env", "K1", 1), finding("r", "a.env", "K2", 2), finding("r", "a.env", "K2", 9)}
	var es []BaselineEntry
	for i := range fs {
		es = append(es, EntryFor(&fs[i], nil))
	}
	if n := b.Add(es); n != 2 {
		t.Fatalf("added %d, want 2 (duplicates collapse)", n)
	}
	data, err := b.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), "K1") {
		t.Fatal("baseline holds a credential")
	}
	b2, err := ParseBaseline(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(b2.Entries) != 2 || b2.Entries[0].Path != "a.env" || b2.Entries[0].Line != 2 || !b2.Created.Equal(b.Created) {
		t.Fatalf("round trip: %+v", b2)
	}
	// Only z.env's key is still found: a.env's entry goes.
	removed := b2.Prune([]BaselineEntry{es[0]}, BaselineMatch{})
	if len(removed) != 1 || removed[0].Path != "a.env" || len(b2.Entries) != 1 {
		t.Fatalf("pruned %+v, left %+v", removed, b2.Entries)
	}
	// A moved credential keeps its entry while the old path is gone.
	moved := finding("r", "zz.env", "K1", 1)
	if removed := b2.Prune([]BaselineEntry{EntryFor(&moved, nil)}, BaselineMatch{}); len(removed) != 0 {
		t.Fatalf("pruned a moved entry: %+v", removed)
	}
}

func TestParseBaselineErrors(t *testing.T) {
	for _, in := range []string{
		``, `[]`, `{"version": 2}`, `{"version": 1} {}`,
		`{"version": 1, "entries": [{"path": "a", "secret_sha256": "` + strings.Repeat("a", 64) + `"}]}`,
		`{"version": 1, "entries": [{"rule_id": "r", "secret_sha256": "` + strings.Repeat("a", 64) + `"}]}`,
		`{"version": 1, "entries": [{"rule_id": "r", "path": "a", "secret_sha256": "` + strings.Repeat("A", 64) + `"}]}`,
	} {
		if _, err := ParseBaseline([]byte(in)); err == nil {
			t.Errorf("%q: no error", in)
		}
	}
	if _, err := ParseBaseline([]byte(`{"version": 9}`)); !errors.Is(err, ErrBaselineVersion) {
		t.Errorf("got %v, want ErrBaselineVersion", err)
	}
}

// FuzzParseBaseline: any input parses or fails cleanly, and what parses
// survives a round trip.
func FuzzParseBaseline(f *testing.F) {
	for _, data := range patternstest.SeedFiles(f, filepath.Join("..", "testdata", "fuzz", "baseline")) {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := ParseBaseline(data)
		if err != nil {
			return
		}
		out, err := b.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		b2, err := ParseBaseline(out)
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if len(b2.Entries) != len(b.Entries) {
			t.Fatalf("%d entries, then %d", len(b.Entries), len(b2.Entries))
		}
		res := &Result{Findings: []Finding{finding("r", "p", "K", 1)}}
		b.Apply(res, BaselineMatch{})
		if len(res.Findings)+len(res.Suppressed) != 1 {
			t.Fatal("Apply lost a finding")
		}
	})
}
