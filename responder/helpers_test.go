package responder

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/keyward/keyward/patterns/patternstest"
	"github.com/keyward/keyward/responder/awsemu"
)

// lab is an emulator with an operator and a leaked user key, reached by
// the real SDK clients over HTTP.
type lab struct {
	emu      *awsemu.Server
	srv      *httptest.Server
	acct     string
	operator awsemu.Credentials
	leaked   awsemu.Credentials
	cfg      aws.Config // the operator's
	journal  string     // the adversary suite's journal
	// noQuarantine runs the adversary suite without the quarantine.
	noQuarantine bool
	offset       atomic.Int64
}

// newClockLab is a lab whose emulator clock tests move with advance.
func newClockLab(t *testing.T) *lab { return newLab(t) }

// advance moves the emulator's clock, to age credentials without sleeping.
func (l *lab) advance(d time.Duration) { l.offset.Add(int64(d)) }

func (l *lab) iam() *iam.Client { return iam.NewFromConfig(l.cfg) }

func (l *lab) deleteKey(userName, id string) error {
	_, err := l.iam().DeleteAccessKey(context.Background(), &iam.DeleteAccessKeyInput{UserName: aws.String(userName), AccessKeyId: aws.String(id)})
	return err
}

func (l *lab) deactivate(userName, id string) error {
	_, err := l.iam().UpdateAccessKey(context.Background(), &iam.UpdateAccessKeyInput{UserName: aws.String(userName), AccessKeyId: aws.String(id), Status: iamtypes.StatusTypeInactive})
	return err
}

// sessionToken derives ASIA credentials from c with GetSessionToken.
func (l *lab) sessionToken(t *testing.T, c awsemu.Credentials, secs int32) awsemu.Credentials {
	t.Helper()
	out, err := sts.NewFromConfig(l.config(c)).GetSessionToken(context.Background(), &sts.GetSessionTokenInput{DurationSeconds: aws.Int32(secs)})
	if err != nil {
		t.Fatal(err)
	}
	return awsemu.Credentials{AccessKeyID: *out.Credentials.AccessKeyId, SecretAccessKey: *out.Credentials.SecretAccessKey, SessionToken: *out.Credentials.SessionToken}
}

func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }

func newLab(t *testing.T) *lab { return newLabWith(t, nil) }

// newLabWith is newLab with emulator options set by opt.
func newLabWith(t *testing.T, opt func(*awsemu.Options)) *lab {
	t.Helper()
	l := &lab{}
	o := awsemu.Options{
		Rand: patternstest.New(uint64(len(t.Name())) + 7),
		Now:  func() time.Time { return time.Now().Add(time.Duration(l.offset.Load())) },
	}
	if opt != nil {
		opt(&o)
	}
	emu := awsemu.New(o)
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	l.emu, l.srv, l.acct = emu, srv, emu.Account()
	var err error
	if l.operator, err = emu.CreateOperator(l.acct, "admin"); err != nil {
		t.Fatal(err)
	}
	if err := emu.CreateUser(l.acct, "alice"); err != nil {
		t.Fatal(err)
	}
	if err := emu.PutUserPolicy(l.acct, "alice", "work", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["cloudtrail:LookupEvents","sts:GetSessionToken","sts:AssumeRole","iam:ListUsers"],"Resource":"*"}]}`); err != nil {
		t.Fatal(err)
	}
	if l.leaked, err = emu.CreateAccessKey(l.acct, "alice"); err != nil {
		t.Fatal(err)
	}
	l.cfg = l.config(l.operator)
	return l
}

// config is an SDK configuration for creds pointed at the emulator, with
// retries that do not sleep, so tests stay fast.
func (l *lab) config(c awsemu.Credentials) aws.Config {
	return aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, c.SessionToken),
		BaseEndpoint: aws.String(l.srv.URL),
		Retryer: func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return time.Millisecond, nil })
				o.RateLimiter = noRateLimit{}
			})
		},
	}
}

func (l *lab) validator() *Validator {
	return &Validator{Endpoint: l.srv.URL, Backoff: time.Millisecond, Spacing: time.Millisecond}
}

func cred(c awsemu.Credentials) Credential {
	return NewCredential(c.AccessKeyID, c.SecretAccessKey, c.SessionToken)
}

type noRateLimit struct{}

func (noRateLimit) GetToken(context.Context, uint) (func() error, error) {
	return func() error { return nil }, nil
}
func (noRateLimit) AddTokens(uint) error { return nil }

// firstRun executes the runbook as a first response: a re-check is due
// afterwards by design (CloudTrail's delivery delay), which these tests do
// not exercise, so that one error is dropped and the outcome checked
// instead.
func firstRun(r *Runner, c Credential) (*Result, error) {
	res, err := r.Execute(context.Background(), c)
	var pe *RecheckPendingError
	if errors.As(err, &pe) && res.Incident.Outcome == OutcomeAwaitingRecheck {
		return res, nil
	}
	return res, err
}
