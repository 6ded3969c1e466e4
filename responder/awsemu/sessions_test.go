package awsemu_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmw "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"

	"github.com/keyward/keyward/responder/awsemu"
)

func sessCreds(c *ststypes.Credentials) awsemu.Credentials {
	return awsemu.Credentials{AccessKeyID: *c.AccessKeyId, SecretAccessKey: *c.SecretAccessKey, SessionToken: *c.SessionToken}
}

func revokeDoc(cutoff time.Time) string {
	return `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"DateLessThan":{"aws:TokenIssueTime":"` +
		cutoff.UTC().Format(time.RFC3339) + `"}}}]}`
}

// TestEveryCredentialIsEvaluated mints every kind of credential from one
// admin key (session token, federation token, role session, chained role
// session, cross-account role session), then ends each the way the
// runbook does and asks, through the SDK and through Check, whether it
// still works.
func TestEveryCredentialIsEvaluated(t *testing.T) {
	emu, url, op := start(t)
	ctx := context.Background()
	acct := emu.Account()
	const member = "444455556666"
	emu.AddAccount(member)
	must(t, emu.CreateUser(acct, "leaky"))
	must(t, emu.AttachUserPolicy(acct, "leaky", awsemu.AdministratorAccessARN))
	leaked, err := emu.CreateAccessKey(acct, "leaky")
	must(t, err)
	admin := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`
	must(t, emu.CreateRole(acct, "deployer", admin))
	must(t, emu.CreateRole(acct, "chain", admin))
	must(t, emu.CreateRole(member, "OrgAccess", admin))

	ls := sts.NewFromConfig(cfg(url, leaked))
	st, err := ls.GetSessionToken(ctx, &sts.GetSessionTokenInput{})
	must(t, err)
	sess := sessCreds(st.Credentials)
	fed, err := ls.GetFederationToken(ctx, &sts.GetFederationTokenInput{Name: aws.String("mallory"), Policy: aws.String(admin)})
	must(t, err)
	if got := aws.ToString(fed.FederatedUser.Arn); got != "arn:aws:sts::"+acct+":federated-user/mallory" {
		t.Errorf("federated user ARN %s", got)
	}
	fedC := sessCreds(fed.Credentials)
	ar, err := ls.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::" + acct + ":role/deployer"), RoleSessionName: aws.String("x")})
	must(t, err)
	role := sessCreds(ar.Credentials)
	_, err = sts.NewFromConfig(cfg(url, role)).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::" + acct + ":role/chain"),
		RoleSessionName: aws.String("y"), DurationSeconds: aws.Int32(7200)})
	if code(err) != "ValidationError" {
		t.Errorf("chained session over 1 h: %v", err)
	}
	ch, err := sts.NewFromConfig(cfg(url, role)).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::" + acct + ":role/chain"), RoleSessionName: aws.String("y")})
	must(t, err)
	chain := sessCreds(ch.Credentials)

	// Cross-account: refused until the member role trusts the account.
	memberRole := "arn:aws:iam::" + member + ":role/OrgAccess"
	if _, err := ls.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(memberRole), RoleSessionName: aws.String("z")}); code(err) != "AccessDenied" {
		t.Fatalf("cross-account without trust: %v", err)
	}
	must(t, emu.SetRoleTrust(member, "OrgAccess", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::`+acct+`:root"},"Action":"sts:AssumeRole"}]}`))
	xa, err := ls.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(memberRole), RoleSessionName: aws.String("z")})
	must(t, err)
	cross := sessCreds(xa.Credentials)
	who, err := sts.NewFromConfig(cfg(url, cross)).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil || aws.ToString(who.Account) != member {
		t.Fatalf("cross-account session identity: %v %v", who, err)
	}
	info, err := sts.NewFromConfig(cfg(url, op)).GetAccessKeyInfo(ctx, &sts.GetAccessKeyInfoInput{AccessKeyId: aws.String(cross.AccessKeyID)})
	if err != nil || aws.ToString(info.Account) != member {
		t.Errorf("GetAccessKeyInfo of the member session: %v %v", info, err)
	}

	all := map[string]awsemu.Credentials{"long-term": leaked, "session": sess, "federation": fedC, "role": role, "chained": chain, "cross-account": cross}
	for name, c := range all {
		if err := emu.Check(c.AccessKeyID, "s3:GetObject", ""); err != nil {
			t.Errorf("%s before containment: %v", name, err)
		}
	}
	// The federation session is bounded by its session policy and can call
	// neither IAM nor STS beyond GetCallerIdentity.
	if _, err := iam.NewFromConfig(cfg(url, fedC)).ListUsers(ctx, &iam.ListUsersInput{}); code(err) != "AccessDenied" {
		t.Errorf("federation session calling IAM: %v", err)
	}
	bare, err := ls.GetFederationToken(ctx, &sts.GetFederationTokenInput{Name: aws.String("nopolicy")})
	must(t, err)
	if emu.CanCall(*bare.Credentials.AccessKeyId, "s3:GetObject") {
		t.Error("a federation session without a policy has permissions")
	}
	// The role session acts with the role's policies, not the user's.
	if _, err := iam.NewFromConfig(cfg(url, role)).ListUsers(ctx, &iam.ListUsersInput{}); err != nil {
		t.Errorf("role session ListUsers: %v", err)
	}

	// Contain: deactivate, deny older sessions on the user, the roles.
	_, err = iam.NewFromConfig(cfg(url, op)).UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String("leaky"), AccessKeyId: aws.String(leaked.AccessKeyID), Status: "Inactive"})
	must(t, err)
	if _, err := ls.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); code(err) != "InvalidClientTokenId" {
		t.Errorf("deactivated key: %v", err)
	}
	if err := emu.Check(sess.AccessKeyID, "s3:GetObject", ""); err != nil {
		t.Errorf("a session outlives its deactivated key in AWS: %v", err)
	}
	emu.Advance(time.Second)
	cutoff := emu.Now()
	opIAM := iam.NewFromConfig(cfg(url, op))
	_, err = opIAM.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("leaky"), PolicyName: aws.String("AWSRevokeOlderSessions"), PolicyDocument: aws.String(revokeDoc(cutoff))})
	must(t, err)
	for _, name := range []string{"session", "federation"} {
		if err := emu.Check(all[name].AccessKeyID, "s3:GetObject", ""); code(err) != "AccessDenied" {
			t.Errorf("%s after the user's session deny: %v", name, err)
		}
	}
	if err := emu.Check(role.AccessKeyID, "s3:GetObject", ""); err != nil {
		t.Errorf("the user's deny must not reach a role session: %v", err)
	}
	_, err = opIAM.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("deployer"), PolicyName: aws.String("AWSRevokeOlderSessions"), PolicyDocument: aws.String(revokeDoc(cutoff))})
	must(t, err)
	if _, err := iam.NewFromConfig(cfg(url, role)).ListUsers(ctx, &iam.ListUsersInput{}); code(err) != "AccessDenied" {
		t.Errorf("role session after the role's deny: %v", err)
	}
	if err := emu.Check(chain.AccessKeyID, "s3:GetObject", ""); err != nil {
		t.Errorf("a chained session is governed by its own role: %v", err)
	}
	must(t, emu.PutRolePolicy(acct, "chain", "AWSRevokeOlderSessions", revokeDoc(cutoff)))
	if err := emu.Check(chain.AccessKeyID, "s3:GetObject", ""); code(err) != "AccessDenied" {
		t.Errorf("chained session after its role's deny: %v", err)
	}
	// The member account's role is untouched by denies in the first one.
	if err := emu.Check(cross.AccessKeyID, "s3:GetObject", ""); err != nil {
		t.Errorf("cross-account session: %v", err)
	}
	must(t, emu.PutRolePolicy(member, "OrgAccess", "AWSRevokeOlderSessions", revokeDoc(cutoff)))
	if err := emu.Check(cross.AccessKeyID, "s3:GetObject", ""); code(err) != "AccessDenied" {
		t.Errorf("cross-account session after the member role's deny: %v", err)
	}
	// Sessions minted after the cutoff are spared; expiry ends the rest.
	emu.Advance(13 * time.Hour)
	if _, err := sts.NewFromConfig(cfg(url, role)).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); code(err) != "ExpiredToken" {
		t.Errorf("expired role session: %v", err)
	}
}

