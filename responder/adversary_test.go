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

// The adversary suite (issue 8): the leaked key has admin rights, and
// before the response its holder plants persistence with the real SDK.
// Then the response runs, and a re-check after CloudTrail's delivery
// delay; finally the emulator is asked, for every credential the attacker
// made, whether it still works. Every scenario must end with each of them
// dead, or with the report naming it with a human action and an outcome
// that is not "contained".

// attacker is what a scenario planted: the credentials it holds, by label.
type attacker struct {
	creds map[string]string // label -> access key ID
}

// move is one thing the attacker does with the leaked key.
type move struct {
	name string
	do   func(t *testing.T, l *lab, a *attacker)
}

const openTrust = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}]}`

var moves = []move{
	{"session token", func(t *testing.T, l *lab, a *attacker) {
		a.creds["session"] = l.sessionToken(t, l.leaked, 3600).AccessKeyID
	}},
	{"second key for the same user", func(t *testing.T, l *lab, a *attacker) {
		out, err := iam.NewFromConfig(l.config(l.leaked)).CreateAccessKey(context.Background(), &iam.CreateAccessKeyInput{})
		must(t, err)
		a.creds["second key"] = aws.ToString(out.AccessKey.AccessKeyId)
	}},
	{"user svc-backup with a key", func(t *testing.T, l *lab, a *attacker) {
		c := iam.NewFromConfig(l.config(l.leaked))
		ctx := context.Background()
		_, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("svc-backup")})
		must(t, err)
		_, err = c.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String("svc-backup"), PolicyArn: aws.String(awsemu.AdministratorAccessARN)})
		must(t, err)
		out, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("svc-backup")})
		must(t, err)
		a.creds["svc-backup key"] = aws.ToString(out.AccessKey.AccessKeyId)
	}},
	{"role trusting everyone, assumed", func(t *testing.T, l *lab, a *attacker) {
		c := iam.NewFromConfig(l.config(l.leaked))
		ctx := context.Background()
		_, err := c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("backdoor"), AssumeRolePolicyDocument: aws.String(openTrust)})
		must(t, err)
		_, err = c.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String("backdoor"), PolicyArn: aws.String(awsemu.AdministratorAccessARN)})
		must(t, err)
		out, err := sts.NewFromConfig(l.config(l.leaked)).AssumeRole(ctx, &sts.AssumeRoleInput{
			RoleArn: aws.String("arn:aws:iam::" + l.acct + ":role/backdoor"), RoleSessionName: aws.String("x")})
		must(t, err)
		a.creds["backdoor role session"] = aws.ToString(out.Credentials.AccessKeyId)
	}},
	{"federation token", func(t *testing.T, l *lab, a *attacker) {
		out, err := sts.NewFromConfig(l.config(l.leaked)).GetFederationToken(context.Background(), &sts.GetFederationTokenInput{
			Name: aws.String("fed"), Policy: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`)})
		must(t, err)
		a.creds["federation session"] = aws.ToString(out.Credentials.AccessKeyId)
	}},
	{"key for an existing user, and a session from it", func(t *testing.T, l *lab, a *attacker) {
		out, err := iam.NewFromConfig(l.config(l.leaked)).CreateAccessKey(context.Background(), &iam.CreateAccessKeyInput{UserName: aws.String("bob")})
		must(t, err)
		k := awsemu.Credentials{AccessKeyID: aws.ToString(out.AccessKey.AccessKeyId), SecretAccessKey: aws.ToString(out.AccessKey.SecretAccessKey)}
		a.creds["bob's new key"] = k.AccessKeyID
		a.creds["session of bob's new key"] = l.sessionToken(t, k, 3600).AccessKeyID
	}},
}

