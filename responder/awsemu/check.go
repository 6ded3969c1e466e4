package awsemu

import (
	"sort"

	"github.com/aws/smithy-go"
)

// ErrorCode returns the AWS error code, so that errors of the emulator's
// own helpers (Check) read like the SDK's: smithy.APIError.
func (e *apiError) ErrorCode() string { return e.code }

// ErrorMessage returns the AWS error message.
func (e *apiError) ErrorMessage() string { return e.msg }

// ErrorFault says whose fault the error is, as smithy.APIError does.
func (e *apiError) ErrorFault() smithy.ErrorFault {
	if e.status >= 500 {
		return smithy.FaultServer
	}
	return smithy.FaultClient
}

var _ smithy.APIError = (*apiError)(nil)

// Check answers "does this credential still work?" without a network
// round trip: it applies, for any credential the emulator issued (a user's
// or root's access key, or a GetSessionToken, AssumeRole, chained or
// GetFederationToken session), the same authentication (status, deletion
// after the consistency delay, expiry) and policy model as a signed call
// would, at the emulator's current time. It returns nil when keyID could
// call action (e.g. "iam:ListUsers") on resource ("" means "*"), or an
// error whose smithy.APIError code is what AWS would answer:
// InvalidClientTokenId, ExpiredToken or AccessDenied.
func (s *Server) Check(keyID, action, resource string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if resource == "" {
		resource = "*"
	}
	now := s.now().UTC()
	k, ok := s.keys[keyID]
	if !ok || !s.keyLive(k, now) {
		return errInvalidToken
	}
	if k.temporary && !now.Before(k.expires) {
		return errExpiredToken
	}
	if s.decide(k, action, resource, now) != allow {
		arn, _ := s.principalOf(k)
		return accessDenied(arn, action, resource)
	}
	return nil
}

// CanCall reports whether keyID could call action on every resource ("*")
// now: Check without the reason.
func (s *Server) CanCall(keyID, action string) bool {
	return s.Check(keyID, action, "*") == nil
}

// Authenticates reports whether keyID would still be accepted at all
// (sts:GetCallerIdentity, which no policy can deny, succeeds).
func (s *Server) Authenticates(keyID string) bool {
	return s.Check(keyID, "sts:GetCallerIdentity", "*") == nil
}

// IssuedKeys returns the ID of every credential the emulator has issued
// in acct, long-term and temporary, deleted ones included, so a test can
// ask Check about each ("is anything the attacker made still alive?").
func (s *Server) IssuedKeys(acct string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for id, k := range s.keys {
		if k.account == acct {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}
