package scanner

import (
	"regexp"
	"strings"
	"testing"

	"github.com/keyward/keyward/patterns/patternstest"
	"github.com/keyward/keyward/scanner/config"
)

func mustGlob(t *testing.T, s string) config.Glob {
	t.Helper()
	g, err := config.CompileGlob(s)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestInlineAllow(t *testing.T) {
	g := patternstest.New(7)
	tests := []struct {
		name       string
		tmpl       string
		suppressed bool
		reason     string
	}{
		{"hash comment", "id = {{AKIA}}  # keyward:allow fixture\n", true, "fixture"},
		{"slash comment", "id := \"{{AKIA}}\" // keyward:allow\n", true, ""},
		{"html", "<p>{{AKIA}}</p> <!-- keyward:allow: docs -->\n", true, "docs"},
		{"crlf", "id = {{AKIA}} # keyward:allow x\r\n", true, "x"},
		{"other line", "# keyward:allow\nid = {{AKIA}}\n", false, ""},
		{"longer word", "id = {{AKIA}} # keyward:allowed\n", false, ""},
		{"hyphenated", "id = {{AKIA}} # keyward:allow-list\n", false, ""},
		{"secret line only", "[p]\naws_access_key_id = {{AKIA}}\naws_secret_access_key = {{SECRET}} # keyward:allow\n", false, ""},
		{"lone secret", "aws_secret_access_key = {{SECRET}} # keyward:allow ok\n", true, "ok"},
	}
	e := New(Options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text, _ := g.Expand(tt.tmpl)
			fs := e.Scan([]byte(text), Provenance{Path: "x"})
			if len(fs) != 1 {
				t.Fatalf("got %d findings", len(fs))
			}
			s := fs[0].Suppressed
			if (s != nil) != tt.suppressed {
				t.Fatalf("suppressed = %v, want %v", s, tt.suppressed)
			}
			if s != nil && (s.Reason != SuppressInline || s.Detail != tt.reason) {
				t.Errorf("got %+v, want reason %q", s, tt.reason)
			}
		})
	}
	// NoInline ignores the comments, for audits.
	text, _ := g.Expand("id = {{AKIA}} # keyward:allow\n")
	if fs := New(Options{Filter: &Filter{NoInline: true}}).Scan([]byte(text), Provenance{}); len(fs) != 1 || fs[0].Suppressed != nil {
		t.Errorf("NoInline: %+v", fs)
	}
}

// TestInlineAllowUTF16 checks that lines are found in the decoded view,
// where Line and Column were computed.
func TestInlineAllowUTF16(t *testing.T) {
	text, _ := patternstest.New(8).Expand("x = 1\nid = {{AKIA}} # keyward:allow wide\n")
	var b []byte
	for _, r := range text {
		b = append(b, byte(r), 0)
	}
	fs := New(Options{}).Scan(b, Provenance{})
	if len(fs) != 1 || fs[0].Suppressed == nil || fs[0].Suppressed.Detail != "wide" {
		t.Fatalf("got %+v", fs)
	}
}

// TestInlineAllowReasonScrubbed keeps a secret written after the marker
// out of the reason, which reports print.
func TestInlineAllowReasonScrubbed(t *testing.T) {
	text, creds := patternstest.New(9).Expand("aws_secret_access_key = {{SECRET}} # keyward:allow was {{SECRET}}\n")
	_ = creds
	fs := New(Options{}).Scan([]byte(text), Provenance{})
	if len(fs) == 0 || fs[0].Suppressed == nil {
		t.Fatalf("got %+v", fs)
	}
	for _, f := range fs {
		if f.Suppressed != nil && strings.Contains(f.Suppressed.Detail, f.Secret.Reveal()) {
			t.Fatalf("reason holds the secret")
		}
	}
}

func TestFilter(t *testing.T) {
	g := patternstest.New(10)
	text, creds := g.Expand("a = {{AKIA}}\nb = {{AKIA}} FAKE\nc = {{AKIA}}\nd = {{AKIA}}\n")
	ids := creds.KeyIDs
	h := (&Finding{KeyID: ids[2]}).SecretHash()
	f := &Filter{Allow: []config.AllowEntry{
		{Description: "lines", Lines: []*regexp.Regexp{regexp.MustCompile(`FAKE`)}},
		{Description: "match", Regexes: []*regexp.Regexp{regexp.MustCompile("^" + ids[0] + "$")}},
		{Description: "hash", SecretSHA256: []string{h}},
		{Description: "other rule", Rules: []string{"aws-session-token"}, Lines: []*regexp.Regexp{regexp.MustCompile(`d = `)}},
	}}
	fs := New(Options{Filter: f}).Scan([]byte(text), Provenance{Path: "src/app.env"})
	res := &Result{Findings: fs}
	f.Apply(res, nil)
	if len(res.Findings) != 1 || res.Findings[0].KeyID != ids[3] {
		t.Fatalf("kept %+v", res.Findings)
	}
	got := map[string]string{}
	for _, s := range res.Suppressed {
		got[s.KeyID] = s.Suppressed.Detail
	}
	if got[ids[0]] != "match" || got[ids[1]] != "lines" || got[ids[2]] != "hash" {
		t.Errorf("suppressed %v", got)
	}
	if n := res.SuppressedByReason()[SuppressAllowlist]; n != 3 {
		t.Errorf("by reason: %d", n)
	}

	// Paths are checked by Apply, on the repository-relative path.
	pf := &Filter{
		Allow:     []config.AllowEntry{{Description: "fixtures", Paths: []config.Glob{mustGlob(t, "testdata/")}}},
		RulePaths: map[string][]config.Glob{"custom": {mustGlob(t, "config/")}},
	}
	res = &Result{Findings: []Finding{
		{RuleID: "aws-access-key-id", KeyID: "K1", Provenance: Provenance{Path: "../repo/testdata/a"}},
		{RuleID: "aws-access-key-id", KeyID: "K2", Provenance: Provenance{Path: "src/a"}},
		{RuleID: "custom", Secret: NewSecret("s1"), Provenance: Provenance{Path: "config/x"}},
		{RuleID: "custom", Secret: NewSecret("s2"), Provenance: Provenance{Path: "src/x"}},
	}}
	pf.Apply(res, func(p string) string { return strings.TrimPrefix(p, "../repo/") })
	if len(res.Findings) != 2 || res.Findings[0].KeyID != "K2" || res.Findings[1].Path != "config/x" {
		t.Errorf("kept %+v", res.Findings)
	}
	if len(res.Suppressed) != 1 || res.Suppressed[0].KeyID != "K1" {
		t.Errorf("suppressed %+v", res.Suppressed)
	}
}
