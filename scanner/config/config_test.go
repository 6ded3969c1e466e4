package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyward/keyward/patterns"
	"github.com/keyward/keyward/patterns/patternstest"
)

func TestParseConfig(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "fuzz", "config", "full.toml"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseConfig(data, ".keyward.toml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Baseline != ".keyward-baseline.json" || len(c.Disabled) != 1 || len(c.Rules) != 1 || len(c.Allowlists) != 2 {
		t.Fatalf("got %+v", c)
	}
	r := c.Rules[0]
	if r.ID != "acme-api-key" || r.Matcher != patterns.MatchRegexp || r.MinEntropy != 3.5 || r.Regexp.Regexp().SubexpIndex("secret") != 1 || len(r.Paths) != 2 {
		t.Errorf("rule: %+v", r)
	}
	// The rule's own allowlist comes first, limited to the rule.
	if a := c.Allowlists[0]; len(a.Rules) != 1 || a.Rules[0] != "acme-api-key" || len(a.Regexes) != 1 {
		t.Errorf("rule allowlist: %+v", a)
	}
	if a := c.Allowlists[1]; a.Description != "fixtures" || len(a.Paths) != 2 || len(a.Lines) != 1 || len(a.SecretSHA256) != 1 {
		t.Errorf("allowlist: %+v", a)
	}
	ids := map[string]bool{}
	for _, r := range c.ScanRules() {
		ids[r.ID] = true
	}
	if ids[patterns.RuleAWSSessionToken] || !ids[patterns.RuleAWSAccessKeyID] || !ids["acme-api-key"] {
		t.Errorf("ScanRules: %v", ids)
	}
	if gs := c.RulePaths()["acme-api-key"]; len(gs) != 2 {
		t.Errorf("RulePaths: %v", gs)
	}
}

func TestParseConfigErrors(t *testing.T) {
	tests := []struct {
		name, in string
		line     int
		key      string
		want     error
		text     string
	}{
		{"syntax", "a = [\n", 1, "a", ErrBadTOML, ""},
		{"type", "[[rules]]\nid = 'a'\nregex = 'a+'\nentropy = 'x'\n", 4, "rules[0].entropy", ErrBadTOML, "incompatible types"},
		{"unknown top", "\n\nfoo = 1\n", 3, "foo", ErrUnknownKey, ""},
		{"unknown in rule", "[[rules]]\nid='a'\nregex='a+'\n[[rules]]\nid='b'\nregexp='b+'\n", 6, "rules[1].regexp", ErrUnknownKey, `did you mean "regex"`},
		{"user key", "format = 'json'\n", 1, "format", ErrWrongFile, "user config"},
		{"bad regex", "[[rules]]\nid = 'a'\nregex = '('\n", 3, "rules[0].regex", nil, "error parsing regexp"},
		{"bad line regex", "[[allowlist]]\nlines = ['ok', '[']\n", 2, "allowlist[0].lines[1]", nil, "error parsing regexp"},
		{"duplicate", "[[rules]]\nid='a'\nregex='a+'\n\n[[rules]]\nid='a'\nregex='b+'\n", 6, "rules[1].id", ErrDuplicateRule, "rules[0]"},
		{"builtin", "[[rules]]\nid='aws-secret-access-key'\nregex='a+'\n", 2, "rules[0].id", ErrDuplicateRule, "built-in"},
		{"disabled unknown", "disabled_rules = ['nope']\n", 1, "disabled_rules[0]", ErrBadValue, ""},
		{"empty regex match", "[[rules]]\nid='a'\nregex='a*'\n", 3, "rules[0].regex", ErrBadValue, "empty string"},
		{"no condition", "\n[[allowlist]]\ndescription = 'x'\n", 2, "allowlist[0]", ErrBadValue, "no condition"},
		{"hash", "[[allowlist]]\nsecret_sha256 = ['abc']\n", 2, "allowlist[0].secret_sha256[0]", ErrBadValue, ""},
		{"rule allowlist rules", "[[rules]]\nid='a'\nregex='a+'\n[rules.allowlist]\nrules=['a']\npaths=['x']\n", 5, "rules[0].allowlist.rules", ErrBadValue, ""},
		{"inline table", "rules = [{id = 'a', regex = '('}]\n", 1, "rules[0].regex", nil, "error parsing regexp"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseConfig([]byte(tt.in), "k.toml")
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("got %v, want a *ConfigError", err)
			}
			if ce.Line != tt.line || ce.Key != tt.key || ce.File != "k.toml" {
				t.Errorf("got line %d key %q file %q, want %d %q", ce.Line, ce.Key, ce.File, tt.line, tt.key)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("got %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.text) || !strings.HasPrefix(err.Error(), "k.toml:") {
				t.Errorf("got %q, want it to contain %q", err, tt.text)
			}
		})
	}
}

func TestParseUserConfig(t *testing.T) {
	uc, err := ParseUserConfig([]byte("color = 'never'\nformat = 'sarif'\n"), "config.toml")
	if err != nil || uc.Color != "never" || uc.Format != "sarif" {
		t.Fatalf("got %+v, %v", uc, err)
	}
	for _, in := range []string{"[[rules]]\nid='a'\nregex='a+'\n", "color = 'blue'\n", "format = 'xml'\n", "colour = 'never'\n"} {
		if _, err := ParseUserConfig([]byte(in), "config.toml"); err == nil {
			t.Errorf("%q: no error", in)
		}
	}
}

// FuzzParseConfig checks that any input gives a config or a placed error,
// never a panic, and that what parses can be used.
func FuzzParseConfig(f *testing.F) {
	for _, data := range patternstest.SeedFiles(f, filepath.Join("..", "..", "testdata", "fuzz", "config")) {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 64<<10 { // bounds a run's time and memory
			return
		}
		lines := strings.Count(string(data), "\n") + 1
		check := func(err error) {
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("error %v is not a *ConfigError", err)
			}
			if ce.Line < 0 || ce.Line > lines || !strings.HasPrefix(err.Error(), "f.toml") {
				t.Fatalf("error %q: line %d of %d", err, ce.Line, lines)
			}
		}
		if c, err := ParseConfig(data, "f.toml"); err != nil {
			check(err)
		} else {
			for _, r := range c.ScanRules() {
				if r.Matcher == patterns.MatchRegexp && (r.Regexp == nil || r.Regexp.Regexp().MatchString("")) {
					t.Fatalf("rule %s: unusable regexp", r.ID)
				}
			}
		}
		if _, err := ParseUserConfig(data, "f.toml"); err != nil {
			check(err)
		}
	})
}
