package main

import (
	"context"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/rogpeppe/go-internal/testscript"

	"github.com/keyward/keyward/responder/awsemu"
)

// responderScriptCmds are the script commands for verify, respond and the
// emulator.
func responderScriptCmds() map[string]func(ts *testscript.TestScript, neg bool, args []string) {
	return map[string]func(ts *testscript.TestScript, neg bool, args []string){
		"emulator": cmdEmulator,
		"waitfile": cmdWaitfile,
		"nosecret": cmdNosecret,
	}
}

// scriptEmulator is a script's emulator, served by the test process; the
// keyward processes a script runs reach it over loopback.
type scriptEmulator struct {
	emu *awsemu.Server
	srv *httptest.Server
	// creds by user name, as the script created them
	creds map[string]awsemu.Credentials
}

var scriptEmus sync.Map // $WORK -> *scriptEmulator

func emuOf(ts *testscript.TestScript) *scriptEmulator {
	v, ok := scriptEmus.Load(ts.Getenv("WORK"))
	if !ok {
		ts.Fatalf("emulator: run 'emulator start' first")
	}
	return v.(*scriptEmulator)
}

// cmdEmulator drives an in-process emulator:
//
//	emulator start                    start it; export AWS_ENDPOINT_URL, AWS_REGION and
//	                                  the operator's AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY
//	emulator user [-account ID] NAME  create a user with a key: NAME_KEY_ID, NAME_SECRET
//	emulator key NAME                 another key for NAME: NAME_KEY2_ID, NAME_SECRET2
//	emulator root                     a root key: ROOT_KEY_ID, ROOT_SECRET
//	emulator account ID               add an account
//	emulator limited NAME ACTION      an operator allowed all but ACTION: NAME_KEY_ID, ...
//	emulator grant NAME               attach AdministratorAccess to NAME
//	emulator envfile NAME FILE        write NAME's key as .env lines to FILE
//	emulator secret NAME FILE         write NAME's secret to FILE
//	emulator use NAME                 use NAME's key as a thief: ListUsers, a session
//	                                  used in us-east-1 and eu-west-1 (NAME_SESSION_ID)
//	emulator status KEYID STATUS      assert Active, Inactive or deleted
//	emulator attached USER ARN        assert a managed policy is attached
//	emulator inline USER POLICY       assert an inline policy exists
//	emulator calls ACTION N           assert authenticated calls of ACTION
//	emulator throttle ACTION N        throttle the next N calls
//	emulator snapshot FILE            write IAM's state to FILE
//	emulator persist NAME [SUFFIX]    as a thief with NAME's key (given AdministratorAccess):
//	                                  a second key for NAME (NAME_KEY2_ID), user svc-backup
//	                                  with a key (SVC_KEY_ID), role backdoor trusting everyone,
//	                                  assumed (BACKDOOR_SESSION_ID); SUFFIX ends both names
//	[!] emulator works KEYID          assert the credential can (cannot) still call
//	                                  iam:ListUsers or iam:CreateUser
//	emulator latency DURATION         delay every answer
//	emulator stop                     stop serving
func cmdEmulator(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) == 0 {
		ts.Fatalf("usage: emulator start|user|...")
	}
	if neg && args[0] != "status" && args[0] != "attached" && args[0] != "inline" && args[0] != "works" {
		ts.Fatalf("unsupported: ! emulator %s", args[0])
	}
	cmd, args := args[0], args[1:]
	if cmd == "start" {
		emu := awsemu.New(awsemu.Options{})
		srv := httptest.NewServer(emu)
		ts.Defer(srv.Close)
		se := &scriptEmulator{emu: emu, srv: srv, creds: map[string]awsemu.Credentials{}}
		scriptEmus.Store(ts.Getenv("WORK"), se)
		ts.Defer(func() { scriptEmus.Delete(ts.Getenv("WORK")) })
		op, err := emu.CreateOperator(emu.Account(), "admin")
		ts.Check(err)
		se.creds["admin"] = op
		for k, v := range map[string]string{
			"AWS_ENDPOINT_URL": srv.URL, "AWS_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true",
			"AWS_ACCESS_KEY_ID": op.AccessKeyID, "AWS_SECRET_ACCESS_KEY": op.SecretAccessKey,
			"AWS_CONFIG_FILE": ts.MkAbs(".aws/config"), "AWS_SHARED_CREDENTIALS_FILE": ts.MkAbs(".aws/credentials"),
			"EMU_ACCOUNT": emu.Account(),
		} {
			ts.Setenv(k, v)
		}
		return
	}
	se := emuOf(ts)
	emu, acct := se.emu, se.emu.Account()
	need := func(n int) {
		if len(args) != n {
			ts.Fatalf("emulator %s: want %d arguments", cmd, n)
		}
	}
	switch cmd {
	case "user":
		if len(args) == 3 && args[0] == "-account" {
			acct, args = args[1], args[2:]
		}
		need(1)
		c, err := seedUser(emu, acct, args[0])
		ts.Check(err)
		se.creds[args[0]] = c
		v := envName(args[0])
		ts.Setenv(v+"_KEY_ID", c.AccessKeyID)
		ts.Setenv(v+"_SECRET", c.SecretAccessKey)
	case "key":
		need(1)
		c, err := emu.CreateAccessKey(acct, args[0])
		ts.Check(err)
		ts.Setenv(envName(args[0])+"_KEY2_ID", c.AccessKeyID)
		ts.Setenv(envName(args[0])+"_SECRET2", c.SecretAccessKey)
	case "root":
		c, err := emu.CreateRootAccessKey(acct)
		ts.Check(err)
		se.creds["root"] = c
		ts.Setenv("ROOT_KEY_ID", c.AccessKeyID)
		ts.Setenv("ROOT_SECRET", c.SecretAccessKey)
	case "account":
		need(1)
		emu.AddAccount(args[0])
	case "limited":
		need(2)
		ts.Check(emu.CreateUser(acct, args[0]))
		ts.Check(emu.PutUserPolicy(acct, args[0], "most", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotAction":"`+args[1]+`","Resource":"*"}]}`))
		c, err := emu.CreateAccessKey(acct, args[0])
		ts.Check(err)
		se.creds[args[0]] = c
		ts.Setenv(envName(args[0])+"_KEY_ID", c.AccessKeyID)
		ts.Setenv(envName(args[0])+"_SECRET", c.SecretAccessKey)
	case "grant":
		need(1)
		ts.Check(emu.AttachUserPolicy(acct, args[0], awsemu.AdministratorAccessARN))
	case "envfile":
		need(2)
		c := se.user(ts, args[0])
		ts.Check(os.MkdirAll(filepath.Dir(ts.MkAbs(args[1])), 0o755))
		ts.Check(os.WriteFile(ts.MkAbs(args[1]), []byte("AWS_ACCESS_KEY_ID="+c.AccessKeyID+"\nAWS_SECRET_ACCESS_KEY="+c.SecretAccessKey+"\n"), 0o644))
	case "secret":
		need(2)
		ts.Check(os.WriteFile(ts.MkAbs(args[1]), []byte(se.user(ts, args[0]).SecretAccessKey+"\n"), 0o600))
	case "use":
		need(1)
		id, err := se.thief(se.user(ts, args[0]))
		ts.Check(err)
		ts.Setenv(envName(args[0])+"_SESSION_ID", id)
	case "persist":
		if len(args) < 1 || len(args) > 2 {
			ts.Fatalf("usage: emulator persist NAME [SUFFIX]")
		}
		suffix := ""
		if len(args) == 2 {
			suffix = args[1]
		}
		ts.Check(emu.AttachUserPolicy(acct, args[0], awsemu.AdministratorAccessARN))
		ids, err := se.persist(acct, se.user(ts, args[0]), suffix)
		ts.Check(err)
		ts.Setenv(envName(args[0])+"_KEY2_ID", ids[0])
		ts.Setenv("SVC_KEY_ID", ids[1])
		ts.Setenv("BACKDOOR_SESSION_ID", ids[2])
	case "delete":
		// Someone other than keyward deletes the user's key, with the
		// operator's credentials.
		need(1)
		c := se.user(ts, args[0])
		cfg := aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(se.srv.URL),
			Credentials: credentials.NewStaticCredentialsProvider(ts.Getenv("AWS_ACCESS_KEY_ID"), ts.Getenv("AWS_SECRET_ACCESS_KEY"), "")}
		_, err := iam.NewFromConfig(cfg).DeleteAccessKey(context.Background(), &iam.DeleteAccessKeyInput{UserName: aws.String(args[0]), AccessKeyId: aws.String(c.AccessKeyID)})
		ts.Check(err)
	case "works":
		need(1)
		works := emu.Check(args[0], "iam:ListUsers", "") == nil || emu.Check(args[0], "iam:CreateUser", "") == nil
		if works == neg {
			ts.Fatalf("credential %s works: %v", args[0], works)
		}
	case "latency":
		need(1)
		d, err := time.ParseDuration(args[0])
		ts.Check(err)
		emu.SetLatency(d)
	case "status":
		need(2)
		got, err := emu.KeyStatus(args[0])
		if errors.Is(err, awsemu.ErrNoSuchEntity) {
			got = "deleted"
		}
		if (got == args[1]) == neg {
			ts.Fatalf("key %s is %s", args[0], got)
		}
	case "attached", "inline":
		need(2)
		attached, inline, err := emu.UserPolicies(acct, args[0])
		ts.Check(err)
		list := attached
		if cmd == "inline" {
			list = inline
		}
		found := false
		for _, p := range list {
			found = found || p == args[1]
		}
		if found == neg {
			ts.Fatalf("user %s's %s policies: %v", args[0], cmd, list)
		}
	case "calls":
		need(2)
		n, err := strconv.Atoi(args[1])
		ts.Check(err)
		if got := emu.Calls(args[0]); got != n {
			ts.Fatalf("%s called %d times, want %d", args[0], got, n)
		}
	case "throttle":
		need(2)
		n, err := strconv.Atoi(args[1])
		ts.Check(err)
		emu.Throttle(args[0], n)
	case "snapshot":
		need(1)
		ts.Check(os.WriteFile(ts.MkAbs(args[0]), emu.Snapshot(), 0o644))
	case "stop":
		se.srv.Close()
	default:
		ts.Fatalf("emulator: unknown command %q", cmd)
	}
}

