package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/spf13/pflag"

	"github.com/keyward/keyward/responder"
)

// healthOptions are respond's flags for AWS Health events and
// organisations (issue 11).
type healthOptions struct {
	event           string
	assumeRole      string
	propagationWait time.Duration
	printPolicy     string
}

const healthUsage = `
AWS Health events (no secret needed):
  keyward respond --health-event FILE [--execute] [--assume-role TEMPLATE]

AWS raises AWS_RISK_CREDENTIALS_EXPOSED (source aws.health) when it finds
one of your keys in public; EventBridge delivers it as JSON with the key ID
in detail.affectedEntities[].entityValue. --health-event reads such an event
saved to FILE ("-" for standard input) and runs the same runbook without the
secret: AWS has confirmed the exposure. The leaked key cannot be asked
whether it still works, so "verify" reads the key's status in IAM and waits
--propagation-wait for IAM to propagate it before the session cutoff.

In an AWS Organization, --assume-role 'arn:aws:iam::{account}:role/KeywardResponder'
names the responder role of every member account: the account owning the
key (sts:GetAccessKeyInfo) is acted on through that role, and so is every
other account the key's sessions reached with AssumeRole (found in
CloudTrail): their roles get the session deny there.

Exit codes are respond's (above): a first run that contained everything
CloudTrail shows is "awaiting re-check", exit 1, and names the
'keyward respond --health-event FILE --recheck --execute' to run after
CloudTrail's delivery delay; a malformed event is one line and exit 2.

--print-policy[=KIND] prints the least-privilege IAM policy, generated from the
step table: responder (default; the member-account role, or the operator
acting in its own account) or organization (what the security account
needs on top, with --assume-role).
`

func (o *healthOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.event, "health-event", "", "respond to the keys of a saved AWS Health event `FILE` (- for stdin)")
	fs.StringVar(&o.assumeRole, "assume-role", "", "act in the key's account through role `TEMPLATE`, e.g. arn:aws:iam::{account}:role/KeywardResponder")
	fs.DurationVar(&o.propagationWait, "propagation-wait", responder.DefaultPropagationWait, "with --health-event, wait `DURATION` for IAM to propagate the deactivation")
	fs.StringVar(&o.printPolicy, "print-policy", "", "print the least-privilege policy: `KIND` responder or organization")
	fs.Lookup("print-policy").NoOptDefVal = "responder"
}

// runHealth handles --print-policy and --health-event.
func (o *respondOptions) runHealth(ctx context.Context, e *env) error {
	h := o.health
	tmpl := responder.RoleTemplate(h.assumeRole)
	if h.assumeRole != "" {
		if err := tmpl.Validate(); err != nil {
			return usagef("for example --assume-role 'arn:aws:iam::{account}:role/KeywardResponder'", "%v", err)
		}
	}
	if h.printPolicy != "" {
		switch h.printPolicy {
		case "responder":
			fmt.Fprintln(e.stdout, responder.ResponderPolicy(o.runner(e, aws.Config{}).Options).JSON())
		case "organization":
			if h.assumeRole == "" {
				return usagef("pass the role template too: --assume-role 'arn:aws:iam::{account}:role/KeywardResponder'", "--print-policy=organization needs --assume-role")
			}
			fmt.Fprintln(e.stdout, responder.OrganizationPolicy(tmpl).JSON())
		default:
			return usagef("use --print-policy or --print-policy=organization", "unknown policy %q", h.printPolicy)
		}
		return nil
	}
	if o.keyID != "" || o.report != "" || o.cleanup || o.rotate {
		return usagef("an AWS Health event names its keys and carries no secret", "--health-event cannot be combined with --key-id, --report, --cleanup or --rotate")
	}
	ev, err := readHealthEvent(e, h.event)
	if err != nil {
		return err
	}
	cfg, err := loadOperatorConfig(ctx, *o)
	if err != nil {
		return err
	}
	opts := o.runner(e, cfg).Options
	opts.OnStep = func(s responder.StepResult) { printStep(e, s) }
	hr := &responder.HealthResponder{Config: cfg, Validator: newValidator(e, verifyOptions{region: responder.DefaultRegion}),
		Options: opts, AssumeRole: tmpl, PropagationWait: h.propagationWait,
		Journal: func(keyID string) (*responder.Journal, error) {
			return responder.OpenJournal(o.journalPath(e, keyID), keyID)
		}}
	fmt.Fprintf(e.stdout, "AWS Health event %s: %s in account %s\n", ev.EventARN, responder.ExposedKeyEventType, ev.Account)
	if ev.Description != "" {
		fmt.Fprintf(e.stdout, "AWS says: %s\n", ev.Description)
	}
	var findings, failed bool
	for _, id := range ev.KeyIDs {
		err := o.respondHealthKey(ctx, e, hr, ev, id)
		var se *responder.StopError
		switch {
		case err == nil:
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.As(err, &se):
			findings = findings || se.Kind == responder.StopOtherAccount || se.Kind == responder.StopRoot
		case errors.Is(err, errFindings):
			findings = true
		default:
			failed = true
		}
	}
	switch {
	case failed:
		return errSilent
	case findings:
		return errFindings
	}
	return nil
}

