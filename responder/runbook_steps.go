package responder

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/keyward/keyward/patterns"
)

// Key statuses the owner step reads from IAM (Facts.KeyStatus).
const (
	KeyActive   = "Active"
	KeyInactive = "Inactive"
	// KeyAbsent: IAM lists no such key for the user (deleted).
	KeyAbsent = "absent"
)

// ownership identifies the operator and the key's account. It is
// informational: when sts:GetAccessKeyInfo is denied, the account decoded
// from the key's ID stands in and the run goes on (issue 8: a missing
// informational permission stopped containment).
func (x *Execution) ownership(ctx context.Context, res *StepResult) error {
	client := sts.NewFromConfig(x.cfg())
	id, err := client.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return fmt.Errorf("identify the operator: %w", err)
	}
	x.f.OperatorARN, x.f.OperatorAccount = aws.ToString(id.Arn), aws.ToString(id.Account)
	switch {
	case x.r.Partition != "":
		x.f.Partition = x.r.Partition
	case partitionOfARN(x.f.OperatorARN) != "":
		x.f.Partition = partitionOfARN(x.f.OperatorARN)
	default:
		x.f.Partition = partitionOfRegion(x.r.Config.Region)
	}
	info, err := client.GetAccessKeyInfo(ctx, &sts.GetAccessKeyInfoInput{AccessKeyId: aws.String(x.c.KeyID)})
	if err != nil {
		acct, ok := patterns.AccountID(x.c.KeyID)
		if ok && acct != x.f.OperatorAccount {
			return otherAccountStop(acct, x.f.OperatorAccount)
		}
		x.f.KeyAccount = x.f.OperatorAccount
		return fmt.Errorf("informational, the run went on (account taken from the key ID): %w", denied(err, StepOwnership, "sts:GetAccessKeyInfo", "*"))
	}
	keyAcct := aws.ToString(info.Account)
	x.f.KeyAccount = keyAcct
	if keyAcct != x.f.OperatorAccount {
		return otherAccountStop(keyAcct, x.f.OperatorAccount)
	}
	res.Detail = "the key is in the operator's account " + keyAcct
	return nil
}

// owner reads the evidence before the leaked key signs anything (its own
// GetCallerIdentity would overwrite last-used): the owner, last use, the
// key's IAM status and the user's managed policies. Each call is
// informational; a denied one is reported and the run goes on.
func (x *Execution) owner(ctx context.Context, res *StepResult) error {
	client := iam.NewFromConfig(x.cfg())
	var errs []error
	lu, err := client.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: aws.String(x.c.KeyID)})
	switch {
	case isCode(err, "NoSuchEntity") && x.f.UserName == "":
		// IAM holds no such key in the operator's account: deleted.
		x.f.KeyStatus, x.f.KeyInIAM = KeyAbsent, false
		res.Detail = "IAM holds no such key (deleted)"
		return nil
	case err != nil:
		errs = append(errs, denied(err, StepOwner, "iam:GetAccessKeyLastUsed", "*"))
	default:
		if name := aws.ToString(lu.UserName); name != "" {
			x.f.UserName = name
			// IAM answered for the key: it exists, whatever its status.
			x.f.KeyInIAM = true
		}
		if x.f.UserName == "root" || x.f.UserName == "<root_account>" {
			return rootStop(x.f.KeyAccount)
		}
		if u := lu.AccessKeyLastUsed; u != nil && u.LastUsedDate != nil && x.f.LastUsed == "" {
			// Kept from the first run only: later runs would see keyward's own
			// validation as the last use.
			x.f.LastUsed = fmt.Sprintf("%s in %s (%s)", u.LastUsedDate.UTC().Format(time.RFC3339), aws.ToString(u.Region), aws.ToString(u.ServiceName))
		}
	}
	if x.f.UserName == "" {
		return errors.Join(append(errs, errors.New("owner unknown: the user is taken from the leaked key's ARN after validation"))...)
	}
	uarn := userARN(x.f.partition(), x.f.KeyAccount, x.f.UserName)
	keys, err := client.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String(x.f.UserName)})
	if err != nil {
		x.f.KeyStatus = ""
		errs = append(errs, denied(err, StepOwner, "iam:ListAccessKeys", uarn))
	} else {
		x.f.UserKeys, x.f.KeyStatus = nil, KeyAbsent
		for _, k := range keys.AccessKeyMetadata {
			id := aws.ToString(k.AccessKeyId)
			x.f.UserKeys = append(x.f.UserKeys, id+" ("+string(k.Status)+")")
			if id == x.c.KeyID {
				x.f.KeyStatus = string(k.Status)
			}
		}
	}
	pols, err := client.ListAttachedUserPolicies(ctx, &iam.ListAttachedUserPoliciesInput{UserName: aws.String(x.f.UserName)})
	if err != nil {
		errs = append(errs, denied(err, StepOwner, "iam:ListAttachedUserPolicies", uarn))
	} else {
		x.f.UserPolicies = nil
		for _, p := range pols.AttachedPolicies {
			arn := aws.ToString(p.PolicyArn)
			x.f.UserPolicies = append(x.f.UserPolicies, arn)
			if isQuarantineARN(arn) && !slices.Contains(x.f.Quarantined, arn) && x.f.AWSQuarantine == "" {
				x.f.AWSQuarantine = arn
			}
		}
	}
	res.Detail = "owned by IAM user " + x.f.UserName
	if x.f.KeyStatus != "" {
		res.Detail += ", key " + x.f.KeyStatus
	}
	if x.f.AWSQuarantine != "" {
		res.Detail += "; " + x.f.AWSQuarantine + " was already attached, likely by AWS (a support case is probably open)"
	}
	if len(errs) > 0 {
		return fmt.Errorf("informational, the run went on: %w", errors.Join(errs...))
	}
	return nil
}

