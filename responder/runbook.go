package responder

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go/middleware"

	"github.com/keyward/keyward/patterns"
)

// Result is what Execute hands back: the incident for the report and, after
// a rotation, the new key, which goes to the operator once and is never
// written to the journal or report.
type Result struct {
	Incident *Incident
	NewKey   *Credential
}

// softError is a step failure that does not stop the run (verification
// that timed out, say); the step stays undone, so a re-run tries again.
type softError struct{ msg string }

// Error implements error.
func (e *softError) Error() string { return e.msg }

// run is one execution's state.
type run struct {
	r      *Runner
	c      Credential
	j      *Journal
	inc    *Incident
	f      *Facts
	newKey *Credential
}

// Execute carries out the runbook for c with the operator's credentials,
// skipping steps the journal says are done. It always returns the incident
// so far, even with an error, so a report can be written for every run.
func (r *Runner) Execute(ctx context.Context, c Credential) (*Result, error) {
	j := r.Journal
	if j == nil {
		j = &Journal{State: JournalState{Version: JournalVersion, KeyID: c.KeyID, Created: r.now()}}
	}
	f := j.State.Facts
	x := &run{r: r, c: c, j: j, f: &f, inc: &Incident{
		KeyID: c.KeyID, Kind: string(c.Kind()), Started: r.now(), Mode: "execute", ManualChecks: ManualChecks,
	}}
	err := x.all(ctx)
	x.inc.Finished = r.now()
	x.inc.Facts = *x.f
	switch {
	case err == nil:
		x.inc.Outcome = "contained"
		if c.Kind() == patterns.Temporary {
			x.inc.Outcome = "sessions denied"
		}
	default:
		var se *StopError
		if errors.As(err, &se) {
			x.inc.Outcome, x.inc.Stop = "stopped: "+string(se.Kind), se
		} else {
			x.inc.Outcome, x.inc.Error = "incomplete", err.Error()
		}
	}
	x.inc.FollowUps = followUps(x.f, c)
	return &Result{Incident: x.inc, NewKey: x.newKey}, err
}

