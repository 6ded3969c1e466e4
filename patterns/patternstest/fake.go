// Package patternstest generates fake AWS credentials for tests, so that no
// live-looking key is ever committed to this repository: GitHub push
// protection and every other scanner would rightly flag it.
package patternstest

import (
	"encoding/base64"
	"fmt"
	"io"
	"math/rand/v2"
	"net/url"
	"strings"

	"github.com/keyward/keyward/patterns"
)

// DefaultAccount is the account that fake keys decode to unless a test asks
// for another. It is not a canary account.
const DefaultAccount = "123456789012"

// Gen produces deterministic fake credentials from a seed, so a failing
// test can be rerun with the same keys.
type Gen struct {
	r *rand.Rand
}

// New returns a generator seeded with seed.
func New(seed uint64) *Gen {
	return &Gen{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

// Read fills p with pseudo-random bytes, making Gen an io.Reader for
// patterns.NewKeyID.
func (g *Gen) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(g.r.Uint32())
	}
	return len(p), nil
}

var _ io.Reader = (*Gen)(nil)

// KeyID returns a fresh key ID with prefix (AKIA, ASIA, ABIA, ACCA) owned by
// account.
func (g *Gen) KeyID(prefix, account string) string {
	if prefix == "A3T" {
		return g.legacyKeyID()
	}
	for {
		id, err := patterns.NewKeyID(prefix, account, g)
		if err != nil {
			panic(err) // a bad prefix or account is a bug in the test itself
		}
		if !patterns.IsPlaceholderKeyID([]byte(id)) {
			return id
		}
	}
}

func (g *Gen) legacyKeyID() string {
	const alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	for {
		b := []byte("A3TB")
		for i := 0; i < 16; i++ {
			b = append(b, alpha[g.r.IntN(len(alpha))])
		}
		if !patterns.IsPlaceholderKeyID(b) {
			return string(b)
		}
	}
}

const secretAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/+"

// Secret returns a fresh 40-character secret access key that is not a
// placeholder by keyward's own rules.
func (g *Gen) Secret() string {
	for {
		b := make([]byte, 40)
		for i := range b {
			b[i] = secretAlphabet[g.r.IntN(len(secretAlphabet))]
		}
		if !patterns.IsPlaceholderSecret(b, patterns.SecretEntropyFloor) {
			return string(b)
		}
	}
}

// SecretWithSlash returns a secret containing both '/' and '+', to exercise
// the encodings that change those characters.
func (g *Gen) SecretWithSlash() string {
	for {
		s := g.Secret()
		if strings.Contains(s, "/") && strings.Contains(s, "+") {
			return s
		}
	}
}

// SessionToken returns a fake STS session token: the "IQoJb3JpZ2luX2Vj"
// opening real ones share, then random base64.
func (g *Gen) SessionToken() string {
	b := make([]byte, 300)
	g.Read(b)
	return "IQoJb3JpZ2luX2Vj" + base64.StdEncoding.EncodeToString(b)
}

// Creds are the values a template expansion used, so a test can assert on
// exactly what should be found.
type Creds struct {
	KeyIDs  []string
	Secrets []string
	Tokens  []string
}

// Expand replaces the placeholders in a rule sample template:
//
//	{{AKIA}} {{ASIA}} {{ABIA}} {{ACCA}} {{A3T}}  a key ID of that prefix
//	{{AKIA_B64}}       base64 of an AKIA key ID
//	{{AKIA_DIGIT_0}}   a decoy: a fresh key ID with 0 (or 1, 8 as ASIA_DIGIT_8,
//	                   9 first) where the key alphabet has none
//	{{AKIA_RUN}}       the decoy AKIA followed by sixteen X
//	{{AKIA_WALK}}      the decoy AKIA followed by A to P
//	{{SECRET}}         a secret access key
//	{{SECRET_URL}}     a secret with '/' and '+', URL-encoded
//	{{SECRET_JSON}}    a secret with '/', written with JSON's "\/" escape
//	{{SECRET_UNICODE}} a secret with '/' and '+', as \u002F and \u002B
//	{{SECRET_B64}}     base64 of a secret (a Kubernetes Secret's data field)
//	{{TOKEN}}          a session token
//
// and the fake credentials of the other providers listed in others.go
// ({{GITHUB_PAT}}, {{PEM_RSA}}, {{SLACK_BOT}}, {{STRIPE_LIVE}}, ...).
func (g *Gen) Expand(tmpl string) (string, Creds) {
	var c Creds
	var out strings.Builder
	for {
		i := strings.Index(tmpl, "{{")
		if i < 0 {
			out.WriteString(tmpl)
			return out.String(), c
		}
		j := strings.Index(tmpl[i:], "}}")
		if j < 0 {
			panic(fmt.Sprintf("patternstest: unclosed placeholder in %q", tmpl))
		}
		out.WriteString(tmpl[:i])
		out.WriteString(g.expandOne(tmpl[i+2:i+j], &c))
		tmpl = tmpl[i+j+2:]
	}
}

func (g *Gen) expandOne(name string, c *Creds) string {
	switch name {
	case "AKIA", "ASIA", "ABIA", "ACCA", "A3T":
		id := g.KeyID(name, DefaultAccount)
		c.KeyIDs = append(c.KeyIDs, id)
		return id
	case "AKIA_B64":
		id := g.KeyID("AKIA", DefaultAccount)
		c.KeyIDs = append(c.KeyIDs, id)
		return base64.StdEncoding.EncodeToString([]byte(id))
	case "AKIA_DIGIT_0", "AKIA_DIGIT_1", "ASIA_DIGIT_8", "AKIA_DIGIT_9":
		// A fresh ID with one digit from outside the key alphabet: it
		// looks issued to a person, so it is never committed.
		id := g.KeyID(name[:4], DefaultAccount)
		pos := 12
		if name[len(name)-1] == '9' {
			pos = 4 // the first character after the prefix
		}
		return id[:pos] + name[len(name)-1:] + id[pos+1:]
	case "AKIA_RUN":
		// Decoys with a key ID's shape are built here too: committed as
		// literals they would trip plain-regex scanners on this repository.
		return "AKIA" + strings.Repeat("X", 16)
	case "AKIA_WALK":
		return "AKIA" + "ABCDEFGHIJKLMNOP"
	case "SECRET":
		s := g.Secret()
		c.Secrets = append(c.Secrets, s)
		return s
	case "SECRET_URL":
		s := g.SecretWithSlash()
		c.Secrets = append(c.Secrets, s)
		return url.QueryEscape(s)
	case "SECRET_JSON":
		s := g.SecretWithSlash()
		c.Secrets = append(c.Secrets, s)
		return strings.ReplaceAll(s, "/", `\/`)
	case "SECRET_UNICODE":
		s := g.SecretWithSlash()
		c.Secrets = append(c.Secrets, s)
		return strings.NewReplacer("/", `\u002F`, "+", `\u002B`).Replace(s)
	case "SECRET_B64":
		s := g.Secret()
		c.Secrets = append(c.Secrets, s)
		return base64.StdEncoding.EncodeToString([]byte(s))
	case "TOKEN":
		t := g.SessionToken()
		c.Tokens = append(c.Tokens, t)
		return t
	}
	if v, ok := g.expandOther(name, c); ok {
		return v
	}
	panic(fmt.Sprintf("patternstest: unknown placeholder {{%s}}", name))
}
