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
	have, err := allowedActions(doc)
	if err != nil {
		return d, fmt.Errorf("read the role's %s policy: %w", ResponderPolicyName, err)
	}
	want := ResponderPolicy(Options{}).Actions()
	for _, a := range want {
		if !slices.Contains(have, a) {
			d.Missing = append(d.Missing, a)
		}
	}
	for _, a := range have {
		if !slices.Contains(want, a) {
			d.Extra = append(d.Extra, a)
		}
	}
	return d, nil
}

// allowedActions lists the actions of a policy's Allow statements.
func allowedActions(doc string) ([]string, error) {
	var p struct {
		Statement []struct {
			Effect string          `json:"Effect"`
			Action json.RawMessage `json:"Action"`
		} `json:"Statement"`
	}
	if err := json.Unmarshal([]byte(doc), &p); err != nil {
		return nil, fmt.Errorf("parse policy: %w", err)
	}
	var out []string
	for _, s := range p.Statement {
		if s.Effect != "Allow" {
			continue
		}
		var list []string
		if err := json.Unmarshal(s.Action, &list); err != nil {
			var one string
			if err := json.Unmarshal(s.Action, &one); err != nil {
				return nil, fmt.Errorf("parse policy: Action is neither a string nor a list")
			}
			list = []string{one}
		}
		out = append(out, list...)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}