func (x *run) all(ctx context.Context) error {
	temporary := x.c.Kind() == patterns.Temporary
	steps := []struct {
		id StepID
		on bool
		fn func(context.Context, *StepResult) error
	}{
		{StepValidate, true, x.validate},
		{StepOwnership, true, x.ownership},
		{StepOwner, true, x.owner},
		{StepDeactivate, !temporary, x.deactivate},
		{StepQuarantine, !temporary && !x.r.NoQuarantine, x.quarantine},
		{StepRevokeSessions, true, x.revokeSessions},
		{StepVerifyDead, !temporary, x.verifyDead},
		{StepInvestigate, true, x.investigate},
		{StepRevokeRoleSessions, true, x.revokeRoles},
		{StepDelete, x.r.Delete && !temporary, x.delete},
		{StepRotate, x.r.Rotate && !temporary, x.rotate},
	}
	for _, s := range steps {
		if !s.on {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := x.step(ctx, s.id, s.fn); err != nil {
			return err
		}
	}
	return nil
}

// step runs one step unless the journal has it done, records the outcome
// and calls the AfterStep hook.
func (x *run) step(ctx context.Context, id StepID, fn func(context.Context, *StepResult) error) error {
	if prev, ok := x.j.Done(id); ok {
		prev.Resumed = true
		x.add(prev)
		return nil
	}
	res := StepResult{ID: id, Started: x.r.now()}
	err := fn(ctx, &res)
	res.Finished = x.r.now()
	var soft *softError
	switch {
	case err == nil:
		if res.Status == "" {
			res.Status = StepDone
		}
		if jerr := x.j.Record(res, *x.f); jerr != nil {
			return jerr
		}
	case errors.As(err, &soft):
		res.Status, res.Error = StepFailed, err.Error()
	default:
		res.Status, res.Error = StepFailed, err.Error()
		var se *StopError
		if errors.As(err, &se) {
			res.Status = StepDone
			res.Detail, res.Error = err.Error(), ""
		}
		x.add(res)
		return err
	}
	x.add(res)
	if x.r.AfterStep != nil {
		return x.r.AfterStep(id)
	}
	return nil
}

// add appends a step result to the incident and reports it.
func (x *run) add(res StepResult) {
	x.inc.Steps = append(x.inc.Steps, res)
	if x.r.OnStep != nil {
		x.r.OnStep(res)
	}
}

// record notes a call made by a step.
func record(res *StepResult, api string, md middleware.Metadata, err error) {
	c := Call{API: api, At: time.Now().UTC()}
	if err != nil {
		c.Error, c.RequestID = errCode(err), errRequestID(err)
	} else {
		c.RequestID = requestID(md)
	}
	res.Calls = append(res.Calls, c)
}

func (x *run) validate(ctx context.Context, res *StepResult) error {
	v := x.r.Validator.Validate(ctx, x.c)
	res.Calls = append(res.Calls, Call{API: "sts:GetCallerIdentity (leaked key)", RequestID: v.RequestID, At: time.Now().UTC(), Error: v.Code})
	x.inc.Verdict = &v
	if stop := verdictStop(v); stop != nil {
		return stop
	}
	if v.Status != StatusValid {
		return fmt.Errorf("validate: %w: %s", ErrNotValidated, v.Reason)
	}
	x.f.KeyAccount, x.f.ARN, x.f.UserID = v.Account, v.ARN, v.UserID
	res.Detail = "valid: " + v.ARN
	return nil
}

func (x *run) ownership(ctx context.Context, res *StepResult) error {
	client := sts.NewFromConfig(x.r.cfg())
	id, err := client.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if id != nil {
		record(res, "sts:GetCallerIdentity", id.ResultMetadata, nil)
	} else {
		record(res, "sts:GetCallerIdentity", middleware.Metadata{}, err)
	}
	if err != nil {
		return fmt.Errorf("identify the operator: %w", err)
	}
	x.f.OperatorARN, x.f.OperatorAccount = aws.ToString(id.Arn), aws.ToString(id.Account)
	info, err := client.GetAccessKeyInfo(ctx, &sts.GetAccessKeyInfoInput{AccessKeyId: aws.String(x.c.KeyID)})
	if err != nil {
		record(res, "sts:GetAccessKeyInfo", middleware.Metadata{}, err)
		return denied(err, StepOwnership, "sts:GetAccessKeyInfo", "*")
	}
	record(res, "sts:GetAccessKeyInfo", info.ResultMetadata, nil)
	keyAcct := aws.ToString(info.Account)
	if x.f.KeyAccount == "" {
		x.f.KeyAccount = keyAcct
	}
	if keyAcct != x.f.OperatorAccount {
		return otherAccountStop(keyAcct, x.f.OperatorAccount)
	}
	res.Detail = "the key is in the operator's account " + keyAcct
	return nil
}

func (x *run) owner(ctx context.Context, res *StepResult) error {
	if isRootARN(x.f.ARN) {
		return rootStop(x.f.KeyAccount)
	}
	if x.c.Kind() == patterns.Temporary {
		// An ASIA key has no IAM record; its principal is in its ARN.
		x.f.UserName, x.f.RoleName = principalNames(x.f.ARN)
		res.Detail = "temporary key of " + x.f.ARN
		return nil
	}
	client := iam.NewFromConfig(x.r.cfg())
	lu, err := client.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: aws.String(x.c.KeyID)})
	if err != nil {
		record(res, "iam:GetAccessKeyLastUsed", middleware.Metadata{}, err)
		return denied(err, StepOwner, "iam:GetAccessKeyLastUsed", "*")
	}
	record(res, "iam:GetAccessKeyLastUsed", lu.ResultMetadata, nil)
	x.f.UserName = aws.ToString(lu.UserName)
	if x.f.UserName == "root" || x.f.UserName == "<root_account>" {
		return rootStop(x.f.KeyAccount)
	}
	if u := lu.AccessKeyLastUsed; u != nil && u.LastUsedDate != nil {
		x.f.LastUsed = fmt.Sprintf("%s in %s (%s)", u.LastUsedDate.UTC().Format(time.RFC3339), aws.ToString(u.Region), aws.ToString(u.ServiceName))
	}
	keys, err := client.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String(x.f.UserName)})
	if err != nil {
		record(res, "iam:ListAccessKeys", middleware.Metadata{}, err)
		return denied(err, StepOwner, "iam:ListAccessKeys", userARN(x.f.KeyAccount, x.f.UserName))
	}
	record(res, "iam:ListAccessKeys", keys.ResultMetadata, nil)
	x.f.UserKeys = nil
	for _, k := range keys.AccessKeyMetadata {
		x.f.UserKeys = append(x.f.UserKeys, aws.ToString(k.AccessKeyId)+" ("+string(k.Status)+")")
	}
	res.Detail = "owned by IAM user " + x.f.UserName
	return nil
}

