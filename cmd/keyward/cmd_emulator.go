package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/keyward/keyward/responder/awsemu"
)

const emulatorUsage = `Usage: keyward emulator --env-file FILE [flags]

Runs a local emulator of the AWS STS, IAM and CloudTrail calls the
responder makes, so the whole flow can be tried on a laptop with no AWS
account. It verifies SigV4 signatures, enforces key status, keeps IAM
users and keys (at most 2 per user), records every call as a CloudTrail
event and mints ASIA session credentials. State lives in memory and is
lost when it stops (Ctrl-C). It listens on loopback only by default; never
expose it: it keeps its secrets in plain text.

On start it creates an operator user "admin" with AdministratorAccess and,
for each --seed-user, a user with a key and an application's rights (each
--seed-admin: AdministratorAccess, a leak worth an attacker's time). Their
credentials are written as shell export lines to the --env-file (mode 0600,
which must not exist):

  AWS_ENDPOINT_URL, AWS_REGION      where the emulator is
  AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY      the operator
  <USER>_ACCESS_KEY_ID, <USER>_SECRET_ACCESS_KEY  each seeded user
  KEYWARD_EMU_ACCOUNT, KEYWARD_EMU_MEMBER_ACCOUNTS  the account IDs

Fidelity and faults:
  --partition aws-us-gov|aws-cn   ARNs, managed policies and regions of that
                                  partition (arn:aws-us-gov:...)
  --accounts ID[,ID...]           member accounts, each with a role
                                  OrganizationAccountAccessRole that the
                                  first account may assume
  --no-quarantine-policies        no AWSCompromisedKeyQuarantine* policies:
                                  attaching one answers NoSuchEntity
  --cloudtrail-delay 5m           events reach LookupEvents only after this
                                  (AWS: about 5 minutes on average)
  --clock-offset-server 20m       the server's clock runs ahead (negative:
                                  behind); its Date header tells the truth
  --drop ACTION=N                 apply the next N calls of ACTION, then drop
                                  the connection unanswered

Examples:
  keyward emulator --env-file emu.env --seed-user alice &
  . ./emu.env
  aws iam list-users        (the AWS CLI works against it too)
  keyward emulator --env-file gov.env --partition aws-us-gov --seed-user bob &

Exit codes:
  0  stopped by Ctrl-C
  2  error
`

// emulatorOptions are the flags of 'keyward emulator'.
type emulatorOptions struct {
	listen      string
	account     string
	envFile     string
	seedUsers   []string
	seedAdmins  []string
	throttle    []string
	latency     time.Duration
	consistency time.Duration

	partition    string
	accounts     []string
	noQuarantine bool
	ctDelay      time.Duration
	clockOffset  time.Duration
	drop         []string
}

func (o *emulatorOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.listen, "listen", "127.0.0.1:0", "listen on `ADDR` (port 0 picks a free one)")
	fs.StringVar(&o.account, "account", awsemu.DefaultAccount, "the emulated account's `ID`")
	fs.StringVar(&o.envFile, "env-file", "", "write the endpoint and credentials as export lines to `FILE` (0600; must not exist)")
	fs.StringArrayVar(&o.seedUsers, "seed-user", nil, "create IAM user `NAME` with an access key (repeatable)")
	fs.StringArrayVar(&o.seedAdmins, "seed-admin", nil, "create IAM user `NAME` with AdministratorAccess and an access key (repeatable)")
	fs.StringArrayVar(&o.throttle, "throttle", nil, "throttle the next N calls of an API: `ACTION=N` (repeatable)")
	fs.DurationVar(&o.latency, "latency", 0, "delay every answer by `DURATION`")
	fs.DurationVar(&o.consistency, "consistency-delay", 0, "key status changes reach authentication after `DURATION`")
	fs.StringVar(&o.partition, "partition", "aws", "emulate `PARTITION`: aws, aws-us-gov or aws-cn")
	fs.StringSliceVar(&o.accounts, "accounts", nil, "add member accounts `ID,...`, each with OrganizationAccountAccessRole")
	fs.BoolVar(&o.noQuarantine, "no-quarantine-policies", false, "start without the AWSCompromisedKeyQuarantine managed policies")
	fs.DurationVar(&o.ctDelay, "cloudtrail-delay", 0, "CloudTrail events reach LookupEvents after `DURATION`")
	fs.DurationVar(&o.clockOffset, "clock-offset-server", 0, "run the server's clock `DURATION` ahead of the real one (negative: behind)")
	fs.StringArrayVar(&o.drop, "drop", nil, "apply the next N calls of an API, then drop the connection: `ACTION=N` (repeatable)")
}