func (o *respondOptions) respondHealthKey(ctx context.Context, e *env, hr *responder.HealthResponder, ev *responder.HealthEvent, keyID string) error {
	t, err := hr.Target(ctx, keyID)
	if err != nil {
		errorf(e.stderr, "%s: %v", keyID, err)
		return errSilent
	}
	fmt.Fprintf(e.stdout, "\nKey %s: account %s (%s)", keyID, t.KeyAccount, t.Note)
	if t.Role != "" {
		fmt.Fprintf(e.stdout, "; acting through %s", t.Role)
	}
	fmt.Fprintln(e.stdout)
	if !o.execute {
		for i, s := range hr.PlanSteps(t) {
			fmt.Fprintf(e.stdout, "%2d. %s [as %s]\n", i+1, s.Title, s.Signer)
			for _, c := range s.Calls {
				fmt.Fprintf(e.stdout, "      %s\n", c)
			}
			if len(s.Permissions) > 0 {
				fmt.Fprintf(e.stdout, "      needs: %s\n", strings.Join(s.Permissions, ", "))
			}
		}
		fmt.Fprintln(e.stdout, "Nothing is changed without --execute. Run again with --execute to carry out this plan.")
		return nil
	}
	unlock, err := responder.LockJournal(o.journalPath(e, keyID))
	if err != nil {
		errorf(e.stderr, "%v", err)
		if errors.Is(err, responder.ErrLocked) {
			hintf(e.stderr, "wait for it to finish, then re-run: it continues where the other stopped")
		}
		return errSilent
	}
	defer unlock()
	res, err := hr.Respond(ctx, t)
	inc := res.Incident
	inc.Locations = []responder.Location{{Path: "AWS Health event " + ev.EventARN + ": " + ev.Description, Date: ev.Time}}
	if werr := o.writeReport(e, inc); werr != nil {
		return werr
	}
	if len(inc.Remaining) > 0 {
		fmt.Fprintln(e.stdout, "Not contained:")
		for _, r := range inc.Remaining {
			fmt.Fprintf(e.stdout, "  - %s\n", r)
		}
	}
	if inc.Outcome != "" && inc.Stop == nil {
		fmt.Fprintf(e.stdout, "%s: %s\n", keyID, inc.Outcome)
	}
	var rp *responder.RecheckPendingError
	if errors.As(err, &rp) {
		cmd := "keyward respond --health-event " + o.health.event + " --recheck --execute"
		if o.health.assumeRole != "" {
			cmd += " --assume-role '" + o.health.assumeRole + "'"
		}
		fmt.Fprintf(e.stdout, "CloudTrail delivers events in about 5 minutes: after %s run: %s\n", rp.After.UTC().Format(time.RFC3339), cmd)
	}
	if err == nil {
		return nil
	}
	return o.explain(e, err)
}

// readHealthEvent reads and parses the event file; a bad event is one line
// on stderr and exit 2.
func readHealthEvent(e *env, path string) (*responder.HealthEvent, error) {
	var r io.Reader = e.stdin
	name := "standard input"
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, usagef("save the EventBridge event's JSON to a file", "read health event: %v", err)
		}
		defer f.Close()
		r, name = f, path
	}
	data, err := io.ReadAll(io.LimitReader(r, responder.MaxHealthEventSize+1))
	if err != nil {
		return nil, fmt.Errorf("read health event: %w", err)
	}
	ev, err := responder.ParseHealthEvent(data)
	if err != nil {
		return nil, usagef("the event must be AWS Health's AWS_RISK_CREDENTIALS_EXPOSED as EventBridge delivers it", "%s: %v", name, err)
	}
	return ev, nil
}