func (x *run) deactivate(ctx context.Context, res *StepResult) error {
	out, err := iam.NewFromConfig(x.r.cfg()).UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{
		UserName: aws.String(x.f.UserName), AccessKeyId: aws.String(x.c.KeyID), Status: iamtypes.StatusTypeInactive})
	if err != nil {
		record(res, "iam:UpdateAccessKey", middleware.Metadata{}, err)
		return denied(err, StepDeactivate, "iam:UpdateAccessKey", userARN(x.f.KeyAccount, x.f.UserName))
	}
	record(res, "iam:UpdateAccessKey", out.ResultMetadata, nil)
	res.Detail = "status Inactive"
	return nil
}

func (x *run) quarantine(ctx context.Context, res *StepResult) error {
	out, err := iam.NewFromConfig(x.r.cfg()).AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{
		UserName: aws.String(x.f.UserName), PolicyArn: aws.String(QuarantinePolicyARN)})
	if err != nil {
		record(res, "iam:AttachUserPolicy", middleware.Metadata{}, err)
		return denied(err, StepQuarantine, "iam:AttachUserPolicy", userARN(x.f.KeyAccount, x.f.UserName))
	}
	record(res, "iam:AttachUserPolicy", out.ResultMetadata, nil)
	res.Detail = "attached " + QuarantinePolicyARN
	return nil
}

// RevokeSessionsPolicy is the deny that ends every session issued before
// cutoff: temporary credentials cannot be deleted, only denied.
func RevokeSessionsPolicy(cutoff time.Time) string {
	doc := map[string]any{
		"Version": "2012-10-17",
		"Statement": []any{map[string]any{
			"Effect": "Deny", "Action": []string{"*"}, "Resource": []string{"*"},
			"Condition": map[string]any{"DateLessThan": map[string]string{
				"aws:TokenIssueTime": cutoff.UTC().Format(time.RFC3339)}},
		}},
	}
	b, _ := json.Marshal(doc)
	return string(b)
}

func (x *run) revokeSessions(ctx context.Context, res *StepResult) error {
	// A second of margin so that a session minted in the same second as the
	// cutoff is still caught by DateLessThan.
	cutoff := x.r.now().Add(time.Second).Truncate(time.Second)
	doc := RevokeSessionsPolicy(cutoff)
	client := iam.NewFromConfig(x.r.cfg())
	if x.f.RoleName != "" {
		out, err := client.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String(x.f.RoleName),
			PolicyName: aws.String(RevokePolicyName), PolicyDocument: aws.String(doc)})
		if err != nil {
			record(res, "iam:PutRolePolicy", middleware.Metadata{}, err)
			return denied(err, StepRevokeSessions, "iam:PutRolePolicy", roleARN(x.f.KeyAccount, x.f.RoleName))
		}
		record(res, "iam:PutRolePolicy", out.ResultMetadata, nil)
		res.Detail = "role " + x.f.RoleName + ": sessions issued before " + cutoff.Format(time.RFC3339) + " denied"
	} else {
		out, err := client.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String(x.f.UserName),
			PolicyName: aws.String(RevokePolicyName), PolicyDocument: aws.String(doc)})
		if err != nil {
			record(res, "iam:PutUserPolicy", middleware.Metadata{}, err)
			return denied(err, StepRevokeSessions, "iam:PutUserPolicy", userARN(x.f.KeyAccount, x.f.UserName))
		}
		record(res, "iam:PutUserPolicy", out.ResultMetadata, nil)
		res.Detail = "user " + x.f.UserName + ": sessions issued before " + cutoff.Format(time.RFC3339) + " denied"
	}
	x.f.RevokedBefore = cutoff
	return nil
}

