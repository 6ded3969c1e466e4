package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/keyward/keyward/responder"
	"github.com/keyward/keyward/responder/awsemu"
)

const (
	securityAccount = "111122223333"
	memberAccount   = "444455556666"
	bucketName      = "keyward-incidents-111122223333"
)

// deployment is the emulated result of deploy/aws: the security account
// holds the function's role (the operator), the bucket and the topic; the
// member account has the KeywardResponder role of the StackSet, trusting
// the security account and allowed what the step table lists.
type deployment struct {
	emu    *awsemu.Server
	srv    *httptest.Server
	topic  string
	leaked awsemu.Credentials
	h      *handler
}

func deploy(t *testing.T) *deployment {
	t.Helper()
	d := &deployment{emu: awsemu.New(awsemu.Options{Account: securityAccount})}
	d.srv = httptest.NewServer(d.emu)
	t.Cleanup(d.srv.Close)
	d.emu.AddAccount(memberAccount)
	// The function's identity gets what deploy/aws gives its role, from the
	// same generated policies (the template's resources narrowed to "*"),
	// and nothing else.
	must(t, d.emu.CreateUser(securityAccount, "keyward-lambda"))
	stmts := append(responder.ResponderPolicy(responder.Options{}).Statement,
		responder.OrganizationPolicy("arn:aws:iam::{account}:role/KeywardResponder").Statement...)
	stmts = append(stmts, responder.PolicyStatement{Sid: "ReportJournalNotify", Effect: "Allow",
		Action: []string{"s3:PutObject", "s3:GetObject", "s3:ListBucket", "sns:Publish"}, Resource: []string{"*"}})
	must(t, d.emu.PutUserPolicy(securityAccount, "keyward-lambda", "keyward-responder", responder.PolicyDocument{Version: "2012-10-17", Statement: stmts}.JSON()))
	fn, err := d.emu.CreateAccessKey(securityAccount, "keyward-lambda")
	must(t, err)
	must(t, d.emu.CreateBucket(securityAccount, bucketName))
	d.topic, err = d.emu.CreateTopic(securityAccount, "us-east-1", "keyward-notifications")
	must(t, err)
	must(t, d.emu.CreateRole(memberAccount, "KeywardResponder", responder.ResponderPolicy(responder.Options{}).JSON()))
	must(t, d.emu.SetRoleTrust(memberAccount, "KeywardResponder", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::`+securityAccount+`:root"},"Action":"sts:AssumeRole"}]}`))
	must(t, d.emu.CreateUser(memberAccount, "app"))
	must(t, d.emu.PutUserPolicy(memberAccount, "app", "work", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:ListUsers"],"Resource":"*"}]}`))
	d.leaked, err = d.emu.CreateAccessKey(memberAccount, "app")
	must(t, err)
	cfg := aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(d.srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider(fn.AccessKeyID, fn.SecretAccessKey, "")}
	env := map[string]string{envBucket: bucketName, envTopic: d.topic, envRegions: "us-east-1", envWait: "1ms",
		envAssumeRole: "arn:aws:iam::{account}:role/KeywardResponder"}
	d.h, err = configFromEnv(func(k string) string { return env[k] }, cfg)
	must(t, err)
	d.h.options.LookupInterval = time.Millisecond
	d.h.options.Now = d.emu.Now
	d.h.s3Options = []func(*s3.Options){func(o *s3.Options) { o.UsePathStyle = true }}
	return d
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// savedEvent is the documented sample event with the emulator's key and
// account put in place of AWS's example values.
func savedEvent(t *testing.T, account, keyID string) []byte {
	t.Helper()
	data, err := os.ReadFile("../../responder/testdata/health/credentials-exposed.json")
	must(t, err)
	s := strings.Replace(string(data), "AKIAIOSFODNN7EXAMPLE", keyID, 1)
	return []byte(strings.Replace(s, `"account": "123456789012"`, `"account": "`+account+`"`, 1))
}

// The handler, invoked in-process through aws-lambda-go as the Lambda
// runtime would, contains a member account's key through the responder
// role, writes the report to S3 and publishes a redacted summary; the first
// run awaits the re-check after CloudTrail's delivery delay, which a second
// invocation (keyward_recheck) carries out from the journal kept in S3.
func TestHandlerContainsMemberKey(t *testing.T) {
	d := deploy(t)
	event := savedEvent(t, memberAccount, d.leaked.AccessKeyID)
	invoke := lambda.NewHandler(d.h.Handle)
	out, err := invoke.Invoke(context.Background(), event)
	if err != nil {
		t.Fatalf("invoke: %v", err)
	}
	var sum Summary
	must(t, json.Unmarshal(out, &sum))
	if len(sum.Keys) != 1 || sum.Keys[0].Outcome != responder.OutcomeAwaitingRecheck || sum.Keys[0].Account != memberAccount {
		t.Fatalf("summary %s", out)
	}
	if st, _ := d.emu.KeyStatus(d.leaked.AccessKeyID); st != "Inactive" {
		t.Fatalf("leaked key is %s", st)
	}
	if d.emu.CanCall(d.leaked.AccessKeyID, "iam:ListUsers") {
		t.Fatal("the leaked key still works")
	}
	keys := d.emu.ObjectKeys(bucketName)
	var reports []string
	journal := false
	for _, k := range keys {
		switch {
		case strings.HasPrefix(k, reportPrefix):
			reports = append(reports, k)
		case strings.HasPrefix(k, journalPrefix+memberAccount+"/"):
			journal = true
		}
	}
	if len(reports) != 2 || !strings.HasSuffix(reports[0], ".json") || !strings.HasSuffix(reports[1], ".md") || !journal {
		t.Fatalf("objects %v", keys)
	}
	body, err := d.emu.Object(bucketName, reports[0])
	must(t, err)
	var inc responder.Incident
	must(t, json.Unmarshal(body, &inc))
	if inc.KeyID != d.leaked.AccessKeyID || inc.Outcome != responder.OutcomeAwaitingRecheck || len(inc.Locations) != 1 {
		t.Fatalf("report %s", body)
	}
	msgs := d.emu.Published(d.topic)
	if len(msgs) != 1 {
		t.Fatalf("published %d messages", len(msgs))
	}
	m := msgs[0]
	if !strings.Contains(m.Subject, "awaiting re-check") || !strings.Contains(m.Message, "s3://"+bucketName+"/"+reports[0]) ||
		!strings.Contains(m.Message, "not an all-clear") {
		t.Fatalf("message %+v", m)
	}
	// Redacted: not the full key ID, not the user's name, not the secret.
	if strings.Contains(m.Subject+m.Message, d.leaked.AccessKeyID) || strings.Contains(m.Subject+m.Message, "user app") ||
		strings.Contains(m.Subject+m.Message, d.leaked.SecretAccessKey) {
		t.Fatalf("summary not redacted: %+v", m)
	}

	// After CloudTrail's delivery delay, the re-check.
	d.emu.Advance(responder.CloudTrailDeliveryDelay + time.Minute)
	recheck, _ := json.Marshal(RecheckRequest{Recheck: true, Event: event})
	out, err = invoke.Invoke(context.Background(), recheck)
	if err != nil {
		t.Fatalf("re-check: %v", err)
	}
	must(t, json.Unmarshal(out, &sum))
	if sum.Keys[0].Outcome != responder.OutcomeContained {
		t.Fatalf("re-check summary %s", out)
	}
	if msgs := d.emu.Published(d.topic); len(msgs) != 2 || !strings.Contains(msgs[1].Subject, "contained") || strings.Contains(msgs[1].Subject, "awaiting") {
		t.Fatalf("re-check messages %+v", msgs)
	}
	// UpdateAccessKey once: the re-check continued the journal.
	if n := d.emu.Calls("UpdateAccessKey"); n != 1 {
		t.Fatalf("UpdateAccessKey calls = %d", n)
	}
}

// A malformed event fails the invocation; nothing is touched.
func TestHandlerRejectsMalformedEvent(t *testing.T) {
	d := deploy(t)
	_, err := lambda.NewHandler(d.h.Handle).Invoke(context.Background(), []byte(`{"source":"aws.ec2"}`))
	if err == nil || !strings.Contains(err.Error(), "not an AWS_RISK_CREDENTIALS_EXPOSED health event") {
		t.Fatalf("err = %v", err)
	}
	if len(d.emu.ObjectKeys(bucketName)) != 0 || len(d.emu.Published(d.topic)) != 0 {
		t.Fatal("a malformed event wrote a report")
	}
}

// A key that could not be contained fails the invocation, and the report
// and summary still go out.
func TestHandlerFailsWhenNotContained(t *testing.T) {
	d := deploy(t)
	d.h.assumeRole = "arn:aws:iam::{account}:role/Missing"
	_, err := d.h.Handle(context.Background(), savedEvent(t, memberAccount, d.leaked.AccessKeyID))
	if !errors.Is(err, ErrNotContained) {
		t.Fatalf("err = %v", err)
	}
	if st, _ := d.emu.KeyStatus(d.leaked.AccessKeyID); st != "Active" {
		t.Fatalf("leaked key is %s", st)
	}
	if n := len(d.emu.ObjectKeys(bucketName)); n != 2 || len(d.emu.Published(d.topic)) != 1 {
		t.Fatalf("the failure was not reported: %v", d.emu.ObjectKeys(bucketName))
	}
	if m := d.emu.Published(d.topic)[0]; !strings.Contains(m.Subject, responder.OutcomeIncomplete) {
		t.Fatalf("message %+v", m)
	}
}

func TestConfigFromEnv(t *testing.T) {
	for name, env := range map[string]map[string]string{
		"no bucket":     {envTopic: "t"},
		"bad template":  {envBucket: "b", envTopic: "t", envAssumeRole: "arn:aws:iam::1:role/x"},
		"bad wait":      {envBucket: "b", envTopic: "t", envWait: "soon"},
		"negative wait": {envBucket: "b", envTopic: "t", envWait: "-1s"},
	} {
		if _, err := configFromEnv(func(k string) string { return env[k] }, aws.Config{}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
