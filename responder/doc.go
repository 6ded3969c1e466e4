// Package responder validates leaked AWS access keys through STS and
// contains them by AWS's exposed-credential runbook (AWS-RESPONSE.md): it
// identifies the key's account and owner, deactivates and quarantines it,
// ends the sessions derived from it, verifies it is dead, investigates its
// use in CloudTrail, and on request rotates and deletes it, writing an
// incident report and a journal that makes every run resumable.
//
// Two sets of credentials are kept apart. The leaked key (a Credential) is
// only ever used to sign sts:GetCallerIdentity, which needs no permission
// and cannot be denied; the operator's credentials (an aws.Config from the
// SDK's default chain) make every other call, because AWS's quarantine
// policies deny a leaked key the calls that would revoke it.
//
// The runbook is one table, Steps: each row has an ID, what it does, when
// it applies, the IAM actions it needs and its run function. Runner.Plan,
// Runner.Execute (and the re-check, Options.Recheck) walk it, and
// RequiredActions derives the least-privilege policy from it; every AWS
// call is recorded by an SDK middleware (RecordCalls), whose request IDs
// also tell keyward's own CloudTrail events from the attacker's. The
// outcome "contained" is only given when every credential the attacker is
// known to hold is dead, a re-check after CloudTrail's delivery delay
// found nothing new, and nothing is left for a human (issue 8).
//
// The package returns typed results (Verdict, Plan, StepResult, Incident)
// and never prints: all terminal output belongs to cmd/keyward. A leaked
// secret is sent to STS only and never appears in an error, report, journal
// or log written here.
package responder
