package responder

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/keyward/keyward/patterns"
	"github.com/keyward/keyward/patterns/patternstest"
	"github.com/keyward/keyward/responder/awsemu"
)

var testRegions = []string{"us-east-1", "eu-west-1"}

func (l *lab) runner(t *testing.T, journal string) *Runner {
	t.Helper()
	r := &Runner{Config: l.cfg, Validator: l.validator(), Options: Options{
		Regions: testRegions, LookupInterval: time.Millisecond, PollInterval: 5 * time.Millisecond, PollTimeout: 2 * time.Second,
	}}
	if journal != "" {
		j, err := OpenJournal(journal, l.leaked.AccessKeyID)
		if err != nil {
			t.Fatal(err)
		}
		r.Journal = j
	}
	return r
}

// attack uses the leaked key the way a thief would: it lists users, mints
// a session and uses it in two regions, and assumes a role.
func (l *lab) attack(t *testing.T) (session, roleSession awsemu.Credentials) {
	t.Helper()
	ctx := context.Background()
	must(t, l.emu.CreateRole(l.acct, "deployer", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"cloudtrail:LookupEvents","Resource":"*"}]}`))
	thief := l.config(l.leaked)
	if _, err := iam.NewFromConfig(thief).ListUsers(ctx, &iam.ListUsersInput{}); err != nil {
		t.Fatal(err)
	}
	session = l.sessionToken(t, l.leaked, 3600)
	for _, region := range testRegions {
		if err := l.lookupAs(session, region); err != nil {
			t.Fatal(err)
		}
	}
	out, err := sts.NewFromConfig(thief).AssumeRole(ctx, &sts.AssumeRoleInput{
		RoleArn: aws.String("arn:aws:iam::" + l.acct + ":role/deployer"), RoleSessionName: aws.String("x")})
	if err != nil {
		t.Fatal(err)
	}
	roleSession = awsemu.Credentials{AccessKeyID: *out.Credentials.AccessKeyId, SecretAccessKey: *out.Credentials.SecretAccessKey, SessionToken: *out.Credentials.SessionToken}
	if err := l.lookupAs(roleSession, "us-east-1"); err != nil {
		t.Fatal(err)
	}
	return session, roleSession
}

func (l *lab) lookupAs(c awsemu.Credentials, region string) error {
	_, err := cloudtrail.NewFromConfig(l.config(c), func(o *cloudtrail.Options) { o.Region = region }).LookupEvents(context.Background(), &cloudtrail.LookupEventsInput{
		LookupAttributes: []cttypes.LookupAttribute{{AttributeKey: cttypes.LookupAttributeKeyEventName, AttributeValue: aws.String("ListUsers")}}})
	return err
}

func apiErrorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// TestRunbookLiveKey runs the whole runbook on a live, used key.
func TestRunbookLiveKey(t *testing.T) {
	l := newLab(t)
	session, roleSession := l.attack(t)
	dir := t.TempDir()
	r := l.runner(t, filepath.Join(dir, "journal.json"))
	res, err := firstRun(r, cred(l.leaked))
	if err != nil {
		t.Fatalf("Execute: %v\n%s", err, res.Incident.Markdown())
	}
	inc := res.Incident

	if st, _ := l.emu.KeyStatus(l.leaked.AccessKeyID); st != "Inactive" {
		t.Errorf("key status %s, want Inactive", st)
	}
	_, err = sts.NewFromConfig(l.config(l.leaked)).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	if apiErrorCode(err) != "InvalidClientTokenId" {
		t.Errorf("GetCallerIdentity with the dead key: %v, want InvalidClientTokenId", err)
	}
	attached, inline, _ := l.emu.UserPolicies(l.acct, "alice")
	if !slices.ContainsFunc(attached, isQuarantineARN) || !slices.Contains(inline, RevokePolicyName) {
		t.Errorf("alice's policies: attached %v inline %v", attached, inline)
	}
	if rp, _ := l.emu.RolePolicies(l.acct, "deployer"); !slices.Contains(rp, RevokePolicyName) {
		t.Errorf("deployer's policies: %v", rp)
	}
	// The sessions derived from the key are now denied.
	if err := l.lookupAs(session, "us-east-1"); apiErrorCode(err) != "AccessDenied" {
		t.Errorf("derived session after response: %v, want AccessDenied", err)
	}
	if err := l.lookupAs(roleSession, "us-east-1"); apiErrorCode(err) != "AccessDenied" {
		t.Errorf("role session after response: %v, want AccessDenied", err)
	}

	tr := inc.Facts.Trail
	if tr == nil {
		t.Fatal("no CloudTrail summary")
	}
	if !slices.Contains(tr.DerivedKeys, session.AccessKeyID) || !slices.Contains(tr.DerivedKeys, roleSession.AccessKeyID) {
		t.Errorf("derived keys %v, want %s and %s", tr.DerivedKeys, session.AccessKeyID, roleSession.AccessKeyID)
	}
	for _, name := range []string{"ListUsers", "GetSessionToken", "AssumeRole", "LookupEvents"} {
		if tr.EventNames[name] == 0 {
			t.Errorf("event %s missing from %v", name, tr.EventNames)
		}
	}
	if tr.EventRegions["eu-west-1"] == 0 || len(tr.SourceIPs) == 0 || len(tr.UserAgents) == 0 || tr.First.IsZero() {
		t.Errorf("summary incomplete: %+v", tr)
	}
	found := false
	for _, e := range tr.Events {
		if e.AccessKeyID == session.AccessKeyID && e.Name == "LookupEvents" && e.Region == "eu-west-1" {
			found = true
		}
	}
	if !found {
		t.Error("the derived key's LookupEvents in eu-west-1 is not in the report")
	}

	inc.Locations = []Location{{Path: "config/.env", Line: 3, Commit: strings.Repeat("a", 40)}}
	md, js, err := WriteReport(dir, inc)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{md, js} {
		fi, err := os.Stat(p)
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v mode %v, want 0600", p, err, fi.Mode())
		}
		data, _ := os.ReadFile(p)
		for _, secret := range []string{l.leaked.SecretAccessKey, session.SecretAccessKey, session.SessionToken, roleSession.SecretAccessKey} {
			if bytes.Contains(data, []byte(secret)) {
				t.Fatalf("%s contains a secret", p)
			}
		}
		for _, want := range []string{session.AccessKeyID, "GetSessionToken", "config/.env", "root user has MFA"} {
			if !bytes.Contains(data, []byte(want)) {
				t.Errorf("%s lacks %q", p, want)
			}
		}
	}
	jdata, _ := os.ReadFile(filepath.Join(dir, "journal.json"))
	if bytes.Contains(jdata, []byte(l.leaked.SecretAccessKey)) {
		t.Fatal("the journal contains the secret")
	}
}

// TestPlanChangesNothing shows a dry run leaves IAM byte-identical.
func TestPlanChangesNothing(t *testing.T) {
	l := newLab(t)
	before := l.emu.Snapshot()
	p, err := l.runner(t, "").Plan(context.Background(), cred(l.leaked))
	if err != nil {
		t.Fatal(err)
	}
	if after := l.emu.Snapshot(); !bytes.Equal(before, after) {
		t.Fatalf("state changed:\n%s\n%s", before, after)
	}
	if p.Stop != nil || p.UserName != "alice" || p.KeyAccount != l.acct || p.OperatorAccount != l.acct {
		t.Fatalf("plan: %+v", p)
	}
	var ids []StepID
	for _, s := range p.Steps {
		ids = append(ids, s.ID)
	}
	for _, want := range []StepID{StepValidate, StepOwnership, StepOwner, StepDeactivate, StepQuarantine, StepRevokeSessions, StepVerifyDead, StepInvestigate} {
		if !slices.Contains(ids, want) {
			t.Errorf("plan lacks %s: %v", want, ids)
		}
	}
	if perms := p.RequiredPermissions(); !slices.Contains(perms, "iam:UpdateAccessKey") || !slices.Contains(perms, "cloudtrail:LookupEvents") {
		t.Errorf("permissions %v", perms)
	}
	if l.emu.Calls("UpdateAccessKey")+l.emu.Calls("AttachUserPolicy")+l.emu.Calls("PutUserPolicy") != 0 {
		t.Fatal("a dry run made a changing call")
	}
}

var errCrash = errors.New("injected crash")

// TestResumeAfterCrash crashes after deactivation and re-runs.
func TestResumeAfterCrash(t *testing.T) {
	l := newLab(t)
	path := filepath.Join(t.TempDir(), "journal.json")
	r := l.runner(t, path)
	r.AfterStep = func(id StepID) error {
		if id == StepDeactivate {
			return errCrash
		}
		return nil
	}
	if _, err := firstRun(r, cred(l.leaked)); !errors.Is(err, errCrash) {
		t.Fatalf("first run: %v, want the crash", err)
	}
	r2 := l.runner(t, path)
	res, err := firstRun(r2, cred(l.leaked))
	if err != nil {
		t.Fatalf("re-run: %v", err)
	}
	if n := l.emu.Calls("UpdateAccessKey"); n != 1 {
		t.Errorf("UpdateAccessKey called %d times, want 1", n)
	}
	resumed := map[StepID]bool{}
	for _, s := range res.Incident.Steps {
		resumed[s.ID] = s.Resumed
	}
	// Read-only steps run again for fresh facts; the deactivation is
	// checked in AWS, not repeated.
	if !resumed[StepDeactivate] {
		t.Errorf("step %s was repeated", StepDeactivate)
	}
	if resumed[StepQuarantine] || resumed[StepInvestigate] {
		t.Error("steps after the crash were not run")
	}
	// A third run repeats nothing at all.
	before := l.emu.Calls("PutUserPolicy")
	if _, err := firstRun(l.runner(t, path), cred(l.leaked)); err != nil {
		t.Fatal(err)
	}
	if l.emu.Calls("PutUserPolicy") != before || l.emu.Calls("UpdateAccessKey") != 1 {
		t.Error("a completed run repeated a step")
	}
}

// TestInvestigateSurvivesThrottling throttles LookupEvents beyond the SDK's
// own retries.
func TestInvestigateSurvivesThrottling(t *testing.T) {
	l := newLab(t)
	l.attack(t)
	l.emu.Throttle("LookupEvents", 5)
	res, err := firstRun(l.runner(t, ""), cred(l.leaked))
	if err != nil {
		t.Fatalf("Execute: %v", err)
	}
	throttled := 0
	for _, s := range res.Incident.Steps {
		for _, c := range s.Calls {
			if c.Error == "ThrottlingException" {
				throttled++
			}
		}
	}
	if throttled == 0 || res.Incident.Facts.Trail == nil || len(res.Incident.Facts.Trail.DerivedKeys) == 0 {
		t.Fatalf("throttled %d, trail %+v", throttled, res.Incident.Facts.Trail)
	}
}

// TestOtherAccountStops holds a key of another account.
func TestOtherAccountStops(t *testing.T) {
	l := newLab(t)
	const other = "444455556666"
	l.emu.AddAccount(other)
	must(t, l.emu.CreateUser(other, "mallory"))
	foreign, err := l.emu.CreateAccessKey(other, "mallory")
	must(t, err)
	_, err = firstRun(l.runner(t, ""), cred(foreign))
	var se *StopError
	if !errors.As(err, &se) || se.Kind != StopOtherAccount || se.Account != other {
		t.Fatalf("Execute: %v, want a stop for account %s", err, other)
	}
	if st, _ := l.emu.KeyStatus(foreign.AccessKeyID); st != "Active" || l.emu.Calls("UpdateAccessKey") != 0 {
		t.Fatal("another account's key was touched")
	}
}

// TestRootKeyHandedToHuman never touches a root key.
func TestRootKeyHandedToHuman(t *testing.T) {
	l := newLab(t)
	root, err := l.emu.CreateRootAccessKey(l.acct)
	must(t, err)
	_, err = firstRun(l.runner(t, ""), cred(root))
	var se *StopError
	if !errors.As(err, &se) || se.Kind != StopRoot || len(se.Instructions) == 0 {
		t.Fatalf("Execute: %v, want a root stop", err)
	}
	if st, _ := l.emu.KeyStatus(root.AccessKeyID); st != "Active" {
		t.Fatal("the root key was touched")
	}
}

// TestCanaryRunMakesNoCall proves respond never contacts AWS for a canary.
func TestCanaryRunMakesNoCall(t *testing.T) {
	l := newLab(t)
	gen := patternstest.New(3)
	canary := NewCredential(gen.KeyID("AKIA", patterns.CanaryAccounts()[0]), gen.Secret(), "")
	r := l.runner(t, "")
	r.Config.BaseEndpoint = aws.String("http://127.0.0.1:1")
	r.Validator.Endpoint = "http://127.0.0.1:1"
	before := l.emu.Calls("GetCallerIdentity")
	_, err := firstRun(r, canary)
	var se *StopError
	if !errors.As(err, &se) || se.Kind != StopCanary {
		t.Fatalf("Execute: %v, want a canary stop", err)
	}
	p, err := r.Plan(context.Background(), canary)
	if err != nil || p.Stop == nil || p.Stop.Kind != StopCanary {
		t.Fatalf("Plan: %+v %v", p, err)
	}
	if l.emu.Calls("GetCallerIdentity") != before {
		t.Fatal("a canary key reached the network")
	}
}

// TestRotateKeyLimit fills the user's two key slots.
func TestRotateKeyLimit(t *testing.T) {
	l := newLab(t)
	_, err := l.emu.CreateAccessKey(l.acct, "alice")
	must(t, err)
	path := filepath.Join(t.TempDir(), "journal.json")
	r := l.runner(t, path)
	r.Rotate = true
	_, err = firstRun(r, cred(l.leaked))
	var ke *KeyLimitError
	if !errors.As(err, &ke) || len(ke.Keys) != 2 {
		t.Fatalf("Execute: %v, want the 2-key limit", err)
	}
	// With --delete the leaked key goes first and the rotation fits.
	r2 := l.runner(t, path)
	r2.Rotate, r2.Delete = true, true
	res, err := firstRun(r2, cred(l.leaked))
	if err != nil {
		t.Fatalf("Execute with delete: %v", err)
	}
	if res.NewKey == nil || !res.NewKey.HasSecret() {
		t.Fatal("no new key handed back")
	}
	if _, err := l.emu.KeyStatus(l.leaked.AccessKeyID); !errors.Is(err, awsemu.ErrNoSuchEntity) {
		t.Fatal("the leaked key was not deleted")
	}
	if v := l.validator().Validate(context.Background(), *res.NewKey); v.Status != StatusValid {
		t.Fatalf("new key: %+v", v)
	}
	js, _ := os.ReadFile(path)
	if bytes.Contains(js, []byte("SecretAccessKey")) || strings.Contains(res.Incident.Markdown(), "secret_access") {
		t.Fatal("the new secret was recorded")
	}
}

// TestMissingPermissionHint runs with an operator who may not deactivate.
func TestMissingPermissionHint(t *testing.T) {
	l := newLab(t)
	must(t, l.emu.CreateUser(l.acct, "limited"))
	must(t, l.emu.PutUserPolicy(l.acct, "limited", "most", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotAction":"iam:UpdateAccessKey","Resource":"*"}]}`))
	lim, err := l.emu.CreateAccessKey(l.acct, "limited")
	must(t, err)
	path := filepath.Join(t.TempDir(), "journal.json")
	r := l.runner(t, path)
	r.Config = l.config(lim)
	_, err = firstRun(r, cred(l.leaked))
	var pe *PermissionError
	if !errors.As(err, &pe) || pe.Action != "iam:UpdateAccessKey" || !strings.Contains(pe.Resource, ":user/alice") {
		t.Fatalf("Execute: %v, want a permission error", err)
	}
	if !strings.Contains(pe.PolicySnippet(), `"iam:UpdateAccessKey"`) {
		t.Fatalf("snippet: %s", pe.PolicySnippet())
	}
	// Granted, the re-run continues.
	must(t, l.emu.AttachUserPolicy(l.acct, "limited", awsemu.AdministratorAccessARN))
	r2 := l.runner(t, path)
	r2.Config = l.config(lim)
	if _, err := firstRun(r2, cred(l.leaked)); err != nil {
		t.Fatalf("re-run with permission: %v", err)
	}
}

