package responder

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/keyward/keyward/responder/awsemu"
)

// These tests pin the failure modes issue 8 found: each must end with the
// leaked key contained or with an outcome that says it is not.

func lastStep(res *Result, id StepID) StepResult {
	for i := len(res.Incident.Steps) - 1; i >= 0; i-- {
		if res.Incident.Steps[i].ID == id {
			return res.Incident.Steps[i]
		}
	}
	return StepResult{}
}

func requireDenied(t *testing.T, l *lab) {
	t.Helper()
	_, inline, _ := l.emu.UserPolicies(l.acct, "alice")
	if !slices.Contains(inline, RevokePolicyName) {
		t.Fatalf("no session deny on alice: %v", inline)
	}
}

// TestQuarantineLimitExceededDoesNotStopSessionDeny: alice already has 10
// managed policies, the quarantine fails with LimitExceeded and its fix;
// the session deny and the investigation still run.
func TestQuarantineLimitExceededDoesNotStopSessionDeny(t *testing.T) {
	l := newLab(t)
	for i := range 10 {
		arn, err := l.emu.CreatePolicy(l.acct, "p"+string(rune('a'+i)), `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}`)
		must(t, err)
		must(t, l.emu.AttachUserPolicy(l.acct, "alice", arn))
	}
	session := l.sessionToken(t, l.leaked, 3600)
	res, err := firstRun(l.runner(t, ""), cred(l.leaked))
	if err != nil {
		t.Fatalf("Execute: %v", err)
	}
	q := lastStep(res, StepQuarantine)
	if q.Status != StepFailed || !strings.Contains(q.Error, "LimitExceeded") || !strings.Contains(q.Error, "aws iam attach-user-policy") {
		t.Fatalf("quarantine: %+v", q)
	}
	requireDenied(t, l)
	if lastStep(res, StepInvestigate).Status != StepDone {
		t.Fatal("the investigation did not run")
	}
	if alive(l, session.AccessKeyID) {
		t.Fatal("the session survived")
	}
}

// TestQuarantineMissingPolicyDoesNotStopSessionDeny: a partition (or
// moto) without the managed policy answers NoSuchEntity for every version.
func TestQuarantineMissingPolicyDoesNotStopSessionDeny(t *testing.T) {
	l := newLabWith(t, func(o *awsemu.Options) { o.NoQuarantinePolicies = true })
	res, err := firstRun(l.runner(t, ""), cred(l.leaked))
	if err != nil {
		t.Fatalf("Execute: %v", err)
	}
	if q := lastStep(res, StepQuarantine); q.Status != StepFailed || !strings.Contains(q.Error, "NoSuchEntity") {
		t.Fatalf("quarantine: %+v", q)
	}
	requireDenied(t, l)
	if res.Incident.Outcome != OutcomeAwaitingRecheck {
		t.Fatalf("outcome %q", res.Incident.Outcome)
	}
}

