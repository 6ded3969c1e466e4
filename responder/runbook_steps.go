package responder

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
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
	if err != nil {
		errs = append(errs, denied(err, StepOwner, "iam:GetAccessKeyLastUsed", "*"))
	} else {
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
	}
	return verdictStop(v)
}

// earlierResponse reports whether the journal records this key deactivated
// or deleted by an earlier run.
func (x *Execution) earlierResponse() bool {
	_, deactivated := x.j.Done(StepDeactivate)
	_, deleted := x.j.Done(StepDelete)
	return deactivated || deleted
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

// revokeSessions denies every session issued before AWS's time now, taken
// after the key was confirmed dead. For an ASIA key of a role, the role
// gets it; of a federated user, the minting user must, which only a human
// can find.
func (x *Execution) revokeSessions(ctx context.Context, res *StepResult) error {
	if strings.Contains(x.f.ARN, ":federated-user/") && x.f.UserName == "" {
		// A federation token's session is denied through the IAM user who
		// minted it, which its ARN does not name; CloudTrail does, in each
		// event the session made (sessionIssuer).
		if user := x.federationIssuer(ctx); user != "" {
			x.f.UserName = user
		} else {
			x.addHuman(HumanAction{Subject: "federated session " + x.f.ARN,
				What:     "find the IAM user who called GetFederationToken for " + x.c.KeyID + " and deny its older sessions (CloudTrail had not delivered an event naming it; a re-check may)",
				Commands: []string{"aws cloudtrail lookup-events --lookup-attributes AttributeKey=AccessKeyId,AttributeValue=" + x.c.KeyID + "   # userIdentity.sessionContext.sessionIssuer.userName", "aws iam put-user-policy --user-name <that user> --policy-name " + RevokePolicyName + " --policy-document '" + RevokeSessionsPolicy(x.r.now()) + "'"}})
			return errors.New("revoke sessions: the user who minted this federation token is not known yet; see what only a human can do")
		}
	}
	now, fromAWS := x.serverNow(ctx)
	cutoff := cutoffAfter(now)
	if x.f.RoleName != "" {
		target := roleARN(x.f.partition(), x.f.KeyAccount, x.f.RoleName)
		if err := x.denyRole(ctx, target, RevokePolicyName, RevokeSessionsPolicy(cutoff)); err != nil {
			return err
		}
		res.Detail = "role " + x.f.RoleName + ": sessions issued before " + cutoff.Format(time.RFC3339) + " denied"
	} else {
		if x.f.UserName == "" {
			return errors.New("revoke sessions: the key's owner is unknown")
		}
		if err := x.putUserPolicy(ctx, x.f.UserName, RevokePolicyName, RevokeSessionsPolicy(cutoff)); err != nil {
			return err
		}
		res.Detail = "user " + x.f.UserName + ": sessions issued before " + cutoff.Format(time.RFC3339) + " denied"
	}
	if !fromAWS {
		res.Detail += " (AWS sent no Date header: cutoff from the local clock)"
	}
	x.f.RevokedBefore = cutoff
	return nil
}

// federationIssuer looks up the leaked federation session's own events
// (keyward's validation among them) for the IAM user that issued it.
func (x *Execution) federationIssuer(ctx context.Context) string {
	regions := []string{PartitionRegion(x.f.partition())}
	if r := x.r.Config.Region; r != "" && r != regions[0] {
		regions = append(regions, r)
	}
	for _, region := range regions {
		client := cloudtrail.NewFromConfig(x.cfg(), func(o *cloudtrail.Options) { o.Region = region })
		end := x.r.now().Truncate(time.Second).Add(time.Second)
		out, err := x.r.lookup(ctx, client, x.c.KeyID, end.Add(-x.r.lookback()), end, nil)
		if err != nil {
			continue
		}
		for _, ev := range out.Events {
			var rec struct {
				UserIdentity struct {
					Type           string `json:"type"`
					SessionContext struct {
						SessionIssuer struct {
							Type     string `json:"type"`
							UserName string `json:"userName"`
						} `json:"sessionIssuer"`
					} `json:"sessionContext"`
				} `json:"userIdentity"`
			}
			if ev.CloudTrailEvent == nil || json.Unmarshal([]byte(*ev.CloudTrailEvent), &rec) != nil {
				continue
			}
			if si := rec.UserIdentity.SessionContext.SessionIssuer; rec.UserIdentity.Type == "FederatedUser" && si.Type == "IAMUser" && si.UserName != "" {
				return si.UserName
			}
		}
	}
	return ""
}

func (x *Execution) putUserPolicy(ctx context.Context, user, name, doc string) error {
	_, err := iam.NewFromConfig(x.cfg()).PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String(user),
		PolicyName: aws.String(name), PolicyDocument: aws.String(doc)})
	if isCode(err, "LimitExceeded") {
		return fmt.Errorf("put %s on user %s: the user's inline policies exceed IAM's 2,048-character quota (LimitExceeded); delete an inline policy (aws iam list-user-policies --user-name %s), then re-run", name, user, user)
	}
	return denied(err, StepRevokeSessions, "iam:PutUserPolicy", userARN(x.f.partition(), x.f.KeyAccount, user))
}

