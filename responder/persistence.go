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
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
)

// DenyAllPolicyName is the inline policy that disables a user or role the
// attacker created: an unconditional Deny of everything, which also ends
// every session of that principal. Deleting the principal is left to a
// human, after the evidence is kept.
const DenyAllPolicyName = "KeywardDenyAll"

// DenyAllPolicy is DenyAllPolicyName's document.
const DenyAllPolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}`

// keyPropagationMargin is added to the cutoff of a session deny written
// after deactivating a key keyward cannot test (an attacker-created key,
// whose secret CloudTrail never shows): IAM takes seconds to minutes to
// apply the change, and a session the key mints meanwhile must fall under
// the deny. Legitimate sessions of the user minted in that window are
// denied too, which an incident can afford.
const keyPropagationMargin = 2 * time.Minute

// PersistenceItem is one thing the attacker made or changed, found in
// CloudTrail, and what became of it.
type PersistenceItem struct {
	// Kind is access-key, user, role, login-profile, trust-policy,
	// policy-attachment, inline-policy, policy-version, group-membership
	// or mfa-device.
	Kind   string `json:"kind"`
	Target string `json:"target"`
	// Event is the CloudTrail event, At its time, By the access key that
	// made it.
	Event string    `json:"event"`
	At    time.Time `json:"at"`
	By    string    `json:"by"`
	// Created is set when the attacker created the thing (rather than
	// changing a principal that existed before).
	Created bool `json:"created"`
	// Action is what keyward did about it; Remaining what is left for a
	// human ("" when nothing); Revert the exact command that undoes a
	// change to an existing principal.
	Action    string `json:"action,omitempty"`
	Remaining string `json:"remaining,omitempty"`
	Revert    string `json:"revert,omitempty"`
}

// HumanAction is something only a human can do, with the exact commands.
type HumanAction struct {
	Subject  string   `json:"subject"`
	What     string   `json:"what"`
	Commands []string `json:"commands,omitempty"`
}

// persistence turns the changes found in CloudTrail into items and, unless
// --no-persistence, contains what the attacker created: its keys are
// deactivated, its users and roles get DenyAllPolicyName, its login
// profiles are deleted; changes to existing principals are listed with the
// command that reverts each.
func (x *Execution) persistence(ctx context.Context, res *StepResult) error {
	if x.f.Trail == nil {
		return errors.New("persistence: the investigation has not run")
	}
	items := findPersistence(x.f.Trail.Changes, x.f.partition(), x.f.KeyAccount)
	if x.r.NoPersistence {
		for i := range items {
			if items[i].Created && items[i].Remaining == "" {
				items[i].Remaining = "not contained (--no-persistence): " + containCommand(items[i])
			}
		}
		x.f.Persistence = items
		res.Detail = fmt.Sprintf("%d change(s) found; reported only (--no-persistence)", len(items))
		return nil
	}
	client := iam.NewFromConfig(x.cfg())
	created := map[string]bool{} // "user/NAME" and "role/NAME" the attacker created
	for _, it := range items {
		if it.Created && (it.Kind == "user" || it.Kind == "role") {
			created[it.Kind+"/"+it.Target] = true
		}
	}
	refresh := map[string]bool{} // existing users whose keys were deactivated
	var errs []error
	known := map[string]bool{}
	prevAction := map[string]string{}
	for _, it := range x.f.Persistence {
		known[it.Event+" "+it.Target] = true
		prevAction[it.Event+" "+it.Target] = it.Action
	}
	fresh := 0
	for i := range items {
		it := &items[i]
		if !known[it.Event+" "+it.Target] {
			fresh++
		}
		var err error
		switch {
		case it.Kind == "user" && it.Created:
			err = x.containUser(ctx, client, it)
			if isCode(err, "NoSuchEntity") {
				// Deleted since: its keys and sessions went with it.
				err, it.Action = nil, "the user no longer exists"
			}
		case it.Kind == "role" && it.Created:
			err = x.denyRole(ctx, roleARN(x.f.partition(), x.f.KeyAccount, it.Target), DenyAllPolicyName, DenyAllPolicy)
			switch {
			case err == nil:
				it.Action = "inline " + DenyAllPolicyName + " put on the role (ends its sessions too)"
			case isCode(err, "NoSuchEntity"):
				err, it.Action = nil, "the role no longer exists"
			}
		case it.Kind == "access-key":
			user, id, _ := strings.Cut(it.Target, "/")
			if created["user/"+user] {
				it.Action = "covered by " + DenyAllPolicyName + " on user " + user
				break
			}
			var changed bool
			changed, err = x.deactivateKey(ctx, client, user, id)
			if err == nil && changed {
				it.Action = "deactivated"
				if user != "" {
					refresh[user] = true
				}
			} else if err == nil {
				it.Action = orPlaceholder(prevAction[it.Event+" "+it.Target], "inactive")
			}
		case it.Kind == "login-profile" && it.Created:
			if created["user/"+it.Target] {
				it.Action = "covered by " + DenyAllPolicyName + " on the user"
				break
			}
			_, err = client.DeleteLoginProfile(ctx, &iam.DeleteLoginProfileInput{UserName: aws.String(it.Target)})
			if isCode(err, "NoSuchEntity") {
				err = nil
			}
			if err == nil {
				it.Action = "login profile deleted"
			}
		default:
			if owner := principalOf(it); owner != "" && created[owner] {
				it.Action, it.Remaining, it.Revert = "covered by "+DenyAllPolicyName+" on "+owner, "", ""
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s %s: %w", it.Kind, it.Target, err))
			if it.Remaining == "" {
				it.Remaining = "containment failed: " + containCommand(*it)
			}
		}
	}
	// A key deactivated here cannot be tested: deny the older sessions of
	// its user again, with a cutoff after the deactivation plus margin.
	if len(refresh) > 0 {
		now, _ := x.serverNow(ctx)
		cutoff := cutoffAfter(now).Add(keyPropagationMargin)
		for _, user := range keys(refresh) {
			if err := x.putUserPolicy(ctx, user, RevokePolicyName, RevokeSessionsPolicy(cutoff)); err != nil {
				errs = append(errs, err)
				continue
			}
			if user == x.f.UserName && x.f.RoleName == "" {
				x.f.RevokedBefore = cutoff
			} else {
				x.f.OtherUsersDenied = appendNew(x.f.OtherUsersDenied, user)
				x.f.OtherUsersRevokedBefore = cutoff
			}
		}
	}
	x.f.Persistence = items
	if fresh > 0 && x.r.Recheck {
		// Something new was found and contained now: what it did just
		// before may not be delivered yet, so another re-check is due.
		now, _ := x.serverNow(ctx) // CloudTrail's clock, as the investigation's end
		x.f.RecheckAfter, x.f.Rechecked = now.Add(CloudTrailDeliveryDelay), time.Time{}
	}
	open := 0
	for _, it := range items {
		if it.Remaining != "" {
			open++
		}
	}
	res.Detail = fmt.Sprintf("%d change(s) found, %d left for a human", len(items), open)
	return errors.Join(errs...)
}

// containUser disables a user the attacker created: deny-all inline, every
// key deactivated.
func (x *Execution) containUser(ctx context.Context, client *iam.Client, it *PersistenceItem) error {
	if err := x.putUserPolicy(ctx, it.Target, DenyAllPolicyName, DenyAllPolicy); err != nil {
		return err
	}
	keys, err := client.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String(it.Target)})
	if err != nil {
		return denied(err, StepPersistence, "iam:ListAccessKeys", userARN(x.f.partition(), x.f.KeyAccount, it.Target))
	}
	for _, k := range keys.AccessKeyMetadata {
		if k.Status == iamtypes.StatusTypeActive {
			if _, err := x.deactivateKey(ctx, client, it.Target, aws.ToString(k.AccessKeyId)); err != nil {
				return err
			}
		}
	}
	it.Action = fmt.Sprintf("inline %s put on the user, its %d key(s) inactive", DenyAllPolicyName, len(keys.AccessKeyMetadata))
	return nil
}

// deactivateKey sets a key Inactive if it is Active; it reports whether it
// changed anything. The status is read first, so a re-check does not move
// the session-deny cutoff for a key already dealt with.
func (x *Execution) deactivateKey(ctx context.Context, client *iam.Client, user, id string) (bool, error) {
	if keys, err := client.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String(user)}); err == nil {
		active := false
		for _, k := range keys.AccessKeyMetadata {
			active = active || (aws.ToString(k.AccessKeyId) == id && k.Status == iamtypes.StatusTypeActive)
		}
		if !active {
			return false, nil
		}
	}
	_, err := client.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String(user), AccessKeyId: aws.String(id), Status: iamtypes.StatusTypeInactive})
	if isCode(err, "NoSuchEntity") {
		return false, nil
	}
	if err != nil {
		return false, denied(err, StepPersistence, "iam:UpdateAccessKey", userARN(x.f.partition(), x.f.KeyAccount, user))
	}
	return true, nil
}

// principalOf is "user/NAME" or "role/NAME" for an item on a principal.
func principalOf(it *PersistenceItem) string {
	if k, rest, ok := strings.Cut(it.Target, "/"); ok && (k == "user" || k == "role") {
		name, _, _ := strings.Cut(rest, " ")
		return k + "/" + name
	}
	return ""
}

// containCommand is the command that contains a created thing by hand.
func containCommand(it PersistenceItem) string {
	switch it.Kind {
	case "user":
		return "aws iam put-user-policy --user-name " + it.Target + " --policy-name " + DenyAllPolicyName + " --policy-document '" + DenyAllPolicy + "'"
	case "role":
		return "aws iam put-role-policy --role-name " + it.Target + " --policy-name " + DenyAllPolicyName + " --policy-document '" + DenyAllPolicy + "'"
	case "access-key":
		user, id, _ := strings.Cut(it.Target, "/")
		return "aws iam update-access-key --user-name " + user + " --access-key-id " + id + " --status Inactive"
	case "login-profile":
		return "aws iam delete-login-profile --user-name " + it.Target
	}
	return it.Revert
}

// changeEvents are the CloudTrail events that make or change persistence
// (AWS-RESPONSE.md, step 7).
var changeEvents = []string{
	"CreateAccessKey", "CreateUser", "CreateLoginProfile", "UpdateLoginProfile",
	"AttachUserPolicy", "AttachRolePolicy", "AttachGroupPolicy", "PutUserPolicy", "PutRolePolicy", "PutGroupPolicy",
	"CreateRole", "UpdateAssumeRolePolicy", "CreatePolicyVersion", "AddUserToGroup",
	"CreateVirtualMFADevice", "EnableMFADevice",
}

// isChangeEvent reports whether name makes or changes persistence.
func isChangeEvent(name string) bool { return slices.Contains(changeEvents, name) }

// findPersistence turns successful change events, oldest first, into
// items. A user or role created by the attacker makes later changes to it
// part of the attacker's own; any other change is to an existing principal
// and gets the exact command that reverts it.
func findPersistence(events []TrailEvent, partition, acct string) []PersistenceItem {
	evs := slices.Clone(events)
	slices.SortStableFunc(evs, func(a, b TrailEvent) int { return a.Time.Compare(b.Time) })
	createdUser, createdRole := map[string]bool{}, map[string]bool{}
	var out []PersistenceItem
	for _, e := range evs {
		// No parameters (a journal written by hand, or by an older
		// version) means nothing to name or revert; the event itself is
		// still in the trail's events.
		if e.ErrorCode != "" || e.Responder || e.Params == nil {
			continue
		}
		p := e.Params
		it := PersistenceItem{Event: e.Name, At: e.Time, By: e.AccessKeyID}
		user := p.UserName
		switch e.Name {
		case "CreateUser":
			createdUser[user] = true
			it.Kind, it.Target, it.Created = "user", user, true
		case "CreateRole":
			createdRole[p.RoleName] = true
			it.Kind, it.Target, it.Created = "role", p.RoleName, true
		case "CreateAccessKey":
			if user == "" {
				user = e.CallerUser
			}
			it.Kind, it.Target, it.Created = "access-key", user+"/"+p.CreatedKeyID, true
		case "CreateLoginProfile":
			it.Kind, it.Target, it.Created = "login-profile", user, true
		case "UpdateLoginProfile":
			it.Kind, it.Target = "login-profile", user
			it.Revert = "aws iam update-login-profile --user-name " + user + " --password-reset-required --password '<a new password given to the user by a secure channel>'"
		case "AttachUserPolicy", "AttachRolePolicy", "AttachGroupPolicy":
			k, n := policyHolder(e.Name, user, p)
			it.Kind, it.Target = "policy-attachment", k+"/"+n+" "+p.PolicyARN
			it.Revert = "aws iam detach-" + k + "-policy --" + k + "-name " + n + " --policy-arn " + p.PolicyARN
		case "PutUserPolicy", "PutRolePolicy", "PutGroupPolicy":
			k, n := policyHolder(e.Name, user, p)
			it.Kind, it.Target = "inline-policy", k+"/"+n+" "+p.PolicyName
			it.Revert = "aws iam delete-" + k + "-policy --" + k + "-name " + n + " --policy-name " + p.PolicyName
		case "UpdateAssumeRolePolicy":
			it.Kind, it.Target = "trust-policy", "role/"+p.RoleName
			it.Revert = "aws iam update-assume-role-policy --role-name " + p.RoleName + " --policy-document file://<the previous trust policy, from your infrastructure code>"
		case "CreatePolicyVersion":
			it.Kind, it.Target = "policy-version", p.PolicyARN+" "+p.VersionID
			it.Revert = "aws iam list-policy-versions --policy-arn " + p.PolicyARN + "; aws iam set-default-policy-version --policy-arn " + p.PolicyARN + " --version-id <the previous default>; aws iam delete-policy-version --policy-arn " + p.PolicyARN + " --version-id " + orPlaceholder(p.VersionID, "<the new version>")
		case "AddUserToGroup":
			it.Kind, it.Target = "group-membership", "user/"+user+" "+p.GroupName
			it.Revert = "aws iam remove-user-from-group --user-name " + user + " --group-name " + p.GroupName
		case "CreateVirtualMFADevice", "EnableMFADevice":
			it.Kind, it.Target = "mfa-device", "user/"+user+" "+p.SerialNumber
			it.Revert = "aws iam deactivate-mfa-device --user-name " + user + " --serial-number " + orPlaceholder(p.SerialNumber, "<the device>")
			if e.Name == "CreateVirtualMFADevice" {
				it.Revert = "aws iam delete-virtual-mfa-device --serial-number " + orPlaceholder(p.SerialNumber, "arn:"+partition+":iam::"+acct+":mfa/"+p.VirtualMFADeviceName)
			}
		default:
			continue
		}
		if it.Revert != "" {
			if owner := principalOf(&it); (strings.HasPrefix(owner, "user/") && createdUser[strings.TrimPrefix(owner, "user/")]) ||
				(strings.HasPrefix(owner, "role/") && createdRole[strings.TrimPrefix(owner, "role/")]) {
				it.Created = true
			} else {
				it.Remaining = "revert: " + it.Revert
			}
		}
		if it.Kind == "login-profile" && !it.Created && createdUser[user] {
			it.Remaining, it.Revert = "", ""
		}
		out = append(out, it)
	}
	return out
}

// policyHolder is the principal an Attach*Policy or Put*Policy event
// names: its kind as the CLI spells it (user, role or group, as in
// --user-name) and its name. The event's name says which.
func policyHolder(event, user string, p *changeParams) (kind, name string) {
	switch {
	case strings.Contains(event, "User"):
		return "user", user
	case strings.Contains(event, "Role"):
		return "role", p.RoleName
	}
	return "group", p.GroupName
}

func orPlaceholder(s, p string) string {
	if s == "" {
		return p
	}
	return s
}

// changeParams are the request parameters and response elements of a
// change event that persistence needs.
type changeParams struct {
	UserName             string `json:"user_name,omitempty"`
	RoleName             string `json:"role_name,omitempty"`
	GroupName            string `json:"group_name,omitempty"`
	PolicyARN            string `json:"policy_arn,omitempty"`
	PolicyName           string `json:"policy_name,omitempty"`
	VersionID            string `json:"version_id,omitempty"`
	SerialNumber         string `json:"serial_number,omitempty"`
	VirtualMFADeviceName string `json:"virtual_mfa_device_name,omitempty"`
	CreatedKeyID         string `json:"created_key_id,omitempty"`
}

// changeRecord is the part of a CloudTrailEvent document a change needs.
type changeRecord struct {
	RequestParameters struct {
		UserName             string `json:"userName"`
		RoleName             string `json:"roleName"`
		GroupName            string `json:"groupName"`
		PolicyArn            string `json:"policyArn"`
		PolicyName           string `json:"policyName"`
		SerialNumber         string `json:"serialNumber"`
		VirtualMFADeviceName string `json:"virtualMFADeviceName"`
	} `json:"requestParameters"`
	ResponseElements struct {
		AccessKey struct {
			AccessKeyID string `json:"accessKeyId"`
		} `json:"accessKey"`
		PolicyVersion struct {
			VersionID string `json:"versionId"`
		} `json:"policyVersion"`
		VirtualMFADevice struct {
			SerialNumber string `json:"serialNumber"`
		} `json:"virtualMFADevice"`
	} `json:"responseElements"`
	UserIdentity struct {
		UserName string `json:"userName"`
	} `json:"userIdentity"`
}

// parseChange reads a change event's parameters from its document.
func parseChange(doc string) (changeParams, string) {
	var rec changeRecord
	if json.Unmarshal([]byte(doc), &rec) != nil {
		return changeParams{}, ""
	}
	rp, re := rec.RequestParameters, rec.ResponseElements
	p := changeParams{UserName: rp.UserName, RoleName: rp.RoleName, GroupName: rp.GroupName, PolicyARN: rp.PolicyArn,
		PolicyName: rp.PolicyName, SerialNumber: rp.SerialNumber, VirtualMFADeviceName: rp.VirtualMFADeviceName,
		CreatedKeyID: re.AccessKey.AccessKeyID, VersionID: re.PolicyVersion.VersionID}
	if p.SerialNumber == "" {
		p.SerialNumber = re.VirtualMFADevice.SerialNumber
	}
	return p, rec.UserIdentity.UserName
}
