package responder

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/keyward/keyward/patterns"
)

// StepRemoveSessionDeny removes the AWSRevokeOlderSessions policies once
// they have done their work. It runs on its own (keyward respond --cleanup),
// at least SessionDenyHold after the deny went in: AWS asks for the deny to
// stay that long and then go, or every session of the user and roles issued
// before the response stays denied for good ("Revoke IAM role temporary
// security credentials", IAM User Guide).
const StepRemoveSessionDeny StepID = "remove-session-deny"

// DenyTarget is one session-deny inline policy a response put in place.
type DenyTarget struct {
	// Kind is "user" or "role".
	Kind string `json:"kind"`
	Name string `json:"name"`
	// Cutoff is the policy's aws:TokenIssueTime: sessions issued before it
	// are denied, and the last of them expires SessionDenyHold after it.
	Cutoff time.Time `json:"cutoff"`
}

// Call is the IAM call that removes the policy, as the dry run shows it.
func (d DenyTarget) Call() string {
	if d.Kind == "role" {
		return "iam:DeleteRolePolicy(RoleName=" + d.Name + ", PolicyName=" + RevokePolicyName + ")"
	}
	return "iam:DeleteUserPolicy(UserName=" + d.Name + ", PolicyName=" + RevokePolicyName + ")"
}

// CleanupPlan is what --cleanup would remove and from when, worked out from
// the journal alone: the leaked key is dead by now and is not needed.
type CleanupPlan struct {
	KeyID   string       `json:"key_id"`
	Targets []DenyTarget `json:"targets"`
	// NotBefore is the latest cutoff plus SessionDenyHold: from then on no
	// session the deny covers can still be alive.
	NotBefore time.Time `json:"not_before"`
	// Done is set when an earlier cleanup already ran.
	Done *StepResult `json:"done,omitempty"`
}

// Permissions are the IAM actions the operator needs for the cleanup.
func (p *CleanupPlan) Permissions() []string {
	var user, role bool
	for _, t := range p.Targets {
		user, role = user || t.Kind == "user", role || t.Kind == "role"
	}
	var out []string
	if user {
		out = append(out, "iam:GetUserPolicy", "iam:DeleteUserPolicy")
	}
	if role {
		out = append(out, "iam:GetRolePolicy", "iam:DeleteRolePolicy")
	}
	return out
}

// ErrNoSessionDeny is returned by PlanCleanup when the journal records no
// session deny: the response did not get that far, so there is nothing to
// remove.
var ErrNoSessionDeny = errors.New("the journal records no session deny")

// TooEarlyError refuses a cleanup before SessionDenyHold has passed:
// removing the deny then would revive sessions a thief may still hold.
type TooEarlyError struct {
	NotBefore time.Time
	Remaining time.Duration
}

// Error implements error; it says when the cleanup may run.
func (e *TooEarlyError) Error() string {
	return fmt.Sprintf("the session deny must stay until %s (%s from now): sessions issued before it can last 36 h",
		e.NotBefore.UTC().Format(time.RFC3339), roundDuration(e.Remaining))
}

// roundDuration is d to the minute, at least one, as "35h59m"; the exact
// time goes beside it.
func roundDuration(d time.Duration) string {
	d = max(d.Round(time.Minute), time.Minute)
	return strings.TrimSuffix(d.String(), "0s")
}

