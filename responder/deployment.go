package responder

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
)

// ResponderPolicyName is the inline policy of the member accounts'
// responder role in deploy/aws.
const ResponderPolicyName = "keyward-runbook"

// RoleDrift is how a deployed responder role's permissions differ from what
// this version's step table needs.
type RoleDrift struct {
	RoleARN string
	// Missing actions make steps fail with AccessDenied; Extra ones are
	// more than least privilege.
	Missing, Extra []string
	// Denied are actions the policy allows but a Deny statement of it
	// takes away again: they fail like Missing ones.
	Denied []string
}

// CheckResponderRole assumes roleARN (a member account's responder role)
// with base, reads its ResponderPolicyName policy (iam:GetRolePolicy, which
// the role itself is allowed) and compares its actions with the step
// table's. An error means the role cannot be assumed or read.
func CheckResponderRole(ctx context.Context, base aws.Config, roleARN string) (RoleDrift, error) {
	d := RoleDrift{RoleARN: roleARN}
	cfg, err := AssumeRoleConfig(ctx, base, roleARN)
	if err != nil {
		return d, err
	}
	name := roleARN[strings.LastIndex(roleARN, "/")+1:]
	out, err := iam.NewFromConfig(cfg).GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String(name), PolicyName: aws.String(ResponderPolicyName)})
	if err != nil {
		return d, fmt.Errorf("read the role's %s policy: %w", ResponderPolicyName, err)
	}
	doc := aws.ToString(out.PolicyDocument)
	if u, err := url.QueryUnescape(doc); err == nil {
		doc = u // IAM returns documents URL-encoded
	}
	if err := d.compare(doc); err != nil {
		return d, fmt.Errorf("read the role's %s policy: %w", ResponderPolicyName, err)
	}
	return d, nil
}

// compare fills Missing, Denied and Extra from the role's policy document
// against the step table's actions.
func (d *RoleDrift) compare(doc string) error {
	have, deny, err := policyActions(doc)
	if err != nil {
		return err
	}
	want := ResponderPolicy(Options{}).Actions()
	for _, a := range want {
		switch {
		case !slices.Contains(have, a):
			d.Missing = append(d.Missing, a)
		case deny(a):
			d.Denied = append(d.Denied, a)
		}
	}
	for _, a := range have {
		if !slices.Contains(want, a) {
			d.Extra = append(d.Extra, a)
		}
	}
	return nil
}

// policyActions lists the actions of a policy's Allow statements, and
// returns whether its Deny statements deny a given action: an explicit
// Deny wins over any Allow, so an allowed action it matches is not
// allowed at all. A Deny's Condition and Resource are not evaluated: the
// Deny is taken to apply, since a check that cannot tell must not say
// the role works.
func policyActions(doc string) (allowed []string, denied func(action string) bool, err error) {
	var p struct {
		Statement []struct {
			Effect    string          `json:"Effect"`
			Action    json.RawMessage `json:"Action"`
			NotAction json.RawMessage `json:"NotAction"`
		} `json:"Statement"`
	}
	if err := json.Unmarshal([]byte(doc), &p); err != nil {
		return nil, nil, fmt.Errorf("parse policy: %w", err)
	}
	var deny, notDeny [][]string
	for _, s := range p.Statement {
		if s.Effect == "Deny" && len(s.NotAction) > 0 {
			list, err := actionList(s.NotAction, "NotAction")
			if err != nil {
				return nil, nil, err
			}
			notDeny = append(notDeny, list)
			continue
		}
		list, err := actionList(s.Action, "Action")
		if err != nil {
			return nil, nil, err
		}
		switch s.Effect {
		case "Allow":
			allowed = append(allowed, list...)
		case "Deny":
			deny = append(deny, list)
		}
	}
	slices.Sort(allowed)
	denied = func(a string) bool {
		for _, list := range deny {
			if slices.ContainsFunc(list, func(pat string) bool { return actionMatch(pat, a) }) {
				return true
			}
		}
		for _, list := range notDeny {
			if !slices.ContainsFunc(list, func(pat string) bool { return actionMatch(pat, a) }) {
				return true
			}
		}
		return false
	}
	return slices.Compact(allowed), denied, nil
}

// actionList reads a statement's Action or NotAction: a string or a list.
func actionList(raw json.RawMessage, field string) ([]string, error) {
	var list []string
	if err := json.Unmarshal(raw, &list); err != nil {
		var one string
		if err := json.Unmarshal(raw, &one); err != nil {
			return nil, fmt.Errorf("parse policy: %s is neither a string nor a list", field)
		}
		list = []string{one}
	}
	return list, nil
}

// actionMatch matches an IAM action against a policy's action pattern:
// case-insensitive, with * for any run of characters and ? for one.
func actionMatch(pattern, action string) bool {
	p, a := strings.ToLower(pattern), strings.ToLower(action)
	for len(p) > 0 {
		switch p[0] {
		case '*':
			for i := len(a); i >= 0; i-- {
				if actionMatch(p[1:], a[i:]) {
					return true
				}
			}
			return false
		case '?':
			if a == "" {
				return false
			}
		default:
			if a == "" || a[0] != p[0] {
				return false
			}
		}
		p, a = p[1:], a[1:]
	}
	return a == ""
}