// validate asks the leaked key itself. An unknown answer is treated as
// live; a dead answer still leads to the session deny and investigation
// when IAM shows the key exists (already inactive: its sessions may live).
func (x *Execution) validate(ctx context.Context, res *StepResult) error {
	v := x.validateKey(ctx)
	x.inc.Verdict = &v
	x.f.Gone = false
	if v.Status == StatusCanary {
		return verdictStop(v)
	}
	if v.Status == StatusValid {
		if isRootARN(v.ARN) {
			return rootStop(v.Account)
		}
		if x.f.OperatorAccount != "" && v.Account != "" && v.Account != x.f.OperatorAccount {
			// The ownership step could not ask STS; the key's own answer
			// says it is another account's.
			return otherAccountStop(v.Account, x.f.OperatorAccount)
		}
		x.f.ARN, x.f.UserID = v.ARN, v.UserID
		if x.f.KeyAccount == "" {
			x.f.KeyAccount = v.Account
		}
		if x.temporary() {
			x.f.UserName, x.f.RoleName = principalNames(v.ARN)
		} else if x.f.UserName == "" {
			x.f.UserName, _ = principalNames(v.ARN)
		}
		res.Detail = "valid: " + v.ARN
		return nil
	}
	inIAM := x.f.KeyStatus == KeyActive || x.f.KeyStatus == KeyInactive || (x.f.KeyStatus == "" && x.f.KeyInIAM)
	switch {
	case v.Status == StatusUnknown && x.f.KeyStatus != KeyAbsent && x.f.KeyStatus != KeyInactive:
		res.Detail = "unknown (" + v.Reason + "); treated as live"
		if x.f.KeyStatus == KeyActive {
			res.Detail = "unknown (" + v.Reason + "); IAM shows the key Active, so it is treated as live"
		}
		return nil
	case !x.temporary() && x.f.KeyStatus == KeyActive:
		res.Detail = string(v.Status) + " to STS, but IAM shows the key Active: treated as live"
		return nil
	case !x.temporary() && inIAM && x.f.UserName != "":
		res.Detail = "already inactive (" + string(v.Status) + "): sessions it minted may still live, so the session deny and the investigation still run"
		return nil
	case !x.temporary() && x.f.KeyStatus == KeyAbsent && x.f.UserName != "" && x.earlierResponse():
		// Deleted by an earlier response (--delete): a re-check still runs.
		res.Detail = "deleted by an earlier response: the re-check and the session deny still run"
		return nil
	case x.goneInOwnAccount():
		// Not live now, but it was: what it made and the sessions it
		// minted may outlive it (a false all-clear, issue 8).
		x.f.Gone = true
		res.Detail = string(v.Status) + " (" + v.Reason + ") and " + goneWhy(x.temporary()) + ", in the operator's account: " + GoneNote
		return nil
	}
	return verdictStop(v)
}

