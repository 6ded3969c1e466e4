package responder

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/keyward/keyward/patterns"
)

// Rotation defaults (issue 11). IAM is eventually consistent: a key just
// created can answer InvalidClientTokenId for a few seconds, so the new key
// is polled, within a bound, before anything depends on it.
const (
	defaultRotatePollInterval = 2 * time.Second
	defaultRotatePollTimeout  = 2 * time.Minute
	// DefaultRotateGrace is how long the old key stays inactive before
	// 'keyward rotate --finish' deletes it: long enough for a forgotten
	// copy of it (a CI secret, a second laptop) to fail loudly and be
	// noticed while the key can still be re-activated.
	DefaultRotateGrace = 7 * 24 * time.Hour
)

// RotatePermissions are the IAM actions Rotate and Finish call, on the
// user's own ARN ('keyward rotate --print-policy' prints them as a policy).
var RotatePermissions = []string{
	"iam:CreateAccessKey", "iam:DeleteAccessKey", "iam:GetAccessKeyLastUsed", "iam:ListAccessKeys", "iam:UpdateAccessKey",
}

// RotatePolicy is the least-privilege policy for rotating one's own key:
// the actions of RotatePermissions on the caller's own user only.
func RotatePolicy() PolicyDocument {
	return PolicyDocument{Version: "2012-10-17", Statement: []PolicyStatement{{Sid: "KeywardRotateOwnKey", Effect: "Allow",
		Action: RotatePermissions, Resource: []string{"arn:aws:iam::*:user/${aws:username}"}}}}
}

// RotateStage names the stages of a rotation, for progress and for the
// test hook.
type RotateStage string

// The stages of Rotate, in order.
const (
	RotateIdentify   RotateStage = "identify"
	RotateCreate     RotateStage = "create"
	RotateVerify     RotateStage = "verify"
	RotateStore      RotateStage = "store"
	RotateDeactivate RotateStage = "deactivate"
)

// Rotator rotates one IAM user's own long-term access key the way AWS's IAM
// User Guide ("Update access keys") describes: create a second key, check it
// works, switch to it, deactivate the old key, and delete the old key only
// after a grace period (Finish).
type Rotator struct {
	// Config is an SDK configuration whose credentials are the key being
	// rotated (a static provider), region and endpoint included.
	Config aws.Config
	// ConfigFor returns the same configuration signed by another key; the
	// new key is checked through it.
	ConfigFor func(Credential) aws.Config
	// PollInterval and PollTimeout bound the wait for the new key to work.
	PollInterval, PollTimeout time.Duration
	// Store saves the new key where the old one was (the credentials
	// file). Rotate rolls the new key back if it fails.
	Store func(newKey Credential) error
	// AfterStage, if set, runs after each stage; an error fails the
	// rotation there, as a fault would. Tests inject failures with it.
	AfterStage func(RotateStage) error
	// OnStage, if set, is told each completed stage with a line of detail.
	OnStage func(RotateStage, string)
}

// Rotation is what Rotate did.
type Rotation struct {
	UserName string `json:"user_name"`
	ARN      string `json:"arn"`
	OldKeyID string `json:"old_key_id"`
	NewKeyID string `json:"new_key_id"`
	// Deactivated is false when the new key was stored but the old key
	// could not be deactivated: it still works and Finish must be run.
	Deactivated bool      `json:"old_key_deactivated"`
	At          time.Time `json:"at"`
}

// ErrNotUserKey is returned when the key to rotate is not an IAM user's
// long-term key (a root key, a role session): there is nothing Rotate may
// create in its place.
var ErrNotUserKey = errors.New("not an IAM user's access key")

// RotateError is a rotation that failed; it says whether the new key was
// rolled back, so the operator knows the state left behind.
type RotateError struct {
	Stage RotateStage
	Err   error
	// NewKeyID is the key created before the failure, if any.
	NewKeyID string
	// RolledBack is true when that key was deleted again: the old key and
	// the credentials file are as they were.
	RolledBack bool
	// RollbackErr is why the rollback failed, if it did.
	RollbackErr error
}

// Error implements error.
func (e *RotateError) Error() string {
	msg := fmt.Sprintf("rotate: %s: %v", e.Stage, e.Err)
	switch {
	case e.NewKeyID == "":
	case e.RolledBack:
		msg += fmt.Sprintf("; the new key %s was deleted again, the old key still works", e.NewKeyID)
	case e.RollbackErr != nil:
		msg += fmt.Sprintf("; the new key %s could not be deleted (%v): delete it by hand", e.NewKeyID, e.RollbackErr)
	}
	return msg
}