// newAdversaryLab is a lab whose leaked key has AdministratorAccess.
func newAdversaryLab(t *testing.T, opts ...func(*awsemu.Server)) *lab {
	l := newLab(t)
	must(t, l.emu.AttachUserPolicy(l.acct, "alice", awsemu.AdministratorAccessARN))
	must(t, l.emu.CreateUser(l.acct, "bob"))
	must(t, l.emu.PutUserPolicy(l.acct, "bob", "work", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["sts:GetSessionToken","iam:ListUsers","cloudtrail:LookupEvents"],"Resource":"*"}]}`))
	for _, o := range opts {
		o(l.emu)
	}
	return l
}

// respond runs the response and then the re-check after the delivery
// delay, on the emulator's clock.
func (l *lab) respondAndRecheck(t *testing.T) (first, recheck *Result, err error) {
	t.Helper()
	l.journal = t.TempDir() + "/journal.json"
	path := l.journal
	r := l.runner(t, path)
	r.Now, r.NoQuarantine = l.emu.Now, l.noQuarantine
	first, _ = r.Execute(context.Background(), cred(l.leaked))
	if first.Incident.Outcome == OutcomeContained {
		t.Errorf("a first run said contained before CloudTrail could deliver everything")
	}
	recheck, err = l.recheck(t)
	return first, recheck, err
}

// recheck runs a re-check after the delivery delay.
func (l *lab) recheck(t *testing.T) (*Result, error) {
	l.emu.Advance(CloudTrailDeliveryDelay + time.Minute)
	r := l.runner(t, l.journal)
	r.Now, r.Recheck, r.NoQuarantine = l.emu.Now, true, l.noQuarantine
	return r.Execute(context.Background(), cred(l.leaked))
}

// assertDeadOrNamed checks every attacker credential: dead, or named in
// the report with an outcome that is not contained.
func assertDeadOrNamed(t *testing.T, l *lab, a *attacker, res *Result) {
	t.Helper()
	inc := res.Incident
	for label, id := range a.creds {
		if alive(l, id) {
			named := strings.Contains(strings.Join(inc.Remaining, "\n"), id)
			if !named || inc.Outcome == OutcomeContained {
				t.Errorf("%s %s still works, outcome %q, remaining %v", label, id, inc.Outcome, inc.Remaining)
			}
		}
	}
	if alive(l, l.leaked.AccessKeyID) {
		t.Errorf("the leaked key still works")
	}
}

// requireAlive fails a test that would be void: every credential the
// attacker made must work before the response.
func requireAlive(t *testing.T, l *lab, a *attacker) {
	t.Helper()
	for label, id := range a.creds {
		if !alive(l, id) {
			t.Fatalf("the test is void: %s %s does not work before the response", label, id)
		}
	}
}

// probeActions are what a live credential is asked to do: one the
// quarantine policy denies and ones it does not, so that containment is
// not credited to the quarantine alone (it can be released).
var probeActions = []string{"iam:ListUsers", "s3:ListAllMyBuckets", "iam:CreateUser", "cloudtrail:LookupEvents", "sts:GetSessionToken"}

// alive reports whether the emulator would let id do any probe action.
func alive(l *lab, id string) bool {
	for _, a := range probeActions {
		if l.emu.Check(id, a, "") == nil {
			return true
		}
	}
	return false
}

func TestAdversaryEachMoveAlone(t *testing.T) {
	for _, m := range moves {
		for _, noQuarantine := range []bool{false, true} {
			t.Run(m.name+map[bool]string{false: "", true: " without quarantine"}[noQuarantine], func(t *testing.T) {
				eachMoveAlone(t, m, noQuarantine)
			})
		}
	}
}

func eachMoveAlone(t *testing.T, m move, noQuarantine bool) {
	l := newAdversaryLab(t)
	l.noQuarantine = noQuarantine
	a := &attacker{creds: map[string]string{}}
	m.do(t, l, a)
	requireAlive(t, l, a)
	_, res, err := l.respondAndRecheck(t)
	if err != nil {
		t.Fatalf("re-check: %v\n%s", err, res.Incident.Markdown())
	}
	if res.Incident.Outcome != OutcomeContained {
		t.Fatalf("outcome %q, remaining %v", res.Incident.Outcome, res.Incident.Remaining)
	}
	assertDeadOrNamed(t, l, a, res)
}

func TestAdversaryAllMovesTogether(t *testing.T) {
	for _, noQuarantine := range []bool{false, true} {
		t.Run(map[bool]string{false: "quarantine", true: "no-quarantine"}[noQuarantine], func(t *testing.T) {
			allMovesTogether(t, noQuarantine)
		})
	}
}

func allMovesTogether(t *testing.T, noQuarantine bool) {
	l := newAdversaryLab(t)
	l.noQuarantine = noQuarantine
	a := &attacker{creds: map[string]string{}}
	for _, m := range moves {
		m.do(t, l, a)
	}
	requireAlive(t, l, a)
	_, res, err := l.respondAndRecheck(t)
	if err != nil {
		t.Fatalf("re-check: %v\n%s", err, res.Incident.Markdown())
	}
	if res.Incident.Outcome != OutcomeContained {
		t.Fatalf("outcome %q, remaining %v", res.Incident.Outcome, res.Incident.Remaining)
	}
	assertDeadOrNamed(t, l, a, res)
	md := res.Incident.Markdown()
	for _, want := range []string{"## Persistence", "svc-backup", "backdoor"} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q", want)
		}
	}
}

// TestAdversaryDelayedCloudTrail: CloudTrail delivers 5 minutes late, so
// the first run sees none of the persistence. It must not say contained;
// the re-check after the delay finds and contains it.
func TestAdversaryDelayedCloudTrail(t *testing.T) {
	l := newAdversaryLab(t, func(s *awsemu.Server) { s.SetCloudTrailDelay(5 * time.Minute) })
	// Without the quarantine, which would also restrict the second key of
	// the leaked user, so only the re-check can stop it.
	l.noQuarantine = true
	a := &attacker{creds: map[string]string{}}
	for _, m := range moves[:3] {
		m.do(t, l, a)
	}
	l.journal = t.TempDir() + "/journal.json"
	r := l.runner(t, l.journal)
	r.Now, r.NoQuarantine = l.emu.Now, true
	first, _ := r.Execute(context.Background(), cred(l.leaked))
	if first.Incident.Outcome != OutcomeAwaitingRecheck {
		t.Fatalf("first run outcome %q", first.Incident.Outcome)
	}
	for label, id := range a.creds {
		if label != "session" && !alive(l, id) {
			t.Fatalf("the test is void: the first run already stopped the %s", label)
		}
	}
	res, err := l.recheck(t)
	if err != nil && !errors.As(err, new(*RecheckPendingError)) {
		t.Fatalf("re-check: %v", err)
	}
	assertDeadOrNamed(t, l, a, res)
	// The re-check contained something new, so one more re-check is due
	// before "contained": what it did just before may still be in transit.
	if res.Incident.Outcome == OutcomeContained {
		t.Fatalf("contained right after containing something new")
	}
	res, err = l.recheck(t)
	if err != nil || res.Incident.Outcome != OutcomeContained {
		t.Fatalf("second re-check: outcome %q, err %v", res.Incident.Outcome, err)
	}
	assertDeadOrNamed(t, l, a, res)
}

// TestAdversaryChangesToExistingPrincipals: policies attached to, and a
// login profile created for, an existing user. The profile is deleted;
// the attachment is listed with the exact revert command, and the outcome
// is not contained.
func TestAdversaryChangesToExistingPrincipals(t *testing.T) {
	l := newAdversaryLab(t)
	ctx := context.Background()
	c := iam.NewFromConfig(l.config(l.leaked))
	_, err := c.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String("bob"), PolicyArn: aws.String(awsemu.AdministratorAccessARN)})
	must(t, err)
	_, err = c.CreateLoginProfile(ctx, &iam.CreateLoginProfileInput{UserName: aws.String("bob"), Password: aws.String("Correct-Horse-9")})
	must(t, err)
	_, res, err := l.respondAndRecheck(t)
	var pe *PartialError
	if !errors.As(err, &pe) || res.Incident.Outcome != OutcomePartial {
		t.Fatalf("outcome %q, err %v", res.Incident.Outcome, err)
	}
	want := "aws iam detach-user-policy --user-name bob --policy-arn " + awsemu.AdministratorAccessARN
	if !slices.ContainsFunc(res.Incident.Remaining, func(s string) bool { return strings.Contains(s, want) }) {
		t.Fatalf("remaining %v lacks %q", res.Incident.Remaining, want)
	}
	if has, _ := l.emu.LoginProfile(l.acct, "bob"); has {
		t.Fatal("the login profile the attacker created is still there")
	}
}

// TestAdversaryNoPersistenceReportsOnly: --no-persistence changes nothing
// the attacker made, names it, and is never contained.
func TestAdversaryNoPersistenceReportsOnly(t *testing.T) {
	l := newAdversaryLab(t)
	a := &attacker{creds: map[string]string{}}
	moves[1].do(t, l, a)
	path := t.TempDir() + "/j.json"
	r := l.runner(t, path)
	r.Now, r.NoPersistence = l.emu.Now, true
	res, err := r.Execute(context.Background(), cred(l.leaked))
	if res.Incident.Outcome != OutcomePartial || err == nil {
		t.Fatalf("outcome %q, err %v", res.Incident.Outcome, err)
	}
	if st, _ := l.emu.KeyStatus(a.creds["second key"]); st != "Active" {
		t.Fatalf("--no-persistence changed the second key: %s", st)
	}
	assertDeadOrNamed(t, l, a, res)
}

// TestAdversaryDeletedWhatItCreated: the attacker created a role, assumed
// it, then deleted the role. Nothing is left to contain, and a missing
// role is not a failure.
func TestAdversaryDeletedWhatItCreated(t *testing.T) {
	l := newAdversaryLab(t)
	a := &attacker{creds: map[string]string{}}
	moves[3].do(t, l, a)
	ctx := context.Background()
	c := iam.NewFromConfig(l.config(l.leaked))
	_, err := c.DetachRolePolicy(ctx, &iam.DetachRolePolicyInput{RoleName: aws.String("backdoor"), PolicyArn: aws.String(awsemu.AdministratorAccessARN)})
	must(t, err)
	_, err = c.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: aws.String("backdoor")})
	must(t, err)
	_, res, err := l.respondAndRecheck(t)
	if err != nil || res.Incident.Outcome != OutcomeContained {
		t.Fatalf("outcome %q, err %v, steps %+v", res.Incident.Outcome, err, res.Incident.Steps)
	}
	assertDeadOrNamed(t, l, a, res)
}
