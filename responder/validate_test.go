package responder

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/keyward/keyward/patterns"
	"github.com/keyward/keyward/patterns/patternstest"
	"github.com/keyward/keyward/responder/awsemu"
)

// shiftedSigner signs as if the local clock were off by skew.
type shiftedSigner struct {
	skew time.Duration
	s    *v4.Signer
}

func (s shiftedSigner) SignHTTP(ctx context.Context, c aws.Credentials, r *http.Request, payloadHash, service, region string, t time.Time, opts ...func(*v4.SignerOptions)) error {
	return s.s.SignHTTP(ctx, c, r, payloadHash, service, region, t.Add(s.skew), opts...)
}

// TestValidateErrorTable drives every row of AWS-RESPONSE.md's
// GetCallerIdentity table through the real STS client.
func TestValidateErrorTable(t *testing.T) {
	l := newLab(t)
	ctx := context.Background()
	gen := patternstest.New(99)

	deleted, _ := l.emu.CreateAccessKey(l.acct, "admin")
	must(t, l.deleteKey("admin", deleted.AccessKeyID))

	if err := l.emu.CreateUser(l.acct, "bob"); err != nil {
		t.Fatal(err)
	}
	inactive, _ := l.emu.CreateAccessKey(l.acct, "bob")
	must(t, l.deactivate("bob", inactive.AccessKeyID))

	session := l.sessionToken(t, l.leaked, 900)

	if err := l.emu.CreateUser(l.acct, "carol"); err != nil {
		t.Fatal(err)
	}
	denied, _ := l.emu.CreateAccessKey(l.acct, "carol")
	must(t, l.emu.AttachUserPolicy(l.acct, "carol", awsemu.QuarantineV3ARN))

	tests := []struct {
		name   string
		cred   Credential
		setup  func(*Validator)
		want   Status
		code   string
		reason string
	}{
		{name: "valid", cred: cred(l.leaked), want: StatusValid},
		{name: "unknown key", cred: NewCredential(gen.KeyID("AKIA", l.acct), gen.Secret(), ""), want: StatusInvalid, code: "InvalidClientTokenId"},
		{name: "deleted key", cred: cred(deleted), want: StatusInvalid, code: "InvalidClientTokenId"},
		{name: "deactivated key", cred: cred(inactive), want: StatusInvalid, code: "InvalidClientTokenId"},
		{name: "ASIA wrong token", cred: NewCredential(session.AccessKeyID, session.SecretAccessKey, gen.SessionToken()), want: StatusInvalid, code: "InvalidClientTokenId"},
		{name: "ASIA valid session", cred: cred(session), want: StatusValid},
		{name: "ASIA missing token", cred: NewCredential(session.AccessKeyID, session.SecretAccessKey, ""), want: StatusNotValidatable},
		{name: "wrong secret", cred: NewCredential(l.leaked.AccessKeyID, gen.Secret(), ""), want: StatusWrongSecret, code: "SignatureDoesNotMatch"},
		{name: "clock skew", cred: cred(l.leaked), want: StatusUnknown, code: "SignatureDoesNotMatch", reason: "clock",
			setup: func(v *Validator) {
				v.ClientOptions = append(v.ClientOptions, func(o *sts.Options) { o.HTTPSignerV4 = shiftedSigner{-20 * time.Minute, v4.NewSigner()} })
			}},
		{name: "explicit deny", cred: cred(denied), want: StatusValid},
		{name: "throttled", cred: cred(l.leaked), want: StatusUnknown, code: "Throttling",
			setup: func(*Validator) { l.emu.Throttle("GetCallerIdentity", 100) }},
		{name: "server error", cred: cred(l.leaked), want: StatusUnknown, code: "InternalFailure",
			setup: func(*Validator) { l.emu.Throttle("GetCallerIdentity", 0); l.emu.FailServer("GetCallerIdentity", 100) }},
		{name: "network", cred: cred(l.leaked), want: StatusUnknown,
			setup: func(v *Validator) { l.emu.FailServer("GetCallerIdentity", 0); v.Endpoint = "http://127.0.0.1:1" }},
		{name: "no secret", cred: NewCredential(l.leaked.AccessKeyID, "", ""), want: StatusNotValidatable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := l.validator()
			v.Attempts = 2
			if tt.setup != nil {
				tt.setup(v)
			}
			got := v.Validate(ctx, tt.cred)
			if got.Status != tt.want || got.Code != tt.code || !strings.Contains(got.Reason, tt.reason) {
				t.Fatalf("Validate = %+v, want status %s code %q reason ~%q", got, tt.want, tt.code, tt.reason)
			}
			if got.Status == StatusValid && (got.Account != l.acct || got.ARN == "" || got.UserID == "") {
				t.Fatalf("valid verdict without identity: %+v", got)
			}
		})
	}

	t.Run("expired", func(t *testing.T) {
		// A second emulator clock would be skewed against the signer, so
		// the session is aged by asking for the shortest life and moving
		// the emulator's clock.
		l2 := newClockLab(t)
		s := l2.sessionToken(t, l2.leaked, 900)
		l2.advance(16 * time.Minute)
		got := l2.validator().Validate(ctx, cred(s))
		if got.Status != StatusExpired || got.Code != "ExpiredToken" {
			t.Fatalf("Validate = %+v, want expired", got)
		}
	})
}