// TestCloudTrailDeliveryDelay: events appear in LookupEvents only after
// the configured delay, in the region the caller signed for (STS) or
// us-east-1 (IAM), each with the request ID its caller received.
func TestCloudTrailDeliveryDelay(t *testing.T) {
	emu, url, op := start(t)
	ctx := context.Background()
	emu.SetCloudTrailDelay(5 * time.Minute)
	out, err := sts.NewFromConfig(cfg(url, op), func(o *sts.Options) { o.Region = "eu-central-1" }).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	must(t, err)
	reqID, ok := awsmw.GetRequestIDMetadata(out.ResultMetadata)
	if !ok || reqID == "" {
		t.Fatal("no request ID in the answer")
	}
	_, err = iam.NewFromConfig(cfg(url, op)).ListUsers(ctx, &iam.ListUsersInput{})
	must(t, err)
	lookup := func(region string) []cttypes.Event {
		t.Helper()
		o, err := cloudtrail.NewFromConfig(cfg(url, op), func(o *cloudtrail.Options) { o.Region = region }).LookupEvents(ctx, &cloudtrail.LookupEventsInput{
			LookupAttributes: []cttypes.LookupAttribute{{AttributeKey: cttypes.LookupAttributeKeyAccessKeyId, AttributeValue: aws.String(op.AccessKeyID)}}})
		must(t, err)
		return o.Events
	}
	if ev := lookup("eu-central-1"); len(ev) != 0 {
		t.Fatalf("events visible before the delivery delay: %d", len(ev))
	}
	emu.Advance(5*time.Minute + time.Second)
	// The first LookupEvents is delivered too, itself recorded in the
	// region it was signed for.
	var gci *cttypes.Event
	evs := lookup("eu-central-1")
	for i := range evs {
		if aws.ToString(evs[i].EventName) == "GetCallerIdentity" {
			gci = &evs[i]
		}
	}
	if gci == nil {
		t.Fatal("no GetCallerIdentity event in eu-central-1 after the delay")
	}
	var full struct{ RequestID string }
	must(t, json.Unmarshal([]byte(aws.ToString(gci.CloudTrailEvent)), &full))
	if full.RequestID != reqID {
		t.Errorf("event request ID %q, the caller got %q", full.RequestID, reqID)
	}
	names := map[string]bool{}
	for _, e := range lookup("us-east-1") {
		names[aws.ToString(e.EventName)] = true
	}
	if !names["ListUsers"] || names["GetCallerIdentity"] {
		t.Errorf("us-east-1 holds %v, want IAM's ListUsers only", names)
	}
}

