package responder

import (
	"fmt"
	"strings"

	"github.com/keyward/keyward/patterns"
)

// Credential is a leaked access key: its ID and, when known, its secret and
// session token. Every way of formatting a Credential redacts; Wipe clears
// the secret once it is no longer needed.
type Credential struct {
	KeyID  string
	secret []byte
	token  []byte
}

// NewCredential wraps a key ID, secret and optional session token.
func NewCredential(keyID, secret, token string) Credential {
	c := Credential{KeyID: strings.TrimSpace(keyID)}
	if secret != "" {
		c.secret = []byte(secret)
	}
	if token != "" {
		c.token = []byte(token)
	}
	return c
}

// HasSecret reports whether the secret is known.
func (c Credential) HasSecret() bool { return len(c.secret) > 0 }

// HasToken reports whether a session token is known.
func (c Credential) HasToken() bool { return len(c.token) > 0 }

// Kind is the key's kind from its prefix.
func (c Credential) Kind() patterns.KeyKind { return patterns.KindOf(c.KeyID) }

// Wipe overwrites the secret and token in place. Go strings made from them
// for the SDK cannot be wiped, which is why they are made as late as
// possible and only for the one STS call.
func (c *Credential) Wipe() {
	for i := range c.secret {
		c.secret[i] = 0
	}
	for i := range c.token {
		c.token[i] = 0
	}
	c.secret, c.token = nil, nil
}

// String implements fmt.Stringer without the secret.
func (c Credential) String() string {
	s := "Credential{" + c.KeyID
	if c.HasSecret() {
		s += ", secret redacted"
	}
	if c.HasToken() {
		s += ", token redacted"
	}
	return s + "}"
}

// GoString implements fmt.GoStringer, so %#v cannot leak either.
func (c Credential) GoString() string { return c.String() }

// Format implements fmt.Formatter, so every verb (%v, %+v, %s, %q, %x)
// prints the redacted form.
func (c Credential) Format(f fmt.State, verb rune) { fmt.Fprint(f, c.String()) }

// MarshalJSON writes the key ID only.
func (c Credential) MarshalJSON() ([]byte, error) {
	return []byte(fmt.Sprintf(`{"key_id":%q}`, c.KeyID)), nil
}

// endpointEnv names the standard SDK variables for service endpoints.
var endpointEnv = map[string]string{
	"sts":        "AWS_ENDPOINT_URL_STS",
	"iam":        "AWS_ENDPOINT_URL_IAM",
	"cloudtrail": "AWS_ENDPOINT_URL_CLOUDTRAIL",
}

// EndpointFromEnv returns the endpoint the SDK's standard variables select
// for service ("sts", "iam", "cloudtrail"): AWS_ENDPOINT_URL_<SERVICE>, else
// AWS_ENDPOINT_URL, unless AWS_IGNORE_CONFIGURED_ENDPOINT_URLS is true. The
// leaked key's client is built by hand and would not otherwise see them.
func EndpointFromEnv(getenv func(string) string, service string) string {
	if strings.EqualFold(getenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"), "true") {
		return ""
	}
	if v := getenv(endpointEnv[service]); v != "" {
		return v
	}
	return getenv("AWS_ENDPOINT_URL")
}

// Reveal returns the secret and session token. Its callers are the STS
// client here and the one-time hand-over of a rotated key in cmd/keyward;
// keep it that way so they stay easy to audit.
func (c Credential) Reveal() (secret, token string) { return string(c.secret), string(c.token) }
