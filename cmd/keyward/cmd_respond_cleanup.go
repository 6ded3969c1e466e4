package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/keyward/keyward/patterns"
	"github.com/keyward/keyward/responder"
	"github.com/keyward/keyward/scanner/report"
)

// runCleanup removes, 36 h after a response, the session deny it put in
// place, for --key-id or for every key of --report. It works from the
// journals alone: the keys are dead by now and no secret is read.
func (o *respondOptions) runCleanup(ctx context.Context, e *env) error {
	if o.clockOffset != 0 && !loopbackEndpoint(responder.EndpointFromEnv(e.getenv, "iam")) {
		// The hidden test flag moves keyward's clock; against real AWS it
		// would let the 36-hour deny be lifted early.
		return usagef("--clock-offset exists for tests against 'keyward emulator'", "--clock-offset works only with a loopback AWS_ENDPOINT_URL")
	}
	var ids []string
	if o.keyID != "" {
		if !patterns.IsKeyIDShape([]byte(o.keyID)) {
			return usagef("an access key ID is 20 characters starting AKIA, ASIA, ABIA, ACCA or A3T", "--key-id is not an access key ID (%d characters; not shown, in case it is a secret)", len(o.keyID))
		}
		ids = []string{o.keyID}
	} else {
		// Only the key IDs matter: the keys are dead by now, so their
		// secrets are not recovered.
		rep, err := report.ReadFile(o.report)
		if err != nil {
			return fmt.Errorf("read report %s: %w", o.report, err)
		}
		seen := map[string]bool{}
		for _, f := range rep.Findings {
			if f.KeyID != "" && !seen[f.KeyID] && patterns.IsKeyIDShape([]byte(f.KeyID)) {
				seen[f.KeyID] = true
				ids = append(ids, f.KeyID)
			}
		}
	}
	var cfg aws.Config
	if o.execute {
		var err error
		if cfg, err = loadOperatorConfig(ctx, *o); err != nil {
			return err
		}
	}
	failed := false
	for _, id := range ids {
		if err := o.cleanupOne(ctx, e, cfg, id); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			failed = true
		}
	}
	if failed {
		return errSilent
	}
	return nil
}

// recheckBeforeCleanup runs the re-check steps with the journal; the key
// is dead by now, so no secret is needed.
func (o *respondOptions) recheckBeforeCleanup(ctx context.Context, e *env, cfg aws.Config, jpath, id string) error {
	j, err := responder.OpenJournal(jpath, id)
	if err != nil {
		errorf(e.stderr, "%v", err)
		return errSilent
	}
	r := o.runner(e, cfg)
	r.Journal, r.Recheck = j, true
	r.OnStep = func(s responder.StepResult) { printStep(e, s) }
	res, err := r.Execute(ctx, responder.NewCredential(id, "", ""))
	if werr := o.writeReport(e, res.Incident); werr != nil {
		return werr
	}
	printHumanActions(e, res.Incident)
	fmt.Fprintf(e.stdout, "%s: re-check: %s\n", id, res.Incident.Outcome)
	if err != nil {
		var pa *responder.PartialError
		var rp *responder.RecheckPendingError
		if errors.As(err, &pa) && len(pa.Causes) == 0 || errors.As(err, &rp) {
			// Left for a human, listed above; the deny can still go.
			return nil
		}
		return o.explain(e, err)
	}
	return nil
}

