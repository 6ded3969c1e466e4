package awsemu_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/keyward/keyward/responder/awsemu"
)

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestIAMPersistenceCalls drives every persistence call an attacker makes
// through the real SDK and checks the state each leaves.
func TestIAMPersistenceCalls(t *testing.T) {
	emu, url, op := start(t)
	ctx := context.Background()
	acct := emu.Account()
	c := iam.NewFromConfig(cfg(url, op))
	_, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("svc-backup")})
	must(t, err)
	_, err = c.CreateLoginProfile(ctx, &iam.CreateLoginProfileInput{UserName: aws.String("svc-backup"), Password: aws.String("hunter2-Hunter2")})
	must(t, err)
	_, err = c.CreateLoginProfile(ctx, &iam.CreateLoginProfileInput{UserName: aws.String("svc-backup"), Password: aws.String("x")})
	var exists *iamtypes.EntityAlreadyExistsException
	if !errors.As(err, &exists) {
		t.Errorf("second login profile: %v", err)
	}
	lp, err := c.GetLoginProfile(ctx, &iam.GetLoginProfileInput{UserName: aws.String("svc-backup")})
	if err != nil || aws.ToString(lp.LoginProfile.UserName) != "svc-backup" {
		t.Fatalf("GetLoginProfile: %v %v", lp, err)
	}
	_, err = c.UpdateLoginProfile(ctx, &iam.UpdateLoginProfileInput{UserName: aws.String("svc-backup"), Password: aws.String("another-Pass1")})
	must(t, err)

	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}]}`
	_, err = c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("backdoor"), AssumeRolePolicyDocument: aws.String(trust)})
	must(t, err)
	_, err = c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("bad"), AssumeRolePolicyDocument: aws.String(`{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`)})
	var mal *iamtypes.MalformedPolicyDocumentException
	if !errors.As(err, &mal) {
		t.Errorf("trust policy without principal: %v", err)
	}
	_, err = c.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String("backdoor"), PolicyArn: aws.String(awsemu.AdministratorAccessARN)})
	must(t, err)
	att, err := c.ListAttachedRolePolicies(ctx, &iam.ListAttachedRolePoliciesInput{RoleName: aws.String("backdoor")})
	if err != nil || len(att.AttachedPolicies) != 1 || aws.ToString(att.AttachedPolicies[0].PolicyName) != "AdministratorAccess" {
		t.Fatalf("ListAttachedRolePolicies: %+v %v", att, err)
	}
	_, err = c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("backdoor"), PolicyName: aws.String("AWSRevokeOlderSessions"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}`)})
	must(t, err)
	gp, err := c.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String("backdoor"), PolicyName: aws.String("AWSRevokeOlderSessions")})
	if err != nil || !strings.Contains(aws.ToString(gp.PolicyDocument), "Deny") {
		t.Fatalf("GetRolePolicy: %v %v", gp, err)
	}
	newTrust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + acct + `:root"},"Action":"sts:AssumeRole"}]}`
	_, err = c.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: aws.String("backdoor"), PolicyDocument: aws.String(newTrust)})
	must(t, err)
	if got, _ := emu.RoleTrust(acct, "backdoor"); got != newTrust {
		t.Errorf("trust after update: %s", got)
	}
	role, err := c.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("backdoor")})
	if err != nil || aws.ToString(role.Role.Arn) != "arn:aws:iam::"+acct+":role/backdoor" {
		t.Fatalf("GetRole: %v %v", role, err)
	}
	roles, err := c.ListRoles(ctx, &iam.ListRolesInput{})
	if err != nil || len(roles.Roles) != 1 {
		t.Fatalf("ListRoles: %v %v", roles, err)
	}
	_, err = c.DetachRolePolicy(ctx, &iam.DetachRolePolicyInput{RoleName: aws.String("backdoor"), PolicyArn: aws.String(awsemu.AdministratorAccessARN)})
	must(t, err)
	_, err = c.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: aws.String("backdoor"), PolicyName: aws.String("AWSRevokeOlderSessions")})
	must(t, err)
	_, err = c.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("nope")})
	var nse *iamtypes.NoSuchEntityException
	if !errors.As(err, &nse) {
		t.Errorf("GetRole of a missing role: %v", err)
	}

	_, err = c.CreateGroup(ctx, &iam.CreateGroupInput{GroupName: aws.String("admins")})
	must(t, err)
	_, err = c.AttachGroupPolicy(ctx, &iam.AttachGroupPolicyInput{GroupName: aws.String("admins"), PolicyArn: aws.String(awsemu.AdministratorAccessARN)})
	must(t, err)
	_, err = c.AddUserToGroup(ctx, &iam.AddUserToGroupInput{GroupName: aws.String("admins"), UserName: aws.String("svc-backup")})
	must(t, err)
	key, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("svc-backup")})
	must(t, err)
	if !emu.CanCall(*key.AccessKey.AccessKeyId, "iam:ListUsers") {
		t.Error("a member of a group with AdministratorAccess cannot ListUsers")
	}

	pol, err := c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("narrow"), PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}`)})
	must(t, err)
	_, err = c.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String("svc-backup"), PolicyArn: pol.Policy.Arn})
	must(t, err)
	_, err = c.CreatePolicyVersion(ctx, &iam.CreatePolicyVersionInput{PolicyArn: pol.Policy.Arn, SetAsDefault: true,
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"iam:ListUsers","Resource":"*"}]}`)})
	must(t, err)
	if emu.CanCall(*key.AccessKey.AccessKeyId, "iam:ListUsers") {
		t.Error("the new default policy version's Deny is not applied")
	}

	mfa, err := c.CreateVirtualMFADevice(ctx, &iam.CreateVirtualMFADeviceInput{VirtualMFADeviceName: aws.String("attacker-phone")})
	must(t, err)
	_, err = c.EnableMFADevice(ctx, &iam.EnableMFADeviceInput{UserName: aws.String("svc-backup"), SerialNumber: mfa.VirtualMFADevice.SerialNumber,
		AuthenticationCode1: aws.String("123456"), AuthenticationCode2: aws.String("654321")})
	must(t, err)
	devs, err := c.ListMFADevices(ctx, &iam.ListMFADevicesInput{UserName: aws.String("svc-backup")})
	if err != nil || len(devs.MFADevices) != 1 {
		t.Fatalf("ListMFADevices: %v %v", devs, err)
	}

	_, err = c.DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String("svc-backup")})
	var dc *iamtypes.DeleteConflictException
	if !errors.As(err, &dc) {
		t.Errorf("DeleteUser with keys: %v", err)
	}
	_, err = c.DeleteLoginProfile(ctx, &iam.DeleteLoginProfileInput{UserName: aws.String("svc-backup")})
	must(t, err)
	if has, _ := emu.LoginProfile(acct, "svc-backup"); has {
		t.Error("login profile survived DeleteLoginProfile")
	}
	if _, err = c.GetLoginProfile(ctx, &iam.GetLoginProfileInput{UserName: aws.String("svc-backup")}); !errors.As(err, &nse) {
		t.Errorf("GetLoginProfile after delete: %v", err)
	}
	for _, name := range []string{"CreateUser", "CreateLoginProfile", "UpdateLoginProfile", "CreateRole", "AttachRolePolicy",
		"UpdateAssumeRolePolicy", "AddUserToGroup", "CreatePolicyVersion", "CreateVirtualMFADevice", "EnableMFADevice", "CreateAccessKey"} {
		found := false
		for _, e := range emu.EventLog(op.AccessKeyID) {
			found = found || e.Name == name
		}
		if !found {
			t.Errorf("no CloudTrail event for %s", name)
		}
	}
}

