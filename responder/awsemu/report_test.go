package awsemu_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
)

// TestCredentialReport: the report's real columns, the <root_account> row,
// a 200-day-old key, a console user without MFA, root keys and root MFA,
// and IAM's four-hour reuse of a generated report.
func TestCredentialReport(t *testing.T) {
	emu, url, op := start(t)
	ctx := context.Background()
	acct := emu.Account()
	c := iam.NewFromConfig(cfg(url, op))
	if _, err := c.GetCredentialReport(ctx, &iam.GetCredentialReportInput{}); !errors.As(err, new(*iamtypes.CredentialReportNotPresentException)) {
		t.Fatalf("report before generation: %v", err)
	}
	must(t, emu.CreateUser(acct, "old"))
	k, err := emu.CreateAccessKey(acct, "old")
	must(t, err)
	now := emu.Now()
	must(t, emu.SetKeyCreated(k.AccessKeyID, now.Add(-200*24*time.Hour)))
	must(t, emu.SetKeyLastUsed(k.AccessKeyID, now.Add(-100*24*time.Hour), "s3", "eu-west-1"))
	must(t, emu.CreateUser(acct, "console"))
	must(t, emu.SetUserPassword(acct, "console", now.Add(-10*24*time.Hour), time.Time{}))
	must(t, emu.CreateUser(acct, "careful"))
	must(t, emu.SetUserPassword(acct, "careful", now, now))
	must(t, emu.EnableUserMFA(acct, "careful"))
	_, err = emu.CreateRootAccessKey(acct)
	must(t, err)

	gen, err := c.GenerateCredentialReport(ctx, &iam.GenerateCredentialReportInput{})
	if err != nil || gen.State != iamtypes.ReportStateTypeStarted {
		t.Fatalf("generate: %v %v", gen, err)
	}
	rep, err := c.GetCredentialReport(ctx, &iam.GetCredentialReportInput{})
	must(t, err)
	if rep.ReportFormat != iamtypes.ReportFormatTypeTextCsv {
		t.Errorf("format %s", rep.ReportFormat)
	}
	rows, err := csv.NewReader(bytes.NewReader(rep.Content)).ReadAll()
	must(t, err)
	want := "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active," +
		"access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service," +
		"access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service," +
		"cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated"
	if got := strings.Join(rows[0], ","); got != want {
		t.Fatalf("header\n got %s\nwant %s", got, want)
	}
	byUser := map[string]map[string]string{}
	for _, r := range rows[1:] {
		m := map[string]string{}
		for i, col := range rows[0] {
			m[col] = r[i]
		}
		byUser[r[0]] = m
	}
	check := func(user, col, want string) {
		t.Helper()
		if got := byUser[user][col]; got != want {
			t.Errorf("%s %s = %q, want %q", user, col, got, want)
		}
	}
	check("<root_account>", "arn", "arn:aws:iam::"+acct+":root")
	check("<root_account>", "password_enabled", "not_supported")
	check("<root_account>", "mfa_active", "false")
	check("<root_account>", "access_key_1_active", "true")
	check("old", "access_key_1_active", "true")
	check("old", "access_key_1_last_rotated", now.Add(-200*24*time.Hour).UTC().Format("2006-01-02T15:04:05+00:00"))
	check("old", "access_key_1_last_used_service", "s3")
	check("old", "access_key_2_active", "false")
	check("old", "password_enabled", "false")
	check("console", "password_enabled", "true")
	check("console", "password_last_used", "N/A")
	check("console", "mfa_active", "false")
	check("careful", "mfa_active", "true")
	check("admin", "access_key_1_last_used_service", "iam")

	// A second generation within four hours serves the old report.
	must(t, emu.SetRootMFA(acct, true))
	gen, err = c.GenerateCredentialReport(ctx, &iam.GenerateCredentialReportInput{})
	if err != nil || gen.State != iamtypes.ReportStateTypeComplete {
		t.Fatalf("second generate: %v %v", gen, err)
	}
	emu.Advance(4*time.Hour + time.Minute)
	if _, err := c.GetCredentialReport(ctx, &iam.GetCredentialReportInput{}); !errors.As(err, new(*iamtypes.CredentialReportExpiredException)) {
		t.Fatalf("report after four hours: %v", err)
	}
	_, err = c.GenerateCredentialReport(ctx, &iam.GenerateCredentialReportInput{})
	must(t, err)
	rep, err = c.GetCredentialReport(ctx, &iam.GetCredentialReportInput{})
	must(t, err)
	if !strings.Contains(string(rep.Content), "<root_account>,arn:aws:iam::"+acct+":root,") ||
		!strings.Contains(strings.SplitN(string(rep.Content), "\n", 3)[1], ",not_supported,true,true,") {
		t.Errorf("regenerated root row: %s", strings.SplitN(string(rep.Content), "\n", 3)[1])
	}

	sum, err := c.GetAccountSummary(ctx, &iam.GetAccountSummaryInput{})
	must(t, err)
	if sum.SummaryMap["AccountMFAEnabled"] != 1 || sum.SummaryMap["AccountAccessKeysPresent"] != 1 || sum.SummaryMap["Users"] != 4 {
		t.Errorf("summary %v", sum.SummaryMap)
	}
	users, err := c.ListUsers(ctx, &iam.ListUsersInput{})
	if err != nil || len(users.Users) != 4 || aws.ToString(users.Users[0].UserName) != "admin" {
		t.Errorf("ListUsers: %v %v", users, err)
	}
}