// TestCrossAccountRoleNeverDeniedLocally: the key assumed a role of
// another account; a same-named role in the operator's account exists.
// The local role is not touched; the report names the other account's
// role with the command, and the outcome is not contained.
func TestCrossAccountRoleNeverDeniedLocally(t *testing.T) {
	l := newLab(t)
	const other = "444455556666"
	l.emu.AddAccount(other)
	must(t, l.emu.CreateRole(other, "deployer", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`))
	must(t, l.emu.SetRoleTrust(other, "deployer", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::`+l.acct+`:root"},"Action":"sts:AssumeRole"}]}`))
	must(t, l.emu.CreateRole(l.acct, "deployer", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`))
	_, err := sts.NewFromConfig(l.config(l.leaked)).AssumeRole(context.Background(), &sts.AssumeRoleInput{
		RoleArn: aws.String("arn:aws:iam::" + other + ":role/deployer"), RoleSessionName: aws.String("x")})
	must(t, err)
	res, err := l.runner(t, "").Execute(context.Background(), cred(l.leaked))
	var pe *PartialError
	if !errors.As(err, &pe) || res.Incident.Outcome != OutcomePartial {
		t.Fatalf("outcome %q, err %v", res.Incident.Outcome, err)
	}
	if local, _ := l.emu.RolePolicies(l.acct, "deployer"); slices.Contains(local, RevokePolicyName) {
		t.Fatalf("the local same-named role got %v", local)
	}
	if len(res.Incident.HumanActions) != 1 || !strings.Contains(res.Incident.HumanActions[0].Subject, other) ||
		!strings.Contains(strings.Join(res.Incident.HumanActions[0].Commands, " "), "aws iam put-role-policy --role-name deployer") {
		t.Fatalf("human actions: %+v", res.Incident.HumanActions)
	}
}

// TestCutoffAfterDeactivation: IAM takes a while to apply the
// deactivation; a session the thief mints in that window must fall under
// the session deny, whose cutoff is AWS's time after the key is dead.
func TestCutoffAfterDeactivation(t *testing.T) {
	l := newLab(t)
	l.emu.SetConsistencyDelay(300 * time.Millisecond)
	r := l.runner(t, "")
	// Without the quarantine, which restricts alice's sessions too: only
	// the session deny may stop the late session here.
	r.NoQuarantine = true
	var late awsemu.Credentials
	r.AfterStep = func(id StepID) error {
		if id == StepDeactivate {
			late = l.sessionToken(t, l.leaked, 3600)
		}
		return nil
	}
	res, err := firstRun(r, cred(l.leaked))
	if err != nil {
		t.Fatalf("Execute: %v", err)
	}
	if late.AccessKeyID == "" {
		t.Fatal("the test is void: no session was minted during propagation")
	}
	if alive(l, late.AccessKeyID) {
		t.Fatalf("the session minted during propagation survived (cutoff %s)", res.Incident.Facts.RevokedBefore)
	}
	if d := lastStep(res, StepRevokeSessions); !strings.Contains(d.Detail, "denied") || strings.Contains(d.Detail, "local clock") {
		t.Fatalf("revoke-sessions: %+v", d)
	}
}

// TestUnknownValidationStillContains: STS fails for every validation
// attempt; IAM shows the key Active, so it is contained anyway.
func TestUnknownValidationStillContains(t *testing.T) {
	l := newLab(t)
	r := l.runner(t, "")
	r.AfterStep = func(id StepID) error {
		if id == StepOwner {
			l.emu.FailServer("GetCallerIdentity", 4)
		}
		return nil
	}
	res, err := firstRun(r, cred(l.leaked))
	if err != nil {
		t.Fatalf("Execute: %v", err)
	}
	if v := res.Incident.Verdict; v == nil || v.Status != StatusUnknown {
		t.Fatalf("the test is void: verdict %+v", v)
	}
	if st, _ := l.emu.KeyStatus(l.leaked.AccessKeyID); st != "Inactive" {
		t.Fatalf("key status %s", st)
	}
}

// TestGovCloudKey: a GovCloud key against a GovCloud endpoint is
// validated in its partition and every ARN is built for it.
func TestGovCloudKey(t *testing.T) {
	l := newLabWith(t, func(o *awsemu.Options) { o.Partition = PartitionGov })
	res, err := firstRun(l.runner(t, ""), cred(l.leaked))
	if err != nil {
		t.Fatalf("Execute: %v", err)
	}
	if res.Incident.Verdict.Status != StatusValid || res.Incident.Facts.Partition != PartitionGov {
		t.Fatalf("verdict %+v, partition %q", res.Incident.Verdict, res.Incident.Facts.Partition)
	}
	attached, _, _ := l.emu.UserPolicies(l.acct, "alice")
	if !slices.ContainsFunc(attached, func(a string) bool {
		return strings.HasPrefix(a, "arn:aws-us-gov:iam::aws:policy/"+QuarantinePolicyPrefix)
	}) {
		t.Fatalf("attached %v", attached)
	}
	if st, _ := l.emu.KeyStatus(l.leaked.AccessKeyID); st != "Inactive" {
		t.Fatalf("key status %s", st)
	}
}

// TestDryRunMakesNoMutatingCall: the plan reads, never writes.
func TestDryRunMakesNoMutatingCall(t *testing.T) {
	l := newLab(t)
	before := l.emu.Snapshot()
	p, err := l.runner(t, "").Plan(context.Background(), cred(l.leaked))
	if err != nil || p.Stop != nil {
		t.Fatalf("Plan: %v %+v", err, p)
	}
	for _, d := range Steps() {
		if d.Mutating {
			for _, a := range d.Actions {
				if n := l.emu.Calls(strings.TrimPrefix(a, "iam:")); strings.HasPrefix(a, "iam:") && n != 0 && !strings.HasPrefix(a, "iam:List") && !strings.HasPrefix(a, "iam:Get") {
					t.Errorf("%s called %d times", a, n)
				}
			}
		}
	}
	if string(before) != string(l.emu.Snapshot()) {
		t.Fatal("IAM changed")
	}
	if len(p.Steps) == 0 || p.Steps[0].ID != StepOwnership {
		t.Fatalf("plan steps %+v", p.Steps)
	}
}

// TestFailedVerifyIsNeverContained: deactivation takes longer than the
// verify timeout.
func TestFailedVerifyIsNeverContained(t *testing.T) {
	l := newLab(t)
	l.emu.SetConsistencyDelay(time.Hour)
	r := l.runner(t, "")
	r.PollTimeout = 30 * time.Millisecond
	res, err := r.Execute(context.Background(), cred(l.leaked))
	if res.Incident.Outcome == OutcomeContained || res.Incident.Outcome == OutcomeAwaitingRecheck || err == nil {
		t.Fatalf("outcome %q, err %v", res.Incident.Outcome, err)
	}
	if !slices.ContainsFunc(res.Incident.Remaining, func(s string) bool { return strings.Contains(s, "not verified dead") }) {
		t.Fatalf("remaining %v", res.Incident.Remaining)
	}
}

// TestPlantedJournalIsCheckedAgainstAWS: a journal that claims every step
// done, planted before any response, must not be believed.
func TestPlantedJournalIsCheckedAgainstAWS(t *testing.T) {
	l := newLab(t)
	path := filepath.Join(t.TempDir(), "journal.json")
	st := JournalState{Version: JournalVersion, KeyID: l.leaked.AccessKeyID, Facts: Facts{UserName: "alice", KeyAccount: l.acct,
		KeyStatus: KeyInactive, Trail: &Trail{}, Rechecked: time.Now(), RecheckAfter: time.Now()}}
	for _, d := range Steps() {
		st.Steps = append(st.Steps, StepResult{ID: d.ID, Status: StepDone, Detail: "planted"})
	}
	data, _ := json.Marshal(st)
	must(t, os.WriteFile(path, data, 0o600))
	res, _ := l.runner(t, path).Execute(context.Background(), cred(l.leaked))
	if s, _ := l.emu.KeyStatus(l.leaked.AccessKeyID); s != "Inactive" {
		t.Fatalf("the planted journal was believed: key %s, outcome %q", s, res.Incident.Outcome)
	}
	requireDenied(t, l)
	if d := lastStep(res, StepDeactivate); d.Resumed {
		t.Fatal("deactivate resumed from the planted journal")
	}
}

// TestAlreadyInactiveKeyStillGetsSessionDeny: deactivated by hand, the key
// is dead, but the session it minted is not.
func TestAlreadyInactiveKeyStillGetsSessionDeny(t *testing.T) {
	l := newLab(t)
	session := l.sessionToken(t, l.leaked, 3600)
	must(t, l.deactivate("alice", l.leaked.AccessKeyID))
	r := l.runner(t, "")
	r.NoQuarantine = true // only the session deny may stop the session
	res, err := firstRun(r, cred(l.leaked))
	if err != nil {
		t.Fatalf("Execute: %v", err)
	}
	if lastStep(res, StepDeactivate).Status != StepSkipped || lastStep(res, StepInvestigate).Status != StepDone {
		t.Fatalf("steps %+v", res.Incident.Steps)
	}
	if alive(l, session.AccessKeyID) {
		t.Fatal("the session survived")
	}
}

// TestMissingInformationalPermissions: without sts:GetAccessKeyInfo and
// iam:ListAccessKeys the key is still deactivated.
func TestMissingInformationalPermissions(t *testing.T) {
	l := newLab(t)
	r := l.runner(t, "")
	r.Config = l.config(limitedOperator(t, l))
	res, _ := r.Execute(context.Background(), cred(l.leaked))
	if s, _ := l.emu.KeyStatus(l.leaked.AccessKeyID); s != "Inactive" {
		t.Fatalf("key %s; steps %+v", s, res.Incident.Steps)
	}
	if o := lastStep(res, StepOwnership); o.Status != StepFailed || !strings.Contains(o.Error, "informational") {
		t.Fatalf("ownership %+v", o)
	}
}

// TestMissingListAccessKeysAlreadyInactive: the key's status cannot be
// read and STS says it is dead, but IAM named its user: its sessions still
// get the deny.
func TestMissingListAccessKeysAlreadyInactive(t *testing.T) {
	l := newLab(t)
	session := l.sessionToken(t, l.leaked, 3600)
	must(t, l.deactivate("alice", l.leaked.AccessKeyID))
	r := l.runner(t, "")
	r.Config, r.NoQuarantine = l.config(limitedOperator(t, l)), true
	res, _ := r.Execute(context.Background(), cred(l.leaked))
	if res.Incident.Stop != nil {
		t.Fatalf("stopped: %v", res.Incident.Stop)
	}
	if alive(l, session.AccessKeyID) {
		t.Fatalf("the session survived; steps %+v", res.Incident.Steps)
	}
}

// limitedOperator is an operator allowed every action of the runbook but
// sts:GetAccessKeyInfo and iam:ListAccessKeys.
func limitedOperator(t *testing.T, l *lab) awsemu.Credentials {
	t.Helper()
	var allow []string
	for _, a := range RequiredActions(Options{}) {
		if a != "sts:GetAccessKeyInfo" && a != "iam:ListAccessKeys" {
			allow = append(allow, a)
		}
	}
	doc, _ := json.Marshal(map[string]any{"Version": "2012-10-17", "Statement": []any{map[string]any{"Effect": "Allow", "Action": allow, "Resource": "*"}}})
	must(t, l.emu.CreateUser(l.acct, "responder"))
	must(t, l.emu.PutUserPolicy(l.acct, "responder", "least", string(doc)))
	op, err := l.emu.CreateAccessKey(l.acct, "responder")
	must(t, err)
	return op
}

// TestDroppedCreateAccessKeyLeavesNoOrphan: the connection drops after
// AWS created the key; the SDK must not retry, and the orphan is deleted.
func TestDroppedCreateAccessKeyLeavesNoOrphan(t *testing.T) {
	l := newLab(t)
	l.emu.DropAfterApply("CreateAccessKey", 1)
	r := l.runner(t, filepath.Join(t.TempDir(), "j.json"))
	r.Rotate = true
	res, err := r.Execute(context.Background(), cred(l.leaked))
	if err == nil || lastStep(res, StepRotate).Status != StepFailed {
		t.Fatalf("rotate: %+v, err %v", lastStep(res, StepRotate), err)
	}
	if n := l.emu.Calls("CreateAccessKey"); n != 1 {
		t.Fatalf("CreateAccessKey reached AWS %d times", n)
	}
	keys, err := l.iam().ListAccessKeys(context.Background(), &iam.ListAccessKeysInput{UserName: aws.String("alice")})
	must(t, err)
	if len(keys.AccessKeyMetadata) != 1 {
		t.Fatalf("alice has %d keys, want only the leaked one", len(keys.AccessKeyMetadata))
	}
}

// TestConcurrentRunsAreLocked: a second run for the same key is refused
// while the first holds the lock, and may run once it is released.
func TestConcurrentRunsAreLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.json")
	unlock, err := LockJournal(path)
	must(t, err)
	if _, err := LockJournal(path); !errors.Is(err, ErrLocked) {
		t.Fatalf("second lock: %v", err)
	}
	unlock()
	unlock2, err := LockJournal(path)
	must(t, err)
	unlock2()
}

// TestSpoofedUserAgentIsNotHidden: the thief sends keyward's application
// ID; its calls must still count as the thief's.
func TestSpoofedUserAgentIsNotHidden(t *testing.T) {
	l := newLab(t)
	thief := l.config(l.leaked)
	thief.AppID = UserAgentMarker
	_, err := iam.NewFromConfig(thief).ListUsers(context.Background(), &iam.ListUsersInput{})
	must(t, err)
	res, err := firstRun(l.runner(t, ""), cred(l.leaked))
	if err != nil {
		t.Fatal(err)
	}
	tr := res.Incident.Facts.Trail
	found := false
	for _, e := range tr.Events {
		if e.Name == "ListUsers" {
			found = true
			if e.Responder {
				t.Fatal("the thief's ListUsers was taken for keyward's own call")
			}
		}
		if e.Name == "GetCallerIdentity" && e.AccessKeyID == l.leaked.AccessKeyID && !e.Responder {
			t.Fatalf("keyward's own validation was not recognised: %+v", e)
		}
	}
	if !found || tr.First.IsZero() || !slices.ContainsFunc(tr.UserAgents, func(s string) bool { return strings.Contains(s, UserAgentMarker) }) {
		t.Fatalf("found %v, first %v, agents %v", found, tr.First, tr.UserAgents)
	}
}

// TestClockSkew: AWS's clock is 20 minutes ahead; the SDK's skew
// correction (one retry on the Date header) lets validation and the
// response go through.
func TestClockSkew(t *testing.T) {
	l := newLab(t)
	l.emu.SetClockOffset(20 * time.Minute)
	l.sessionToken(t, l.leaked, 3600) // the SDK corrects its own skew
	res, err := firstRun(l.runner(t, ""), cred(l.leaked))
	if err != nil {
		t.Fatalf("Execute: %v", err)
	}
	if res.Incident.Verdict.Status != StatusValid {
		t.Fatalf("verdict %+v", res.Incident.Verdict)
	}
	if st, _ := l.emu.KeyStatus(l.leaked.AccessKeyID); st != "Inactive" {
		t.Fatalf("key %s", st)
	}
	// CloudTrail's events carry AWS's time, 20 minutes ahead: the
	// investigation must still see them (the session minted before).
	if tr := res.Incident.Facts.Trail; tr == nil || len(tr.DerivedKeys) != 1 {
		t.Fatalf("the investigation missed the session: %+v", tr)
	}
}

// TestIdentityCenterRoleIsLeftForAHuman: an AWSReservedSSO_ role cannot be
// edited in IAM; it is named with what to do, and never contained.
func TestIdentityCenterRoleIsLeftForAHuman(t *testing.T) {
	l := newLab(t)
	const name = "AWSReservedSSO_Admin_0123456789abcdef"
	must(t, l.emu.CreateRole(l.acct, name, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`))
	_, err := sts.NewFromConfig(l.config(l.leaked)).AssumeRole(context.Background(), &sts.AssumeRoleInput{
		RoleArn: aws.String("arn:aws:iam::" + l.acct + ":role/" + name), RoleSessionName: aws.String("x")})
	must(t, err)
	res, err := l.runner(t, "").Execute(context.Background(), cred(l.leaked))
	if res.Incident.Outcome != OutcomePartial || err == nil {
		t.Fatalf("outcome %q, err %v", res.Incident.Outcome, err)
	}
	if len(res.Incident.HumanActions) != 1 || !strings.Contains(res.Incident.HumanActions[0].What, "IAM Identity Center") {
		t.Fatalf("human actions %+v", res.Incident.HumanActions)
	}
	if n := l.emu.Calls("PutRolePolicy"); n != 0 {
		t.Fatalf("PutRolePolicy called %d times", n)
	}
}

