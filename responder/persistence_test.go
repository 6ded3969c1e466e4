package responder

import (
	"testing"
	"time"
)

// TestPersistenceReverts pins the revert command of each change to an
// existing principal, and that a change without parameters is skipped,
// not a crash.
func TestPersistenceReverts(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	arn := "arn:aws:iam::aws:policy/AdministratorAccess"
	ev := func(name string, p changeParams) TrailEvent {
		at = at.Add(time.Second)
		return TrailEvent{Time: at, Name: name, Params: &p}
	}
	events := []TrailEvent{
		{Time: at, Name: "AttachUserPolicy"}, // no parameters
		ev("AttachUserPolicy", changeParams{UserName: "bob", PolicyARN: arn}),
		ev("AttachRolePolicy", changeParams{RoleName: "ops", PolicyARN: arn}),
		ev("AttachGroupPolicy", changeParams{GroupName: "devs", PolicyARN: arn}),
		ev("PutUserPolicy", changeParams{UserName: "bob", PolicyName: "p1"}),
		ev("PutRolePolicy", changeParams{RoleName: "ops", PolicyName: "p2"}),
		ev("PutGroupPolicy", changeParams{GroupName: "devs", PolicyName: "p3"}),
	}
	want := []struct{ target, revert string }{
		{"user/bob " + arn, "aws iam detach-user-policy --user-name bob --policy-arn " + arn},
		{"role/ops " + arn, "aws iam detach-role-policy --role-name ops --policy-arn " + arn},
		{"group/devs " + arn, "aws iam detach-group-policy --group-name devs --policy-arn " + arn},
		{"user/bob p1", "aws iam delete-user-policy --user-name bob --policy-name p1"},
		{"role/ops p2", "aws iam delete-role-policy --role-name ops --policy-name p2"},
		{"group/devs p3", "aws iam delete-group-policy --group-name devs --policy-name p3"},
	}
	got := findPersistence(events, "aws", "123456789012")
	if len(got) != len(want) {
		t.Fatalf("got %d items, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		if got[i].Target != w.target || got[i].Revert != w.revert || got[i].Remaining != "revert: "+w.revert {
			t.Errorf("item %d: got target %q revert %q remaining %q, want %q and %q", i, got[i].Target, got[i].Revert, got[i].Remaining, w.target, w.revert)
		}
	}
}
