// Package awsemu is a small, SigV4-verifying emulator of the parts of AWS STS,
// IAM, CloudTrail and Account Management (ListRegions, REST-JSON) that
// keyward's responder touches, so the real
// aws-sdk-go-v2 clients can be tested end to end without an AWS account.
//
// It follows AWS-RESPONSE.md: every request's signature is recomputed with
// aws/signer/v4 and compared in constant time; key status, session tokens and
// their expiry are enforced at authentication time, as AWS does; a minimal
// policy model (explicit Deny wins, aws:TokenIssueTime conditions, the
// AWSCompromisedKeyQuarantine managed policies preloaded) decides every call
// other than sts:GetCallerIdentity; IAM keeps users, roles, at most two keys
// per user and their policies; every authenticated call is recorded as a
// CloudTrail event that LookupEvents serves newest first with paging; each
// account has the default regions plus the opt-in ones a test enables
// (EnableRegion), which ListRegions reports and outside which CloudTrail
// refuses the account's credentials; and faults (throttling, 5xx, latency,
// short pages, delayed consistency of key status) can be injected. No existing emulator was faithful enough (moto ignores key
// status and lacks LookupEvents), hence this one.
//
// The emulator is for tests and demonstrations only: it keeps secrets in
// memory in plain text and must never face a network other than loopback.
package awsemu
