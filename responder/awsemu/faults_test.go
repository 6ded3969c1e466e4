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
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/keyward/keyward/responder/awsemu"
)

func fastRetries() func() aws.Retryer {
	return func() aws.Retryer {
		return retry.NewStandard(func(o *retry.StandardOptions) {
			o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return time.Millisecond, nil })
		})
	}
}

// TestDropAfterApply: the key is created, the answer lost. Without retries
// the client sees a connection error and the server holds one new key; the
// SDK's default retries make a second, orphaned one.
func TestDropAfterApply(t *testing.T) {
	emu, url, op := start(t)
	ctx := context.Background()
	acct := emu.Account()
	must(t, emu.CreateUser(acct, "bob"))
	emu.DropAfterApply("CreateAccessKey", 1)
	_, err := iam.NewFromConfig(cfg(url, op)).CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("bob")})
	var apiErr interface{ ErrorCode() string }
	if err == nil || errors.As(err, &apiErr) {
		t.Fatalf("dropped answer: %v, want a connection error", err)
	}
	if keys, _ := emu.UserKeys(acct, "bob"); len(keys) != 1 {
		t.Fatalf("after one dropped CreateAccessKey bob has %d keys, want 1", len(keys))
	}
	must(t, emu.CreateUser(acct, "carol"))
	emu.DropAfterApply("CreateAccessKey", 1)
	c := cfg(url, op)
	c.Retryer = fastRetries()
	if _, err := iam.NewFromConfig(c).CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("carol")}); err != nil {
		t.Fatalf("retried CreateAccessKey: %v", err)
	}
	if keys, _ := emu.UserKeys(acct, "carol"); len(keys) != 2 {
		t.Fatalf("a retried CreateAccessKey left %d keys, want 2 (one orphaned)", len(keys))
	}
}

// TestServerClockOffset: a server 20 minutes ahead rejects a client that
// does not correct for skew, and its Date header carries its own clock so
// that the SDK's standard retryer can.
func TestServerClockOffset(t *testing.T) {
	emu, url, op := start(t)
	ctx := context.Background()
	emu.SetClockOffset(20 * time.Minute)
	_, err := sts.NewFromConfig(cfg(url, op)).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if code(err) != "SignatureDoesNotMatch" || !strings.Contains(err.Error(), "Signature expired") {
		t.Fatalf("20 min of skew: %v", err)
	}
	resp, err := http.Post(url, "application/x-www-form-urlencoded", strings.NewReader("Action=GetCallerIdentity&Version=2011-06-15"))
	must(t, err)
	resp.Body.Close()
	date, err := http.ParseTime(resp.Header.Get("Date"))
	must(t, err)
	if d := date.Sub(emu.Now()); d > 2*time.Second || d < -2*time.Second {
		t.Errorf("Date header %s, server clock %s", date, emu.Now())
	}
	c := cfg(url, op)
	c.Retryer = fastRetries()
	if _, err := sts.NewFromConfig(c).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err != nil {
		t.Errorf("the SDK's skew correction from the Date header: %v", err)
	}
}

// TestPartitions: a GovCloud emulator speaks arn:aws-us-gov:, knows its own
// managed policies and regions, logs IAM in us-gov-west-1, and refuses a
// commercial key with InvalidClientTokenId.
func TestPartitions(t *testing.T) {
	ctx := context.Background()
	_, comURL, comOp := start(t)
	_ = comURL
	gov := awsemu.New(awsemu.Options{Partition: "aws-us-gov", Account: "210987654321"})
	srv := httptest.NewServer(gov)
	defer srv.Close()
	op, err := gov.CreateOperator(gov.Account(), "admin")
	must(t, err)
	govCfg := func(c awsemu.Credentials) aws.Config {
		x := cfg(srv.URL, c)
		x.Region = "us-gov-west-1"
		return x
	}
	who, err := sts.NewFromConfig(govCfg(op)).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil || aws.ToString(who.Arn) != "arn:aws-us-gov:iam::210987654321:user/admin" {
		t.Fatalf("GovCloud identity: %v %v", who, err)
	}
	if _, err := sts.NewFromConfig(govCfg(comOp)).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); code(err) != "InvalidClientTokenId" {
		t.Errorf("a commercial key on GovCloud: %v", err)
	}
	must(t, gov.CreateUser(gov.Account(), "leaky"))
	c := iam.NewFromConfig(govCfg(op))
	_, err = c.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String("leaky"), PolicyArn: aws.String(awsemu.QuarantineV3ARN)})
	var nse *iamtypes.NoSuchEntityException
	if !errors.As(err, &nse) {
		t.Errorf("a commercial policy ARN on GovCloud: %v", err)
	}
	_, err = c.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String("leaky"), PolicyArn: aws.String(gov.ManagedPolicyARN("AWSCompromisedKeyQuarantineV3"))})
	must(t, err)
	out, err := cloudtrail.NewFromConfig(govCfg(op)).LookupEvents(ctx, &cloudtrail.LookupEventsInput{
		LookupAttributes: []cttypes.LookupAttribute{{AttributeKey: cttypes.LookupAttributeKeyEventName, AttributeValue: aws.String("AttachUserPolicy")}}})
	if err != nil || len(out.Events) != 2 {
		t.Fatalf("GovCloud IAM events in us-gov-west-1: %v %v", out, err)
	}
}