// TestVerifyWaitsForConsistency delays key status like IAM does.
func TestVerifyWaitsForConsistency(t *testing.T) {
	l := newLab(t)
	l.emu.SetConsistencyDelay(60 * time.Millisecond)
	res, err := firstRun(l.runner(t, ""), cred(l.leaked))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range res.Incident.Steps {
		if s.ID == StepVerifyDead && len(s.Calls) < 2 {
			t.Fatalf("verify made %d calls; the delay was not observed", len(s.Calls))
		}
	}
}

// TestRunbookSessionKey responds to a leaked ASIA key: it cannot be
// deactivated, so its user's sessions are denied instead.
func TestRunbookSessionKey(t *testing.T) {
	l := newLab(t)
	session := l.sessionToken(t, l.leaked, 3600)
	var seen []StepID
	r := l.runner(t, "")
	r.OnStep = func(s StepResult) { seen = append(seen, s.ID) }
	res, err := firstRun(r, cred(session))
	if err != nil {
		t.Fatalf("Execute: %v", err)
	}
	if res.Incident.Outcome != OutcomeAwaitingRecheck || slices.Contains(seen, StepDeactivate) || !slices.Contains(seen, StepRevokeSessions) {
		t.Fatalf("outcome %q, steps %v", res.Incident.Outcome, seen)
	}
	if _, inline, _ := l.emu.UserPolicies(l.acct, "alice"); !slices.Contains(inline, RevokePolicyName) {
		t.Fatalf("alice's inline policies: %v", inline)
	}
	if err := l.lookupAs(session, "us-east-1"); apiErrorCode(err) != "AccessDenied" {
		t.Fatalf("the session still works: %v", err)
	}
	if st, _ := l.emu.KeyStatus(l.leaked.AccessKeyID); st != "Active" {
		t.Fatal("the parent key was touched")
	}
}