// accountIDRE is an AWS account ID.
var accountIDRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[0-9]{12}$`) })

// memberRoleTrust lets the management account assume a member's role, as
// AWS Organizations sets up OrganizationAccountAccessRole.
func memberRoleTrust(partition, mgmt string) string {
	return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:` + partition + `:iam::` + mgmt +
		`:root"},"Action":"sts:AssumeRole"}]}`
}

// parseCounts parses repeatable ACTION=N flags.
func parseCounts(flag string, vals []string) (map[string]int, error) {
	out := map[string]int{}
	for _, t := range vals {
		action, n, ok := strings.Cut(t, "=")
		var count int
		if _, err := fmt.Sscanf(n, "%d", &count); !ok || err != nil || action == "" || count < 0 {
			return nil, usagef("for example --"+flag+" CreateAccessKey=1", "bad --%s %q", flag, t)
		}
		out[action] = count
	}
	return out, nil
}

var userNameRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9+=,.@_-]{1,64}$`) })

func runEmulator(ctx context.Context, e *env, args []string) error {
	var o emulatorOptions
	fs := newFlagSet("emulator")
	o.addFlags(fs)
	if err := parseFlags(fs, emulatorUsage, e, args); err != nil {
		return err
	}
	if o.envFile == "" {
		return usagef("the credentials it creates go to a file, never to the terminal: --env-file emu.env", "--env-file is required")
	}
	seen := map[string]bool{"admin": true}
	for _, u := range append(append([]string(nil), o.seedUsers...), o.seedAdmins...) {
		if !userNameRE().MatchString(u) || seen[u] {
			return usagef("IAM user names are 1-64 of A-Z a-z 0-9 +=,.@_-, each once (and admin is the operator)", "bad seeded user %q", u)
		}
		seen[u] = true
	}
	switch o.partition {
	case "aws", "aws-us-gov", "aws-cn":
	default:
		return usagef("the partitions are aws, aws-us-gov and aws-cn", "bad --partition %q", o.partition)
	}
	if !accountIDRE().MatchString(o.account) {
		return usagef("an account ID is 12 digits", "bad --account %q", o.account)
	}
	for _, a := range o.accounts {
		if !accountIDRE().MatchString(a) || a == o.account {
			return usagef("member account IDs are 12 digits, other than --account", "bad --accounts entry %q", a)
		}
	}
	if o.ctDelay < 0 {
		return usagef("for example --cloudtrail-delay 5m", "--cloudtrail-delay must not be negative")
	}
	throttles, err := parseCounts("throttle", o.throttle)
	if err != nil {
		return err
	}
	drops, err := parseCounts("drop", o.drop)
	if err != nil {
		return err
	}
	emu := awsemu.New(awsemu.Options{Account: o.account, Partition: o.partition,
		NoQuarantinePolicies: o.noQuarantine, CloudTrailDelay: o.ctDelay})
	for action, n := range throttles {
		emu.Throttle(action, n)
	}
	for action, n := range drops {
		emu.DropAfterApply(action, n)
	}
	emu.SetLatency(o.latency)
	emu.SetConsistencyDelay(o.consistency)
	emu.SetClockOffset(o.clockOffset)
	for _, member := range o.accounts {
		emu.AddAccount(member)
		if err := emu.CreateRole(member, "OrganizationAccountAccessRole", ""); err != nil {
			return fmt.Errorf("emulator: %w", err)
		}
		if err := emu.AttachRolePolicy(member, "OrganizationAccountAccessRole", emu.ManagedPolicyARN("AdministratorAccess")); err != nil {
			return fmt.Errorf("emulator: %w", err)
		}
		if err := emu.SetRoleTrust(member, "OrganizationAccountAccessRole", memberRoleTrust(o.partition, o.account)); err != nil {
			return fmt.Errorf("emulator: %w", err)
		}
	}

	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return fmt.Errorf("emulator: %w", err)
	}
	if a, ok := ln.Addr().(*net.TCPAddr); ok && !a.IP.IsLoopback() {
		warnf(e.stderr, "the emulator listens on %s, beyond loopback: anyone who reaches it can read its keys", a)
	}
	url := "http://" + ln.Addr().String()
	acct := emu.Account()
	op, err := emu.CreateOperator(acct, "admin")
	if err != nil {
		ln.Close()
		return fmt.Errorf("emulator: %w", err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# keyward emulator at %s, account %s; valid while it runs.\n", url, acct)
	fmt.Fprintf(&b, "export AWS_ENDPOINT_URL=%s\nexport AWS_REGION=%s\nexport AWS_EC2_METADATA_DISABLED=true\n", url, partitionRegion(o.partition))
	fmt.Fprintf(&b, "export KEYWARD_EMU_ACCOUNT=%s\nexport KEYWARD_EMU_MEMBER_ACCOUNTS=%s\n", acct, strings.Join(o.accounts, ","))
	fmt.Fprintf(&b, "export AWS_ACCESS_KEY_ID=%s\nexport AWS_SECRET_ACCESS_KEY=%s\n", op.AccessKeyID, op.SecretAccessKey)
	for i, u := range append(append([]string(nil), o.seedUsers...), o.seedAdmins...) {
		var c awsemu.Credentials
		var err error
		if i < len(o.seedUsers) {
			c, err = seedUser(emu, acct, u)
		} else {
			c, err = emu.CreateOperator(acct, u) // AdministratorAccess and a key
		}
		if err != nil {
			ln.Close()
			return fmt.Errorf("emulator: seed %s: %w", u, err)
		}
		v := envName(u)
		fmt.Fprintf(&b, "export %s_ACCESS_KEY_ID=%s\nexport %s_SECRET_ACCESS_KEY=%s\n", v, c.AccessKeyID, v, c.SecretAccessKey)
	}
	if err := writeNewFile(o.envFile, []byte(b.String())); err != nil {
		ln.Close()
		return err
	}
	fmt.Fprintf(e.stderr, "keyward: emulator listening on %s (account %s); credentials in %s; Ctrl-C stops it\n", url, acct, o.envFile)

	// The emulator's own handler for Ctrl-C as well as main's, so that it
	// stops cleanly however it was started (testscript runs run directly).
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv := &http.Server{Handler: emu, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("emulator: %w", err)
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
		if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("emulator: %w", err)
		}
		return nil
	}
}

// seedUser creates a user who can do what a typical application key can:
// enough for a demonstration thief to leave a trail.
func seedUser(emu *awsemu.Server, acct, name string) (awsemu.Credentials, error) {
	if err := emu.CreateUser(acct, name); err != nil {
		return awsemu.Credentials{}, err
	}
	doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["sts:GetSessionToken","sts:AssumeRole","cloudtrail:LookupEvents","iam:ListUsers","iam:GetUser"],"Resource":"*"}]}`
	if err := emu.PutUserPolicy(acct, name, "app", doc); err != nil {
		return awsemu.Credentials{}, err
	}
	return emu.CreateAccessKey(acct, name)
}

// partitionRegion is the region clients of a partition default to.
func partitionRegion(partition string) string {
	switch partition {
	case "aws-us-gov":
		return "us-gov-west-1"
	case "aws-cn":
		return "cn-north-1"
	}
	return "us-east-1"
}

// envName turns a user name into a shell variable prefix.
func envName(user string) string {
	return strings.ToUpper(regexp.MustCompile(`[^A-Za-z0-9]`).ReplaceAllString(user, "_"))
}

// writeNewFile creates path with mode 0600 and O_EXCL: it holds secrets and
// must not replace or write through anything already there.
func writeNewFile(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	_, werr := f.Write(data)
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		os.Remove(path)
		return fmt.Errorf("write %s: %w", path, werr)
	}
	return nil
}