// cleanupOne plans or carries out the cleanup for one key. Errors it has
// explained come back as errSilent.
func (o *respondOptions) cleanupOne(ctx context.Context, e *env, cfg aws.Config, id string) error {
	jpath := o.journalPath(e, id)
	if _, err := os.Stat(jpath); errors.Is(err, os.ErrNotExist) {
		if o.report != "" {
			fmt.Fprintf(e.stdout, "skip %s  no response journal in %s\n", id, o.journalDirectory(e))
			return nil
		}
		errorf(e.stderr, "cleanup %s: no response journal %s", id, jpath)
		hintf(e.stderr, "pass --journal-dir with the directory the response kept its journal in")
		return errSilent
	}
	unlock, err := responder.LockJournal(jpath)
	if err != nil {
		errorf(e.stderr, "%v", err)
		return errSilent
	}
	defer unlock()
	j, err := responder.OpenJournal(jpath, id)
	if err != nil {
		errorf(e.stderr, "%v", err)
		return errSilent
	}
	p, err := responder.PlanCleanup(j.State)
	if errors.Is(err, responder.ErrNoSessionDeny) {
		fmt.Fprintf(e.stdout, "%s: nothing to clean up: %v\n", id, responder.ErrNoSessionDeny)
		return nil
	}
	if err != nil {
		return o.explain(e, err)
	}
	if p.Done != nil {
		fmt.Fprintf(e.stdout, "%s: session deny already removed at %s: %s\n", id, p.Done.Finished.UTC().Format(time.RFC3339), p.Done.Detail)
		return nil
	}
	fmt.Fprintf(e.stdout, "Session deny of the response to %s:\n", id)
	for _, t := range p.Targets {
		fmt.Fprintf(e.stdout, "  %s  (denies sessions issued before %s)\n", t.Call(), t.Cutoff.UTC().Format(time.RFC3339))
	}
	fmt.Fprintf(e.stdout, "It may be removed from %s.\n", p.NotBefore.UTC().Format(time.RFC3339))
	now := time.Now().Add(o.clockOffset)
	if now.Before(p.NotBefore) {
		return o.explainTooEarly(e, id, &responder.TooEarlyError{NotBefore: p.NotBefore, Remaining: p.NotBefore.Sub(now)})
	}
	if !o.execute {
		fmt.Fprintf(e.stdout, "The operator needs: %s\n", strings.Join(p.Permissions(), ", "))
		fmt.Fprintln(e.stdout, "Nothing is changed without --execute. Run again with --execute to remove it.")
		return nil
	}
	if p.Done == nil {
		// The cleanup re-checks CloudTrail first: whatever it had not yet
		// delivered at the response is contained before the deny goes.
		if err := o.recheckBeforeCleanup(ctx, e, cfg, jpath, id); err != nil {
			return err
		}
		if j, err = responder.OpenJournal(jpath, id); err != nil {
			errorf(e.stderr, "%v", err)
			return errSilent
		}
	}
	r := o.runner(e, cfg)
	r.Journal = j
	r.Now = func() time.Time { return time.Now().Add(o.clockOffset) }
	_, res, err := r.Cleanup(ctx)
	if res.ID != "" {
		printStep(e, res)
	}
	var te *responder.TooEarlyError
	if errors.As(err, &te) {
		return o.explainTooEarly(e, id, te)
	}
	if err != nil {
		return o.explain(e, err)
	}
	prev, rerr := responder.ReadReport(o.dir, id)
	if rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
		warnf(e.stderr, "%v; writing a new report from the journal", rerr)
	}
	if err := o.writeReport(e, responder.CleanupIncident(prev, j.State, res)); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%s: session deny removed\n", id)
	return nil
}

// explainTooEarly refuses a cleanup with the exact time it can run.
func (o *respondOptions) explainTooEarly(e *env, id string, te *responder.TooEarlyError) error {
	errorf(e.stderr, "cleanup %s: %v", id, te)
	dir := ""
	if o.dir != defaultIncidentDir {
		dir = " --dir " + o.dir
	}
	hintf(e.stderr, "run 'keyward respond --key-id %s --cleanup --execute%s' at or after %s", id, dir, te.NotBefore.UTC().Format(time.RFC3339))
	return errSilent
}

// loopbackEndpoint reports whether endpoint is an http(s) URL on this
// machine, as the local emulator's is.
func loopbackEndpoint(endpoint string) bool {
	u, err := url.Parse(endpoint)
	if err != nil || u.Hostname() == "" {
		return false
	}
	if u.Hostname() == "localhost" {
		return true
	}
	ip := net.ParseIP(u.Hostname())
	return ip != nil && ip.IsLoopback()
}