// TestValidateRetriesUnknown shows a transient throttle is retried and not
// reported as invalid.
func TestValidateRetriesUnknown(t *testing.T) {
	l := newLab(t)
	l.emu.Throttle("GetCallerIdentity", 2)
	v := l.validator()
	got := v.Validate(context.Background(), cred(l.leaked))
	if got.Status != StatusValid || got.Attempts != 3 {
		t.Fatalf("Validate = %+v, want valid after 3 attempts", got)
	}
}

// TestValidateCanaryNoNetwork proves a canary key is never sent anywhere.
func TestValidateCanaryNoNetwork(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	canary := patterns.CanaryAccounts()[0]
	gen := patternstest.New(5)
	v := &Validator{Endpoint: srv.URL, HTTPClient: countingClient{&hits}}
	got := v.Validate(context.Background(), NewCredential(gen.KeyID("AKIA", canary), gen.Secret(), ""))
	if got.Status != StatusCanary || got.CanaryService == "" {
		t.Fatalf("Validate = %+v, want canary", got)
	}
	if hits.Load() != 0 {
		t.Fatalf("a canary key caused %d network calls", hits.Load())
	}
}

type countingClient struct{ n *atomic.Int32 }

func (c countingClient) Do(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return http.DefaultClient.Do(r)
}

// TestCredentialRedacts checks that no formatting verb reveals the secret.
func TestCredentialRedacts(t *testing.T) {
	gen := patternstest.New(1)
	secret, token := gen.Secret(), gen.SessionToken()
	c := NewCredential(gen.KeyID("ASIA", patternstest.DefaultAccount), secret, token)
	for _, f := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
		out := sprintf(f, c)
		if strings.Contains(out, secret) || strings.Contains(out, token) || strings.Contains(out, secret[:10]) {
			t.Fatalf("%s leaked the secret: %s", f, out)
		}
	}
	b, _ := c.MarshalJSON()
	if strings.Contains(string(b), secret) {
		t.Fatal("JSON leaked the secret")
	}
	c.Wipe()
	if c.HasSecret() || c.HasToken() {
		t.Fatal("Wipe left the secret")
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestEndpointFromEnv follows the SDK's precedence for the leaked key's
// hand-built client.
func TestEndpointFromEnv(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	tests := []struct {
		vars map[string]string
		want string
	}{
		{map[string]string{}, ""},
		{map[string]string{"AWS_ENDPOINT_URL": "http://all"}, "http://all"},
		{map[string]string{"AWS_ENDPOINT_URL": "http://all", "AWS_ENDPOINT_URL_STS": "http://sts"}, "http://sts"},
		{map[string]string{"AWS_ENDPOINT_URL_STS": "http://sts", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true"}, ""},
	}
	for _, tt := range tests {
		if got := EndpointFromEnv(env(tt.vars), "sts"); got != tt.want {
			t.Errorf("EndpointFromEnv(%v) = %q, want %q", tt.vars, got, tt.want)
		}
	}
}
