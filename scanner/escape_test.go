package scanner

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/keyward/keyward/patterns/patternstest"
)

// slashySecret is a generated secret with '/' and '+' in it, the characters
// JSON encoders escape.
func slashySecret(seed uint64) string {
	s := []byte(patternstest.New(seed).Secret())
	s[7], s[19], s[30] = '/', '+', '/'
	return string(s)
}

// TestEscapesTwoLayers: a credential inside JSON that was itself encoded
// into a JSON string (a PHP json_encode result logged in a JSON log line)
// is read through both layers of escapes, whichever way each encoder
// wrote '/' (issue 10).
func TestEscapesTwoLayers(t *testing.T) {
	t.Parallel()
	g := patternstest.New(41)
	id := g.KeyID("AKIA", patternstest.DefaultAccount)
	secret := slashySecret(42)
	inner := `{"aws_access_key_id":"` + id + `","aws_secret_access_key":"` + secret + `"}`
	// One layer as a JSON encoder that escapes '/' writes it.
	php := strings.ReplaceAll(inner, "/", `\/`)
	outer := func(s string) string {
		b, _ := json.Marshal(map[string]string{"msg": s})
		return string(b)
	}
	for _, tc := range []struct{ name, text string }{
		{"one layer", php},
		{"php in json", outer(php)},                 // \\\/
		{"unescaped slashes in json", outer(inner)}, // plain / inside \"
		{"double backslash slash", strings.ReplaceAll(outer(inner), "/", `\\/`)}, // \\/
		{"unicode escape twice", strings.ReplaceAll(strings.ReplaceAll(outer(inner), "/", `\\u002F`), "+", `\\u002b`)},
		{"unicode escape in php", outer(strings.ReplaceAll(inner, "/", `\u002f`))}, // \\u002f
		{"quotes escaped twice", outer(outer(inner))},                              // \\\" around every value
		{"ini encoded twice", outer(outer("[default]\naws_access_key_id=" + id + "\naws_secret_access_key=" + secret + "\n"))},
		{"csv row after an escaped newline, twice", outer(outer("id,secret\n" + id + "," + secret + "\n"))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := New(Options{}).Scan([]byte(tc.text), Provenance{Path: "log.json"})
			var got *Finding
			for i := range fs {
				if fs[i].KeyID == id {
					got = &fs[i]
				}
			}
			if got == nil || got.Secret.Reveal() != secret {
				t.Fatalf("key found %v, secret recovered %v in %s", got != nil, got != nil && got.Secret.Reveal() == secret, tc.text)
			}
		})
	}
}

// TestEscapeLayerLimit: three layers are past maxEscapeLayers; the key ID
// is still found, its secret is not read through them.
func TestEscapeLayerLimit(t *testing.T) {
	t.Parallel()
	if _, n, _ := escapeAt([]byte(`\\\\/`), 0); n != 0 {
		t.Errorf("four backslashes read as an escape of length %d", n)
	}
	for _, s := range []string{`\/`, `\\/`, `\\\/`, `\u002F`, `\\u002f`, `\\\u002F`, `%2F`} {
		if _, n, _ := escapeAt([]byte(s+"x"), 0); n != len(s) {
			t.Errorf("%s: escape length %d, want %d", s, n, len(s))
		}
	}
}
