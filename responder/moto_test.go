package responder

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/keyward/keyward/patterns/patternstest"
)

// motoBootstrapCalls is how many requests moto serves without checking
// signatures (INITIAL_NO_AUTH_ACTION_COUNT): enough to create the operator
// and the leaked user.
const motoBootstrapCalls = 5

// TestMotoSecondOpinion runs validation and deactivation against
// moto_server, an independent implementation, for the calls it has. Moto
// verifies signatures but ignores key status and nests its auth errors (the
// Go SDK reads them as UnknownError), so only what it does faithfully is
// asserted (AWS-RESPONSE.md).
func TestMotoSecondOpinion(t *testing.T) {
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		t.Skip("moto_server is not installed")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	cmd := exec.CommandContext(ctx, bin, "-H", "127.0.0.1", "-p", fmt.Sprint(port))
	cmd.Env = append(os.Environ(), fmt.Sprintf("INITIAL_NO_AUTH_ACTION_COUNT=%d", motoBootstrapCalls))
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	// Kill moto before waiting for it, whatever way the test ends.
	defer func() {
		cancel()
		cmd.Wait()
	}()
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	deadline := time.Now().Add(20 * time.Second)
	// A bounded client: a server that accepts but does not answer must not
	// hang the suite.
	poll := &http.Client{Timeout: 2 * time.Second}
	for {
		resp, err := poll.Get(url + "/moto-api/")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Skipf("moto_server did not start: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}

	gen := patternstest.New(11)
	boot := aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(url),
		Credentials: credentials.NewStaticCredentialsProvider(gen.KeyID("AKIA", "123456789012"), gen.Secret(), "")}
	c := iam.NewFromConfig(boot)
	call := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	_, err = c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("admin")})
	call(err)
	opKey, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("admin")})
	call(err)
	_, err = c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("admin"), PolicyName: aws.String("admin"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`)})
	call(err)
	_, err = c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("alice")})
	call(err)
	leakKey, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("alice")})
	call(err)

	leaked := NewCredential(*leakKey.AccessKey.AccessKeyId, *leakKey.AccessKey.SecretAccessKey, "")
	v := &Validator{Endpoint: url, Backoff: time.Millisecond, Spacing: time.Millisecond, Attempts: 1}
	if got := v.Validate(ctx, leaked); got.Status != StatusValid || got.ARN == "" {
		t.Fatalf("moto: Validate(live key) = %+v, want valid", got)
	}
	wrong := NewCredential(leaked.KeyID, gen.Secret(), "")
	if got := v.Validate(ctx, wrong); got.Status == StatusValid {
		t.Fatalf("moto: a wrong secret validated: %+v", got)
	} else {
		t.Logf("moto: wrong secret -> %s (%s)", got.Status, got.Code)
	}

	op := aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(url),
		Credentials: credentials.NewStaticCredentialsProvider(*opKey.AccessKey.AccessKeyId, *opKey.AccessKey.SecretAccessKey, "")}
	oc := iam.NewFromConfig(op)
	_, err = oc.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String("alice"), AccessKeyId: aws.String(leaked.KeyID), Status: iamtypes.StatusTypeInactive})
	call(err)
	keys, err := oc.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("alice")})
	call(err)
	if len(keys.AccessKeyMetadata) != 1 || keys.AccessKeyMetadata[0].Status != iamtypes.StatusTypeInactive {
		t.Fatalf("moto: after deactivation %+v", keys.AccessKeyMetadata)
	}
	lu, err := oc.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: aws.String(leaked.KeyID)})
	call(err)
	if aws.ToString(lu.UserName) != "alice" {
		t.Fatalf("moto: owner %q", aws.ToString(lu.UserName))
	}

	// The whole runbook against moto, which lacks the quarantine policies
	// (or some of them) and LookupEvents: a failed quarantine must not stop
	// the session deny, and the outcome is not contained. The deactivated
	// key is deleted first: this setup client retries like any SDK client,
	// and a CreateAccessKey whose answer a loaded moto was slow to send is
	// sent again, which with two keys already would hit the quota of two
	// (keyward's own client never retries it).
	_, err = oc.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String("alice"), AccessKeyId: aws.String(leaked.KeyID)})
	call(err)
	fresh, err := oc.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("alice")})
	call(err)
	r := &Runner{Config: op, Validator: v, Options: Options{Regions: []string{"us-east-1"}, LookupInterval: time.Millisecond,
		LookupAttempts: 1, PollInterval: 5 * time.Millisecond, PollTimeout: time.Second}}
	res, _ := r.Execute(ctx, NewCredential(*fresh.AccessKey.AccessKeyId, *fresh.AccessKey.SecretAccessKey, ""))
	for _, s := range res.Incident.Steps {
		t.Logf("moto: %s %s %s%s", s.ID, s.Status, s.Detail, s.Error)
	}
	if stepOf(res.Incident, StepRevokeSessions).Status != StepDone {
		t.Fatalf("moto: the session deny did not run: %+v", stepOf(res.Incident, StepRevokeSessions))
	}
	if res.Incident.Outcome == OutcomeContained {
		t.Fatal("moto: contained without an investigation")
	}
}