// GoneNote says what a run does for a key that is not live and not in IAM
// in the operator's account (Facts.Gone).
const GoneNote = "while live it may have created access keys, users, roles or login profiles and minted sessions that still work (up to 36 h), so CloudTrail is searched for what it and every credential derived from it did, and what they made is contained; \"nothing to contain\" only if that search finds no activity"

// goneWhy says why IAM cannot act on a gone key.
func goneWhy(temporary bool) string {
	if temporary {
		return "a temporary key cannot be deactivated"
	}
	return "IAM holds no such key (deleted, or its owner could not be read)"
}

// goneInOwnAccount reports whether a key that is not live belongs to the
// operator's account, or to an account that cannot be determined: such a
// key's past use is searched rather than taken as nothing to contain.
func (x *Execution) goneInOwnAccount() bool {
	return x.f.KeyAccount == "" || x.f.OperatorAccount == "" || x.f.KeyAccount == x.f.OperatorAccount
}

// earlierResponse reports whether the journal records this key deactivated
// or deleted by an earlier run.
func (x *Execution) earlierResponse() bool {
	// Done, not skipped: a run that found the key already gone skipped
	// both, and the key stays gone (Facts.Gone) on a re-check.
	d, deactivated := x.j.Done(StepDeactivate)
	e, deleted := x.j.Done(StepDelete)
	return deactivated && d.Status == StepDone || deleted && e.Status == StepDone
}

// validateKey validates in the partition of the facts, or, when the
// partition is unknown and the commercial one says the key is invalid, in
// the other partitions too: a GovCloud or China key is invalid on the
// commercial endpoint.
func (x *Execution) validateKey(ctx context.Context) Verdict {
	parts := []string{x.f.partition()}
	if x.r.Partition == "" && x.f.Partition == "" {
		parts = Partitions
	}
	var v Verdict
	for _, p := range parts {
		v = x.r.Validator.ValidateIn(ctx, x.c, PartitionRegion(p))
		if v.Status != StatusInvalid {
			if v.Status == StatusValid && x.f.Partition == "" {
				x.f.Partition = p
			}
			return v
		}
	}
	return v
}

func (x *Execution) deactivate(ctx context.Context, res *StepResult) error {
	if x.f.Gone {
		res.Status, res.Detail = StepSkipped, "nothing to deactivate: "+goneWhy(false)
		return nil
	}
	if x.f.KeyStatus == KeyInactive || x.f.KeyStatus == KeyAbsent {
		res.Status, res.Detail = StepSkipped, "already "+strings.ToLower(x.f.KeyStatus)+" in IAM"
		return nil
	}
	if x.f.UserName == "" {
		return errors.New("deactivate: the key's owner is unknown (grant iam:GetAccessKeyLastUsed)")
	}
	_, err := iam.NewFromConfig(x.cfg()).UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{
		UserName: aws.String(x.f.UserName), AccessKeyId: aws.String(x.c.KeyID), Status: iamtypes.StatusTypeInactive})
	if isCode(err, "NoSuchEntity") {
		x.f.KeyStatus = KeyAbsent
		res.Status, res.Detail = StepSkipped, "the key no longer exists in IAM"
		return nil
	}
	if err != nil {
		return denied(err, StepDeactivate, "iam:UpdateAccessKey", userARN(x.f.partition(), x.f.KeyAccount, x.f.UserName))
	}
	x.f.KeyStatus = KeyInactive
	res.Detail = "status Inactive"
	return nil
}

// checkDead trusts an earlier verification while IAM still shows the key
// inactive or gone and this run did not deactivate it afresh.
func (x *Execution) checkDead(context.Context) (bool, error) {
	if d, ok := x.status(StepDeactivate); ok && d.Status == StepDone && !d.Resumed {
		return false, nil
	}
	return x.f.KeyStatus == KeyInactive || x.f.KeyStatus == KeyAbsent, nil
}

func (x *Execution) checkDeactivated(context.Context) (bool, error) {
	return x.f.KeyStatus == KeyInactive || x.f.KeyStatus == KeyAbsent, nil
}

