package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/rogpeppe/go-internal/testscript"

	"github.com/keyward/keyward/responder"
)

// healthScriptCmds are the script commands for rotate, audit and the
// Health-event responder (issue 11).
func healthScriptCmds() map[string]func(ts *testscript.TestScript, neg bool, args []string) {
	return map[string]func(ts *testscript.TestScript, neg bool, args []string){
		"selfuser":      cmdSelfuser,
		"keycount":      cmdKeycount,
		"hygiene":       cmdHygiene,
		"responderrole": cmdResponderRole,
		"healthevent":   cmdHealthEvent,
		"stackoutputs":  cmdStackOutputs,
	}
}

// ownKeysPolicy is what 'keyward rotate --print-policy' prints, for user:
// the emulator has no policy variables, so ${aws:username} is put in here.
func ownKeysPolicy(user string) string {
	return strings.ReplaceAll(responder.RotatePolicy().JSON(), "${aws:username}", user)
}

// cmdSelfuser creates an IAM user who may manage its own keys, and appends
// its key as a profile to $AWS_SHARED_CREDENTIALS_FILE:
//
//	selfuser NAME PROFILE    exports NAME_KEY_ID
func cmdSelfuser(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: selfuser NAME PROFILE")
	}
	se := emuOf(ts)
	acct := se.emu.Account()
	ts.Check(se.emu.CreateUser(acct, args[0]))
	ts.Check(se.emu.PutUserPolicy(acct, args[0], "self", ownKeysPolicy(args[0])))
	c, err := se.emu.CreateAccessKey(acct, args[0])
	ts.Check(err)
	se.creds[args[0]] = c
	ts.Setenv(envName(args[0])+"_KEY_ID", c.AccessKeyID)
	path := ts.Getenv("AWS_SHARED_CREDENTIALS_FILE")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	ts.Check(err)
	_, err = fmt.Fprintf(f, "[%s]\naws_access_key_id = %s\naws_secret_access_key = %s\n", args[1], c.AccessKeyID, c.SecretAccessKey)
	ts.Check(err)
	ts.Check(f.Close())
}

// cmdKeycount asserts how many access keys an IAM user has:
//
//	keycount USER N
func cmdKeycount(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: keycount USER N")
	}
	want, err := strconv.Atoi(args[1])
	ts.Check(err)
	se := emuOf(ts)
	op := se.creds["admin"]
	client := iam.NewFromConfig(aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(se.srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider(op.AccessKeyID, op.SecretAccessKey, "")})
	out, err := client.ListAccessKeys(context.Background(), &iam.ListAccessKeysInput{UserName: aws.String(args[0])})
	ts.Check(err)
	if got := len(out.AccessKeyMetadata); got != want {
		ts.Fatalf("user %s has %d keys, want %d", args[0], got, want)
	}
}

// cmdHygiene sets up what an account accumulates over months, for audits:
//
//	hygiene rootmfa on|off
//	hygiene keyage USER DAYS          USER's first key was created DAYS ago
//	hygiene keyused USER DAYS|never   and last used DAYS ago, in s3/eu-west-1
//	hygiene password USER             USER gets a console password
//	hygiene mfa USER                  USER gets an MFA device
func cmdHygiene(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: hygiene rootmfa|keyage|keyused|password|mfa ...")
	}
	se := emuOf(ts)
	acct, now := se.emu.Account(), time.Now()
	keyOf := func(user string) string {
		c, ok := se.creds[user]
		if !ok {
			ts.Fatalf("hygiene: no key for %s", user)
		}
		return c.AccessKeyID
	}
	days := func(s string) time.Time {
		n, err := strconv.Atoi(s)
		ts.Check(err)
		return now.AddDate(0, 0, -n)
	}
	switch args[0] {
	case "rootmfa":
		ts.Check(se.emu.SetRootMFA(acct, args[1] == "on"))
	case "keyage":
		ts.Check(se.emu.SetKeyCreated(keyOf(args[1]), days(args[2])))
	case "keyused":
		var t time.Time
		if args[2] != "never" {
			t = days(args[2])
		}
		ts.Check(se.emu.SetKeyLastUsed(keyOf(args[1]), t, "s3", "eu-west-1"))
	case "password":
		ts.Check(se.emu.SetUserPassword(acct, args[1], now.AddDate(0, 0, -3), time.Time{}))
	case "mfa":
		ts.Check(se.emu.EnableUserMFA(acct, args[1]))
	default:
		ts.Fatalf("hygiene: unknown %q", args[0])
	}
}

