package scanner

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/keyward/keyward/patterns"
)

// TestLiveRules checks the one-pass prefilter against the obvious
// definition: a rule is live if any of its keywords occurs in the content,
// ignoring ASCII case (or as written, where exactKeywords allows), or if it
// has no keywords.
func TestLiveRules(t *testing.T) {
	var rules []*patterns.Rule
	for _, r := range patterns.All() {
		rules = append(rules, &r)
	}
	rules = append(rules, &patterns.Rule{ID: "no-keywords"}, &patterns.Rule{ID: "empty", Keywords: []string{""}})
	r := rand.New(rand.NewPCG(7, 8))
	texts := [][]byte{nil, []byte("x"), []byte("msg.Header"), []byte("GHP_ at the start"), []byte("ends with pRiVaTe KeY-----")}
	for i := 0; i < 300; i++ {
		// Random text salted with keyword fragments and whole keywords in
		// random case or as written, at the edges as often as in the
		// middle.
		var b bytes.Buffer
		for b.Len() < r.IntN(200) {
			k := rules[r.IntN(len(rules))].Keywords
			if len(k) == 0 || k[0] == "" {
				continue
			}
			w := []byte(k[r.IntN(len(k))])
			if r.IntN(3) == 0 {
				w = w[:r.IntN(len(w))]
			}
			for j := range w {
				if r.IntN(3) == 0 {
					continue // keep the keyword's own case here
				}
				if r.IntN(2) == 0 {
					w[j] = upper(w[j])
				} else {
					w[j] = lower(w[j])
				}
			}
			b.Write(w)
			b.WriteString(" \n_-."[r.IntN(5):][:1])
		}
		texts = append(texts, b.Bytes())
	}
	for _, text := range texts {
		live := make([]bool, len(rules))
		liveRules(text, rules, live)
		for i, rule := range rules {
			want := len(rule.Keywords) == 0
			for _, k := range rule.Keywords {
				if exactKeywords(rule) {
					want = want || bytes.Contains(text, []byte(k))
				} else {
					want = want || bytes.Contains(bytes.ToLower(text), bytes.ToLower([]byte(k)))
				}
			}
			if live[i] != want {
				t.Errorf("%s in %q: live %v, want %v", rule.ID, text, live[i], want)
			}
		}
	}
}

// TestExactKeywords pins which built-in rules take the case-sensitive fast
// path, and that the analysis refuses what it cannot prove.
func TestExactKeywords(t *testing.T) {
	exact := map[string]bool{}
	for _, r := range patterns.All() {
		exact[r.ID] = exactKeywords(&r)
	}
	for _, id := range []string{patterns.RuleGitHubPAT, patterns.RuleGitHubApp, patterns.RuleGitLabToken, patterns.RuleSlackToken,
		patterns.RuleSendGridAPIKey, patterns.RuleGoogleAPIKey, patterns.RuleBedrockAPIKey, patterns.RulePuTTYPrivateKey} {
		if !exact[id] {
			t.Errorf("%s: keywords not searched as written", id)
		}
	}
	for _, id := range []string{patterns.RuleAWSAccessKeyID, patterns.RuleTwilioAPIKey, patterns.RuleAzureStorageKey,
		patterns.RuleOpenAIAPIKey, patterns.RulePrivateKey, patterns.RuleGCPServiceAccount} {
		if exact[id] {
			t.Errorf("%s: keywords searched as written, but a match need not hold them", id)
		}
	}
	for _, c := range []struct {
		re    string
		kw    []string
		exact bool
	}{
		{`acme_[a-z]{8}`, []string{"acme_"}, true},
		{`(?i)acme_[a-z]{8}`, []string{"acme_"}, false},
		{`\bacme_[a-z]{8}`, []string{"acme_"}, false},
		{`acme_[a-z]{8}`, []string{"ACME_"}, false},
		{`(?:foo|bar)_x`, []string{"foo_", "bar_"}, true},
		{`(?:foo|ba[rz])_x`, []string{"foo_", "bar_"}, false},
		{`x[0-9]+acme`, []string{"acme"}, false},
	} {
		r := patterns.Rule{Regexp: patterns.Lazy(c.re), Keywords: c.kw}
		if got := exactKeywords(&r); got != c.exact {
			t.Errorf("%s with %q: exact %v, want %v", c.re, c.kw, got, c.exact)
		}
	}
}

// liveRules sets live[i] for each rule that has a keyword in data, or no
// keywords at all, ignoring ASCII case (or as written, where
// exactKeywords allows): the prefilter's answer alone, from the same sweep
// the engine runs with its AWS finders.
func liveRules(data []byte, rules []*patterns.Rule, live []bool) {
	new(Engine).sweep(data, 0, rules, live)
}
