package config_test

import (
	"strings"
	"testing"

	"github.com/keyward/keyward/patterns/patternstest"
	"github.com/keyward/keyward/scanner/config"
)

func TestRedact(t *testing.T) {
	g := patternstest.New(5)
	secret, id := g.Secret(), g.KeyID("AKIA", patternstest.DefaultAccount)
	for _, tc := range []struct{ in, want string }{
		{"lots", "lots"},
		{"github-fine-grained-pat", "github-fine-grained-pat"},
		{"--max-file-size", "--max-file-size"},
		{secret, secret[:4] + "…(40 chars)"},
		{id, id[:4] + "…(20 chars)"},
		{"Abc123XYZ", "…(9 chars)"},
	} {
		if got := config.RedactValue(tc.in); got != tc.want {
			t.Errorf("RedactValue(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	msg := `invalid argument "` + secret + `" for "--max-file-size" flag: invalid size "` + secret + `"`
	got := config.RedactQuoted(msg)
	if strings.Contains(got, secret) || !strings.Contains(got, `"--max-file-size"`) {
		t.Errorf("RedactQuoted: %s", got)
	}
}
