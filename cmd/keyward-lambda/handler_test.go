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
	fn, err := d.emu.CreateOperator(securityAccount, "keyward-lambda")
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
// role, writes the report to S3 and publishes a redacted summary.
func TestHandlerContainsMemberKey(t *testing.T) {
	d := deploy(t)
	out, err := lambda.NewHandler(d.h.Handle).Invoke(context.Background(), savedEvent(t, memberAccount, d.leaked.AccessKeyID))
	if err != nil {
		t.Fatalf("invoke: %v", err)
	}
	var sum Summary
	must(t, json.Unmarshal(out, &sum))
	if len(sum.Keys) != 1 || sum.Keys[0].Outcome != responder.OutcomeContained || sum.Keys[0].Account != memberAccount {
		t.Fatalf("summary %s", out)
	}
	if st, _ := d.emu.KeyStatus(d.leaked.AccessKeyID); st != "Inactive" {
		t.Fatalf("leaked key is %s", st)
	}
	if d.emu.CanCall(d.leaked.AccessKeyID, "iam:ListUsers") {
		t.Fatal("the leaked key still works")
	}
	keys := d.emu.ObjectKeys(bucketName)
	if len(keys) != 2 || !strings.HasSuffix(keys[0], ".json") || !strings.HasSuffix(keys[1], ".md") {
		t.Fatalf("objects %v", keys)
	}
	body, err := d.emu.Object(bucketName, keys[0])
	must(t, err)
	var inc responder.Incident
	must(t, json.Unmarshal(body, &inc))
	if inc.KeyID != d.leaked.AccessKeyID || inc.Outcome != responder.OutcomeContained || len(inc.Locations) != 1 {
		t.Fatalf("report %s", body)
	}
	msgs := d.emu.Published(d.topic)
	if len(msgs) != 1 {
		t.Fatalf("published %d messages", len(msgs))
	}
	m := msgs[0]
	if !strings.Contains(m.Subject, "contained") || !strings.Contains(m.Message, "s3://"+bucketName+"/"+keys[0]) {
		t.Fatalf("message %+v", m)
	}
	// Redacted: not the full key ID, not the user's name.
	if strings.Contains(m.Subject+m.Message, d.leaked.AccessKeyID) || strings.Contains(m.Message, "app") && strings.Contains(m.Message, "user") ||
		strings.Contains(m.Subject+m.Message, d.leaked.SecretAccessKey) {
		t.Fatalf("summary not redacted: %+v", m)
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
	if len(d.emu.ObjectKeys(bucketName)) != 2 || len(d.emu.Published(d.topic)) != 1 {
		t.Fatal("the failure was not reported")
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
