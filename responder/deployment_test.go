package responder

import (
	"slices"
	"strings"
	"testing"
)

// TestRoleDriftDeny: an action the policy allows but a Deny statement of
// it takes away is reported as denied, so doctor does not call the role
// fine; wildcards and NotAction are matched as IAM does.
func TestRoleDriftDeny(t *testing.T) {
	want := ResponderPolicy(Options{}).Actions()
	allow := `{"Effect":"Allow","Action":["` + strings.Join(want, `","`) + `"],"Resource":"*"}`
	for _, tc := range []struct {
		name, deny string
		denied     []string
	}{
		{"none", ``, nil},
		{"exact", `,{"Effect":"Deny","Action":"iam:PutRolePolicy","Resource":"*"}`, []string{"iam:PutRolePolicy"}},
		{"wildcard, any case", `,{"Effect":"Deny","Action":["IAM:Put*Policy"],"Resource":"*"}`, []string{"iam:PutRolePolicy", "iam:PutUserPolicy"}},
		{"not action", `,{"Effect":"Deny","NotAction":["iam:*","sts:*","cloudtrail:*"],"Resource":"*"}`, []string{"account:ListRegions"}},
		{"other service", `,{"Effect":"Deny","Action":"s3:*","Resource":"*"}`, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := RoleDrift{}
			if err := d.compare(`{"Version":"2012-10-17","Statement":[` + allow + tc.deny + `]}`); err != nil {
				t.Fatal(err)
			}
			for _, a := range tc.denied {
				if !slices.Contains(want, a) {
					t.Fatalf("test bug: %s is not a step table action", a)
				}
			}
			if len(d.Missing) > 0 || len(d.Extra) > 0 || !slices.Equal(d.Denied, tc.denied) {
				t.Errorf("missing %v extra %v denied %v; want denied %v", d.Missing, d.Extra, d.Denied, tc.denied)
			}
		})
	}
}

func TestActionMatch(t *testing.T) {
	for _, tc := range []struct {
		pat, action string
		want        bool
	}{
		{"iam:PutRolePolicy", "iam:PutRolePolicy", true},
		{"iam:putrolepolicy", "iam:PutRolePolicy", true},
		{"iam:*", "iam:PutRolePolicy", true},
		{"*", "sts:GetAccessKeyInfo", true},
		{"iam:Put*Policy", "iam:PutUserPolicy", true},
		{"iam:Put?olePolicy", "iam:PutRolePolicy", true},
		{"iam:Put*", "iam:DeleteRolePolicy", false},
		{"iam:PutRolePolicy", "iam:PutRolePolicyX", false},
		{"iam:Put?", "iam:Put", false},
	} {
		if got := actionMatch(tc.pat, tc.action); got != tc.want {
			t.Errorf("actionMatch(%q, %q) = %v, want %v", tc.pat, tc.action, got, tc.want)
		}
	}
}
