package responder

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/keyward/keyward/patterns"
)

// Result is what Execute hands back: the incident for the report and, after
// a rotation, the new key, which goes to the operator once and is never
// written to the journal or report.
type Result struct {
	Incident *Incident
	NewKey   *Credential
}

// Outcome words. They are chosen so that they cannot lie (issue 8, item 8).
const (
	// OutcomeContained: every credential the attacker is known to hold is
	// dead and nothing is left for a human.
	OutcomeContained = "contained"
	// OutcomePartial: something is still live, unverified or left for a
	// human; Incident.Remaining lists it.
	OutcomePartial = "partially contained"
	// OutcomeAwaitingRecheck: everything CloudTrail showed is contained,
	// but CloudTrail had not yet delivered every event (about 5 minutes on
	// average): a re-check after Facts.RecheckAfter decides. It is not an
	// all-clear, and exits non-zero.
	OutcomeAwaitingRecheck = "awaiting re-check"
	// OutcomeNothingToContain: the key is gone (Facts.Gone: not live, not
	// in IAM, in the operator's account) and the investigation, re-checked
	// after CloudTrail's delivery delay, found no activity by it or by
	// anything derived from it in the lookback (CloudTrail's event history
	// holds 90 days of management events).
	OutcomeNothingToContain = "nothing to contain"
	// OutcomeIncomplete: the run was interrupted.
	OutcomeIncomplete = "incomplete"
)

// RecheckPendingError is returned by Execute when everything known is
// contained but a re-check after CloudTrail's delivery delay is due.
type RecheckPendingError struct {
	After time.Time
}

// Error implements error.
func (e *RecheckPendingError) Error() string {
	return "contained as far as CloudTrail shows; re-check after " + e.After.UTC().Format(time.RFC3339)
}

// PartialError is returned by Execute when the outcome is not contained:
// it lists what remains, for the exit code and the operator.
type PartialError struct {
	Remaining []string
	// Causes are the errors of the steps that failed (a *PermissionError
	// names the grant that fixes one).
	Causes []error
}

// Unwrap gives errors.As access to the causes.
func (e *PartialError) Unwrap() []error { return e.Causes }

// Error implements error.
func (e *PartialError) Error() string {
	return fmt.Sprintf("partially contained: %d thing(s) remain", len(e.Remaining))
}

// Execution is one run of the step table for one key. Its step functions
// are the table's Run and Check entries; another runner (an AWS Health
// event handler) builds one with NewExecution and walks Steps() itself, or
// calls Run.
type Execution struct {
	r      *Runner
	c      Credential
	j      *Journal
	inc    *Incident
	f      *Facts
	newKey *Credential

	mu   sync.Mutex
	own  map[string]bool // request IDs of this run's calls
	errs map[StepID]error
}

// NewExecution prepares a run of the runbook for c; r.Journal, if set,
// holds earlier runs' steps.
func (r *Runner) NewExecution(c Credential) *Execution {
	j := r.Journal
	if j == nil {
		j = &Journal{State: JournalState{Version: JournalVersion, KeyID: c.KeyID, Created: r.now()}}
	}
	f := j.State.Facts
	mode := "execute"
	if r.Recheck {
		mode = "recheck"
	}
	x := &Execution{r: r, c: c, j: j, f: &f, own: map[string]bool{}, errs: map[StepID]error{}, inc: &Incident{
		KeyID: c.KeyID, Kind: string(c.Kind()), Started: r.now(), Mode: mode, ManualChecks: ManualChecks,
	}}
	for _, id := range f.OwnRequestIDs {
		x.own[id] = true
	}
	return x
}

// Facts are what the run has learned so far.
func (x *Execution) Facts() Facts { return *x.f }

// Incident is the incident report so far.
func (x *Execution) Incident() *Incident { return x.inc }

// Situation is the input of the step table's Applies and Calls.
func (x *Execution) Situation() Situation {
	return Situation{KeyID: x.c.KeyID, Kind: x.c.Kind(), Options: x.r.Options, Facts: *x.f}
}

// Execute carries out the runbook for c with the operator's credentials.
// Every step runs even when one before it failed; only a deliberate stop
// (another account's key, a root key, a canary, a key of another account
// that is not live) or a cancelled context ends the run early. It always returns
// the incident so far, even with an error, so a report can be written for
// every run. The error is a *PartialError when the outcome is not
// contained.
func (r *Runner) Execute(ctx context.Context, c Credential) (*Result, error) {
	x := r.NewExecution(c)
	err := x.Run(ctx)
	return &Result{Incident: x.inc, NewKey: x.newKey}, err
}