func (x *run) verifyDead(ctx context.Context, res *StepResult) error {
	interval, timeout := x.r.PollInterval, x.r.PollTimeout
	if interval <= 0 {
		interval = defaultPollInterval
	}
	if timeout <= 0 {
		timeout = defaultPollTimeout
	}
	deadline := time.Now().Add(timeout)
	for n := 1; ; n++ {
		v := x.r.Validator.Validate(ctx, x.c)
		res.Calls = append(res.Calls, Call{API: "sts:GetCallerIdentity (leaked key)", RequestID: v.RequestID, At: time.Now().UTC(), Error: v.Code})
		if v.Status == StatusInvalid {
			res.Detail = fmt.Sprintf("InvalidClientTokenId after %d check(s)", n)
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Now().Add(interval).After(deadline) {
			return &softError{fmt.Sprintf("verify: the key still answered %s after %s; IAM may be slow, re-run to check again", v.Status, timeout)}
		}
		if err := sleep(ctx, interval); err != nil {
			return err
		}
	}
}

func (x *run) investigate(ctx context.Context, res *StepResult) error {
	t, err := x.r.investigate(ctx, x.c.KeyID, res)
	if err != nil {
		return err
	}
	x.f.Trail = t
	x.f.Roles = t.RolesAssumed
	res.Detail = fmt.Sprintf("%d events in %d regions for %d key(s)", len(t.Events), len(t.Regions), len(t.KeysFollowed))
	if t.RegionSource == RegionsFromDefault {
		res.Detail += "; " + RegionSet{Source: t.RegionSource, Why: t.RegionsWhy}.Describe()
	}
	return nil
}

func (x *run) revokeRoles(ctx context.Context, res *StepResult) error {
	if len(x.f.Roles) == 0 {
		res.Status, res.Detail = StepSkipped, "the key assumed no role"
		return nil
	}
	cutoff := x.r.now().Add(time.Second).Truncate(time.Second)
	doc := RevokeSessionsPolicy(cutoff)
	client := iam.NewFromConfig(x.r.cfg())
	var done []string
	for _, arn := range x.f.Roles {
		name := arn[strings.LastIndex(arn, "/")+1:]
		out, err := client.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String(name),
			PolicyName: aws.String(RevokePolicyName), PolicyDocument: aws.String(doc)})
		if err != nil {
			record(res, "iam:PutRolePolicy("+name+")", middleware.Metadata{}, err)
			return denied(err, StepRevokeRoleSessions, "iam:PutRolePolicy", arn)
		}
		record(res, "iam:PutRolePolicy("+name+")", out.ResultMetadata, nil)
		done = append(done, name)
	}
	res.Detail = "sessions denied for roles " + strings.Join(done, ", ")
	x.f.RolesRevokedBefore = cutoff
	return nil
}

func (x *run) delete(ctx context.Context, res *StepResult) error {
	if _, ok := x.j.Done(StepInvestigate); !ok {
		return errors.New("delete: the investigation has not completed; the key is kept for evidence")
	}
	out, err := iam.NewFromConfig(x.r.cfg()).DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{
		UserName: aws.String(x.f.UserName), AccessKeyId: aws.String(x.c.KeyID)})
	if isCode(err, "NoSuchEntity") {
		// Deleted by an earlier run that crashed before journalling.
		record(res, "iam:DeleteAccessKey", middleware.Metadata{}, err)
		res.Detail = "already deleted"
		return nil
	}
	if err != nil {
		record(res, "iam:DeleteAccessKey", middleware.Metadata{}, err)
		return denied(err, StepDelete, "iam:DeleteAccessKey", userARN(x.f.KeyAccount, x.f.UserName))
	}
	record(res, "iam:DeleteAccessKey", out.ResultMetadata, nil)
	res.Detail = "deleted"
	return nil
}

func (x *run) rotate(ctx context.Context, res *StepResult) error {
	if prev, ok := x.j.Last(StepRotate); ok && prev.Status == StepStarted {
		// An earlier run may have created a key and crashed before handing
		// it over; creating another could hit the limit or orphan a key.
		return fmt.Errorf("rotate: an earlier run started rotating at %s and did not finish; check iam:ListAccessKeys for user %s, delete any key whose secret you do not have, then remove the rotate entries from %s",
			prev.Started.Format(time.RFC3339), x.f.UserName, x.j.Path())
	}
	if err := x.j.Record(StepResult{ID: StepRotate, Status: StepStarted, Started: x.r.now()}, *x.f); err != nil {
		return err
	}
	client := iam.NewFromConfig(x.r.cfg())
	out, err := client.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(x.f.UserName)})
	if err != nil {
		record(res, "iam:CreateAccessKey", middleware.Metadata{}, err)
		// Nothing was created: clear the started mark.
		x.j.State.Steps = x.j.State.Steps[:len(x.j.State.Steps)-1]
		if serr := x.j.save(); serr != nil {
			return serr
		}
		var le *iamtypes.LimitExceededException
		if errors.As(err, &le) {
			ke := &KeyLimitError{UserName: x.f.UserName}
			if keys, lerr := client.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String(x.f.UserName)}); lerr == nil {
				for _, k := range keys.AccessKeyMetadata {
					ke.Keys = append(ke.Keys, aws.ToString(k.AccessKeyId)+" ("+string(k.Status)+")")
				}
			}
			return ke
		}
		return denied(err, StepRotate, "iam:CreateAccessKey", userARN(x.f.KeyAccount, x.f.UserName))
	}
	record(res, "iam:CreateAccessKey", out.ResultMetadata, nil)
	k := out.AccessKey
	nk := NewCredential(aws.ToString(k.AccessKeyId), aws.ToString(k.SecretAccessKey), "")
	x.newKey = &nk
	x.f.NewKeyID = nk.KeyID
	res.Detail = "new key " + nk.KeyID + " for user " + x.f.UserName
	return nil
}
