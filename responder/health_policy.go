package responder

import (
	"encoding/json"
	"slices"
)

// Least-privilege policies, generated from the step table and never written
// by hand (issue 11): 'keyward respond --print-policy', the Lambda's
// execution role and the member-account role of deploy/aws all come from
// here, and a test fails if the templates drift from it.

// PolicyStatement is one IAM policy statement.
type PolicyStatement struct {
	Sid      string   `json:"Sid,omitempty"`
	Effect   string   `json:"Effect"`
	Action   []string `json:"Action"`
	Resource []string `json:"Resource"`
}

// PolicyDocument is an IAM policy document.
type PolicyDocument struct {
	Version   string            `json:"Version"`
	Statement []PolicyStatement `json:"Statement"`
}

// JSON renders the document, indented.
func (d PolicyDocument) JSON() string {
	b, _ := json.MarshalIndent(d, "", "  ") // plain strings only: cannot fail
	return string(b)
}

// Actions returns every action of the document, sorted, once each.
func (d PolicyDocument) Actions() []string {
	var out []string
	for _, s := range d.Statement {
		for _, a := range s.Action {
			if !slices.Contains(out, a) {
				out = append(out, a)
			}
		}
	}
	slices.Sort(out)
	return out
}

// ResponderPolicy is the policy of whoever runs the step table in the
// account that owns the key: the member account's KeywardResponder role,
// or the operator when no role is assumed. Resource "*": the users, roles
// and keys it acts on are only known when a key leaks.
func ResponderPolicy(o Options) PolicyDocument {
	member, _ := HealthActions(o)
	return PolicyDocument{Version: "2012-10-17", Statement: []PolicyStatement{
		{Sid: "KeywardRunbook", Effect: "Allow", Action: member, Resource: []string{"*"}},
	}}
}

// OrganizationPolicy is what the security account's responder needs on
// top of ResponderPolicy to act across accounts: find the owning account,
// and assume the responder role there (template's ARN with any account).
func OrganizationPolicy(template RoleTemplate) PolicyDocument {
	_, op := HealthActions(Options{})
	var assume, other []string
	for _, a := range op {
		if a == "sts:AssumeRole" {
			assume = append(assume, a)
		} else {
			other = append(other, a)
		}
	}
	return PolicyDocument{Version: "2012-10-17", Statement: []PolicyStatement{
		{Sid: "KeywardFindAccount", Effect: "Allow", Action: other, Resource: []string{"*"}},
		{Sid: "KeywardAssumeResponder", Effect: "Allow", Action: assume, Resource: []string{template.For("*")}},
	}}
}