func (se *scriptEmulator) user(ts *testscript.TestScript, name string) awsemu.Credentials {
	c, ok := se.creds[name]
	if !ok {
		ts.Fatalf("emulator: no user %q", name)
	}
	return c
}

// thief uses a leaked key as an attacker would, leaving CloudTrail history:
// it lists users, mints a session and uses it in two regions.
func (se *scriptEmulator) thief(c awsemu.Credentials) (string, error) {
	ctx := context.Background()
	cfg := func(c awsemu.Credentials, region string) aws.Config {
		return aws.Config{Region: region, BaseEndpoint: aws.String(se.srv.URL),
			Credentials: credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, c.SessionToken)}
	}
	if _, err := iam.NewFromConfig(cfg(c, "us-east-1")).ListUsers(ctx, &iam.ListUsersInput{}); err != nil {
		return "", err
	}
	out, err := sts.NewFromConfig(cfg(c, "us-east-1")).GetSessionToken(ctx, &sts.GetSessionTokenInput{})
	if err != nil {
		return "", err
	}
	s := awsemu.Credentials{AccessKeyID: *out.Credentials.AccessKeyId, SecretAccessKey: *out.Credentials.SecretAccessKey, SessionToken: *out.Credentials.SessionToken}
	for _, region := range []string{"us-east-1", "eu-west-1"} {
		_, err := cloudtrail.NewFromConfig(cfg(s, region)).LookupEvents(ctx, &cloudtrail.LookupEventsInput{
			LookupAttributes: []cttypes.LookupAttribute{{AttributeKey: cttypes.LookupAttributeKeyEventName, AttributeValue: aws.String("ListUsers")}}})
		if err != nil {
			return "", err
		}
	}
	return s.AccessKeyID, nil
}