// Run walks the step table, then works out the outcome.
func (x *Execution) Run(ctx context.Context) error {
	err := x.all(ctx)
	x.inc.Finished = x.r.now()
	x.f.OwnRequestIDs = x.ownIDs()
	if jerr := x.j.SaveFacts(*x.f); jerr != nil && err == nil {
		err = jerr
	}
	x.inc.Facts = *x.f
	var se *StopError
	switch {
	case errors.As(err, &se):
		x.inc.Outcome, x.inc.Stop = "stopped: "+string(se.Kind), se
	case err != nil:
		x.inc.Outcome, x.inc.Error = OutcomeIncomplete, err.Error()
	default:
		x.inc.Remaining = x.remaining()
		x.inc.Outcome = OutcomeContained
		if x.f.Gone && x.succeeded(StepInvestigate) && !x.trailActivity() {
			x.inc.Outcome = OutcomeNothingToContain
		}
		if len(x.inc.Remaining) > 0 {
			x.inc.Outcome = OutcomePartial
			pe := &PartialError{Remaining: x.inc.Remaining}
			for _, d := range Steps() {
				if e := x.errs[d.ID]; e != nil {
					pe.Causes = append(pe.Causes, e)
				}
			}
			err = pe
		}
		if err == nil && x.recheckDue() {
			x.inc.Outcome = OutcomeAwaitingRecheck
			err = &RecheckPendingError{After: x.f.RecheckAfter}
		}
		if ferr := x.optionalFailures(); ferr != nil {
			if _, pending := err.(*RecheckPendingError); err == nil || pending {
				err = ferr
			}
		}
	}
	x.inc.HumanActions = x.f.HumanActions
	x.inc.FollowUps = followUps(x.f, x.c)
	return err
}

func (x *Execution) all(ctx context.Context) error {
	// A canary key is never contacted, not even by the operator's calls
	// about it: stop before the first step.
	if acct, ok := patterns.AccountID(x.c.KeyID); ok {
		if _, canary := patterns.CanaryAccount(acct); canary {
			v := x.r.Validator.Validate(ctx, x.c)
			x.inc.Verdict = &v
			return verdictStop(v)
		}
	}
	for _, d := range Steps() {
		if !d.Applies(x.Situation()) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := x.step(ctx, d); err != nil {
			return err
		}
	}
	return nil
}

// step runs one row of the table, or resumes it by its Resume policy, and
// records the outcome. Only a *StopError, a journal failure or the
// AfterStep hook end the run; a failed step is recorded and the next runs.
func (x *Execution) step(ctx context.Context, d StepDef) error {
	if prev, ok := x.j.Done(d.ID); ok {
		resume := false
		switch d.Resume {
		case ResumeTrust:
			resume = !x.r.Recheck
		case ResumeOnce:
			resume = true
		case ResumeCheck:
			chk := StepResult{ID: d.ID}
			cctx, _ := withRecorder(ctx, &chk, x.noteOwn)
			ok, err := d.Check(x, cctx)
			prev.Calls = append(prev.Calls, chk.Calls...)
			if err == nil && ok {
				prev.Detail += " (checked in AWS: still in place)"
				resume = true
			}
		}
		if resume {
			prev.Resumed = true
			x.add(prev)
			return nil
		}
	}
	res := StepResult{ID: d.ID, Started: x.r.now()}
	rctx, _ := withRecorder(ctx, &res, x.noteOwn)
	err := d.Run(x, rctx, &res)
	res.Finished = x.r.now()
	var se *StopError
	switch {
	case err == nil:
		if res.Status == "" {
			res.Status = StepDone
		}
	case errors.As(err, &se):
		res.Status, res.Detail = StepDone, err.Error()
	default:
		res.Status, res.Error = StepFailed, err.Error()
		x.errs[d.ID] = err
	}
	if jerr := x.j.Record(res, *x.f); jerr != nil {
		return jerr
	}
	x.add(res)
	if se != nil {
		return se
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if x.r.AfterStep != nil {
		return x.r.AfterStep(d.ID)
	}
	return nil
}

// add appends a step result to the incident and reports it.
func (x *Execution) add(res StepResult) {
	x.inc.Steps = append(x.inc.Steps, res)
	if x.r.OnStep != nil {
		x.r.OnStep(res)
	}
}

// noteOwn remembers a request ID of this run's own calls.
func (x *Execution) noteOwn(id string) {
	x.mu.Lock()
	x.own[id] = true
	x.mu.Unlock()
}

func (x *Execution) isOwn(id string) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	return id != "" && x.own[id]
}

// maxOwnRequestIDs bounds the request IDs kept in the journal: a run makes
// a few dozen calls, a long investigation a few hundred.
const maxOwnRequestIDs = 5000

func (x *Execution) ownIDs() []string {
	x.mu.Lock()
	defer x.mu.Unlock()
	out := keys(x.own)
	if len(out) > maxOwnRequestIDs {
		out = out[len(out)-maxOwnRequestIDs:]
	}
	return out
}

// cfg is the operator's configuration with every call recorded.
func (x *Execution) cfg() aws.Config { return x.r.cfg() }