func (x *Execution) denyRole(ctx context.Context, arn, name, doc string) error {
	_, err := iam.NewFromConfig(x.cfg()).PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String(arn[strings.LastIndex(arn, "/")+1:]),
		PolicyName: aws.String(name), PolicyDocument: aws.String(doc)})
	return denied(err, StepRevokeRoleSessions, "iam:PutRolePolicy", arn)
}

func (x *Execution) checkSessionDeny(ctx context.Context) (bool, error) {
	// A deny written before the key was verified dead has a cutoff that a
	// session minted while deactivation propagated can beat: write it again.
	if d, ok := x.status(StepDeactivate); ok && d.Status == StepDone && !d.Resumed {
		return false, nil
	}
	if !x.j.doneBefore(StepVerifyDead, StepRevokeSessions) && !x.temporary() {
		return false, nil
	}
	client := iam.NewFromConfig(x.cfg())
	var err error
	if x.f.RoleName != "" {
		_, err = client.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String(x.f.RoleName), PolicyName: aws.String(RevokePolicyName)})
	} else {
		_, err = client.GetUserPolicy(ctx, &iam.GetUserPolicyInput{UserName: aws.String(x.f.UserName), PolicyName: aws.String(RevokePolicyName)})
	}
	return err == nil, nil
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

// revokeRoles denies older sessions of every role the key (or a credential
// derived from it) assumed, matched by full ARN: a role of the operator's
// account gets the deny; a role in another account, of IAM Identity Center
// or in another partition is left for a human, with the command.
func (x *Execution) revokeRoles(ctx context.Context, res *StepResult) error {
	if x.f.Trail == nil {
		return errors.New("revoke role sessions: the investigation has not found the roles yet")
	}
	var local []string
	for _, arn := range x.f.Trail.RolesAssumed {
		p, acct, name := splitRoleARN(arn)
		doc := RevokeSessionsPolicy(x.r.now())
		switch {
		case name == "":
			x.addHuman(HumanAction{Subject: "role " + arn, What: "the assumed role's ARN could not be read; check it by hand"})
		case acct != x.f.KeyAccount || p != x.f.partition():
			x.addHuman(HumanAction{Subject: "role " + arn,
				What:     "assumed in account " + acct + ", which only that account can deny: sign in there and deny its older sessions",
				Commands: []string{"aws iam put-role-policy --role-name " + name + " --policy-name " + RevokePolicyName + " --policy-document '" + doc + "'   # with credentials of account " + acct}})
		case strings.HasPrefix(name, "AWSReservedSSO_"):
			x.addHuman(HumanAction{Subject: "role " + arn,
				What: "an IAM Identity Center role cannot be edited in IAM: deny its older sessions through its permission set (merge with the set's existing inline policy, which this replaces), or revoke the user's sessions in the IAM Identity Center console",
				Commands: []string{
					"aws sso-admin list-permission-sets --instance-arn <instance ARN>   # find the set named in " + name,
					"aws sso-admin put-inline-policy-to-permission-set --instance-arn <instance ARN> --permission-set-arn <set ARN> --inline-policy '" + doc + "'",
					"aws sso-admin provision-permission-set --instance-arn <instance ARN> --permission-set-arn <set ARN> --target-type ALL_PROVISIONED_ACCOUNTS",
				}})
		default:
			local = append(local, arn)
		}
	}
	if len(local) == 0 {
		res.Status, res.Detail = StepSkipped, "no role of this account was assumed"
		if len(x.f.Trail.RolesAssumed) > 0 {
			res.Detail = "roles of other accounts only: left for a human"
		}
		return nil
	}
	now, _ := x.serverNow(ctx)
	cutoff := cutoffAfter(now)
	var done []string
	var errs []error
	for _, arn := range local {
		if err := x.denyRole(ctx, arn, RevokePolicyName, RevokeSessionsPolicy(cutoff)); isCode(err, "NoSuchEntity") {
			// The role was deleted: its sessions lost every permission.
			done = append(done, arn+" (deleted)")
			continue
		} else if err != nil {
			errs = append(errs, err)
			continue
		}
		done = append(done, arn)
		x.f.Roles = appendNew(x.f.Roles, arn)
	}
	if len(done) > 0 {
		x.f.RolesRevokedBefore = cutoff
	}
	res.Detail = "sessions denied for roles " + strings.Join(done, ", ")
	return errors.Join(errs...)
}

func (x *Execution) checkRoleDenies(ctx context.Context) (bool, error) {
	client := iam.NewFromConfig(x.cfg())
	for _, arn := range x.f.Roles {
		if _, err := client.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String(arn[strings.LastIndex(arn, "/")+1:]), PolicyName: aws.String(RevokePolicyName)}); err != nil {
			return false, nil
		}
	}
	return true, nil
}

// splitRoleARN splits arn:<p>:iam::<acct>:role/<path>/<name>.
func splitRoleARN(arn string) (partition, acct, name string) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "iam" || !strings.HasPrefix(parts[5], "role/") {
		return "", "", ""
	}
	return parts[1], parts[4], parts[5][strings.LastIndex(parts[5], "/")+1:]
}

func (x *Execution) delete(ctx context.Context, res *StepResult) error {
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
