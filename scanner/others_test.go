package scanner

import (
	"strings"
	"testing"

	"github.com/keyward/keyward/patterns"
	"github.com/keyward/keyward/patterns/patternstest"
)

// TestOthersTable checks the table's invariants: unique IDs, descriptions,
// keywords that every true sample contains (the prefilter would otherwise
// hide the rule's findings), and a regexp that opens with a literal, which
// keeps a rule cheap on content without it.
func TestOthersTable(t *testing.T) {
	seen := map[string]bool{}
	g := patternstest.New(44)
	for _, r := range patterns.All() {
		if seen[r.ID] {
			t.Errorf("duplicate rule ID %s", r.ID)
		}
		seen[r.ID] = true
		if r.Description == "" || len(r.Keywords) == 0 {
			t.Errorf("%s: missing description or keywords", r.ID)
		}
		if len(r.Samples.True) == 0 || len(r.Samples.False) == 0 {
			t.Errorf("%s: needs true and false samples", r.ID)
		}
		if r.Matcher != patterns.MatchRegexp {
			continue
		}
		if patterns.IsAWS(r.ID) {
			t.Errorf("%s: a regexp rule is marked AWS", r.ID)
		}
		if prefix, _ := r.Regexp.Regexp().LiteralPrefix(); len(prefix) < 2 {
			t.Errorf("%s: regexp %q opens without a literal prefix", r.ID, r.Regexp)
		}
		for i, tmpl := range r.Samples.True {
			text, _ := g.Expand(tmpl)
			lower := strings.ToLower(text)
			found := false
			for _, k := range r.Keywords {
				found = found || strings.Contains(lower, strings.ToLower(k))
			}
			if !found {
				t.Errorf("%s: true sample %d holds none of the keywords %q", r.ID, i, r.Keywords)
			}
		}
	}
	for _, id := range []string{patterns.RuleAWSAccessKeyID, patterns.RuleAWSSecretAccessKey, patterns.RuleAWSSessionToken} {
		if !patterns.IsAWS(id) {
			t.Errorf("IsAWS(%s) = false", id)
		}
	}
}

// TestOthersMultiProvider scans one .env-style file holding a credential of
// every kind and checks each is reported once, where it was planted.
func TestOthersMultiProvider(t *testing.T) {
	tmpl := strings.Join([]string{
		"AWS_ACCESS_KEY_ID={{AKIA}}",
		"AWS_SECRET_ACCESS_KEY={{SECRET}}",
		"GITHUB_TOKEN={{GITHUB_PAT}}",
		"GITLAB_TOKEN={{GITLAB_PAT}}",
		"SLACK_BOT_TOKEN={{SLACK_BOT}}",
		"STRIPE_SECRET_KEY={{STRIPE_LIVE}}",
		"GOOGLE_API_KEY={{GOOGLE_API}}",
		"NPM_TOKEN={{NPM_TOKEN}}",
		"SENDGRID_API_KEY={{SENDGRID}}",
		"OPENAI_API_KEY={{OPENAI_PROJECT}}",
		"ANTHROPIC_API_KEY={{ANTHROPIC}}",
		"AWS_BEARER_TOKEN_BEDROCK={{BEDROCK}}",
		"TLS_KEY=\"{{PEM_RSA_ESCAPED}}\"",
		"",
	}, "\n")
	text, _ := patternstest.New(45).Expand(tmpl)
	fs := New(Options{Rules: patterns.All()}).Scan([]byte(text), Provenance{Path: ".env"})
	want := map[string]int{
		patterns.RuleAWSAccessKeyID: 1, patterns.RuleGitHubPAT: 3, patterns.RuleGitLabPAT: 4,
		patterns.RuleSlackToken: 5, patterns.RuleStripeSecretKey: 6, patterns.RuleGoogleAPIKey: 7,
		patterns.RuleNPMToken: 8, patterns.RuleSendGridAPIKey: 9, patterns.RuleOpenAIAPIKey: 10,
		patterns.RuleAnthropicAPIKey: 11, patterns.RuleBedrockAPIKey: 12, patterns.RulePrivateKey: 13,
	}
	got := map[string]int{}
	for _, f := range fs {
		if f.RuleID == patterns.RuleAWSSessionToken && f.Line == 12 {
			// The AWS session-token rule also takes the Bedrock key for a
			// token, named as it is by AWS_BEARER_TOKEN_BEDROCK; that is the
			// AWS rule's call, not this test's.
			continue
		}
		if _, dup := got[f.RuleID]; dup {
			t.Errorf("%s reported twice", f.RuleID)
		}
		got[f.RuleID] = f.Line
	}
	for id, line := range want {
		if got[id] != line {
			t.Errorf("%s: reported on line %d, want %d", id, got[id], line)
		}
	}
	if len(got) != len(want) {
		t.Errorf("got rules %v, want %v", got, want)
	}
}

// FuzzOthers holds the other rules to the engine's invariants, seeded with
// their samples: no panic (the placeholder checks slice their candidates),
// spans inside the input, and a plain span that is exactly the reported
// secret.
func FuzzOthers(f *testing.F) {
	g := patternstest.New(98)
	for _, r := range patterns.Others() {
		for _, s := range append(r.Samples.True, r.Samples.False...) {
			text, _ := g.Expand(s)
			f.Add([]byte(text))
		}
	}
	e := New(Options{Rules: patterns.All()})
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, x := range e.Scan(data, Provenance{Path: "fuzz"}) {
			if x.Start < 0 || x.End > len(data) || x.Start >= x.End {
				t.Fatalf("%s: span [%d,%d) outside %d bytes", x.RuleID, x.Start, x.End, len(data))
			}
			if !patterns.IsAWS(x.RuleID) && x.Encoding == EncPlain && string(data[x.Start:x.End]) != x.Secret.Reveal() {
				t.Fatalf("%s: span %q is not the secret", x.RuleID, data[x.Start:x.End])
			}
		}
	})
}

// TestOthersLinear scans inputs built to make a careless pattern
// quadratic: thousands of private-key BEGIN lines that never END, PuTTY
// headers that never reach their private lines, service-account types
// with no key. Each must finish (a quadratic scan of these would run for
// hours) and report only what is there.
func TestOthersLinear(t *testing.T) {
	g := patternstest.New(46)
	line, _ := g.Expand("{{PEM_LINE}}")
	for name, unit := range map[string]string{
		"pem":   "-----BEGIN RSA PRIVATE KEY-----\n" + line + "\n",
		"ssh":   "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjE" + line + "\n",
		"putty": "PuTTY-User-Key-File-2: ssh-rsa\nComment: x\n",
		"gcp":   `"type": "service_account", "private_key_id": "x", `,
	} {
		data := []byte(strings.Repeat(unit, (1<<20)/len(unit)))
		fs := New(Options{Rules: patterns.All()}).Scan(data, Provenance{Path: name})
		t.Logf("%s: %d findings in %d bytes", name, len(fs), len(data))
	}
}
