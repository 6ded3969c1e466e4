package responder

import (
	"context"
	"crypto/sha256"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"

	"github.com/keyward/keyward/patterns"
)

// Status is what validation says about a key.
type Status string

// Validation outcomes (issue 4). Unknown is never reported as Invalid: a
// key that could not be checked must be treated as live.
const (
	StatusValid          Status = "valid"
	StatusInvalid        Status = "invalid"         // InvalidClientTokenId: unknown, deleted or deactivated
	StatusWrongSecret    Status = "wrong-secret"    // SignatureDoesNotMatch
	StatusExpired        Status = "expired"         // ExpiredToken
	StatusCanary         Status = "canary"          // a canary-token account: never contacted
	StatusNotValidatable Status = "not-validatable" // no secret, or an ASIA key without its token
	StatusUnknown        Status = "unknown"         // network, throttling, 5xx, clock skew
)

// Verdict is the outcome of validating one key.
type Verdict struct {
	KeyID  string `json:"key_id"`
	Status Status `json:"status"`
	// Account, ARN and UserID are GetCallerIdentity's answer for a valid
	// key; Account is also filled offline from the key ID where possible.
	Account string `json:"account_id,omitempty"`
	ARN     string `json:"arn,omitempty"`
	UserID  string `json:"user_id,omitempty"`
	// Code is the AWS error code that decided the verdict, if any.
	Code string `json:"error_code,omitempty"`
	// Reason explains the verdict in a sentence.
	Reason        string `json:"reason,omitempty"`
	RequestID     string `json:"request_id,omitempty"`
	Attempts      int    `json:"attempts"`
	CanaryService string `json:"canary_service,omitempty"`
}

// DefaultRegion is the fixed region the leaked key's client signs for, so
// nothing from the environment is mixed into that client.
const DefaultRegion = "us-east-1"

// Retry defaults for outcomes that cannot be classified (network, 5xx,
// throttling): they are retried rather than misreported.
const (
	defaultAttempts = 4
	defaultBackoff  = 500 * time.Millisecond
	// defaultSpacing is the quirk in AWS-RESPONSE.md: two GetCallerIdentity
	// calls for one key ID with different secrets within about 5 s can
	// make the second fail with SignatureDoesNotMatch.
	defaultSpacing = 5 * time.Second
)

// Validator checks leaked keys with sts:GetCallerIdentity signed by the key
// itself. The zero value talks to AWS; set Endpoint for a local emulator.
// A Validator is safe for concurrent use.
type Validator struct {
	// Endpoint overrides the STS endpoint (see EndpointFromEnv).
	Endpoint string
	// Region is the signing region; empty means DefaultRegion.
	Region string
	// HTTPClient sends the requests; nil means the SDK's default.
	HTTPClient aws.HTTPClient
	// Attempts bounds tries for an unknown outcome; 0 means 4.
	Attempts int
	// Backoff is the first wait between tries, doubled each time; 0 means
	// 500 ms.
	Backoff time.Duration
	// Spacing is the minimum gap between two different secrets tried for
	// one key ID; 0 means 5 s. Tests shorten it.
	Spacing time.Duration
	// ClientOptions adjust the STS client, for tests (a signer with a
	// shifted clock, say).
	ClientOptions []func(*sts.Options)

	mu   sync.Mutex
	last map[string]lastTry
}

type lastTry struct {
	at     time.Time
	secret [32]byte
}

// Validate classifies c against v.Region (DefaultRegion if empty). Canary
// keys and keys that cannot be signed are answered offline, with no
// network call at all.
func (v *Validator) Validate(ctx context.Context, c Credential) Verdict {
	return v.ValidateIn(ctx, c, "")
}