// status is this run's latest result of step id (resumed or not).
func (x *Execution) status(id StepID) (StepResult, bool) {
	for i := len(x.inc.Steps) - 1; i >= 0; i-- {
		if x.inc.Steps[i].ID == id {
			return x.inc.Steps[i], true
		}
	}
	return StepResult{}, false
}

func (x *Execution) succeeded(id StepID) bool {
	s, ok := x.status(id)
	return ok && (s.Status == StepDone || s.Status == StepSkipped)
}

// remaining lists what keeps the outcome from being "contained": a
// containment step that did not succeed, anything the attacker made that
// is still live, anything left for a human.
func (x *Execution) remaining() []string {
	var out []string
	s := x.Situation()
	need := func(id StepID, why string) {
		if d, ok := StepByID(id); ok && d.Applies(s) && !x.succeeded(id) {
			out = append(out, why)
		}
	}
	need(StepDeactivate, "the leaked key was not deactivated")
	need(StepVerifyDead, "the leaked key was not verified dead: it may still work")
	need(StepRevokeSessions, "sessions derived from the key were not denied")
	need(StepInvestigate, "CloudTrail was not searched: credentials the key minted or created are unknown")
	need(StepPersistence, "what the attacker created was not contained")
	need(StepRevokeRoleSessions, "sessions of roles the key assumed were not denied")
	if t := x.f.Trail; t != nil && t.Unfollowed > 0 {
		out = append(out, fmt.Sprintf("%d key(s) minted or created by the leaked key were not investigated (past the limit of keys followed): what they did, and made, is unknown", t.Unfollowed))
	}
	if x.f.Gone && x.f.UserName == "" && x.f.RoleName == "" && x.trailActivity() {
		out = append(out, "the key is gone but was used, and CloudTrail named no user or role of this account for it: sessions it minted were not denied (re-check, or deny its owner's older sessions by hand)")
	}
	for _, p := range x.f.Persistence {
		if p.Remaining != "" {
			out = append(out, p.Kind+" "+p.Target+": "+p.Remaining)
		}
	}
	for _, h := range x.f.HumanActions {
		out = append(out, h.Subject+": "+h.What)
	}
	return out
}

// trailActivity reports whether the investigation saw anything done by
// the key, or by a credential derived from it, other than keyward's own
// calls.
func (x *Execution) trailActivity() bool {
	t := x.f.Trail
	return t != nil && (!t.First.IsZero() || len(t.Changes) > 0 || len(t.KeysFollowed) > 1 ||
		len(t.RolesAssumed) > 0 || t.Unfollowed > 0)
}

// recheckDue reports whether CloudTrail may still deliver events the
// investigation could not see: no re-check has yet searched past
// RecheckAfter.
func (x *Execution) recheckDue() bool {
	return x.f.Trail != nil && x.f.Rechecked.IsZero()
}

// optionalFailures reports a failed optional step (delete, rotate,
// release), which does not change the outcome but must not exit 0.
func (x *Execution) optionalFailures() error {
	for _, id := range []StepID{StepDelete, StepRotate, StepReleaseQuarantine} {
		if e := x.errs[id]; e != nil {
			return e
		}
	}
	return nil
}

// serverNow asks AWS for its clock: the Date header of an operator
// sts:GetCallerIdentity. The session cutoff is taken from it, after the
// key is confirmed dead, never from the local clock: SigV4 accepts 15
// minutes of skew, and a session minted while deactivation propagated must
// fall under the cutoff (issue 8). The local clock stands in only when AWS
// sends no Date header, and the result says so.
func (x *Execution) serverNow(ctx context.Context) (time.Time, bool) {
	var res StepResult
	rctx, rec := withRecorder(ctx, &res, x.noteOwn)
	_, err := sts.NewFromConfig(x.cfg()).GetCallerIdentity(rctx, &sts.GetCallerIdentityInput{})
	if parent, ok := ctx.Value(recorderKey{}).(*recorder); ok {
		for _, c := range res.Calls {
			parent.add(c)
		}
	}
	if t := rec.serverTime(); err == nil && !t.IsZero() {
		return t, true
	}
	return x.r.now(), false
}

// cutoffAfter is the session-deny cutoff for a server time: the next whole
// second, since the Date header is truncated to seconds and DateLessThan
// must catch a session minted within that second.
func cutoffAfter(t time.Time) time.Time { return t.Truncate(time.Second).Add(time.Second) }

// addHuman records something only a human can do, once.
func (x *Execution) addHuman(h HumanAction) {
	for _, e := range x.f.HumanActions {
		if e.Subject == h.Subject && e.What == h.What {
			return
		}
	}
	x.f.HumanActions = append(x.f.HumanActions, h)
}

// temporary reports an ASIA key.
func (x *Execution) temporary() bool { return x.c.Kind() == patterns.Temporary }