// PlanCleanup works out from a journal which session-deny policies the
// response put in place, and when they may go.
func PlanCleanup(st JournalState) (*CleanupPlan, error) {
	p := &CleanupPlan{KeyID: st.KeyID}
	f := st.Facts
	add := func(kind, name string, cutoff time.Time) {
		if name == "" {
			return
		}
		for i, t := range p.Targets {
			if t.Kind == kind && t.Name == name {
				if cutoff.After(t.Cutoff) {
					p.Targets[i].Cutoff = cutoff
				}
				return
			}
		}
		p.Targets = append(p.Targets, DenyTarget{Kind: kind, Name: name, Cutoff: cutoff})
	}
	if s, ok := lastDone(st, StepRevokeSessions); ok && s.Status == StepDone {
		cutoff := f.RevokedBefore
		if cutoff.IsZero() {
			cutoff = s.Finished.Add(time.Second)
		}
		if f.RoleName != "" {
			add("role", f.RoleName, cutoff)
		} else {
			add("user", f.UserName, cutoff)
		}
	}
	if s, ok := lastDone(st, StepRevokeRoleSessions); ok && s.Status == StepDone {
		cutoff := f.RolesRevokedBefore
		if cutoff.IsZero() {
			// A journal written before this cutoff was kept: the step's
			// end is at or after it.
			cutoff = s.Finished.Add(time.Second)
		}
		for _, arn := range f.Roles {
			add("role", arn[strings.LastIndex(arn, "/")+1:], cutoff)
		}
	}
	if s, ok := lastDone(st, StepPersistence); ok && s.Status == StepDone && !f.OtherUsersRevokedBefore.IsZero() {
		for _, u := range f.OtherUsersDenied {
			add("user", u, f.OtherUsersRevokedBefore)
		}
	}
	if len(p.Targets) == 0 {
		return nil, fmt.Errorf("cleanup %s: %w", st.KeyID, ErrNoSessionDeny)
	}
	for _, t := range p.Targets {
		if nb := t.Cutoff.Add(SessionDenyHold); nb.After(p.NotBefore) {
			p.NotBefore = nb
		}
	}
	if s, ok := lastDone(st, StepRemoveSessionDeny); ok {
		p.Done = &s
	}
	return p, nil
}

func lastDone(st JournalState, id StepID) (StepResult, bool) {
	j := Journal{State: st}
	return j.Done(id)
}

// Cleanup removes the session-deny policies the journal records, once
// SessionDenyHold has passed since the last of them went in; before that it
// returns a *TooEarlyError and changes nothing. It is idempotent: a policy
// already gone counts as removed, and a journal that records an earlier
// cleanup makes no call at all. A policy whose cutoff is later than the
// journal's was put there by a later response and is left for that
// response's own cleanup. The step is recorded in r.Journal, which is
// required.
func (r *Runner) Cleanup(ctx context.Context) (*CleanupPlan, StepResult, error) {
	j := r.Journal
	if j == nil {
		return nil, StepResult{}, errors.New("cleanup: no journal")
	}
	p, err := PlanCleanup(j.State)
	if err != nil {
		return nil, StepResult{}, err
	}
	if p.Done != nil {
		prev := *p.Done
		prev.Resumed = true
		return p, prev, nil
	}
	now := r.now()
	if now.Before(p.NotBefore) {
		return p, StepResult{}, &TooEarlyError{NotBefore: p.NotBefore, Remaining: p.NotBefore.Sub(now)}
	}
	res := StepResult{ID: StepRemoveSessionDeny, Started: now}
	ctx, _ = withRecorder(ctx, &res, nil)
	client := iam.NewFromConfig(r.cfg())
	acct := j.State.Facts.KeyAccount
	part := j.State.Facts.partition()
	var removed, gone, kept []string
	for _, t := range p.Targets {
		if err := ctx.Err(); err != nil {
			return p, res, err
		}
		outcome, err := removeDeny(ctx, client, t, part, acct)
		if err != nil {
			return p, res, err
		}
		who := t.Kind + " " + t.Name
		switch outcome {
		case denyRemoved:
			removed = append(removed, who)
		case denyGone:
			gone = append(gone, who)
		default:
			kept = append(kept, who+" ("+outcome+")")
		}
	}
	var parts []string
	if len(removed) > 0 {
		parts = append(parts, "removed "+RevokePolicyName+" from "+strings.Join(removed, ", "))
	}
	if len(gone) > 0 {
		parts = append(parts, "already gone from "+strings.Join(gone, ", "))
	}
	if len(kept) > 0 {
		parts = append(parts, "left on "+strings.Join(kept, ", "))
	}
	res.Detail = strings.Join(parts, "; ")
	res.Status, res.Finished = StepDone, r.now()
	f := j.State.Facts
	f.DenyRemoved = res.Finished
	if err := j.Record(res, f); err != nil {
		return p, res, err
	}
	return p, res, nil
}

// Outcomes of removeDeny other than a newer deny, which is described.
const (
	denyRemoved = "removed"
	denyGone    = "gone"
)

