package responder

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/iam"
)

// This file holds the steps that end sessions: the session deny on the
// leaked key's user (or role), and on every role the key or a credential
// derived from it assumed. Temporary credentials cannot be deleted, only
// denied by issue time.

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
	if x.f.Gone && x.f.UserName == "" && x.f.RoleName == "" {
		// Neither IAM nor STS names the gone key's principal any more;
		// CloudTrail does, in each event the key made while live.
		user, role, err := x.trailPrincipal(ctx)
		if err != nil {
			return fmt.Errorf("revoke sessions: the key is gone, and CloudTrail could not be read for the user or role it belonged to: %w", err)
		}
		x.f.UserName, x.f.RoleName = user, role
		if user == "" && role == "" {
			res.Status, res.Detail = StepSkipped, "the key is gone and CloudTrail names no user or role of this account for it (no activity delivered yet): no session deny; the investigation follows every session it minted"
			return nil
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

// trailIdentity is the part of a CloudTrail event's userIdentity that
// names the principal behind an access key.
type trailIdentity struct {
	Type           string `json:"type"`
	AccountID      string `json:"accountId"`
	UserName       string `json:"userName"`
	SessionContext struct {
		SessionIssuer struct {
			Type     string `json:"type"`
			UserName string `json:"userName"`
		} `json:"sessionIssuer"`
	} `json:"sessionContext"`
}

// keyIdentities calls visit with the identity of each of the leaked key's
// own events (keyward's validation among them), in the partition's IAM
// region and the configured one, until visit says it has found what it
// looks for. An unread region is tried past; its error is returned when
// nothing was found, since an unread trail is not "no principal".
func (x *Execution) keyIdentities(ctx context.Context, visit func(trailIdentity) bool) error {
	regions := []string{PartitionRegion(x.f.partition())}
	if r := x.r.Config.Region; r != "" && r != regions[0] {
		regions = append(regions, r)
	}
	var firstErr error
	for _, region := range regions {
		client := cloudtrail.NewFromConfig(x.cfg(), func(o *cloudtrail.Options) { o.Region = region })
		end := x.r.now().Truncate(time.Second).Add(time.Second)
		out, err := x.r.lookup(ctx, client, x.c.KeyID, end.Add(-x.r.lookback()), end, nil)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		for _, ev := range out.Events {
			var rec struct {
				UserIdentity trailIdentity `json:"userIdentity"`
			}
			if ev.CloudTrailEvent == nil || json.Unmarshal([]byte(*ev.CloudTrailEvent), &rec) != nil {
				continue
			}
			if visit(rec.UserIdentity) {
				return nil
			}
		}
	}
	return firstErr
}

// federationIssuer names the IAM user that issued the leaked federation
// session, from the session's own events; empty when none is delivered yet.
func (x *Execution) federationIssuer(ctx context.Context) string {
	var user string
	_ = x.keyIdentities(ctx, func(id trailIdentity) bool {
		if si := id.SessionContext.SessionIssuer; id.Type == "FederatedUser" && si.Type == "IAMUser" && si.UserName != "" {
			user = si.UserName
		}
		return user != ""
	})
	return user
}

// trailPrincipal names the IAM user or role of the key's account that the
// leaked key belonged to: a gone key (Facts.Gone) no longer says, but its
// sessions may still live.
func (x *Execution) trailPrincipal(ctx context.Context) (user, role string, err error) {
	err = x.keyIdentities(ctx, func(id trailIdentity) bool {
		if id.AccountID != "" && id.AccountID != x.f.KeyAccount {
			return false
		}
		si := id.SessionContext.SessionIssuer
		switch {
		case id.Type == "IAMUser" && id.UserName != "":
			user = id.UserName
		case id.Type == "FederatedUser" && si.Type == "IAMUser" && si.UserName != "":
			user = si.UserName
		case id.Type == "AssumedRole" && si.Type == "Role" && si.UserName != "" && !strings.HasPrefix(si.UserName, "AWSReservedSSO_"):
			role = si.UserName
		}
		return user != "" || role != ""
	})
	if user != "" || role != "" {
		return user, role, nil
	}
	if err != nil {
		return "", "", denied(err, StepRevokeSessions, "cloudtrail:LookupEvents", "*")
	}
	return "", "", nil
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