// TestIAMQuotas: 10 managed policies per user, 2,048 characters of inline
// policy per user, both LimitExceeded (409) through the typed SDK error.
func TestIAMQuotas(t *testing.T) {
	emu, url, op := start(t)
	ctx := context.Background()
	acct := emu.Account()
	c := iam.NewFromConfig(cfg(url, op))
	must(t, emu.CreateUser(acct, "full"))
	for i := 0; i < awsemu.MaxManagedPoliciesPerUser; i++ {
		arn, err := emu.CreatePolicy(acct, fmt.Sprintf("p%d", i), `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}`)
		must(t, err)
		_, err = c.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String("full"), PolicyArn: aws.String(arn)})
		must(t, err)
	}
	_, err := c.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String("full"), PolicyArn: aws.String(awsemu.QuarantineV3ARN)})
	var le *iamtypes.LimitExceededException
	if !errors.As(err, &le) {
		t.Fatalf("11th managed policy: %v, want LimitExceeded", err)
	}
	if err := emu.AttachUserPolicy(acct, "full", awsemu.QuarantineV4ARN); !errors.Is(err, awsemu.ErrLimitExceeded) {
		t.Errorf("admin attach over quota: %v", err)
	}

	must(t, emu.CreateUser(acct, "wordy"))
	big := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["` + strings.Repeat("s3:GetObject\",\"", 90) + `s3:GetObject"],"Resource":"*"}]}`
	if n := len(strings.Join(strings.Fields(big), "")); n < 1100 || n > 2000 {
		t.Fatalf("test document is %d characters", n)
	}
	_, err = c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("wordy"), PolicyName: aws.String("a"), PolicyDocument: aws.String(big)})
	must(t, err)
	// Replacing a policy counts the new size, not both.
	_, err = c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("wordy"), PolicyName: aws.String("a"), PolicyDocument: aws.String(big)})
	must(t, err)
	_, err = c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("wordy"), PolicyName: aws.String("b"), PolicyDocument: aws.String(big)})
	if !errors.As(err, &le) {
		t.Fatalf("inline policies over 2,048 characters: %v, want LimitExceeded", err)
	}
	// White space does not count.
	spaced := strings.ReplaceAll(big, ",", ",      ")
	_, err = c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("wordy"), PolicyName: aws.String("a"), PolicyDocument: aws.String(spaced)})
	must(t, err)
}