// cmdResponderRole creates the KeywardResponder role of deploy/aws in a
// member account, trusting the emulator's first account, with the
// keyward-runbook policy 'keyward respond --print-policy' prints; -missing
// leaves an action out, as a StackSet not updated after an upgrade would:
//
//	responderrole [-missing ACTION] ACCOUNT
func cmdResponderRole(ts *testscript.TestScript, neg bool, args []string) {
	missing, deny := "", ""
	if len(args) == 3 && args[0] == "-missing" {
		missing, args = args[1], args[2:]
	}
	if len(args) == 3 && args[0] == "-deny" {
		deny, args = args[1], args[2:]
	}
	if neg || len(args) != 1 {
		ts.Fatalf("usage: responderrole [-missing ACTION | -deny ACTION] ACCOUNT")
	}
	se := emuOf(ts)
	pol := responder.ResponderPolicy(responder.Options{})
	if missing != "" {
		var kept []string
		for _, a := range pol.Statement[0].Action {
			if a != missing {
				kept = append(kept, a)
			}
		}
		pol.Statement[0].Action = kept
	}
	if deny != "" {
		pol.Statement = append(pol.Statement, responder.PolicyStatement{Effect: "Deny", Action: []string{deny}, Resource: []string{"*"}})
	}
	ts.Check(se.emu.CreateRole(args[0], "KeywardResponder", ""))
	ts.Check(se.emu.PutRolePolicy(args[0], "KeywardResponder", responder.ResponderPolicyName, pol.JSON()))
	ts.Check(se.emu.SetRoleTrust(args[0], "KeywardResponder", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::`+se.emu.Account()+`:root"},"Action":"sts:AssumeRole"}]}`))
}

// cmdHealthEvent writes an AWS_RISK_CREDENTIALS_EXPOSED event of AWS's
// documented shape for a key generated at test time:
//
//	healthevent FILE ACCOUNT KEYID
func cmdHealthEvent(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: healthevent FILE ACCOUNT KEYID")
	}
	ev := `{"version":"0","id":"7bf73129-1428-4cd3-a780-95db273d1602","detail-type":"AWS Health Event","source":"aws.health","account":"` + args[1] +
		`","time":"2026-12-01T10:00:00Z","region":"us-east-1","resources":[],"detail":{"eventArn":"arn:aws:health:global::event/RISK/AWS_RISK_CREDENTIALS_EXPOSED/AWS_RISK_CREDENTIALS_EXPOSED_TEST","service":"RISK","eventTypeCode":"AWS_RISK_CREDENTIALS_EXPOSED","eventTypeCategory":"issue","startTime":"Tue, 1 Dec 2026 10:00:00 GMT","eventDescription":[{"language":"en_US","latestDescription":"Your access key was found in a public GitHub repository."}],"affectedEntities":[{"entityValue":"` + args[2] + `"}]}}`
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), []byte(ev), 0o600))
}

// cmdStackOutputs creates what deploy/aws's stack outputs name, in the
// emulator's first account: the report bucket and the topic (exported as
// TOPIC_ARN).
//
//	stackoutputs BUCKET TOPIC
func cmdStackOutputs(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: stackoutputs BUCKET TOPIC")
	}
	se := emuOf(ts)
	ts.Check(se.emu.CreateBucket(se.emu.Account(), args[0]))
	arn, err := se.emu.CreateTopic(se.emu.Account(), "us-east-1", args[1])
	ts.Check(err)
	ts.Setenv("TOPIC_ARN", arn)
}
