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
// with * and ? wildcards. The condition operators understood are the Date*
// comparisons (on aws:TokenIssueTime and aws:CurrentTime, which the
// session-revocation policy uses), the String*, Arn*, Bool and Null
// operators (with IfExists) on the keys reqContext carries; a statement
// with any other operator or key never applies, so an unknown condition can
// neither grant nor (wrongly) deny.

type policyDoc struct {
	Version   string
	Statement []statement
}

type statement struct {
	Sid         string                           `json:",omitempty"`
	Effect      string                           `json:"Effect"`
	Action      stringList                       `json:"Action,omitempty"`
	NotAction   stringList                       `json:"NotAction,omitempty"`
	Resource    stringList                       `json:"Resource,omitempty"`
	NotResource stringList                       `json:"NotResource,omitempty"`
	Principal   *principals                      `json:"Principal,omitempty"`
	Condition   map[string]map[string]stringList `json:"Condition,omitempty"`
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

// principals is a trust policy's Principal: "*" or {"AWS": ..., "Service":
// ..., "Federated": ...}.
type principals struct {
	anyone                  bool
	aws, service, federated stringList
}

// UnmarshalJSON accepts "*" or the object form.
func (p *principals) UnmarshalJSON(b []byte) error {
	var star string
	if err := json.Unmarshal(b, &star); err == nil {
		if star != "*" {
			return fmt.Errorf("principal %q", star)
		}
		p.anyone = true
		return nil
	}
	var obj struct {
		AWS, Service, Federated stringList
	}
	if err := json.Unmarshal(b, &obj); err != nil {
		return err
	}
	p.aws, p.service, p.federated = obj.AWS, obj.Service, obj.Federated
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
	// keys are the string condition keys present, lower-cased:
	// aws:PrincipalArn, aws:PrincipalAccount, aws:PrincipalType,
	// aws:username, aws:userid, aws:MultiFactorAuthPresent,
	// aws:SecureTransport, and for AssumeRole sts:ExternalId and
	// sts:RoleSessionName.
	keys map[string]string
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
	if len(st.NotResource) > 0 && anyMatch(st.NotResource, rc.resource, false) {
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
	lop := strings.ToLower(op)
	ifExists := strings.HasSuffix(lop, "ifexists")
	lop = strings.TrimSuffix(lop, "ifexists")
	if strings.HasPrefix(lop, "date") {
		return dateHolds(lop, key, vals, rc)
	}
	lkey := strings.ToLower(key)
	if !knownKeys[lkey] {
		return false
	}
	have, present := rc.keys[lkey]
	if lop == "null" {
		for _, v := range vals {
			if (strings.ToLower(v) == "true") == !present {
				return true
			}
		}
		return false
	}
	negated := strings.Contains(lop, "not")
	if !present {
		// An absent key fails a positive test and passes a negated one
		// (IAM User Guide, "Condition operators").
		return ifExists || negated
	}
	var match func(pattern string) bool
	switch strings.TrimSuffix(strings.Replace(lop, "not", "", 1), "ignorecase") {
	case "stringequals", "arnequals":
		match = func(p string) bool { return p == have }
		if strings.HasSuffix(lop, "ignorecase") {
			match = func(p string) bool { return strings.EqualFold(p, have) }
		}
	case "stringlike", "arnlike":
		match = func(p string) bool { return globMatch(p, have) }
	case "bool":
		match = func(p string) bool { return strings.EqualFold(p, have) }
	default:
		return false // an operator the model does not know never applies
	}
	for _, v := range vals {
		if match(v) {
			return !negated
		}
	}
	return negated
}

// knownKeys are the string condition keys the model can tell present or
// absent; a condition on any other key never applies.
var knownKeys = map[string]bool{
	"aws:principalarn": true, "aws:principalaccount": true, "aws:principaltype": true,
	"aws:username": true, "aws:userid": true, "aws:multifactorauthpresent": true,
	"aws:securetransport": true, "sts:externalid": true, "sts:rolesessionname": true,
}

// globMatch matches IAM's * and ? wildcards, where * also spans "/".
func globMatch(pattern, v string) bool {
	ok, _ := path.Match(strings.ReplaceAll(pattern, "/", "\x00"), strings.ReplaceAll(v, "/", "\x00"))
	return ok
}

// dateHolds applies the Date* operators to aws:TokenIssueTime and
// aws:CurrentTime.
func dateHolds(op, key string, vals []string, rc reqContext) bool {
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
		case "datelessthan":
			if have.Before(t) {
				return true
			}
		case "datelessthanequals":
			if !have.After(t) {
				return true
			}
		case "dategreaterthan":
			if have.After(t) {
				return true
			}
		case "dategreaterthanequals":
			if !have.Before(t) {
				return true
			}
		}
	}
	return false
}

// trustDecision evaluates a role's trust policy for a caller: whether it
// allows sts:AssumeRole at all, and whether it names the caller itself
// (its user or role ARN, or its session ARN) rather than only its account,
// in which case, within one account, no identity policy is needed (IAM
// User Guide, "Cross account resource access in IAM").
func trustDecision(trust string, callerAcct string, callerARNs []string, rc reqContext) (d decision, specific bool) {
	p, err := parsePolicy(trust)
	if err != nil {
		return implicitDeny, false
	}
	for _, st := range p.Statement {
		if st.Principal == nil {
			continue
		}
		if len(st.Action) > 0 && !anyMatch(st.Action, rc.action, true) {
			continue
		}
		if len(st.NotAction) > 0 && anyMatch(st.NotAction, rc.action, true) {
			continue
		}
		condOK := true
		for op, keys := range st.Condition {
			for key, vals := range keys {
				condOK = condOK && conditionHolds(op, key, vals, rc)
			}
		}
		if !condOK {
			continue
		}
		match, named := st.Principal.matches(callerAcct, callerARNs)
		if !match {
			continue
		}
		if st.Effect == "Deny" {
			return explicitDeny, false
		}
		d = allow
		specific = specific || named
	}
	return d, specific
}

// matches reports whether the principal element covers the caller, and
// whether it does so by naming the caller rather than its account or "*".
func (p *principals) matches(acct string, arns []string) (match, named bool) {
	if p.anyone {
		return true, false
	}
	for _, v := range p.aws {
		switch {
		case v == "*":
			match = true
		case v == acct || (strings.HasSuffix(v, ":iam::"+acct+":root") && strings.HasPrefix(v, "arn:")):
			match = true
		default:
			for _, a := range arns {
				if v == a {
					return true, true
				}
			}
		}
	}
	return match, false
}