// Unwrap returns the cause.
func (e *RotateError) Unwrap() error { return e.Err }

// Rotate rotates the key of r.Config. On a failure before the new key is
// stored, the new key is deleted again (signed by the old key), so the old
// key keeps working and nothing else changed.
func (r *Rotator) Rotate(ctx context.Context, oldKeyID string) (*Rotation, error) {
	rot := &Rotation{OldKeyID: oldKeyID, At: time.Now().UTC()}
	fail := func(stage RotateStage, err error) (*Rotation, error) {
		return rot, &RotateError{Stage: stage, Err: err}
	}
	if patterns.KindOf(oldKeyID) != patterns.LongTerm {
		return fail(RotateIdentify, fmt.Errorf("%w: %s is not a long-term key", ErrNotUserKey, oldKeyID))
	}
	id, err := sts.NewFromConfig(r.Config).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return fail(RotateIdentify, fmt.Errorf("the current key does not work: %w", err))
	}
	rot.ARN = aws.ToString(id.Arn)
	user, _ := principalNames(rot.ARN)
	if user == "" || strings.Contains(rot.ARN, ":assumed-role/") {
		return fail(RotateIdentify, fmt.Errorf("%w: %s", ErrNotUserKey, rot.ARN))
	}
	rot.UserName = user
	client := iam.NewFromConfig(r.Config)
	keys, err := client.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String(user)})
	if err != nil {
		return fail(RotateIdentify, denied(err, StepRotate, "iam:ListAccessKeys", rot.ARN))
	}
	var all []string
	for _, k := range keys.AccessKeyMetadata {
		d := aws.ToString(k.AccessKeyId) + " (" + string(k.Status)
		if aws.ToString(k.AccessKeyId) == oldKeyID {
			d += ", the key being rotated"
		}
		all = append(all, d+")")
	}
	if len(keys.AccessKeyMetadata) >= 2 {
		return fail(RotateIdentify, &KeyLimitError{UserName: user, Keys: all})
	}
	if err := r.after(RotateIdentify, "IAM user "+user); err != nil {
		return fail(RotateIdentify, err)
	}

	// CreateAccessKey is not idempotent: a retry after a dropped answer
	// would make a second key whose secret nobody ever sees.
	out, err := client.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(user)},
		func(o *iam.Options) { o.RetryMaxAttempts = 1 })
	if err != nil {
		var le *iamtypes.LimitExceededException
		if errors.As(err, &le) {
			return fail(RotateCreate, &KeyLimitError{UserName: user, Keys: all})
		}
		return fail(RotateCreate, denied(err, StepRotate, "iam:CreateAccessKey", rot.ARN))
	}
	nk := NewCredential(aws.ToString(out.AccessKey.AccessKeyId), aws.ToString(out.AccessKey.SecretAccessKey), "")
	defer nk.Wipe()
	rot.NewKeyID = nk.KeyID
	rollback := func(stage RotateStage, err error) (*Rotation, error) {
		re := &RotateError{Stage: stage, Err: err, NewKeyID: nk.KeyID}
		// A fresh context: the rollback must run even when ctx was
		// cancelled, or the user is left with a key they never got.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		_, derr := client.DeleteAccessKey(rctx, &iam.DeleteAccessKeyInput{UserName: aws.String(user), AccessKeyId: aws.String(nk.KeyID)})
		if derr != nil && !isCode(derr, "NoSuchEntity") {
			re.RollbackErr = derr
		} else {
			re.RolledBack = true
		}
		rot.NewKeyID = ""
		return rot, re
	}
	if err := r.after(RotateCreate, "new key "+nk.KeyID); err != nil {
		return rollback(RotateCreate, err)
	}
	if err := r.verifyNew(ctx, nk, rot.ARN); err != nil {
		return rollback(RotateVerify, err)
	}
	if err := r.after(RotateVerify, "the new key works as "+rot.ARN); err != nil {
		return rollback(RotateVerify, err)
	}
	if err := r.Store(nk); err != nil {
		return rollback(RotateStore, err)
	}
	if err := r.after(RotateStore, "stored"); err != nil {
		// Stored already: rolling back would leave the file holding a
		// deleted key. Report, and let Finish complete the rotation.
		return rot, &RotateError{Stage: RotateStore, Err: err}
	}
	// Deactivate with the new key: the old one is now only a fallback.
	newClient := iam.NewFromConfig(r.ConfigFor(nk))
	_, err = newClient.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String(user),
		AccessKeyId: aws.String(oldKeyID), Status: iamtypes.StatusTypeInactive})
	if err != nil {
		return rot, &RotateError{Stage: RotateDeactivate, Err: denied(err, StepRotate, "iam:UpdateAccessKey", rot.ARN)}
	}
	rot.Deactivated = true
	if err := r.after(RotateDeactivate, "old key "+oldKeyID+" is Inactive"); err != nil {
		return rot, &RotateError{Stage: RotateDeactivate, Err: err}
	}
	return rot, nil
}

