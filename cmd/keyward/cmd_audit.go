package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/keyward/keyward/responder/audit"
)

const auditUsage = `Usage: keyward audit [--max-key-age DAYS] [--max-unused DAYS] [--format text|json|sarif]
       keyward audit --fix [--execute]

Audits the key hygiene of the AWS account of the operator's credentials
(the SDK's default chain, --profile, --region) from the IAM credential
report (iam:GenerateCredentialReport, iam:GetCredentialReport) and, for the
keys themselves, iam:ListUsers, iam:ListAccessKeys and
iam:GetAccessKeyLastUsed. It changes nothing unless --fix is given.

Checks, with the Prowler checks and the Trusted Advisor check they match:
  root-access-key      the root user has an access key       iam_no_root_access_key
  root-without-mfa     the root user has no MFA              iam_root_mfa_enabled
  console-without-mfa  a console user has no MFA             iam_user_mfa_enabled_console_access
  access-key-age       an active key is older than           iam_rotate_access_key_90_days;
                       --max-key-age (default 90 days)       Trusted Advisor "IAM Access Key Rotation"
  access-key-unused    an active key has not been used for   iam_user_accesskey_unused
                       --max-unused days (default 45), or
                       never since it was created that long ago
  two-active-keys      a user has two active keys            iam_user_two_active_access_key

Every finding carries its evidence: the credential report columns or the
API fields it rests on.

--fix does only what is safe and reversible: it deactivates access keys
that have not been used within --max-unused (iam:UpdateAccessKey
Status=Inactive; each line of the plan prints the command that re-activates
the key). It prints the plan first and acts only with --execute, or after a
"yes" typed at a terminal. Root keys, MFA and deletions are left to a human.

--print-policy prints the IAM policy the audit needs (with --fix, the fix's
too), from the same list the audit's calls are checked against.

Examples:
  keyward audit
  keyward audit --max-key-age 180 --format sarif > audit.sarif
  keyward audit --fix                    print what --fix would deactivate
  keyward audit --fix --execute --profile security

Exit codes:
  0  every check ran over every user and found nothing
  1  findings (also when --fix deactivated keys: re-run to see what is left)
  2  error, or an incomplete audit: the credential report could not be
     generated or read, or some user's keys could not be read (the output
     says which); never a clean pass
`

// auditOptions are the flags of 'keyward audit'.
type auditOptions struct {
	maxKeyAge, maxUnused int
	format               string
	fix, execute         bool
	printPolicy          bool
	profile, region      string
	// Hidden: tests shorten the wait for the credential report.
	reportPoll time.Duration
}

func (o *auditOptions) addFlags(fs *pflag.FlagSet) {
	fs.IntVar(&o.maxKeyAge, "max-key-age", 90, "flag active keys older than `DAYS`")
	fs.IntVar(&o.maxUnused, "max-unused", 45, "flag active keys unused for `DAYS`")
	fs.StringVar(&o.format, "format", "text", "output `FORMAT`: text, json or sarif")
	fs.BoolVar(&o.fix, "fix", false, "plan deactivating keys unused for --max-unused days")
	fs.BoolVar(&o.printPolicy, "print-policy", false, "print the least-privilege IAM policy of the audit (with --fix, of the fix too), and exit")
	fs.BoolVar(&o.execute, "execute", false, "with --fix, carry out the plan without asking")
	fs.StringVar(&o.profile, "profile", "", "the operator's AWS `PROFILE`")
	fs.StringVar(&o.region, "region", "", "the operator's AWS `REGION`")
	fs.DurationVar(&o.reportPoll, "report-poll", 2*time.Second, "")
	fs.MarkHidden("report-poll")
}