// quarantine attaches the newest quarantine policy the partition has. A
// failure is reported with its fix and never stops the steps after it.
func (x *Execution) quarantine(ctx context.Context, res *StepResult) error {
	if x.f.Gone {
		res.Status, res.Detail = StepSkipped, "not attached: "+goneWhy(false)+", so it cannot be re-activated"
		return nil
	}
	if x.f.AWSQuarantine != "" {
		res.Status = StepSkipped
		res.Detail = x.f.AWSQuarantine + " is already attached, likely by AWS: a support case about this key is probably open"
		return nil
	}
	if x.f.UserName == "" {
		return errors.New("quarantine: the key's owner is unknown")
	}
	client := iam.NewFromConfig(x.cfg())
	var missing []string
	for _, v := range QuarantineVersions {
		arn := QuarantineARN(x.f.partition(), v)
		_, err := client.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String(x.f.UserName), PolicyArn: aws.String(arn)})
		switch {
		case err == nil:
			x.f.Quarantined = appendNew(x.f.Quarantined, arn)
			x.f.UserPolicies = appendNew(x.f.UserPolicies, arn)
			res.Detail = "attached " + arn
			if len(missing) > 0 {
				res.Detail += " (" + strings.Join(missing, ", ") + " not in this partition)"
			}
			return nil
		case isCode(err, "NoSuchEntity"):
			missing = append(missing, QuarantinePolicyPrefix+v)
			continue
		case isCode(err, "LimitExceeded"):
			return fmt.Errorf("quarantine: user %s already has the maximum of managed policies (LimitExceeded); the key is deactivated and the steps after this one still ran; to quarantine, detach a policy (aws iam list-attached-user-policies --user-name %s) or raise the quota, then: aws iam attach-user-policy --user-name %s --policy-arn %s",
				x.f.UserName, x.f.UserName, x.f.UserName, arn)
		default:
			return denied(err, StepQuarantine, "iam:AttachUserPolicy", userARN(x.f.partition(), x.f.KeyAccount, x.f.UserName))
		}
	}
	return fmt.Errorf("quarantine: no quarantine policy exists in partition %s (NoSuchEntity for %s); the steps after this one still ran", x.f.partition(), strings.Join(missing, ", "))
}

func (x *Execution) checkQuarantined(context.Context) (bool, error) {
	for _, p := range x.f.UserPolicies {
		if isQuarantineARN(p) {
			return true, nil
		}
	}
	return x.f.AWSQuarantine != "", nil
}

