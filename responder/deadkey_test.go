package responder

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/keyward/keyward/responder/awsemu"
)

// A key that no longer works is not "nothing to contain" when it was the
// operator's account's: while live it may have planted persistence and
// minted sessions that outlive it (issue 8, a false all-clear). These
// tests delete or expire the key after the attack and ask the emulator
// whether what the attacker made still works.

// goneRun responds for c with a journal at path: a first run, or a
// re-check after CloudTrail's delivery delay.
func (l *lab) goneRun(t *testing.T, c Credential, path string, recheck bool) (*Result, error) {
	t.Helper()
	if recheck {
		l.emu.Advance(CloudTrailDeliveryDelay + time.Minute)
	}
	r := l.runner(t, "")
	j, err := OpenJournal(path, c.KeyID)
	must(t, err)
	r.Journal, r.Now, r.Recheck = j, l.emu.Now, recheck
	return r.Execute(context.Background(), c)
}

// backdoor has c create user svc-backup with AdministratorAccess and a
// key, and returns the key's ID.
func backdoor(t *testing.T, l *lab, c aws.Config) string {
	t.Helper()
	client, ctx := iam.NewFromConfig(c), context.Background()
	_, err := client.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("svc-backup")})
	must(t, err)
	_, err = client.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String("svc-backup"), PolicyArn: aws.String("arn:aws:iam::aws:policy/AdministratorAccess")})
	must(t, err)
	out, err := client.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("svc-backup")})
	must(t, err)
	return aws.ToString(out.AccessKey.AccessKeyId)
}

func TestDeletedKeyBackdoorIsContained(t *testing.T) {
	l := newAdversaryLab(t)
	id := backdoor(t, l, l.config(l.leaked))
	if !alive(l, id) {
		t.Fatal("the test is void: the backdoor key does not work before the response")
	}
	// Someone deletes the leaked key by hand; keyward never responded.
	must(t, l.deleteKey("alice", l.leaked.AccessKeyID))
	path := t.TempDir() + "/j.json"
	first, err := l.goneRun(t, cred(l.leaked), path, false)
	if err == nil || first.Incident.Outcome == OutcomeNothingToContain || first.Incident.Stop != nil {
		t.Fatalf("first run: outcome %q, err %v, stop %+v", first.Incident.Outcome, err, first.Incident.Stop)
	}
	if alive(l, id) {
		t.Fatalf("the backdoor key %s still works after the response; steps %+v", id, first.Incident.Steps)
	}
	for _, s := range []StepID{StepDeactivate, StepQuarantine} {
		if st := stepOf(first.Incident, s); st.Status != StepSkipped || !strings.Contains(st.Detail, "not in IAM") && !strings.Contains(st.Detail, "no such key") {
			t.Errorf("%s: %s %q, want skipped with the reason", s, st.Status, st.Detail)
		}
	}
	// CloudTrail names alice, whose older sessions may still live.
	if st := stepOf(first.Incident, StepRevokeSessions); st.Status != StepDone || !strings.Contains(st.Detail, "alice") {
		t.Errorf("session deny: %s %q", st.Status, st.Detail)
	}
	res, err := l.goneRun(t, cred(l.leaked), path, true)
	if res.Incident.Outcome == OutcomeNothingToContain {
		t.Fatalf("re-check said nothing to contain after containing a backdoor")
	}
	if err != nil || res.Incident.Outcome != OutcomeContained {
		t.Fatalf("re-check: outcome %q, err %v, remaining %v", res.Incident.Outcome, err, res.Incident.Remaining)
	}
	if alive(l, id) {
		t.Fatal("the backdoor key works after the re-check")
	}
	if st := stepOf(res.Incident, StepQuarantine); st.Status != StepSkipped {
		t.Errorf("re-check: quarantine %s %q, want skipped: the key is still gone", st.Status, st.Detail)
	}
}

