package awsemu_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/keyward/keyward/patterns"
	"github.com/keyward/keyward/responder/awsemu"
)

func start(t *testing.T) (*awsemu.Server, string, awsemu.Credentials) {
	t.Helper()
	emu := awsemu.New(awsemu.Options{})
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	op, err := emu.CreateOperator(emu.Account(), "admin")
	if err != nil {
		t.Fatal(err)
	}
	return emu, srv.URL, op
}

func cfg(url string, c awsemu.Credentials) aws.Config {
	return aws.Config{Region: "eu-west-1", BaseEndpoint: aws.String(url),
		Credentials: credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, c.SessionToken),
		Retryer:     func() aws.Retryer { return aws.NopRetryer{} }}
}

func code(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// TestAuthErrors checks the authentication errors the real SDK reads back.
func TestAuthErrors(t *testing.T) {
	emu, url, op := start(t)
	ctx := context.Background()
	// Unsigned requests.
	anon := cfg(url, op)
	anon.Credentials = aws.AnonymousCredentials{}
	_, err := sts.NewFromConfig(anon).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if code(err) != "MissingAuthenticationToken" {
		t.Errorf("anonymous: %v", err)
	}
	// A long-term key with a token it never had.
	withTok := op
	withTok.SessionToken = "IQoJb3JpZ2luX2VjEXAMPLE"
	if _, err := sts.NewFromConfig(cfg(url, withTok)).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); code(err) != "InvalidClientTokenId" {
		t.Errorf("token on a long-term key: %v", err)
	}
	// A session without its token.
	out, err := sts.NewFromConfig(cfg(url, op)).GetSessionToken(ctx, &sts.GetSessionTokenInput{})
	if err != nil {
		t.Fatal(err)
	}
	noTok := awsemu.Credentials{AccessKeyID: *out.Credentials.AccessKeyId, SecretAccessKey: *out.Credentials.SecretAccessKey}
	if _, err := sts.NewFromConfig(cfg(url, noTok)).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); code(err) != "InvalidClientTokenId" {
		t.Errorf("session without token: %v", err)
	}
	// Tampering with the body after signing breaks the signature.
	tamper := cfg(url, op)
	tamper.HTTPClient = tamperClient{}
	if _, err := iam.NewFromConfig(tamper).ListUsers(ctx, &iam.ListUsersInput{}); code(err) != "SignatureDoesNotMatch" {
		t.Errorf("tampered body: %v", err)
	}
	// Any region is accepted, and its events land in us-east-1 for IAM.
	if _, err := iam.NewFromConfig(cfg(url, op)).ListUsers(ctx, &iam.ListUsersInput{}); err != nil {
		t.Errorf("eu-west-1 signed IAM call: %v", err)
	}
	_ = emu
}

type tamperClient struct{}

func (tamperClient) Do(r *http.Request) (*http.Response, error) {
	r.Body = http.NoBody
	r.ContentLength = 0
	r.Header.Del("Content-Length")
	r.URL.RawQuery = "Action=ListUsers&Version=2010-05-08&MaxItems=1"
	return http.DefaultClient.Do(r)
}

// TestIAMState covers the 2-key limit, typed errors and key IDs that decode
// to the account.
func TestIAMState(t *testing.T) {
	emu, url, op := start(t)
	ctx := context.Background()
	c := iam.NewFromConfig(cfg(url, op))
	if _, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("bob")}); err != nil {
		t.Fatal(err)
	}
	k, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("bob")})
	if err != nil {
		t.Fatal(err)
	}
	if acct, _ := patterns.AccountID(*k.AccessKey.AccessKeyId); acct != emu.Account() {
		t.Errorf("key %s decodes to %s, want %s", *k.AccessKey.AccessKeyId, acct, emu.Account())
	}
	if _, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("bob")}); err != nil {
		t.Fatal(err)
	}
	_, err = c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("bob")})
	var le *iamtypes.LimitExceededException
	if !errors.As(err, &le) {
		t.Errorf("third key: %v, want LimitExceeded", err)
	}
	_, err = c.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String("bob"), AccessKeyId: aws.String("AKIAIOSFODNN7EXAMPLE"), Status: iamtypes.StatusTypeInactive})
	var nse *iamtypes.NoSuchEntityException
	if !errors.As(err, &nse) {
		t.Errorf("unknown key: %v, want NoSuchEntity", err)
	}
	lu, err := c.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: k.AccessKey.AccessKeyId})
	if err != nil || aws.ToString(lu.UserName) != "bob" {
		t.Errorf("GetAccessKeyLastUsed: %v %v", lu, err)
	}
}