// removeDeny removes one session-deny policy after reading it back, so a
// newer deny from a later response is not removed before its time.
func removeDeny(ctx context.Context, client *iam.Client, t DenyTarget, partition, acct string) (string, error) {
	var (
		doc, getAPI, delAPI, resource string
		err                           error
	)
	if t.Kind == "role" {
		getAPI, delAPI, resource = "iam:GetRolePolicy", "iam:DeleteRolePolicy", roleARN(partition, acct, t.Name)
		var out *iam.GetRolePolicyOutput
		out, err = client.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String(t.Name), PolicyName: aws.String(RevokePolicyName)})
		if err == nil {
			doc = aws.ToString(out.PolicyDocument)
		}
	} else {
		getAPI, delAPI, resource = "iam:GetUserPolicy", "iam:DeleteUserPolicy", userARN(partition, acct, t.Name)
		var out *iam.GetUserPolicyOutput
		out, err = client.GetUserPolicy(ctx, &iam.GetUserPolicyInput{UserName: aws.String(t.Name), PolicyName: aws.String(RevokePolicyName)})
		if err == nil {
			doc = aws.ToString(out.PolicyDocument)
		}
	}
	if isCode(err, "NoSuchEntity") {
		return denyGone, nil
	}
	if err != nil {
		return "", denied(err, StepRemoveSessionDeny, getAPI, resource)
	}
	cutoff, ok := denyCutoff(doc)
	if !ok {
		// Not the shape keyward writes (edited by hand, or another tool's):
		// its cutoff may be newer than 36 h ago, so it is not ours to drop.
		return "its aws:TokenIssueTime cutoff cannot be read, so it may be newer than this response's; remove it by hand once its sessions have expired", nil
	}
	if cutoff.After(t.Cutoff.Add(time.Second)) {
		until := cutoff.Add(SessionDenyHold).UTC().Format(time.RFC3339)
		return "a later response's deny, keep until " + until, nil
	}
	if t.Kind == "role" {
		_, err = client.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: aws.String(t.Name), PolicyName: aws.String(RevokePolicyName)})
	} else {
		_, err = client.DeleteUserPolicy(ctx, &iam.DeleteUserPolicyInput{UserName: aws.String(t.Name), PolicyName: aws.String(RevokePolicyName)})
	}
	if isCode(err, "NoSuchEntity") {
		return denyGone, nil
	}
	if err != nil {
		return "", denied(err, StepRemoveSessionDeny, delAPI, resource)
	}
	return denyRemoved, nil
}

// denyCutoff reads the aws:TokenIssueTime of a session-deny policy, which
// IAM returns URL-encoded.
func denyCutoff(doc string) (time.Time, bool) {
	if dec, err := url.QueryUnescape(doc); err == nil {
		doc = dec
	}
	var p struct {
		Statement []struct {
			Condition map[string]map[string]any
		}
	}
	if json.Unmarshal([]byte(doc), &p) != nil {
		return time.Time{}, false
	}
	for _, st := range p.Statement {
		for _, v := range st.Condition["DateLessThan"] {
			if s, ok := v.(string); ok {
				if t, err := time.Parse(time.RFC3339, s); err == nil {
					return t, true
				}
			}
		}
	}
	return time.Time{}, false
}

// CleanupIncident adds a cleanup's step to the incident report of the
// response it follows (inc, or nil when that report is lost, in which case
// the journal's steps stand in for it) and brings its facts and follow-ups
// up to date.
func CleanupIncident(inc *Incident, st JournalState, res StepResult) *Incident {
	if inc == nil {
		inc = &Incident{KeyID: st.KeyID, Kind: string(patterns.KindOf(st.KeyID)), Mode: "execute",
			Started: st.Created, Outcome: "session deny removed", ManualChecks: ManualChecks}
		for _, s := range st.Steps {
			s.Resumed = true
			inc.Steps = append(inc.Steps, s)
		}
	}
	inc.Steps = slices.DeleteFunc(inc.Steps, func(s StepResult) bool { return s.ID == StepRemoveSessionDeny })
	inc.Steps = append(inc.Steps, res)
	inc.Facts = st.Facts
	if !res.Finished.IsZero() {
		inc.Finished = res.Finished
	}
	inc.FollowUps = followUps(&inc.Facts, NewCredential(st.KeyID, "", ""))
	return inc
}