// ValidateIn is Validate signing for region (a partition's STS region,
// see PartitionRegion); empty means v.Region.
func (v *Validator) ValidateIn(ctx context.Context, c Credential, region string) Verdict {
	vd := Verdict{KeyID: c.KeyID}
	acct, _ := patterns.AccountID(c.KeyID)
	vd.Account = acct
	if svc, ok := patterns.CanaryAccount(acct); ok {
		vd.Status, vd.CanaryService = StatusCanary, svc
		vd.Reason = "the key belongs to a canary-token account (" + svc + "): using it would alert whoever planted it"
		return vd
	}
	switch {
	case c.KeyID == "" || !patterns.IsKeyIDShape([]byte(c.KeyID)):
		vd.Status, vd.Reason = StatusNotValidatable, "no access key ID"
		return vd
	case !c.HasSecret():
		vd.Status, vd.Reason = StatusNotValidatable, "the secret access key is not known"
		return vd
	case c.Kind() == patterns.Temporary && !c.HasToken():
		vd.Status, vd.Reason = StatusNotValidatable, "an ASIA key is useless without its session token, which was not found"
		return vd
	case strings.HasPrefix(c.KeyID, "ABIA") || strings.HasPrefix(c.KeyID, "ACCA"):
		vd.Status, vd.Reason = StatusNotValidatable, "this kind of credential cannot sign STS requests"
		return vd
	}

	attempts, backoff := v.Attempts, v.Backoff
	if attempts <= 0 {
		attempts = defaultAttempts
	}
	if backoff <= 0 {
		backoff = defaultBackoff
	}
	retriedQuirk := false
	for i := 0; i < attempts; i++ {
		if i > 0 {
			if err := sleep(ctx, backoff); err != nil {
				vd.Status, vd.Reason = StatusUnknown, "interrupted"
				return vd
			}
			backoff *= 2
		}
		recent := v.spaceSecrets(ctx, c)
		vd.Attempts++
		out, err := v.call(ctx, c, region)
		if err == nil {
			vd.Status = StatusValid
			vd.Account, vd.ARN, vd.UserID = aws.ToString(out.Account), aws.ToString(out.Arn), aws.ToString(out.UserId)
			vd.RequestID = requestID(out.ResultMetadata)
			vd.Code, vd.Reason = "", ""
			return vd
		}
		status, code, reason := classify(err)
		vd.Status, vd.Code, vd.Reason, vd.RequestID = status, code, reason, errRequestID(err)
		if ctx.Err() != nil {
			vd.Status, vd.Reason = StatusUnknown, "interrupted"
			return vd
		}
		if status == StatusWrongSecret && recent && !retriedQuirk {
			// Possibly the quirk rather than a wrong secret: try once more
			// after the spacing.
			retriedQuirk = true
			i--
			continue
		}
		if status != StatusUnknown {
			return vd
		}
	}
	return vd
}

// spaceSecrets waits, if needed, so that two different secrets for one key
// ID are at least Spacing apart; it reports whether another secret was
// tried recently.
func (v *Validator) spaceSecrets(ctx context.Context, c Credential) bool {
	spacing := v.Spacing
	if spacing <= 0 {
		spacing = defaultSpacing
	}
	sum := sha256.Sum256(c.secret)
	v.mu.Lock()
	if v.last == nil {
		v.last = map[string]lastTry{}
	}
	prev, ok := v.last[c.KeyID]
	v.mu.Unlock()
	recent := false
	if ok && prev.secret != sum {
		if wait := spacing - time.Since(prev.at); wait > 0 {
			recent = true
			sleep(ctx, wait)
		}
	}
	v.mu.Lock()
	v.last[c.KeyID] = lastTry{at: time.Now(), secret: sum}
	v.mu.Unlock()
	return recent
}

func (v *Validator) call(ctx context.Context, c Credential, region string) (*sts.GetCallerIdentityOutput, error) {
	if region == "" {
		region = v.Region
	}
	if region == "" {
		region = DefaultRegion
	}
	opts := sts.Options{
		Region: region,
		// The secret becomes a Go string only here, for this one call.
		Credentials: credentials.NewStaticCredentialsProvider(c.KeyID, secretOf(c), tokenOf(c)),
		HTTPClient:  v.HTTPClient,
		// Retries are ours, so that every outcome is classified and
		// counted, except the SDK's clock-skew correction: with a clock
		// 20 minutes off, its one retry signs with the server's time from
		// the Date header (issue 8: NopRetryer made validation unknown).
		Retryer:    skewOnlyRetryer(),
		AppID:      UserAgentMarker,
		APIOptions: []func(*middleware.Stack) error{RecordCalls, markLeaked},
	}
	if v.Endpoint != "" {
		opts.BaseEndpoint = aws.String(v.Endpoint)
	}
	client := sts.New(opts, v.ClientOptions...)
	return client.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
}

// classify maps a GetCallerIdentity error to a status, by the table in
// AWS-RESPONSE.md. STS errors are untyped: the code decides.
func classify(err error) (Status, string, string) {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		code := ae.ErrorCode()
		switch code {
		case "InvalidClientTokenId":
			return StatusInvalid, code, "AWS does not accept this key: it is unknown, deleted or deactivated (or an ASIA key's token is wrong)"
		case "SignatureDoesNotMatch":
			if strings.Contains(ae.ErrorMessage(), "Signature expired") {
				return StatusUnknown, code, "this machine's clock is more than 15 minutes off, so AWS could not check the key"
			}
			return StatusWrongSecret, code, "the key ID exists but the secret does not match it"
		case "ExpiredToken":
			return StatusExpired, code, "the temporary credentials have expired"
		}
		return StatusUnknown, code, "AWS answered " + code + "; the key could not be checked"
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) && re.HTTPStatusCode() >= http.StatusInternalServerError {
		return StatusUnknown, "", "AWS answered with a server error; the key could not be checked"
	}
	return StatusUnknown, "", "could not reach STS: the key could not be checked"
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func secretOf(c Credential) string { s, _ := c.Reveal(); return s }
func tokenOf(c Credential) string  { _, t := c.Reveal(); return t }