func TestExpiredSessionPersistenceIsContained(t *testing.T) {
	l := newAdversaryLab(t)
	// A role session: an IAM user's GetSessionToken session cannot call
	// IAM without MFA.
	must(t, l.emu.CreateRole(l.acct, "ops", openTrust))
	must(t, l.emu.AttachRolePolicy(l.acct, "ops", awsemu.AdministratorAccessARN))
	out, err := sts.NewFromConfig(l.config(l.leaked)).AssumeRole(context.Background(), &sts.AssumeRoleInput{
		RoleArn: aws.String("arn:aws:iam::" + l.acct + ":role/ops"), RoleSessionName: aws.String("x1"), DurationSeconds: aws.Int32(900)})
	must(t, err)
	s := awsemu.Credentials{AccessKeyID: *out.Credentials.AccessKeyId, SecretAccessKey: *out.Credentials.SecretAccessKey, SessionToken: *out.Credentials.SessionToken}
	id := backdoor(t, l, l.config(s))
	if !alive(l, id) {
		t.Fatal("the test is void: the backdoor key does not work before the response")
	}
	l.emu.Advance(2 * time.Hour)
	c := cred(s)
	if v := l.validator().Validate(context.Background(), c); v.Status != StatusExpired {
		t.Fatalf("the test is void: the session is %s, not expired", v.Status)
	}
	path := t.TempDir() + "/j.json"
	first, err := l.goneRun(t, c, path, false)
	if err == nil || first.Incident.Outcome == OutcomeNothingToContain || first.Incident.Stop != nil {
		t.Fatalf("first run: outcome %q, err %v, stop %+v", first.Incident.Outcome, err, first.Incident.Stop)
	}
	if alive(l, id) {
		t.Fatalf("the backdoor key %s made by the expired session still works", id)
	}
	// CloudTrail names the role the session belonged to: its older
	// sessions are denied.
	if st := stepOf(first.Incident, StepRevokeSessions); st.Status != StepDone || !strings.Contains(st.Detail, "role ops") {
		t.Errorf("session deny: %s %q", st.Status, st.Detail)
	}
	res, err := l.goneRun(t, c, path, true)
	if err != nil || res.Incident.Outcome != OutcomeContained {
		t.Fatalf("re-check: outcome %q, err %v, remaining %v", res.Incident.Outcome, err, res.Incident.Remaining)
	}
	if alive(l, id) {
		t.Fatal("the backdoor key works after the re-check")
	}
}

func TestDeletedKeyWithoutActivityAfterSearch(t *testing.T) {
	l := newLab(t)
	must(t, l.deleteKey("alice", l.leaked.AccessKeyID))
	before := l.emu.Calls("LookupEvents")
	path := t.TempDir() + "/j.json"
	first, err := l.goneRun(t, cred(l.leaked), path, false)
	// CloudTrail may not have delivered everything yet: not an all-clear.
	if !errors.As(err, new(*RecheckPendingError)) || first.Incident.Outcome != OutcomeAwaitingRecheck {
		t.Fatalf("first run: outcome %q, err %v", first.Incident.Outcome, err)
	}
	if l.emu.Calls("LookupEvents") == before {
		t.Fatal("the first run did not search CloudTrail")
	}
	mid := l.emu.Calls("LookupEvents")
	res, err := l.goneRun(t, cred(l.leaked), path, true)
	if err != nil || res.Incident.Outcome != OutcomeNothingToContain {
		t.Fatalf("re-check: outcome %q, err %v, remaining %v", res.Incident.Outcome, err, res.Incident.Remaining)
	}
	if l.emu.Calls("LookupEvents") == mid || stepOf(res.Incident, StepInvestigate).Status != StepDone || stepOf(res.Incident, StepInvestigate).Resumed {
		t.Fatalf("nothing to contain without a fresh CloudTrail search: %+v", stepOf(res.Incident, StepInvestigate))
	}
}

func TestDeletedKeyLookupDeniedIsNotAllClear(t *testing.T) {
	l := newLab(t)
	l.cfg = l.config(l.limitedOperator(t, "cloudtrail:LookupEvents"))
	must(t, l.deleteKey("alice", l.leaked.AccessKeyID))
	path := t.TempDir() + "/j.json"
	for _, recheck := range []bool{false, true} {
		res, err := l.goneRun(t, cred(l.leaked), path, recheck)
		var pe *PartialError
		if !errors.As(err, &pe) || res.Incident.Outcome != OutcomePartial {
			t.Fatalf("recheck=%v: outcome %q, err %v", recheck, res.Incident.Outcome, err)
		}
		if !slices.ContainsFunc(res.Incident.Remaining, func(s string) bool { return strings.Contains(s, "CloudTrail was not searched") }) {
			t.Fatalf("remaining %v does not say CloudTrail was not searched", res.Incident.Remaining)
		}
	}
}

func TestDeletedKeyPlanInvestigates(t *testing.T) {
	l := newLab(t)
	must(t, l.deleteKey("alice", l.leaked.AccessKeyID))
	p, err := l.runner(t, "").Plan(context.Background(), cred(l.leaked))
	must(t, err)
	if p.Stop != nil {
		t.Fatalf("the plan stops: %+v", p.Stop)
	}
	var ids []StepID
	for _, s := range p.Steps {
		ids = append(ids, s.ID)
		if (s.ID == StepDeactivate || s.ID == StepQuarantine) && (!strings.HasPrefix(s.Calls[0], "none: skipped") || s.Destructive) {
			t.Errorf("plan step %s calls %v for a gone key", s.ID, s.Calls)
		}
	}
	for _, want := range []StepID{StepRevokeSessions, StepInvestigate, StepPersistence} {
		if !slices.Contains(ids, want) {
			t.Errorf("plan lacks %s: %v", want, ids)
		}
	}
	if !slices.ContainsFunc(p.Notes, func(n string) bool { return strings.Contains(n, GoneNote) }) {
		t.Errorf("plan notes %v do not say why the gone key is investigated", p.Notes)
	}
}
