package awsemu

import (
	"encoding/json"
	"fmt"
	"path"
	"strings"
	"time"
)

// The policy model is deliberately minimal (AWS-RESPONSE.md): an explicit
// Deny wins, then any Allow, else AccessDenied. Action and Resource match
// with * and ? wildcards. The only condition operators understood are the
// date comparisons the runbook's session-revocation policy uses; a statement
// with any other condition never applies, so an unknown condition can
// neither grant nor (wrongly) deny.

type policyDoc struct {
	Version   string
	Statement []statement
}

type statement struct {
	Sid       string                           `json:",omitempty"`
	Effect    string                           `json:"Effect"`
	Action    stringList                       `json:"Action,omitempty"`
	NotAction stringList                       `json:"NotAction,omitempty"`
	Resource  stringList                       `json:"Resource,omitempty"`
	Condition map[string]map[string]stringList `json:"Condition,omitempty"`
}

// stringList is IAM's "a string or a list of strings".
type stringList []string

// UnmarshalJSON accepts a string or a list of strings.
func (l *stringList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*l = stringList{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*l = many
	return nil
}

// UnmarshalJSON accepts Statement as an object or a list.
func (p *policyDoc) UnmarshalJSON(b []byte) error {
	var raw struct {
		Version   string
		Statement json.RawMessage
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	p.Version = raw.Version
	if len(raw.Statement) > 0 && raw.Statement[0] == '{' {
		var st statement
		if err := json.Unmarshal(raw.Statement, &st); err != nil {
			return err
		}
		p.Statement = []statement{st}
		return nil
	}
	return json.Unmarshal(raw.Statement, &p.Statement)
}

// maxPolicySize is IAM's limit for an inline user policy document.
const maxPolicySize = 2048 * 5

func parsePolicy(doc string) (policyDoc, error) {
	var p policyDoc
	if len(doc) > maxPolicySize {
		return p, fmt.Errorf("malformed policy: larger than %d bytes", maxPolicySize)
	}
	if err := json.Unmarshal([]byte(doc), &p); err != nil {
		return p, fmt.Errorf("malformed policy document: %v", err)
	}
	for _, st := range p.Statement {
		if st.Effect != "Allow" && st.Effect != "Deny" {
			return p, fmt.Errorf("malformed policy document: effect %q", st.Effect)
		}
	}
	return p, nil
}

// reqContext is what a decision looks at.
type reqContext struct {
	action, resource string
	tokenIssueTime   time.Time // zero for long-term credentials: the key is absent
	now              time.Time
}

type decision int

const (
	implicitDeny decision = iota
	allow
	explicitDeny
)

func evaluate(docs []string, rc reqContext) decision {
	d := implicitDeny
	for _, doc := range docs {
		p, err := parsePolicy(doc)
		if err != nil {
			continue
		}
		for _, st := range p.Statement {
			if !st.matches(rc) {
				continue
			}
			if st.Effect == "Deny" {
				return explicitDeny
			}
			d = allow
		}
	}
	return d
}

func (st statement) matches(rc reqContext) bool {
	if len(st.Action) > 0 && !anyMatch(st.Action, rc.action, true) {
		return false
	}
	if len(st.NotAction) > 0 && anyMatch(st.NotAction, rc.action, true) {
		return false
	}
	if len(st.Resource) > 0 && !anyMatch(st.Resource, rc.resource, false) {
		return false
	}
	for op, keys := range st.Condition {
		for key, vals := range keys {
			if !conditionHolds(op, key, vals, rc) {
				return false
			}
		}
	}
	return true
}

func anyMatch(patterns []string, v string, fold bool) bool {
	for _, p := range patterns {
		if fold {
			p, v = strings.ToLower(p), strings.ToLower(v)
		}
		if ok, _ := path.Match(strings.ReplaceAll(p, "/", "\x00"), strings.ReplaceAll(v, "/", "\x00")); ok {
			return true
		}
	}
	return false
}

func conditionHolds(op, key string, vals []string, rc reqContext) bool {
	var have time.Time
	switch strings.ToLower(key) {
	case "aws:tokenissuetime":
		have = rc.tokenIssueTime
	case "aws:currenttime":
		have = rc.now
	default:
		return false
	}
	if have.IsZero() {
		// The key is absent (long-term credentials): AWS evaluates the
		// condition as false, which is why the revocation policy spares
		// the user's own new keys.
		return false
	}
	for _, v := range vals {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			continue
		}
		switch op {
		case "DateLessThan":
			if have.Before(t) {
				return true
			}
		case "DateLessThanEquals":
			if !have.After(t) {
				return true
			}
		case "DateGreaterThan":
			if have.After(t) {
				return true
			}
		case "DateGreaterThanEquals":
			if !have.Before(t) {
				return true
			}
		}
	}
	return false
}

// managedPolicies are the AWS managed policies the emulator knows. The
// quarantine policies are abridged to the actions that matter to the
// runbook and a few a thief reaches for first; the real ones list more.
func managedPolicies() map[string]string {
	quarantine := `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":[` +
		`"iam:AttachUserPolicy","iam:AttachRolePolicy","iam:AttachGroupPolicy","iam:ChangePassword",` +
		`"iam:CreateAccessKey","iam:CreateLoginProfile","iam:CreateRole","iam:CreateUser",` +
		`"iam:DeleteAccessKey","iam:UpdateAccessKey","iam:PutUserPolicy","iam:PutRolePolicy",` +
		`"iam:DetachUserPolicy","iam:DeleteUserPolicy","iam:UpdateLoginProfile",` +
		`"cloudtrail:LookupEvents","cloudtrail:StopLogging","cloudtrail:DeleteTrail",` +
		`"sts:GetSessionToken","sts:GetFederationToken","ec2:RunInstances","lambda:CreateFunction",` +
		`"s3:PutBucketPolicy","organizations:*"],"Resource":"*"}]}`
	return map[string]string{
		AdministratorAccessARN: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`,
		QuarantineV2ARN:        quarantine,
		QuarantineV3ARN:        quarantine,
	}
}