func runAudit(ctx context.Context, e *env, args []string) error {
	var o auditOptions
	flags := newFlagSet("audit")
	o.addFlags(flags)
	if err := parseFlags(flags, auditUsage, e, args); err != nil {
		return err
	}
	switch {
	case flags.NArg() > 0:
		return usagef("run 'keyward audit --help' for usage", "audit takes no arguments (got %d)", flags.NArg())
	case o.format != "text" && o.format != "json" && o.format != "sarif":
		return usagef("use --format text, json or sarif", "unknown format %q", o.format)
	case o.maxKeyAge < 1 || o.maxUnused < 1:
		return usagef("limits are whole days, at least 1", "--max-key-age and --max-unused must be at least 1")
	case o.execute && !o.fix:
		return usagef("--execute carries out --fix's plan: pass both", "--execute needs --fix")
	case o.printPolicy:
		fmt.Fprintln(e.stdout, audit.Policy(o.fix))
		return nil
	}
	cfg, err := loadOperatorConfig(ctx, respondOptions{profile: o.profile, region: o.region})
	if err != nil {
		return err
	}
	a := &audit.Auditor{Config: cfg, MaxKeyAge: time.Duration(o.maxKeyAge) * 24 * time.Hour,
		MaxUnused: time.Duration(o.maxUnused) * 24 * time.Hour, ReportPoll: o.reportPoll}
	rep, err := a.Run(ctx)
	if err != nil {
		if errors.Is(err, audit.ErrNoReport) {
			return &usageError{msg: "audit incomplete: " + err.Error(),
				hint: "grant iam:GenerateCredentialReport and iam:GetCredentialReport; without the report nothing is audited"}
		}
		return fmt.Errorf("audit: %w", err)
	}
	var plan []audit.FixAction
	if o.fix {
		plan = audit.FixPlan(rep)
	}
	switch o.format {
	case "json":
		err = writeAuditJSON(e.stdout, rep, plan)
	case "sarif":
		err = writeAuditSARIF(e.stdout, rep)
	default:
		writeAuditText(e.stdout, rep)
	}
	if err != nil {
		return err
	}
	if o.fix {
		if err := o.runFix(ctx, e, a, plan, rep.Complete()); err != nil {
			return err
		}
	}
	for _, s := range rep.Incomplete {
		errorf(e.stderr, "not audited: %s", s)
	}
	switch {
	case !rep.Complete():
		hintf(e.stderr, "the audit is incomplete: grant the missing permissions (keyward audit --help lists them) and re-run")
		return errSilent
	case len(rep.Findings) > 0:
		return errFindings
	}
	return nil
}

// runFix prints the plan and carries it out with --execute or a typed yes.
// Plan and outcome go to stderr when stdout carries JSON or SARIF. An
// empty plan of an incomplete audit says so: the keys not read may be
// unused too.
func (o *auditOptions) runFix(ctx context.Context, e *env, a *audit.Auditor, plan []audit.FixAction, complete bool) error {
	w := e.stdout
	if o.format != "text" {
		w = e.stderr
	}
	switch {
	case len(plan) == 0 && !complete:
		fmt.Fprintln(w, "Fix: nothing to do among the keys read; the audit is incomplete, so keys it could not read may be unused too.")
		return nil
	case len(plan) == 0:
		fmt.Fprintln(w, "Fix: nothing to do (no active key unused for the limit).")
		return nil
	}
	fmt.Fprintf(w, "Fix plan: deactivate %d access key(s) (reversible):\n", len(plan))
	for _, p := range plan {
		fmt.Fprintf(w, "  iam:UpdateAccessKey UserName=%s AccessKeyId=%s Status=Inactive\n      undo: %s\n", p.User, p.KeyID, p.Undo)
	}
	if !o.execute {
		if !isTerminal(e.stdout) || !isTerminalReader(e.stdin) {
			fmt.Fprintln(w, "Nothing was changed; run again with --fix --execute to carry out this plan.")
			return nil
		}
		fmt.Fprint(w, "Deactivate these keys? Type yes to go on: ")
		line, _ := bufio.NewReader(e.stdin).ReadString('\n')
		if strings.TrimSpace(line) != "yes" {
			fmt.Fprintln(w, "Nothing was changed.")
			return nil
		}
	}
	done := a.Fix(ctx, plan)
	failed := false
	for _, d := range done {
		if d.Done {
			fmt.Fprintf(w, "deactivated %s of %s\n", d.KeyID, d.User)
		} else {
			failed = true
			errorf(e.stderr, "deactivate %s of %s: %s", d.KeyID, d.User, d.Error)
		}
	}
	if failed {
		return errSilent
	}
	return nil
}
