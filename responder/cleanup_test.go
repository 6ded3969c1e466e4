package responder

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
)

// respondAt runs the whole runbook on the lab's attacked key, journalled in
// a temporary directory, and returns the journal's path.
func (l *lab) respond(t *testing.T) string {
	t.Helper()
	l.attack(t)
	path := filepath.Join(t.TempDir(), "journal.json")
	if _, err := firstRun(l.runner(t, path), cred(l.leaked)); err != nil {
		t.Fatalf("Execute: %v", err)
	}
	return path
}

// cleaner is a runner on the journal at path whose clock is d ahead.
func (l *lab) cleaner(t *testing.T, path string, d time.Duration) *Runner {
	r := l.runner(t, path)
	r.Now = func() time.Time { return time.Now().Add(d) }
	return r
}

func (l *lab) denies(t *testing.T) (user, role bool) {
	t.Helper()
	_, inline, err := l.emu.UserPolicies(l.acct, "alice")
	must(t, err)
	rp, err := l.emu.RolePolicies(l.acct, "deployer")
	must(t, err)
	return slices.Contains(inline, RevokePolicyName), slices.Contains(rp, RevokePolicyName)
}

// TestCleanupWaitsFor36Hours: before the hold has passed the cleanup is
// refused with the time left and nothing changes; after it the user's and
// the assumed role's denies are removed; a re-run repeats nothing.
func TestCleanupWaitsFor36Hours(t *testing.T) {
	l := newLab(t)
	path := l.respond(t)
	ctx := context.Background()

	before := l.emu.Snapshot()
	p, _, err := l.cleaner(t, path, 35*time.Hour).Cleanup(ctx)
	var te *TooEarlyError
	if !errors.As(err, &te) || te.Remaining < 55*time.Minute || te.Remaining > time.Hour+time.Minute {
		t.Fatalf("Cleanup at 35 h: %v, want about an hour to wait", err)
	}
	if !strings.Contains(te.Error(), te.NotBefore.Format(time.RFC3339)) || !strings.Contains(te.Error(), "1h0m from now") {
		t.Errorf("message %q", te.Error())
	}
	if len(p.Targets) != 2 || !slices.Equal(p.Permissions(), []string{"iam:GetUserPolicy", "iam:DeleteUserPolicy", "iam:GetRolePolicy", "iam:DeleteRolePolicy"}) {
		t.Errorf("plan %+v", p)
	}
	if !bytes.Equal(before, l.emu.Snapshot()) || l.emu.Calls("GetUserPolicy")+l.emu.Calls("DeleteUserPolicy") != 0 {
		t.Fatal("a refused cleanup changed something")
	}

	_, res, err := l.cleaner(t, path, 37*time.Hour).Cleanup(ctx)
	if err != nil {
		t.Fatalf("Cleanup at 37 h: %v", err)
	}
	if user, role := l.denies(t); user || role {
		t.Fatalf("denies left: user %v, role %v", user, role)
	}
	if res.Detail != "removed "+RevokePolicyName+" from user alice, role deployer" || res.Resumed {
		t.Errorf("step %+v", res)
	}
	// The quarantine policy stays: only the session deny goes.
	if attached, _, _ := l.emu.UserPolicies(l.acct, "alice"); !slices.ContainsFunc(attached, isQuarantineARN) {
		t.Error("the quarantine policy was removed")
	}

	j, err := OpenJournal(path, l.leaked.AccessKeyID)
	must(t, err)
	if _, ok := j.Done(StepRemoveSessionDeny); !ok || j.State.Facts.DenyRemoved.IsZero() {
		t.Fatal("the cleanup was not journalled")
	}
	for _, f := range followUps(&j.State.Facts, Credential{KeyID: l.leaked.AccessKeyID}) {
		if strings.Contains(f, "remove the inline policy") {
			t.Errorf("follow-up still asks for the removal: %s", f)
		}
	}

	calls := l.emu.Calls("DeleteUserPolicy") + l.emu.Calls("DeleteRolePolicy") + l.emu.Calls("GetUserPolicy")
	_, res, err = l.cleaner(t, path, 40*time.Hour).Cleanup(ctx)
	if err != nil || !res.Resumed {
		t.Fatalf("re-run: %+v %v", res, err)
	}
	if l.emu.Calls("DeleteUserPolicy")+l.emu.Calls("DeleteRolePolicy")+l.emu.Calls("GetUserPolicy") != calls {
		t.Fatal("a re-run called IAM again")
	}
}