// TestRotateAfterCrashLeavesNoOrphan: a crash inside the rotate step,
// after CreateAccessKey ran but before its answer was kept, leaves a key
// whose secret nobody has. The re-run finds it (it is not in the journalled
// list of keys from before the call), deletes it and rotates once.
func TestRotateAfterCrashLeavesNoOrphan(t *testing.T) {
	l := newLab(t)
	path := filepath.Join(t.TempDir(), "journal.json")
	r := l.runner(t, path)
	r.AfterStep = func(id StepID) error {
		if id == StepRevokeRoleSessions {
			// Simulate dying inside rotate: the started mark is journalled,
			// AWS created a key, its answer was lost.
			f := r.Journal.State.Facts
			f.KeysBeforeRotate = []string{l.leaked.AccessKeyID}
			must(t, r.Journal.Record(StepResult{ID: StepRotate, Status: StepStarted, Started: time.Now()}, f))
			if _, err := l.emu.CreateAccessKey(l.acct, "alice"); err != nil {
				t.Fatal(err)
			}
			return errCrash
		}
		return nil
	}
	r.Rotate = true
	if _, err := firstRun(r, cred(l.leaked)); !errors.Is(err, errCrash) {
		t.Fatalf("first run: %v", err)
	}
	r2 := l.runner(t, path)
	r2.Rotate = true
	res, err := firstRun(r2, cred(l.leaked))
	if err != nil {
		t.Fatalf("re-run: %v", err)
	}
	if res.NewKey == nil {
		t.Fatal("no replacement key")
	}
	keys, err := l.iam().ListAccessKeys(context.Background(), &iam.ListAccessKeysInput{UserName: aws.String("alice")})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, k := range keys.AccessKeyMetadata {
		ids = append(ids, aws.ToString(k.AccessKeyId))
	}
	slices.Sort(ids)
	want := []string{l.leaked.AccessKeyID, res.NewKey.KeyID}
	slices.Sort(want)
	if !slices.Equal(ids, want) {
		t.Fatalf("alice's keys %v, want only the leaked and the new one %v", ids, want)
	}
	if len(res.Incident.Facts.OrphansDeleted) != 1 {
		t.Fatalf("orphans deleted: %v", res.Incident.Facts.OrphansDeleted)
	}
}