func (r *Rotator) after(s RotateStage, detail string) error {
	if r.OnStage != nil {
		r.OnStage(s, detail)
	}
	if r.AfterStage != nil {
		return r.AfterStage(s)
	}
	return nil
}

// verifyNew polls GetCallerIdentity with the new key until it answers as
// the same principal, within PollTimeout: IAM takes a moment to accept a
// new key everywhere.
func (r *Rotator) verifyNew(ctx context.Context, nk Credential, wantARN string) error {
	interval, timeout := r.PollInterval, r.PollTimeout
	if interval <= 0 {
		interval = defaultRotatePollInterval
	}
	if timeout <= 0 {
		timeout = defaultRotatePollTimeout
	}
	client := sts.NewFromConfig(r.ConfigFor(nk))
	deadline := time.Now().Add(timeout)
	for {
		id, err := client.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err == nil {
			if got := aws.ToString(id.Arn); got != wantARN {
				return fmt.Errorf("the new key answers as %s, not %s", got, wantARN)
			}
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Now().Add(interval).After(deadline) {
			return fmt.Errorf("the new key did not work within %s: %s", timeout, shortErr(err))
		}
		if err := sleep(ctx, interval); err != nil {
			return err
		}
	}
}

// FinishResult is what Finish did with the old key.
type FinishResult struct {
	OldKeyID string `json:"old_key_id"`
	// Action is "deleted", "already deleted" or "waiting".
	Action string `json:"action"`
	// DeleteAfter is when the grace period ends.
	DeleteAfter time.Time `json:"delete_after"`
	// LastUsed is the old key's last use as IAM records it, if ever.
	LastUsed time.Time `json:"last_used,omitzero"`
	// ReDeactivated is set when the old key was found Active again (an
	// earlier deactivation failed, or someone re-activated it).
	ReDeactivated bool `json:"re_deactivated,omitempty"`
}

// ErrGraceNotOver is returned by Finish before the grace period ends.
var ErrGraceNotOver = errors.New("the grace period is not over")

// Finish ends a rotation: it makes sure the old key is inactive and, once
// replacedAt+grace has passed, deletes it. r.Config is signed by the new key.
func (r *Rotator) Finish(ctx context.Context, userName, oldKeyID string, replacedAt time.Time, grace time.Duration, now time.Time) (*FinishResult, error) {
	res := &FinishResult{OldKeyID: oldKeyID, DeleteAfter: replacedAt.Add(grace).UTC()}
	client := iam.NewFromConfig(r.Config)
	keys, err := client.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String(userName)})
	if err != nil {
		return res, fmt.Errorf("finish: %w", denied(err, StepRotate, "iam:ListAccessKeys", userName))
	}
	var status iamtypes.StatusType
	for _, k := range keys.AccessKeyMetadata {
		if aws.ToString(k.AccessKeyId) == oldKeyID {
			status = k.Status
		}
	}
	if status == "" {
		res.Action = "already deleted"
		return res, nil
	}
	if lu, err := client.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: aws.String(oldKeyID)}); err == nil &&
		lu.AccessKeyLastUsed != nil && lu.AccessKeyLastUsed.LastUsedDate != nil {
		res.LastUsed = lu.AccessKeyLastUsed.LastUsedDate.UTC()
	}
	if status == iamtypes.StatusTypeActive {
		if _, err := client.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String(userName),
			AccessKeyId: aws.String(oldKeyID), Status: iamtypes.StatusTypeInactive}); err != nil {
			return res, fmt.Errorf("finish: deactivate the old key: %w", denied(err, StepRotate, "iam:UpdateAccessKey", userName))
		}
		res.ReDeactivated = true
		// The grace period starts now: the old key worked until this moment.
		res.DeleteAfter = now.Add(grace).UTC()
	}
	if now.Before(res.DeleteAfter) {
		res.Action = "waiting"
		return res, ErrGraceNotOver
	}
	_, err = client.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String(userName), AccessKeyId: aws.String(oldKeyID)})
	if isCode(err, "NoSuchEntity") {
		res.Action = "already deleted"
		return res, nil
	}
	if err != nil {
		return res, fmt.Errorf("finish: delete the old key: %w", denied(err, StepRotate, "iam:DeleteAccessKey", userName))
	}
	res.Action = "deleted"
	return res, nil
}