// verifyDead polls the leaked key, bounded, until STS says
// InvalidClientTokenId. A timeout fails the step, and a failed verify is
// never "contained".
func (x *Execution) verifyDead(ctx context.Context, res *StepResult) error {
	if x.f.Gone {
		if v := x.inc.Verdict; x.f.KeyStatus == KeyAbsent || v != nil && (v.Status == StatusInvalid || v.Status == StatusExpired) {
			res.Detail = "IAM holds no such key, or STS refused it"
			if v != nil {
				res.Detail += " (" + string(v.Status) + ")"
			}
			return nil
		}
		return errors.New("verify: the key did not validate, but IAM's status of it could not be read: with its real secret it may still work")
	}
	if x.f.KeyStatus == KeyActive {
		// Deactivation failed: polling would only wait out the timeout.
		return errors.New("verify: IAM still shows the key Active; it was not deactivated")
	}
	if !x.c.HasSecret() {
		if x.f.KeyStatus == KeyInactive || x.f.KeyStatus == KeyAbsent {
			res.Detail = "IAM shows the key " + strings.ToLower(x.f.KeyStatus) + " (no secret to test it with)"
			return nil
		}
		return errors.New("verify: no secret to test the key with, and IAM's status of it could not be read")
	}
	interval, timeout := x.r.PollInterval, x.r.PollTimeout
	if interval <= 0 {
		interval = defaultPollInterval
	}
	if timeout <= 0 {
		timeout = defaultPollTimeout
	}
	deadline := time.Now().Add(timeout)
	for n := 1; ; n++ {
		v := x.r.Validator.ValidateIn(ctx, x.c, PartitionRegion(x.f.partition()))
		if v.Status == StatusInvalid {
			res.Detail = fmt.Sprintf("InvalidClientTokenId after %d check(s)", n)
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Now().Add(interval).After(deadline) {
			return fmt.Errorf("verify: the key still answered %s after %s; IAM may be slow, re-run to check again", v.Status, timeout)
		}
		if err := sleep(ctx, interval); err != nil {
			return err
		}
	}
}

func (x *Execution) investigate(ctx context.Context, res *StepResult) error {
	t, err := x.r.investigate(ctx, x, x.c.KeyID, res)
	if err != nil {
		return err
	}
	x.f.Trail = t
	switch {
	case x.r.Recheck && !x.f.RecheckAfter.IsZero() && !t.Until.Before(x.f.RecheckAfter):
		// This search saw everything up to the delivery delay after the
		// last containment; the persistence step may still reopen it.
		x.f.Rechecked = t.Until
	case x.r.Recheck && !x.f.RecheckAfter.IsZero():
		res.Detail = "too early for the re-check (due " + x.f.RecheckAfter.Format(time.RFC3339) + "); "
	default:
		x.f.RecheckAfter, x.f.Rechecked = t.Until.Add(CloudTrailDeliveryDelay), time.Time{}
	}
	res.Detail += fmt.Sprintf("%d events in %d regions for %d key(s); CloudTrail's view ends %s", len(t.Events), len(t.Regions), len(t.KeysFollowed), t.Until.Format(time.RFC3339))
	if t.RegionSource == RegionsFromDefault {
		res.Detail += "; " + RegionSet{Source: t.RegionSource, Why: t.RegionsWhy}.Describe()
	}
	return nil
}

func (x *Execution) delete(ctx context.Context, res *StepResult) error {
	if x.f.Gone {
		res.Status, res.Detail = StepSkipped, "nothing to delete: "+goneWhy(false)
		return nil
	}
	if !x.succeeded(StepInvestigate) {
		return errors.New("delete: the investigation has not completed; the key is kept for evidence")
	}
	_, err := iam.NewFromConfig(x.cfg()).DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{
		UserName: aws.String(x.f.UserName), AccessKeyId: aws.String(x.c.KeyID)})
	if isCode(err, "NoSuchEntity") {
		x.f.KeyStatus = KeyAbsent
		res.Detail = "already deleted"
		return nil
	}
	if err != nil {
		return denied(err, StepDelete, "iam:DeleteAccessKey", userARN(x.f.partition(), x.f.KeyAccount, x.f.UserName))
	}
	x.f.KeyStatus = KeyAbsent
	res.Detail = "deleted"
	return nil
}

func (x *Execution) checkDeleted(context.Context) (bool, error) {
	return x.f.KeyStatus == KeyAbsent, nil
}

// releaseQuarantine detaches the quarantine so the replacement key works,
// only after a rotation and once the investigation and a re-check after
// CloudTrail's delay show nothing live.
func (x *Execution) releaseQuarantine(ctx context.Context, res *StepResult) error {
	switch {
	case x.f.NewKeyID == "":
		return errors.New("release quarantine: no replacement key yet (use --rotate)")
	case x.f.Rechecked.IsZero():
		return fmt.Errorf("release quarantine: re-check first (keyward respond --key-id %s --recheck --execute, after %s)", x.c.KeyID, x.f.RecheckAfter.Format(time.RFC3339))
	case len(x.remaining()) > 0:
		return errors.New("release quarantine: something is still live or left for a human; the quarantine stays")
	}
	client := iam.NewFromConfig(x.cfg())
	var done []string
	for _, arn := range x.f.UserPolicies {
		if !isQuarantineARN(arn) {
			continue
		}
		_, err := client.DetachUserPolicy(ctx, &iam.DetachUserPolicyInput{UserName: aws.String(x.f.UserName), PolicyArn: aws.String(arn)})
		if err != nil && !isCode(err, "NoSuchEntity") {
			return denied(err, StepReleaseQuarantine, "iam:DetachUserPolicy", userARN(x.f.partition(), x.f.KeyAccount, x.f.UserName))
		}
		done = append(done, arn)
	}
	x.f.UserPolicies = slices.DeleteFunc(x.f.UserPolicies, isQuarantineARN)
	res.Detail = "detached " + strings.Join(done, ", ")
	if len(done) == 0 {
		res.Status, res.Detail = StepSkipped, "no quarantine policy attached"
	}
	return nil
}

func (x *Execution) checkReleased(context.Context) (bool, error) {
	return !slices.ContainsFunc(x.f.UserPolicies, isQuarantineARN), nil
}

func appendNew(list []string, v string) []string {
	if slices.Contains(list, v) {
		return list
	}
	return append(list, v)
}