// TestPolicyModel checks explicit deny, implicit deny and the
// TokenIssueTime condition.
func TestPolicyModel(t *testing.T) {
	emu, url, _ := start(t)
	ctx := context.Background()
	acct := emu.Account()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(emu.CreateUser(acct, "u"))
	must(emu.PutUserPolicy(acct, "u", "p", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["cloudtrail:Lookup*","sts:GetSessionToken"],"Resource":"*"}}`))
	k, err := emu.CreateAccessKey(acct, "u")
	must(err)
	if _, err := iam.NewFromConfig(cfg(url, k)).ListUsers(ctx, &iam.ListUsersInput{}); code(err) != "AccessDenied" {
		t.Errorf("implicit deny: %v", err)
	}
	lookup := func(c awsemu.Credentials) error {
		_, err := cloudtrail.NewFromConfig(cfg(url, c)).LookupEvents(ctx, &cloudtrail.LookupEventsInput{})
		return err
	}
	out, err := sts.NewFromConfig(cfg(url, k)).GetSessionToken(ctx, &sts.GetSessionTokenInput{})
	must(err)
	sess := awsemu.Credentials{AccessKeyID: *out.Credentials.AccessKeyId, SecretAccessKey: *out.Credentials.SecretAccessKey, SessionToken: *out.Credentials.SessionToken}
	must(lookup(sess))
	cutoff := time.Now().Add(2 * time.Second).UTC().Format(time.RFC3339)
	must(emu.PutUserPolicy(acct, "u", "revoke", `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"DateLessThan":{"aws:TokenIssueTime":"`+cutoff+`"}}}]}`))
	if err := lookup(sess); code(err) != "AccessDenied" {
		t.Errorf("old session after revoke: %v", err)
	}
	if err := lookup(k); err != nil {
		t.Errorf("the long-term key is not a session and must not be denied: %v", err)
	}
	must(emu.AttachUserPolicy(acct, "u", awsemu.QuarantineV3ARN))
	if err := lookup(k); code(err) != "AccessDenied" {
		t.Errorf("quarantined key: %v", err)
	}
	if _, err := sts.NewFromConfig(cfg(url, k)).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err != nil {
		t.Errorf("GetCallerIdentity cannot be denied: %v", err)
	}
}

// TestLookupEventsPaging pages newest first and rejects a foreign token.
func TestLookupEventsPaging(t *testing.T) {
	_, url, op := start(t)
	ctx := context.Background()
	s := sts.NewFromConfig(cfg(url, op))
	for i := 0; i < 7; i++ {
		if _, err := s.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err != nil {
			t.Fatal(err)
		}
	}
	// STS events land in the region the caller signed for (eu-west-1).
	ct := cloudtrail.NewFromConfig(cfg(url, op))
	in := &cloudtrail.LookupEventsInput{MaxResults: aws.Int32(3),
		LookupAttributes: []cttypes.LookupAttribute{{AttributeKey: cttypes.LookupAttributeKeyAccessKeyId, AttributeValue: aws.String(op.AccessKeyID)}}}
	var names []string
	var last time.Time
	p := cloudtrail.NewLookupEventsPaginator(ct, in)
	pages := 0
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, e := range out.Events {
			if !last.IsZero() && e.EventTime.After(last) {
				t.Error("events are not newest first")
			}
			last = *e.EventTime
			names = append(names, *e.EventName)
			if !strings.Contains(aws.ToString(e.CloudTrailEvent), `"userIdentity"`) {
				t.Errorf("event without userIdentity: %s", aws.ToString(e.CloudTrailEvent))
			}
		}
	}
	if len(names) < 7 || pages < 3 {
		t.Fatalf("got %d events in %d pages", len(names), pages)
	}
	_, err := ct.LookupEvents(ctx, &cloudtrail.LookupEventsInput{NextToken: aws.String("bm9wZQ")})
	if code(err) != "InvalidNextTokenException" {
		t.Errorf("bad token: %v", err)
	}
	_, err = ct.LookupEvents(ctx, &cloudtrail.LookupEventsInput{LookupAttributes: []cttypes.LookupAttribute{
		{AttributeKey: cttypes.LookupAttributeKeyEventName, AttributeValue: aws.String("a")},
		{AttributeKey: cttypes.LookupAttributeKeyEventName, AttributeValue: aws.String("b")}}})
	if code(err) != "InvalidLookupAttributesException" {
		t.Errorf("two attributes: %v", err)
	}
}

// TestFaults injects throttling and 5xx, which the SDK's standard retryer
// rides out.
func TestFaults(t *testing.T) {
	emu, url, op := start(t)
	ctx := context.Background()
	c := cfg(url, op)
	c.Retryer = func() aws.Retryer {
		return retry.NewStandard(func(o *retry.StandardOptions) {
			o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return time.Millisecond, nil })
		})
	}
	emu.Throttle("LookupEvents", 2)
	if _, err := cloudtrail.NewFromConfig(c).LookupEvents(ctx, &cloudtrail.LookupEventsInput{}); err != nil {
		t.Errorf("2 throttles: %v", err)
	}
	emu.FailServer("*", 1)
	if _, err := iam.NewFromConfig(c).ListUsers(ctx, &iam.ListUsersInput{}); err != nil {
		t.Errorf("1 server error: %v", err)
	}
	emu.Throttle("ListUsers", 10)
	if _, err := iam.NewFromConfig(cfg(url, op)).ListUsers(ctx, &iam.ListUsersInput{}); code(err) != "Throttling" {
		t.Errorf("throttled: %v", err)
	}
	emu.Throttle("ListUsers", 0)
	emu.SetLatency(30 * time.Millisecond)
	t0 := time.Now()
	if _, err := iam.NewFromConfig(cfg(url, op)).ListUsers(ctx, &iam.ListUsersInput{}); err != nil || time.Since(t0) < 30*time.Millisecond {
		t.Errorf("latency: %v after %s", err, time.Since(t0))
	}
}