// TestTrustPolicies: within one account, a trust policy naming the caller
// suffices; one naming only the account needs the caller's own
// permission; an explicit Deny in the trust policy wins; another account
// needs both sides.
func TestTrustPolicies(t *testing.T) {
	emu, url, _ := start(t)
	ctx := context.Background()
	acct := emu.Account()
	must(t, emu.CreateUser(acct, "plain"))
	plain, err := emu.CreateAccessKey(acct, "plain")
	must(t, err)
	trust := func(principal string, deny bool) string {
		d := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + principal + `"},"Action":"sts:AssumeRole"}`
		if deny {
			d += `,{"Effect":"Deny","Principal":"*","Action":"sts:AssumeRole"}`
		}
		return d + `]}`
	}
	for _, c := range []struct {
		name, trust string
		want        string
	}{
		{"names the user", trust("arn:aws:iam::"+acct+":user/plain", false), ""},
		{"names the account", trust("arn:aws:iam::"+acct+":root", false), "AccessDenied"},
		{"names the account ID", trust(acct, false), "AccessDenied"},
		{"denies everyone", trust("arn:aws:iam::"+acct+":user/plain", true), "AccessDenied"},
		{"names another user", trust("arn:aws:iam::"+acct+":user/other", false), "AccessDenied"},
	} {
		role := strings.ReplaceAll(c.name, " ", "-")
		must(t, emu.CreateRole(acct, role, ""))
		must(t, emu.SetRoleTrust(acct, role, c.trust))
		_, err := sts.NewFromConfig(cfg(url, plain)).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::" + acct + ":role/" + role), RoleSessionName: aws.String("s")})
		if code(err) != c.want {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
	// With sts:AssumeRole of its own, the account-wide trust lets it in.
	must(t, emu.PutUserPolicy(acct, "plain", "assume", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}]}`))
	if _, err := sts.NewFromConfig(cfg(url, plain)).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::" + acct + ":role/names-the-account"), RoleSessionName: aws.String("s")}); err != nil {
		t.Errorf("account-wide trust with permission: %v", err)
	}
	// A condition on sts:ExternalId is met only when the caller passes it.
	must(t, emu.CreateRole(acct, "vendor", ""))
	must(t, emu.SetRoleTrust(acct, "vendor", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::`+acct+`:user/plain"},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"sts:ExternalId":"s3cret-id"}}}]}`))
	vendor := &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::" + acct + ":role/vendor"), RoleSessionName: aws.String("s")}
	if _, err := sts.NewFromConfig(cfg(url, plain)).AssumeRole(ctx, vendor); code(err) != "AccessDenied" {
		t.Errorf("without the external ID: %v", err)
	}
	vendor.ExternalId = aws.String("s3cret-id")
	if _, err := sts.NewFromConfig(cfg(url, plain)).AssumeRole(ctx, vendor); err != nil {
		t.Errorf("with the external ID: %v", err)
	}
	// Across accounts, naming the user is not enough without permission.
	const other = "444455556666"
	emu.AddAccount(other)
	must(t, emu.CreateUser(other, "outsider"))
	out, err := emu.CreateAccessKey(other, "outsider")
	must(t, err)
	must(t, emu.CreateRole(acct, "shared", ""))
	must(t, emu.SetRoleTrust(acct, "shared", trust("arn:aws:iam::"+other+":user/outsider", false)))
	shared := &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::" + acct + ":role/shared"), RoleSessionName: aws.String("s")}
	if _, err := sts.NewFromConfig(cfg(url, out)).AssumeRole(ctx, shared); code(err) != "AccessDenied" {
		t.Errorf("cross-account without the caller's permission: %v", err)
	}
	must(t, emu.PutUserPolicy(other, "outsider", "assume", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}]}`))
	if _, err := sts.NewFromConfig(cfg(url, out)).AssumeRole(ctx, shared); err != nil {
		t.Errorf("cross-account with both sides: %v", err)
	}
}

// TestMFASession: a session proven with an MFA device the user enabled
// (an attacker's persistence) may call IAM; one without may not; a device
// of someone else is refused.
func TestMFASession(t *testing.T) {
	emu, url, _ := start(t)
	ctx := context.Background()
	acct := emu.Account()
	must(t, emu.CreateUser(acct, "m"))
	must(t, emu.AttachUserPolicy(acct, "m", awsemu.AdministratorAccessARN))
	k, err := emu.CreateAccessKey(acct, "m")
	must(t, err)
	must(t, emu.EnableUserMFA(acct, "m"))
	serial := "arn:aws:iam::" + acct + ":mfa/m"
	s := sts.NewFromConfig(cfg(url, k))
	plain, err := s.GetSessionToken(ctx, &sts.GetSessionTokenInput{})
	must(t, err)
	if emu.CanCall(*plain.Credentials.AccessKeyId, "iam:ListUsers") {
		t.Error("a session without MFA may call IAM")
	}
	withMFA, err := s.GetSessionToken(ctx, &sts.GetSessionTokenInput{SerialNumber: aws.String(serial), TokenCode: aws.String("123456")})
	must(t, err)
	if _, err := iam.NewFromConfig(cfg(url, sessCreds(withMFA.Credentials))).ListUsers(ctx, &iam.ListUsersInput{}); err != nil {
		t.Errorf("an MFA session calling IAM: %v", err)
	}
	if _, err := s.GetSessionToken(ctx, &sts.GetSessionTokenInput{SerialNumber: aws.String("arn:aws:iam::" + acct + ":mfa/other"), TokenCode: aws.String("123456")}); code(err) != "AccessDenied" {
		t.Errorf("someone else's device: %v", err)
	}
}
