// Package awsemu is a small, SigV4-verifying emulator of the parts of AWS STS,
// IAM, CloudTrail, Account Management (ListRegions, REST-JSON), S3 (path-style
// objects) and SNS (Publish) that keyward touches, so the real aws-sdk-go-v2
// clients can be tested end to end without an AWS account.
//
// It follows AWS-RESPONSE.md: every request's signature is recomputed with
// aws/signer/v4 and compared in constant time; key status, session tokens and
// their expiry are enforced at authentication time, as AWS does. One policy
// model (explicit Deny wins, aws:TokenIssueTime conditions, trust policies for
// AssumeRole, the AWSCompromisedKeyQuarantine managed policies with their
// published action lists) decides every call other than sts:GetCallerIdentity,
// for every credential the emulator issues: users' and root's access keys,
// GetSessionToken, AssumeRole (chained and cross-account) and
// GetFederationToken sessions; Check asks the same question without a
// request. IAM keeps users, roles, groups, customer managed policies, login
// profiles, MFA devices, at most two keys per user and the policy quotas
// (10 managed policies, 2,048 characters of inline policy per user), and
// produces the credential report. Every authenticated management call is
// recorded as a CloudTrail event with its request ID, in the region the
// caller signed for (IAM's in the partition's first region), visible to
// LookupEvents after an optional delivery delay; each account has the default
// regions plus the opt-in ones a test enables (EnableRegion). Accounts are
// many, in one partition (aws, aws-us-gov or aws-cn). Faults can be injected:
// throttling, 5xx, latency, short pages, delayed consistency of key status,
// connections dropped after a call was applied, and a skewed server clock
// (whose Date header tells the truth). No existing emulator was faithful
// enough (moto ignores key status and lacks LookupEvents), hence this one.
//
// The emulator is for tests and demonstrations only: it keeps secrets in
// memory in plain text and must never face a network other than loopback.
package awsemu