// persist plants what issue 8's probe planted, with the real SDK: a
// second key for the user, a user svc-backup with a key, and a role that
// trusts everyone, assumed. It returns the three credentials' IDs.
func (se *scriptEmulator) persist(acct string, c awsemu.Credentials, suffix string) ([3]string, error) {
	svc, backdoor := "svc-backup"+suffix, "backdoor"+suffix
	var ids [3]string
	ctx := context.Background()
	cfg := aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(se.srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, c.SessionToken)}
	client := iam.NewFromConfig(cfg)
	k2, err := client.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{})
	if err != nil {
		return ids, err
	}
	if _, err := client.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(svc)}); err != nil {
		return ids, err
	}
	if _, err := client.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String(svc), PolicyArn: aws.String(awsemu.AdministratorAccessARN)}); err != nil {
		return ids, err
	}
	k3, err := client.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(svc)})
	if err != nil {
		return ids, err
	}
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}]}`
	if _, err := client.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(backdoor), AssumeRolePolicyDocument: aws.String(trust)}); err != nil {
		return ids, err
	}
	if _, err := client.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String(backdoor), PolicyArn: aws.String(awsemu.AdministratorAccessARN)}); err != nil {
		return ids, err
	}
	out, err := sts.NewFromConfig(cfg).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::" + acct + ":role/" + backdoor), RoleSessionName: aws.String("x")})
	if err != nil {
		return ids, err
	}
	ids[0], ids[1], ids[2] = aws.ToString(k2.AccessKey.AccessKeyId), aws.ToString(k3.AccessKey.AccessKeyId), aws.ToString(out.Credentials.AccessKeyId)
	return ids, nil
}

// cmdWaitfile waits up to 10 s for FILE to exist and be non-empty, for
// commands started in the background.
//
//	waitfile FILE
func cmdWaitfile(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: waitfile FILE")
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if fi, err := os.Stat(ts.MkAbs(args[0])); err == nil && fi.Size() > 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	ts.Fatalf("%s did not appear", args[0])
}

// cmdNosecret asserts that no emulator user's secret appears in the last
// command's stdout and stderr, or in the FILEs given.
//
//	nosecret [FILE...]
func cmdNosecret(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! nosecret")
	}
	se := emuOf(ts)
	texts := map[string]string{"stdout": ts.ReadFile("stdout"), "stderr": ts.ReadFile("stderr")}
	for _, f := range args {
		texts[f] = ts.ReadFile(f)
	}
	for name, c := range se.creds {
		if name == "admin" {
			continue
		}
		for where, text := range texts {
			if strings.Contains(text, c.SecretAccessKey) {
				ts.Fatalf("%s holds %s's secret", where, name)
			}
		}
	}
}