// TestQuarantinePolicies: V2, V3 and V4 deny what the published documents
// deny and not sts:AssumeRole; without them attaching answers NoSuchEntity.
func TestQuarantinePolicies(t *testing.T) {
	emu, url, op := start(t)
	ctx := context.Background()
	acct := emu.Account()
	for _, v := range []string{awsemu.QuarantineV2ARN, awsemu.QuarantineV3ARN, awsemu.QuarantineV4ARN} {
		name := "u" + v[len(v)-1:]
		must(t, emu.CreateUser(acct, name))
		must(t, emu.AttachUserPolicy(acct, name, awsemu.AdministratorAccessARN))
		k, err := emu.CreateAccessKey(acct, name)
		must(t, err)
		_, err = iam.NewFromConfig(cfg(url, op)).AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String(name), PolicyArn: aws.String(v)})
		must(t, err)
		for _, a := range []string{"iam:UpdateAccessKey", "iam:DeleteAccessKey", "iam:CreateAccessKey", "cloudtrail:LookupEvents",
			"sts:GetSessionToken", "iam:PassRole", "s3:GetObject", "ecr:GetAuthorizationToken", "iam:ListUsers", "iam:CreateUser",
			"iam:CreateLoginProfile", "iam:UpdateAssumeRolePolicy", "iam:AttachRolePolicy", "lightsail:CreateInstances"} {
			if err := emu.Check(k.AccessKeyID, a, ""); code(err) != "AccessDenied" {
				t.Errorf("%s does not deny %s: %v", v, a, err)
			}
		}
		for _, a := range []string{"sts:AssumeRole", "s3:PutObject", "iam:GetUser", "sts:GetCallerIdentity"} {
			if err := emu.Check(k.AccessKeyID, a, ""); err != nil {
				t.Errorf("%s denies %s: %v", v, a, err)
			}
		}
	}

	bare := awsemu.New(awsemu.Options{NoQuarantinePolicies: true})
	srv := httptest.NewServer(bare)
	defer srv.Close()
	bop, err := bare.CreateOperator(bare.Account(), "admin")
	must(t, err)
	must(t, bare.CreateUser(bare.Account(), "leaky"))
	_, err = iam.NewFromConfig(cfg(srv.URL, bop)).AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String("leaky"), PolicyArn: aws.String(awsemu.QuarantineV3ARN)})
	var nse *iamtypes.NoSuchEntityException
	if !errors.As(err, &nse) {
		t.Errorf("quarantine without the policies: %v, want NoSuchEntity", err)
	}
}

// TestNewRoutesNeedSignatures: every IAM action answers an unsigned or
// tampered request with an authentication error, never with data.
func TestNewRoutesNeedSignatures(t *testing.T) {
	_, srvURL, op := start(t)
	for _, action := range []string{"AttachRolePolicy", "DetachRolePolicy", "ListRoles", "GetRole", "CreateRole", "UpdateAssumeRolePolicy",
		"CreateLoginProfile", "GetLoginProfile", "DeleteLoginProfile", "UpdateLoginProfile", "DeleteUser", "CreateGroup", "AddUserToGroup",
		"CreatePolicyVersion", "CreateVirtualMFADevice", "EnableMFADevice", "ListMFADevices", "GenerateCredentialReport",
		"GetCredentialReport", "GetAccountSummary", "CreatePolicy"} {
		form := url.Values{"Action": {action}, "Version": {"2010-05-08"}}
		resp, err := httpPost(srvURL, form, "")
		if err != nil {
			t.Fatal(err)
		}
		if resp != "MissingAuthenticationToken" {
			t.Errorf("%s unsigned: %s", action, resp)
		}
		forged := "AWS4-HMAC-SHA256 Credential=" + op.AccessKeyID + "/20260101/us-east-1/iam/aws4_request, SignedHeaders=host;x-amz-date, Signature=" + strings.Repeat("0", 64)
		if resp, _ := httpPost(srvURL, form, forged); resp != "SignatureDoesNotMatch" {
			t.Errorf("%s forged: %s", action, resp)
		}
	}
}