// TestReleaseQuarantineAfterRecheck: the replacement key is restricted by
// the quarantine until it is released, which is refused before a re-check
// and allowed after one that found nothing live.
func TestReleaseQuarantineAfterRecheck(t *testing.T) {
	l := newLab(t)
	must(t, l.emu.PutUserPolicy(l.acct, "alice", "s3", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}`))
	l.journal = filepath.Join(t.TempDir(), "j.json")
	r := l.runner(t, l.journal)
	r.Now, r.Rotate, r.ReleaseQuarantine = l.emu.Now, true, true
	res, _ := r.Execute(context.Background(), cred(l.leaked))
	if res.NewKey == nil {
		t.Fatalf("no new key: %+v", res.Incident.Steps)
	}
	newKey := res.NewKey.KeyID
	if rel := lastStep(res, StepReleaseQuarantine); rel.Status != StepFailed || !strings.Contains(rel.Error, "re-check first") {
		t.Fatalf("release before the re-check: %+v", rel)
	}
	if l.emu.Check(newKey, "s3:GetObject", "") == nil {
		t.Fatal("the test is void: the quarantine does not restrict the new key")
	}
	res, err := l.recheck(t)
	if err != nil || res.Incident.Outcome != OutcomeContained {
		t.Fatalf("re-check: %q %v", res.Incident.Outcome, err)
	}
	r = l.runner(t, l.journal)
	r.Now, r.ReleaseQuarantine = l.emu.Now, true
	res, err = r.Execute(context.Background(), cred(l.leaked))
	if err != nil || lastStep(res, StepReleaseQuarantine).Status != StepDone {
		t.Fatalf("release: %v %+v", err, lastStep(res, StepReleaseQuarantine))
	}
	if err := l.emu.Check(newKey, "s3:GetObject", ""); err != nil {
		t.Fatalf("the new key is still restricted: %v", err)
	}
}

// TestInlineQuotaDoesNotStopInvestigation: alice's inline policies leave
// no room for the session deny (2,048 characters per user): the step fails
// with its fix, the investigation still runs, and nothing says contained.
func TestInlineQuotaDoesNotStopInvestigation(t *testing.T) {
	l := newLab(t)
	pad := strings.Repeat("x", 1700)
	must(t, l.emu.PutUserPolicy(l.acct, "alice", "big", `{"Version":"2012-10-17","Statement":[{"Sid":"`+pad+`","Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}`))
	res, err := l.runner(t, "").Execute(context.Background(), cred(l.leaked))
	rs := lastStep(res, StepRevokeSessions)
	if rs.Status != StepFailed || !strings.Contains(rs.Error, "2,048") {
		t.Fatalf("revoke-sessions %+v", rs)
	}
	if lastStep(res, StepInvestigate).Status != StepDone || res.Incident.Outcome != OutcomePartial || err == nil {
		t.Fatalf("outcome %q, err %v", res.Incident.Outcome, err)
	}
}

// TestFederatedSessionKeyDeniesTheMintingUser: a leaked GetFederationToken
// session's ARN does not name the IAM user who minted it; CloudTrail does,
// and that user gets the session deny.
func TestFederatedSessionKeyDeniesTheMintingUser(t *testing.T) {
	l := newLab(t)
	must(t, l.emu.PutUserPolicy(l.acct, "alice", "fed", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:GetFederationToken","Resource":"*"}]}`))
	out, err := sts.NewFromConfig(l.config(l.leaked)).GetFederationToken(context.Background(), &sts.GetFederationTokenInput{Name: aws.String("fed"),
		Policy: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`)})
	must(t, err)
	fed := NewCredential(*out.Credentials.AccessKeyId, *out.Credentials.SecretAccessKey, *out.Credentials.SessionToken)
	// Federation sessions may not call IAM at all; CloudTrail they may.
	if err := l.emu.Check(fed.KeyID, "cloudtrail:LookupEvents", ""); err != nil {
		t.Fatalf("the test is void: the federated session does not work: %v", err)
	}
	res, err := firstRun(l.runner(t, ""), fed)
	if err != nil {
		t.Fatalf("Execute: %v (%+v)", err, res.Incident.Steps)
	}
	if rs := lastStep(res, StepRevokeSessions); !strings.Contains(rs.Detail, "user alice") {
		t.Fatalf("revoke-sessions %+v", rs)
	}
	if l.emu.Check(fed.KeyID, "cloudtrail:LookupEvents", "") == nil {
		t.Fatal("the federated session still works")
	}
}

// TestRotateHandOverFailureDeletesTheKey: the new key could not be stored
// (the credentials file, say): it is deleted at once rather than left in
// IAM with a secret nobody holds, and the step is not journalled done.
func TestRotateHandOverFailureDeletesTheKey(t *testing.T) {
	l := newLab(t)
	r := l.runner(t, filepath.Join(t.TempDir(), "j.json"))
	r.Rotate = true
	r.HandOver = func(Credential) error { return errors.New("disk full") }
	res, _ := r.Execute(context.Background(), cred(l.leaked))
	if st := lastStep(res, StepRotate); st.Status != StepFailed || !strings.Contains(st.Error, "was deleted") {
		t.Fatalf("rotate %+v", st)
	}
	if res.NewKey != nil {
		t.Fatal("a key whose hand-over failed was returned")
	}
	keys, err := l.iam().ListAccessKeys(context.Background(), &iam.ListAccessKeysInput{UserName: aws.String("alice")})
	must(t, err)
	if len(keys.AccessKeyMetadata) != 1 {
		t.Fatalf("alice has %d keys", len(keys.AccessKeyMetadata))
	}
}

// TestQuarantineAlreadyAttachedByAWS: AWS attached its quarantine before
// the response (it does so within minutes of finding a key in public):
// keyward says so, and that a support case is likely open.
func TestQuarantineAlreadyAttachedByAWS(t *testing.T) {
	l := newLab(t)
	must(t, l.emu.AttachUserPolicy(l.acct, "alice", awsemu.QuarantineV3ARN))
	res, err := firstRun(l.runner(t, ""), cred(l.leaked))
	if err != nil {
		t.Fatal(err)
	}
	if q := lastStep(res, StepQuarantine); q.Status != StepSkipped || !strings.Contains(q.Detail, "support case") {
		t.Fatalf("quarantine %+v", q)
	}
	if !slices.ContainsFunc(res.Incident.FollowUps, func(s string) bool { return strings.Contains(s, "AWS Support case") }) {
		t.Fatalf("follow-ups %v", res.Incident.FollowUps)
	}
	if n := l.emu.Calls("AttachUserPolicy"); n != 0 {
		t.Fatalf("AttachUserPolicy called %d times", n)
	}
}

// TestRequiredActionsAreEnough: an operator allowed exactly
// RequiredActions, nothing more, carries out the whole runbook, persistence
// and rotation included: the list the step table derives is sufficient.
func TestRequiredActionsAreEnough(t *testing.T) {
	l := newAdversaryLab(t)
	a := &attacker{creds: map[string]string{}}
	moves[2].do(t, l, a) // user svc-backup with a key
	opts := Options{Rotate: true, Delete: true}
	doc, _ := json.Marshal(map[string]any{"Version": "2012-10-17", "Statement": []any{map[string]any{"Effect": "Allow", "Action": RequiredActions(opts), "Resource": "*"}}})
	must(t, l.emu.CreateUser(l.acct, "responder"))
	must(t, l.emu.PutUserPolicy(l.acct, "responder", "least", string(doc)))
	op, err := l.emu.CreateAccessKey(l.acct, "responder")
	must(t, err)
	r := l.runner(t, "")
	r.Config, r.Rotate, r.Delete = l.config(op), true, true
	res, err := firstRun(r, cred(l.leaked))
	if err != nil {
		t.Fatalf("Execute with RequiredActions only: %v\n%+v", err, res.Incident.Steps)
	}
	for _, s := range res.Incident.Steps {
		if s.Status == StepFailed {
			t.Errorf("step %s failed: %s", s.ID, s.Error)
		}
	}
	if alive(l, a.creds["svc-backup key"]) {
		t.Fatal("the svc-backup key still works")
	}
}

// TestRecheckAfterDelete: --delete removed the key; the re-check still
// runs (no secret, key gone from IAM) rather than stopping as "not live".
func TestRecheckAfterDelete(t *testing.T) {
	l := newLab(t)
	l.journal = filepath.Join(t.TempDir(), "j.json")
	r := l.runner(t, l.journal)
	r.Now, r.Delete = l.emu.Now, true
	if res, _ := r.Execute(context.Background(), cred(l.leaked)); lastStep(res, StepDelete).Status != StepDone {
		t.Fatalf("delete %+v", lastStep(res, StepDelete))
	}
	l.emu.Advance(CloudTrailDeliveryDelay + time.Minute)
	r = l.runner(t, l.journal)
	r.Now, r.Recheck = l.emu.Now, true
	res, err := r.Execute(context.Background(), NewCredential(l.leaked.AccessKeyID, "", ""))
	if err != nil || res.Incident.Outcome != OutcomeContained {
		t.Fatalf("re-check after delete: %q %v %+v", res.Incident.Outcome, err, res.Incident.Stop)
	}
}
