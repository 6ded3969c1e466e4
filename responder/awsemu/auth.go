package awsemu

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// maxSkew is how far a request's signing time may be from the server's
// clock before AWS rejects it as "Signature expired".
const maxSkew = 15 * time.Minute

const amzDateFormat = "20060102T150405Z"

// authRequest is a parsed SigV4 Authorization header.
type authRequest struct {
	keyID, date, region, service string
	signedHeaders                []string
	signature                    string
}

func parseAuthorization(h string) (authRequest, bool) {
	var ar authRequest
	const algo = "AWS4-HMAC-SHA256 "
	if !strings.HasPrefix(h, algo) {
		return ar, false
	}
	for _, part := range strings.Split(h[len(algo):], ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return ar, false
		}
		switch k {
		case "Credential":
			f := strings.Split(v, "/")
			if len(f) != 5 || f[4] != "aws4_request" {
				return ar, false
			}
			ar.keyID, ar.date, ar.region, ar.service = f[0], f[1], f[2], f[3]
		case "SignedHeaders":
			ar.signedHeaders = strings.Split(v, ";")
		case "Signature":
			ar.signature = v
		}
	}
	return ar, ar.keyID != "" && ar.signature != "" && len(ar.signedHeaders) > 0
}

// authenticate verifies r's signature and returns the key that signed it, or
// the error AWS would give. The caller holds s.mu; body is r's full body.
func (s *Server) authenticate(r *http.Request, body []byte) (*accessKey, authRequest, *apiError) {
	ar, ok := parseAuthorization(r.Header.Get("Authorization"))
	if !ok {
		return nil, ar, errMissingAuth
	}
	now := s.now()
	k, ok := s.keys[ar.keyID]
	if !ok || !s.keyLive(k, now) {
		return nil, ar, errInvalidToken
	}
	token := r.Header.Get("X-Amz-Security-Token")
	if k.temporary {
		if subtle.ConstantTimeCompare([]byte(token), []byte(k.token)) != 1 {
			return nil, ar, errInvalidToken
		}
		if !now.Before(k.expires) {
			return nil, ar, errExpiredToken
		}
	} else if token != "" {
		// A long-term key never carries a token; AWS rejects the pair.
		return nil, ar, errInvalidToken
	}
	signTime, err := time.Parse(amzDateFormat, r.Header.Get("X-Amz-Date"))
	if err != nil || !strings.HasPrefix(r.Header.Get("X-Amz-Date"), ar.date) {
		return nil, ar, errSignature
	}
	// The signing window is measured against the server's clock, skew
	// included. Advance's time travel is shared by the clients: a client
	// signing with the real clock is as welcome as one that has learnt the
	// advanced clock from the Date header (the SDK does, after any answer).
	sigNow := now.Add(-s.advanced)
	if d := sigNow.Sub(signTime); (d > maxSkew || d < -maxSkew) && !within(now.Sub(signTime), maxSkew) {
		return nil, ar, &apiError{status: 403, code: "SignatureDoesNotMatch",
			msg: "Signature expired: " + signTime.Format(amzDateFormat) + " is now earlier than " +
				sigNow.Add(-maxSkew).UTC().Format(amzDateFormat) + " (" + sigNow.UTC().Format(amzDateFormat) + " - 15 min.)"}
	}
	if !s.signatureMatches(r, body, ar, k, token, signTime) {
		return nil, ar, errSignature
	}
	return k, ar, nil
}

func within(d, max time.Duration) bool { return d <= max && d >= -max }

// keyLive applies key status as authentication sees it, including the
// consistency delay after a status change.
func (s *Server) keyLive(k *accessKey, now time.Time) bool {
	if k.temporary {
		return true // sessions outlive their parent key; only policy ends them
	}
	status, deleted := k.status, k.deleted
	if now.Before(k.statusAt) {
		status, deleted = k.prevStatus, false
	}
	return !deleted && status == "Active"
}

// signatureMatches rebuilds the request from only its signed headers,
// re-signs it with the key's secret for the same scope and time, and
// compares the Authorization headers in constant time.
func (s *Server) signatureMatches(r *http.Request, body []byte, ar authRequest, k *accessKey, token string, signTime time.Time) bool {
	u := *r.URL
	u.Scheme, u.Host = "http", r.Host
	clone, err := http.NewRequest(r.Method, u.String(), nil)
	if err != nil {
		return false
	}
	clone.Host = r.Host
	hasHost := false
	for _, h := range ar.signedHeaders {
		switch h {
		case "host":
			hasHost = true
		case "content-length":
			clone.ContentLength = int64(len(body))
		case "x-amz-date", "x-amz-security-token":
			// the signer sets these itself from the time and credentials
		default:
			for _, v := range r.Header.Values(h) {
				clone.Header.Add(h, v)
			}
		}
	}
	if !hasHost {
		return false
	}
	sum := sha256.Sum256(body)
	payloadHash := hex.EncodeToString(sum[:])
	signer := v4.NewSigner()
	if ar.service == "s3" {
		// S3 signs the payload hash it declares (a real hash or
		// UNSIGNED-PAYLOAD) and does not escape the path twice.
		declared := r.Header.Get("X-Amz-Content-Sha256")
		if declared == "" || (declared != "UNSIGNED-PAYLOAD" && declared != payloadHash) {
			return false
		}
		payloadHash = declared
		clone.Header.Set("X-Amz-Content-Sha256", declared)
		signer = v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	}
	creds := aws.Credentials{AccessKeyID: k.id, SecretAccessKey: k.secret, SessionToken: token}
	if err := signer.SignHTTP(context.Background(), creds, clone, payloadHash, ar.service, ar.region, signTime); err != nil {
		return false
	}
	want := []byte(clone.Header.Get("Authorization"))
	got := []byte(r.Header.Get("Authorization"))
	return subtle.ConstantTimeCompare(want, got) == 1
}