// TestIdentityCenterRoleAndSnapshot: an AWSReservedSSO_* role refuses
// edits with UnmodifiableEntity; Snapshot sees persistence beyond keys and
// policies (a login profile, a trust policy) and nothing from reads.
func TestIdentityCenterRoleAndSnapshot(t *testing.T) {
	emu, url, op := start(t)
	ctx := context.Background()
	acct := emu.Account()
	must(t, emu.CreateRole(acct, "AWSReservedSSO_AdministratorAccess_0123456789abcdef", ""))
	c := iam.NewFromConfig(cfg(url, op))
	_, err := c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("AWSReservedSSO_AdministratorAccess_0123456789abcdef"),
		PolicyName: aws.String("AWSRevokeOlderSessions"), PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}`)})
	var ue *iamtypes.UnmodifiableEntityException
	if !errors.As(err, &ue) {
		t.Fatalf("PutRolePolicy on an Identity Center role: %v", err)
	}
	if _, err := c.ListRolePolicies(ctx, &iam.ListRolePoliciesInput{RoleName: aws.String("AWSReservedSSO_AdministratorAccess_0123456789abcdef")}); err != nil {
		t.Errorf("reading an Identity Center role: %v", err)
	}

	must(t, emu.CreateUser(acct, "u"))
	before := string(emu.Snapshot())
	for _, read := range []func() error{
		func() error { _, err := c.ListUsers(ctx, &iam.ListUsersInput{}); return err },
		func() error { _, err := c.ListRoles(ctx, &iam.ListRolesInput{}); return err },
		func() error {
			_, err := c.ListAttachedUserPolicies(ctx, &iam.ListAttachedUserPoliciesInput{UserName: aws.String("u")})
			return err
		},
	} {
		must(t, read())
	}
	if after := string(emu.Snapshot()); after != before {
		t.Fatal("reads changed the snapshot")
	}
	_, err = c.CreateLoginProfile(ctx, &iam.CreateLoginProfileInput{UserName: aws.String("u"), Password: aws.String("pw-Pw-123456")})
	must(t, err)
	if string(emu.Snapshot()) == before {
		t.Error("a new login profile is not in the snapshot")
	}
	mutating := 0
	for _, e := range emu.EventLog(op.AccessKeyID) {
		if !e.ReadOnly {
			mutating++
		}
	}
	if mutating != 2 { // the refused PutRolePolicy and CreateLoginProfile
		t.Errorf("%d mutating events, want 2", mutating)
	}
}

// TestIAMListPaging: ListUsers and ListRoles page by Marker, and the
// SDK's paginators follow it through a forced short page.
func TestIAMListPaging(t *testing.T) {
	emu, url, op := start(t)
	ctx := context.Background()
	acct := emu.Account()
	for i := 0; i < 7; i++ {
		must(t, emu.CreateUser(acct, fmt.Sprintf("u%d", i)))
		must(t, emu.CreateRole(acct, fmt.Sprintf("r%d", i), ""))
	}
	c := iam.NewFromConfig(cfg(url, op))
	emu.LimitPage("ListUsers", 3)
	p := iam.NewListUsersPaginator(c, &iam.ListUsersInput{})
	users, pages := 0, 0
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		must(t, err)
		users += len(out.Users)
		pages++
	}
	if users != 8 || pages != 3 {
		t.Errorf("ListUsers: %d users in %d pages, want 8 in 3", users, pages)
	}
	first, err := c.ListRoles(ctx, &iam.ListRolesInput{MaxItems: aws.Int32(5)})
	if err != nil || len(first.Roles) != 5 || !first.IsTruncated {
		t.Fatalf("ListRoles page 1: %v %v", first, err)
	}
	rest, err := c.ListRoles(ctx, &iam.ListRolesInput{Marker: first.Marker})
	if err != nil || len(rest.Roles) != 2 || rest.IsTruncated {
		t.Fatalf("ListRoles page 2: %v %v", rest, err)
	}
	if _, err := c.ListUsers(ctx, &iam.ListUsersInput{Marker: first.Marker}); code(err) != "ValidationError" {
		t.Errorf("a ListRoles marker on ListUsers: %v", err)
	}
}