// TestUnfollowedKeysAreNotContained: the leaked key minted more sessions
// than the investigation follows; what the others did is unknown, so the
// outcome is partial, never "contained".
func TestUnfollowedKeysAreNotContained(t *testing.T) {
	l := newLab(t)
	l.sessionToken(t, l.leaked, 3600)
	l.sessionToken(t, l.leaked, 3600)
	l.sessionToken(t, l.leaked, 3600)
	r := l.runner(t, "")
	r.MaxKeysFollowed = 1
	res, err := firstRun(r, cred(l.leaked))
	var pe *PartialError
	if !errors.As(err, &pe) || res.Incident.Outcome != OutcomePartial {
		t.Fatalf("outcome %q, err %v; want partially contained", res.Incident.Outcome, err)
	}
	if tr := res.Incident.Facts.Trail; tr == nil || len(tr.DerivedKeys) != 1 || tr.Unfollowed != 2 {
		t.Fatalf("trail followed %v, unfollowed %d; want 1 and 2", tr.DerivedKeys, tr.Unfollowed)
	}
	if !slices.ContainsFunc(res.Incident.Remaining, func(s string) bool {
		return strings.HasPrefix(s, "2 key(s) minted or created by the leaked key were not investigated")
	}) {
		t.Errorf("remaining %q does not name the unfollowed keys", res.Incident.Remaining)
	}
}