// TestCleanupSparesLaterDeny: a deny already removed by hand counts as
// removed, and one a later response put in place (a newer cutoff) is left
// for that response's own cleanup.
func TestCleanupSparesLaterDeny(t *testing.T) {
	l := newLab(t)
	path := l.respond(t)
	later := time.Now().Add(10 * time.Hour).UTC().Truncate(time.Second)
	must(t, l.emu.PutUserPolicy(l.acct, "alice", RevokePolicyName, RevokeSessionsPolicy(later)))
	if _, err := l.iam().DeleteRolePolicy(context.Background(), &iam.DeleteRolePolicyInput{RoleName: aws.String("deployer"), PolicyName: aws.String(RevokePolicyName)}); err != nil {
		t.Fatal(err)
	}
	_, res, err := l.cleaner(t, path, 37*time.Hour).Cleanup(context.Background())
	if err != nil {
		t.Fatalf("Cleanup: %v", err)
	}
	want := "already gone from role deployer; left on user alice (a later response's deny, keep until " + later.Add(SessionDenyHold).Format(time.RFC3339) + ")"
	if res.Detail != want {
		t.Errorf("detail %q, want %q", res.Detail, want)
	}
	if user, _ := l.denies(t); !user || l.emu.Calls("DeleteUserPolicy") != 0 {
		t.Fatal("the later response's deny was removed")
	}
}

// TestCleanupKeepsUnreadableDeny: a session deny whose cutoff keyward
// cannot read might be newer than 36 h, so cleanup leaves it and says so.
func TestCleanupKeepsUnreadableDeny(t *testing.T) {
	l := newLab(t)
	path := l.respond(t)
	edited := `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}`
	must(t, l.emu.PutUserPolicy(l.acct, "alice", RevokePolicyName, edited))
	_, res, err := l.cleaner(t, path, 37*time.Hour).Cleanup(context.Background())
	if err != nil {
		t.Fatalf("Cleanup: %v", err)
	}
	if !strings.Contains(res.Detail, "left on user alice (its aws:TokenIssueTime cutoff cannot be read") {
		t.Errorf("detail %q does not say the unreadable deny was kept", res.Detail)
	}
	if user, _ := l.denies(t); !user || l.emu.Calls("DeleteUserPolicy") != 0 {
		t.Fatal("an unreadable deny was removed")
	}
}

// TestCleanupErrors: no deny recorded, and a missing permission naming the
// action to grant.
func TestCleanupErrors(t *testing.T) {
	l := newLab(t)
	empty := filepath.Join(t.TempDir(), "journal.json")
	if _, _, err := l.cleaner(t, empty, 40*time.Hour).Cleanup(context.Background()); !errors.Is(err, ErrNoSessionDeny) {
		t.Fatalf("empty journal: %v", err)
	}
	path := l.respond(t)
	r := l.cleaner(t, path, 40*time.Hour)
	r.Config = l.config(l.limitedOperator(t, "iam:DeleteUserPolicy"))
	_, _, err := r.Cleanup(context.Background())
	var pe *PermissionError
	if !errors.As(err, &pe) || pe.Action != "iam:DeleteUserPolicy" || !strings.HasSuffix(pe.Resource, ":user/alice") {
		t.Fatalf("Cleanup: %v, want a permission error", err)
	}
	if user, _ := l.denies(t); !user {
		t.Fatal("the deny went without permission")
	}
	j, err := OpenJournal(path, l.leaked.AccessKeyID)
	must(t, err)
	if _, ok := j.Done(StepRemoveSessionDeny); ok {
		t.Fatal("a failed cleanup was journalled as done")
	}
}
