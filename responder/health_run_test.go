package responder

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/keyward/keyward/patterns/patternstest"
	"github.com/keyward/keyward/responder/awsemu"
)

// Accounts of the organisation test: the security account runs keyward;
// the member owns the leaked key; the third is where the thief went.
const (
	securityAccount = "111122223333"
	memberAccount   = "444455556666"
	thirdAccount    = "777788889999"
)

// org is an emulated organisation: a security account with the operator,
// a member account with the leaked key, and a third account the leaked
// key's holder reached with AssumeRole; each member account has the
// KeywardResponder role, trusting the security account and allowed exactly
// the step table's actions.
type org struct {
	emu      *awsemu.Server
	srv      *httptest.Server
	operator awsemu.Credentials
	leaked   awsemu.Credentials
	session  awsemu.Credentials // the thief's session in the third account
}

// ResponderRoleName is the member-account role of the deployment.
const testResponderRole = "KeywardResponder"

func newOrg(t *testing.T) *org {
	t.Helper()
	o := &org{}
	o.emu = awsemu.New(awsemu.Options{Account: securityAccount, Rand: patternstest.New(uint64(len(t.Name())) + 11)})
	o.srv = httptest.NewServer(o.emu)
	t.Cleanup(o.srv.Close)
	o.emu.AddAccount(memberAccount)
	o.emu.AddAccount(thirdAccount)
	var err error
	o.operator, err = o.emu.CreateOperator(securityAccount, "security")
	check(t, err)
	member, _ := HealthActions(Options{})
	allow, _ := json.Marshal(map[string]any{"Version": "2012-10-17", "Statement": []any{map[string]any{"Effect": "Allow", "Action": member, "Resource": "*"}}})
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + securityAccount + `:root"},"Action":"sts:AssumeRole"}]}`
	for _, acct := range []string{memberAccount, thirdAccount} {
		check(t, o.emu.CreateRole(acct, testResponderRole, string(allow)))
		check(t, o.emu.SetRoleTrust(acct, testResponderRole, trust))
	}
	// The third account's role that the member account may assume.
	check(t, o.emu.CreateRole(thirdAccount, "Shared", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:*","iam:CreateUser"],"Resource":"*"}]}`))
	check(t, o.emu.SetRoleTrust(thirdAccount, "Shared", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::`+memberAccount+`:root"},"Action":"sts:AssumeRole"}]}`))
	check(t, o.emu.CreateUser(memberAccount, "app"))
	check(t, o.emu.PutUserPolicy(memberAccount, "app", "work", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["sts:AssumeRole","iam:ListUsers","s3:*"],"Resource":"*"}]}`))
	o.leaked, err = o.emu.CreateAccessKey(memberAccount, "app")
	check(t, err)
	// Before AWS notices, the thief assumes the third account's role.
	out, err := sts.NewFromConfig(o.config(o.leaked)).AssumeRole(context.Background(), &sts.AssumeRoleInput{
		RoleArn: aws.String("arn:aws:iam::" + thirdAccount + ":role/Shared"), RoleSessionName: aws.String("x")})
	check(t, err)
	o.session = awsemu.Credentials{AccessKeyID: *out.Credentials.AccessKeyId, SecretAccessKey: *out.Credentials.SecretAccessKey, SessionToken: *out.Credentials.SessionToken}
	if err := o.emu.Check(o.session.AccessKeyID, "s3:GetObject", ""); err != nil {
		t.Fatalf("the thief's session does not work before the response: %v", err)
	}
	return o
}

func (o *org) config(c awsemu.Credentials) aws.Config {
	return aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(o.srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, c.SessionToken)}
}

func (o *org) responder(t *testing.T, template RoleTemplate) *HealthResponder {
	dir := t.TempDir()
	return &HealthResponder{
		Config: o.config(o.operator), Validator: &Validator{Endpoint: o.srv.URL},
		AssumeRole: template, PropagationWait: time.Millisecond,
		Options: Options{Regions: []string{"us-east-1"}, LookupInterval: time.Millisecond, PollInterval: time.Millisecond, PollTimeout: time.Second,
			Now: o.emu.Now},
		Journal: func(keyID string) (*Journal, error) { return OpenJournal(dir+"/journal-"+keyID+".json", keyID) },
	}
}

// respondAndRecheck responds, then re-checks after CloudTrail's delivery
// delay, as the operator (or the Lambda's next invocation) would.
func (o *org) respondAndRecheck(t *testing.T, h *HealthResponder, tgt HealthTarget) (first, recheck *Result, err error) {
	t.Helper()
	first, err = h.Respond(context.Background(), tgt)
	var rp *RecheckPendingError
	if !errors.As(err, &rp) || first.Incident.Outcome != OutcomeAwaitingRecheck {
		t.Fatalf("first run: %v, outcome %q (want awaiting re-check)", err, first.Incident.Outcome)
	}
	o.emu.Advance(CloudTrailDeliveryDelay + time.Minute)
	h.Options.Recheck = true
	recheck, err = h.Respond(context.Background(), tgt)
	return first, recheck, err
}

func check(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// healthEvent is AWS's documented event shape for key.
func healthEvent(account, keyID string) []byte {
	return []byte(`{"version":"0","id":"1","detail-type":"AWS Health Event","source":"aws.health","account":"` + account +
		`","time":"2026-12-01T00:00:00Z","region":"us-east-1","resources":[],"detail":{"eventArn":"arn:aws:health:global::event/RISK/AWS_RISK_CREDENTIALS_EXPOSED/x","service":"RISK","eventTypeCode":"AWS_RISK_CREDENTIALS_EXPOSED","eventTypeCategory":"issue","affectedEntities":[{"entityValue":"` + keyID + `"}]}}`)
}

// Organisation-wide: the security account's operator finds the owning
// account with GetAccessKeyInfo, assumes KeywardResponder there, runs the
// step table without the secret, and follows the thief's AssumeRole into
// the third account through the same template.
func TestHealthRespondAcrossAccounts(t *testing.T) {
	o := newOrg(t)
	ev, err := ParseHealthEvent(healthEvent(memberAccount, o.leaked.AccessKeyID))
	check(t, err)
	h := o.responder(t, "arn:aws:iam::{account}:role/"+testResponderRole)
	tgt, err := h.Target(context.Background(), ev.KeyIDs[0])
	check(t, err)
	if tgt.KeyAccount != memberAccount || tgt.OperatorAccount != securityAccount || tgt.Role != "arn:aws:iam::"+memberAccount+":role/"+testResponderRole {
		t.Fatalf("target %+v", tgt)
	}
	first, res, err := o.respondAndRecheck(t, h, tgt)
	if err != nil {
		t.Fatalf("re-check: %v\n%+v", err, res.Incident.Steps)
	}
	inc := first.Incident
	if res.Incident.Outcome != OutcomeContained {
		t.Fatalf("outcome after the re-check %q, remaining %v", res.Incident.Outcome, res.Incident.Remaining)
	}
	if st, _ := o.emu.KeyStatus(o.leaked.AccessKeyID); st != "Inactive" {
		t.Fatalf("leaked key is %s", st)
	}
	if err := o.emu.Check(o.leaked.AccessKeyID, "iam:ListUsers", ""); err == nil {
		t.Fatal("the leaked key still works")
	}
	// The thief's session in the third account is denied there.
	if err := o.emu.Check(o.session.AccessKeyID, "s3:GetObject", ""); err == nil {
		t.Fatal("the thief's session in the third account still works")
	}
	inline, err := o.emu.RolePolicies(thirdAccount, "Shared")
	check(t, err)
	if len(inline) == 0 || !strings.Contains(strings.Join(inline, ","), RevokePolicyName) {
		t.Fatalf("third account's role policies: %v", inline)
	}
	var lateral, verify *StepResult
	for i, s := range inc.Steps {
		switch s.ID {
		case StepLateralRoles:
			lateral = &inc.Steps[i]
		case StepVerifyDead:
			verify = &inc.Steps[i]
		}
		if s.ID == StepValidate && len(s.Calls) != 0 {
			t.Fatalf("validate made calls without a secret: %+v", s.Calls)
		}
	}
	if lateral == nil || lateral.Status != StepDone || !strings.Contains(lateral.Detail, thirdAccount) ||
		!strings.Contains(lateral.Detail, "session "+o.session.AccessKeyID+": ") {
		t.Fatalf("lateral step %+v", lateral)
	}
	if verify == nil || verify.Status != StepDone || !strings.Contains(verify.Detail, "IAM shows the key inactive") || !strings.Contains(verify.Detail, "waited 1ms") {
		t.Fatalf("verify step %+v", verify)
	}
	// Nothing touched the security account's IAM.
	if n := o.emu.Calls("UpdateAccessKey"); n != 1 {
		t.Fatalf("UpdateAccessKey calls = %d", n)
	}
}

// What the thief's session did in the third account is found there, through
// the responder role: a user it created keeps the outcome from "contained"
// and is named for a human.
func TestHealthFollowsSessionIntoThirdAccount(t *testing.T) {
	o := newOrg(t)
	_, err := iam.NewFromConfig(o.config(o.session)).CreateUser(context.Background(), &iam.CreateUserInput{UserName: aws.String("backdoor")})
	check(t, err)
	h := o.responder(t, "arn:aws:iam::{account}:role/"+testResponderRole)
	tgt, err := h.Target(context.Background(), o.leaked.AccessKeyID)
	check(t, err)
	res, err := h.Respond(context.Background(), tgt)
	var pe *PartialError
	if !errors.As(err, &pe) || res.Incident.Outcome != OutcomePartial {
		t.Fatalf("err = %v, outcome %q", err, res.Incident.Outcome)
	}
	found := false
	for _, r := range res.Incident.Remaining {
		found = found || strings.Contains(r, "session "+o.session.AccessKeyID+" in account "+thirdAccount) && strings.Contains(r, "CreateUser")
	}
	if !found {
		t.Fatalf("remaining %v", res.Incident.Remaining)
	}
	// The session itself is dead in the third account.
	if err := o.emu.Check(o.session.AccessKeyID, "s3:GetObject", ""); err == nil {
		t.Fatal("the thief's session still works")
	}
}

// The thief's session chained into more roles of the third account than
// the investigation follows: what the others did there is unknown, so it
// is named for a human and the outcome is not "contained".
func TestHealthUnfollowedSessionsInThirdAccount(t *testing.T) {
	o := newOrg(t)
	check(t, o.emu.PutRolePolicy(thirdAccount, "Shared", "chain", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}]}`))
	check(t, o.emu.CreateRole(thirdAccount, "Next", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}`))
	check(t, o.emu.SetRoleTrust(thirdAccount, "Next", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::`+thirdAccount+`:root"},"Action":"sts:AssumeRole"}]}`))
	for _, name := range []string{"a", "b"} {
		_, err := sts.NewFromConfig(o.config(o.session)).AssumeRole(context.Background(), &sts.AssumeRoleInput{
			RoleArn: aws.String("arn:aws:iam::" + thirdAccount + ":role/Next"), RoleSessionName: aws.String(name)})
		check(t, err)
	}
	h := o.responder(t, "arn:aws:iam::{account}:role/"+testResponderRole)
	h.Options.MaxKeysFollowed = 1
	tgt, err := h.Target(context.Background(), o.leaked.AccessKeyID)
	check(t, err)
	res, err := h.Respond(context.Background(), tgt)
	var pe *PartialError
	if !errors.As(err, &pe) || res.Incident.Outcome != OutcomePartial {
		t.Fatalf("err = %v, outcome %q; want partially contained", err, res.Incident.Outcome)
	}
	found := false
	for _, r := range res.Incident.Remaining {
		found = found || strings.Contains(r, "session "+o.session.AccessKeyID+" in account "+thirdAccount) && strings.Contains(r, "1 key(s) it minted or created there were not investigated")
	}
	if !found {
		t.Fatalf("remaining %v does not name the unfollowed session", res.Incident.Remaining)
	}
}

// Without a role template the member account's key is not the operator's:
// the run stops and says whose it is, never "contained".
func TestHealthRespondOtherAccountWithoutTemplate(t *testing.T) {
	o := newOrg(t)
	h := o.responder(t, "")
	tgt, err := h.Target(context.Background(), o.leaked.AccessKeyID)
	check(t, err)
	res, err := h.Respond(context.Background(), tgt)
	var se *StopError
	if !errors.As(err, &se) || se.Kind != StopOtherAccount || res.Incident.Outcome == OutcomeContained {
		t.Fatalf("err = %v, outcome %q", err, res.Incident.Outcome)
	}
	if st, _ := o.emu.KeyStatus(o.leaked.AccessKeyID); st != "Active" {
		t.Fatalf("leaked key is %s", st)
	}
}

// A role that cannot be assumed is an incomplete run, never contained.
func TestHealthRespondRoleNotAssumable(t *testing.T) {
	o := newOrg(t)
	h := o.responder(t, "arn:aws:iam::{account}:role/NoSuchRole")
	tgt, err := h.Target(context.Background(), o.leaked.AccessKeyID)
	check(t, err)
	res, err := h.Respond(context.Background(), tgt)
	if err == nil || res.Incident.Outcome != OutcomeIncomplete || !strings.Contains(err.Error(), "assume role") {
		t.Fatalf("err = %v, outcome %q", err, res.Incident.Outcome)
	}
}

func TestRoleTemplate(t *testing.T) {
	for tmpl, ok := range map[RoleTemplate]bool{
		"arn:aws:iam::{account}:role/KeywardResponder":             true,
		"arn:aws-us-gov:iam::{account}:role/path/KeywardResponder": true,
		"arn:aws:iam::111122223333:role/KeywardResponder":          false,
		"arn:aws:iam::{account}:user/x":                            false,
		"":                                                         false,
	} {
		if err := tmpl.Validate(); (err == nil) != ok {
			t.Errorf("%q: %v", tmpl, err)
		}
	}
	if got := RoleTemplate("arn:aws:iam::{account}:role/R").For("444455556666"); got != "arn:aws:iam::444455556666:role/R" {
		t.Fatal(got)
	}
}
