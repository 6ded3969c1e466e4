package responder

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Every AWS call a step makes is recorded by an SDK middleware rather than
// by hand after each call (issue 8: 24 hand-written record calls had
// drifted from the calls they followed). The middleware sits in the
// Deserialize step, which runs once per attempt, so a retried call leaves
// one Call per request that reached AWS, each with its request ID: those
// IDs are how keyward later recognises its own events in CloudTrail.

// recorderKey carries a *recorder in a context.
type recorderKey struct{}

// recorder collects the calls made under one step.
type recorder struct {
	mu  sync.Mutex
	res *StepResult
	// own, if set, is told every request ID, so the run can tell its own
	// CloudTrail events apart from the attacker's.
	own func(requestID string)
	// last is the latest server time seen (the Date header).
	last time.Time
}

// withRecorder returns ctx with calls recorded into res.
func withRecorder(ctx context.Context, res *StepResult, own func(string)) (context.Context, *recorder) {
	rec := &recorder{res: res, own: own}
	return context.WithValue(ctx, recorderKey{}, rec), rec
}

// serverTime is the latest Date header seen by the recorder, or zero.
func (r *recorder) serverTime() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last
}

func (r *recorder) add(c Call) {
	r.mu.Lock()
	if r.res != nil {
		r.res.Calls = append(r.res.Calls, c)
	}
	if c.ServerTime.After(r.last) {
		r.last = c.ServerTime
	}
	own := r.own
	r.mu.Unlock()
	if own != nil && c.RequestID != "" {
		own(c.RequestID)
	}
}

// servicePrefix maps the SDK's service IDs to IAM action prefixes.
var servicePrefix = map[string]string{
	"STS": "sts", "IAM": "iam", "CloudTrail": "cloudtrail", "Account": "account",
}

// RecordCalls is an SDK APIOptions entry that records each request in the
// StepResult carried by the request's context (see withRecorder). Calls
// made without one are not recorded. It is exported so that another
// runner of the step table (an AWS Health handler, say) records the same.
func RecordCalls(stack *middleware.Stack) error {
	return stack.Deserialize.Add(middleware.DeserializeMiddlewareFunc("KeywardRecordCall",
		func(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
			out, md, err := next.HandleDeserialize(ctx, in)
			rec, _ := ctx.Value(recorderKey{}).(*recorder)
			if rec == nil {
				return out, md, err
			}
			svc := awsmiddleware.GetServiceID(ctx)
			prefix := servicePrefix[svc]
			if prefix == "" {
				prefix = strings.ToLower(svc)
			}
			c := Call{API: prefix + ":" + awsmiddleware.GetOperationName(ctx), At: time.Now().UTC()}
			if resp, ok := out.RawResponse.(*smithyhttp.Response); ok && resp != nil {
				c.RequestID = resp.Header.Get("X-Amzn-RequestId")
				if d, perr := http.ParseTime(resp.Header.Get("Date")); perr == nil {
					c.ServerTime = d.UTC()
				}
			}
			if c.RequestID == "" {
				c.RequestID = requestID(md)
			}
			if err != nil {
				c.Error = errCode(err)
				if c.RequestID == "" {
					c.RequestID = errRequestID(err)
				}
			}
			if id, ok := middleware.GetStackValue(ctx, signerKey{}).(string); ok {
				c.API += " (" + id + ")"
			}
			rec.add(c)
			return out, md, err
		}), middleware.Before)
}

// signerKey marks calls signed by the leaked key in the record.
type signerKey struct{}

// leakedKeyLabel is appended to calls the leaked key signed.
const leakedKeyLabel = "leaked key"

// markLeaked is an APIOptions entry that labels the leaked key's calls.
func markLeaked(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("KeywardMarkLeaked",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			return next.HandleInitialize(middleware.WithStackValue(ctx, signerKey{}, leakedKeyLabel), in)
		}), middleware.Before)
}

// maxSkewAttempts is one call plus one retry: the SDK's clock-skew
// correction needs a failed attempt to learn the server's time from its
// Date header, then signs the second with the corrected clock.
const maxSkewAttempts = 2

// skewOnlyRetryer retries a call only when the SDK recognised clock skew
// (SignatureDoesNotMatch with a Date header more than 4 minutes off) and
// corrected for it. A request rejected for its signature was never
// processed, so even a non-idempotent call (CreateAccessKey) is safe to
// repeat on it; nothing else is retried, so such a call can never run
// twice on the server (issue 8: a dropped connection after CreateAccessKey
// left an orphaned key).
func skewOnlyRetryer() aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = maxSkewAttempts
		o.Retryables = []retry.IsErrorRetryable{retry.NoRetryCanceledError{}, skewRetryable{}}
		o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
		o.RateLimiter = skewRateLimit{}
	})
}

// skewRetryable says yes only to the SDK's clock-skew errors, which
// implement RetryableError() bool; connection errors are ruled out first
// because some of them implement it too.
type skewRetryable struct{}

// IsErrorRetryable implements retry.IsErrorRetryable.
func (skewRetryable) IsErrorRetryable(err error) aws.Ternary {
	if isConnectionError(err) {
		return aws.FalseTernary
	}
	var v interface{ RetryableError() bool }
	if errors.As(err, &v) && v.RetryableError() && apiCode(err) != "" {
		return aws.TrueTernary
	}
	return aws.UnknownTernary
}

// skewRateLimit lets the one skew retry through without the retry quota.
type skewRateLimit struct{}

// GetToken implements retry.RateLimiter: the token is always granted and
// costs nothing to release.
func (skewRateLimit) GetToken(context.Context, uint) (func() error, error) {
	return func() error { return nil }, nil
}

// AddTokens implements retry.RateLimiter; there is no quota to refill.
func (skewRateLimit) AddTokens(uint) error { return nil }
