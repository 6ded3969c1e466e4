package responder

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
)

// StopKind says why a run stopped before containing a key.
type StopKind string

// Reasons a run stops on purpose. cmd/keyward maps them to exit codes.
const (
	// StopNotLive: the key does not work (invalid, wrong secret, expired,
	// not validatable): there is nothing to contain.
	StopNotLive StopKind = "not-live"
	// StopCanary: the key is a canary token; using it would alert its owner.
	StopCanary StopKind = "canary"
	// StopOtherAccount: the key belongs to an account other than the
	// operator's; only that account's owner can act.
	StopOtherAccount StopKind = "other-account"
	// StopRoot: the key is a root user's; AWS asks a human to handle it.
	StopRoot StopKind = "root-key"
)

// StopError ends a run on purpose; it is not a failure of keyward.
type StopError struct {
	Kind    StopKind
	Account string // the key's account, for StopOtherAccount and StopRoot
	Reason  string
	// Instructions are what a human should do next.
	Instructions []string
}

// Error implements error.
func (e *StopError) Error() string { return "stopped: " + e.Reason }

// PermissionError is an AccessDenied on an operator call: it names the
// IAM action and resource to grant.
type PermissionError struct {
	Step     StepID
	Action   string
	Resource string
	Message  string // AWS's message, which never carries a secret
}

// Error implements error; it names the step, action and resource.
func (e *PermissionError) Error() string {
	return fmt.Sprintf("%s: the operator's credentials may not call %s on %s", e.Step, e.Action, e.Resource)
}

// PolicySnippet is an IAM policy that grants exactly the missing action.
func (e *PermissionError) PolicySnippet() string {
	doc := map[string]any{
		"Version": "2012-10-17",
		"Statement": []any{map[string]any{
			"Sid": "KeywardResponder", "Effect": "Allow",
			"Action": []string{e.Action}, "Resource": e.Resource,
		}},
	}
	b, _ := json.MarshalIndent(doc, "", "  ")
	return string(b)
}

// KeyLimitError is CreateAccessKey's LimitExceeded: the user already has
// two keys, and the inactive leaked key counts.
type KeyLimitError struct {
	UserName string
	Keys     []string
}

// Error implements error.
func (e *KeyLimitError) Error() string {
	return fmt.Sprintf("rotate: user %s already has %d access keys (AWS allows 2, inactive ones included)", e.UserName, len(e.Keys))
}

// ErrNotValidated is returned when the key's state cannot be established
// (network, throttling, 5xx): the run cannot safely decide what to do.
var ErrNotValidated = errors.New("the key could not be validated")

// isCode reports whether err is an AWS API error with one of codes.
func isCode(err error, codes ...string) bool {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return false
	}
	for _, c := range codes {
		if ae.ErrorCode() == c {
			return true
		}
	}
	return false
}

// denied turns an AccessDenied into a PermissionError and leaves other
// errors alone.
func denied(err error, step StepID, action, resource string) error {
	var ae smithy.APIError
	if errors.As(err, &ae) && (ae.ErrorCode() == "AccessDenied" || ae.ErrorCode() == "AccessDeniedException" || ae.ErrorCode() == "UnauthorizedOperation") {
		return &PermissionError{Step: step, Action: action, Resource: resource, Message: ae.ErrorMessage()}
	}
	return err
}

// apiCode is err's AWS error code, or "".
func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// isServerError reports a 5xx answer, which is worth retrying.
func isServerError(err error) bool {
	var re *awshttp.ResponseError
	return errors.As(err, &re) && re.HTTPStatusCode() >= 500
}

// isConnectionError reports a connection that failed mid-answer. The SDK
// can meet one on the attempt after a throttled one, when the transport has
// already closed the connection it reuses (aws/aws-sdk-go-v2#1825, #2737);
// its retryer retries these, but may have spent its attempts on throttling
// first. Only read-only calls may be retried on it.
func isConnectionError(err error) bool {
	return errors.Is(err, net.ErrClosed) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF)
}
