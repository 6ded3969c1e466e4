package awsemu

import (
	"testing"
	"time"
)

// TestEvaluate covers the policy model's corners: NotAction, NotResource,
// explicit Deny over Allow, and conditions on aws:TokenIssueTime that long-term
// credentials (no issue time) never match.
func TestEvaluate(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	user := "arn:aws:iam::111122223333:user/alice"
	cases := []struct {
		name string
		docs []string
		rc   reqContext
		want decision
	}{
		{"allow", []string{`{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}`},
			reqContext{action: "s3:GetObject", resource: "*"}, allow},
		{"case-insensitive action", []string{`{"Statement":{"Effect":"Allow","Action":"S3:getobject","Resource":"*"}}`},
			reqContext{action: "s3:GetObject", resource: "*"}, allow},
		{"deny wins", []string{`{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`, `{"Statement":{"Effect":"Deny","Action":"iam:*","Resource":"*"}}`},
			reqContext{action: "iam:ListUsers", resource: "*"}, explicitDeny},
		{"NotAction", []string{`{"Statement":{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}}`},
			reqContext{action: "iam:ListUsers", resource: "*"}, implicitDeny},
		{"NotResource excludes", []string{`{"Statement":{"Effect":"Allow","Action":"iam:*","NotResource":"` + user + `"}}`},
			reqContext{action: "iam:UpdateAccessKey", resource: user}, implicitDeny},
		{"NotResource elsewhere", []string{`{"Statement":{"Effect":"Allow","Action":"iam:*","NotResource":"` + user + `"}}`},
			reqContext{action: "iam:UpdateAccessKey", resource: "arn:aws:iam::111122223333:user/bob"}, allow},
		{"session before cutoff", []string{`{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"DateLessThan":{"aws:TokenIssueTime":"2026-12-06T12:00:00Z"}}}]}`},
			reqContext{action: "s3:GetObject", resource: "*", tokenIssueTime: now.Add(-time.Second), now: now}, explicitDeny},
		{"session after cutoff", []string{`{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"DateLessThan":{"aws:TokenIssueTime":"2026-12-06T12:00:00Z"}}}]}`},
			reqContext{action: "s3:GetObject", resource: "*", tokenIssueTime: now, now: now}, allow},
		{"long-term key has no issue time", []string{`{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"DateLessThan":{"aws:TokenIssueTime":"2026-12-06T12:00:00Z"}}}]}`},
			reqContext{action: "s3:GetObject", resource: "*", now: now}, allow},
		{"StringEquals on the user name", []string{`{"Statement":{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"StringEquals":{"aws:username":"alice"}}}}`},
			reqContext{action: "s3:GetObject", resource: "*", keys: map[string]string{"aws:username": "alice"}}, explicitDeny},
		{"StringNotEquals, key absent", []string{`{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringNotEquals":{"aws:username":"alice"}}}}`},
			reqContext{action: "s3:GetObject", resource: "*", keys: map[string]string{}}, allow},
		{"ArnLike on the principal", []string{`{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/Keyward*"}}}}`},
			reqContext{action: "s3:GetObject", resource: "*", keys: map[string]string{"aws:principalarn": "arn:aws:iam::1:role/KeywardResponder"}}, allow},
		{"Bool MFA absent on a long-term key", []string{`{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"}}}}`},
			reqContext{action: "s3:GetObject", resource: "*", keys: map[string]string{}}, implicitDeny},
		{"Null: key absent", []string{`{"Statement":{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"Null":{"aws:MultiFactorAuthPresent":"true"}}}}`},
			reqContext{action: "s3:GetObject", resource: "*", keys: map[string]string{}}, explicitDeny},
		{"unknown key never applies", []string{`{"Statement":{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"StringNotEquals":{"aws:RequestedRegion":"eu-west-1"}}}}`},
			reqContext{action: "s3:GetObject", resource: "*", keys: map[string]string{}}, implicitDeny},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := evaluate(c.docs, c.rc); got != c.want {
				t.Errorf("got %d, want %d", got, c.want)
			}
		})
	}
}
