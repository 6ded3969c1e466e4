package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
)

// Report generation is asynchronous: GenerateCredentialReport answers
// STARTED until IAM has built it, usually within seconds.
const (
	defaultReportPoll    = 2 * time.Second
	defaultReportTimeout = 2 * time.Minute
)

// Permissions lists every IAM action an audit needs; --fix adds
// iam:UpdateAccessKey.
var Permissions = []string{
	"sts:GetCallerIdentity", "iam:GenerateCredentialReport", "iam:GetCredentialReport",
	"iam:ListUsers", "iam:ListAccessKeys", "iam:GetAccessKeyLastUsed",
	// Only for users newer than the credential report.
	"iam:GetLoginProfile", "iam:ListMFADevices",
}

// FixPermissions are the extra actions of --fix.
var FixPermissions = []string{"iam:UpdateAccessKey"}

// Policy is the least-privilege IAM policy of an audit, with fix's actions
// when fix is set, as a JSON document.
func Policy(fix bool) string {
	actions := append([]string(nil), Permissions...)
	if fix {
		actions = append(actions, FixPermissions...)
	}
	slices.Sort(actions)
	doc := map[string]any{"Version": "2012-10-17", "Statement": []any{map[string]any{
		"Sid": "KeywardAudit", "Effect": "Allow", "Action": actions, "Resource": []string{"*"}}}}
	b, _ := json.MarshalIndent(doc, "", "  ") // plain values: cannot fail
	return string(b)
}

// Auditor audits the account of Config's credentials.
type Auditor struct {
	Config aws.Config
	// MaxKeyAge and MaxUnused are the limits; 0 means the defaults.
	MaxKeyAge, MaxUnused time.Duration
	// ReportPoll and ReportTimeout bound the wait for the credential report.
	ReportPoll, ReportTimeout time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// ErrNoReport means the credential report could not be generated or read:
// without it the root and MFA checks cannot run, so there is no audit.
var ErrNoReport = errors.New("the credential report could not be generated or read")

func (a *Auditor) now() time.Time {
	if a.Now != nil {
		return a.Now().UTC()
	}
	return time.Now().UTC()
}

// Run audits the account. It returns an error when nothing trustworthy can
// be said (no credential report, no user list); a user whose keys cannot be
// read is recorded in Report.Incomplete and the audit goes on.
func (a *Auditor) Run(ctx context.Context) (*Report, error) {
	maxAge, maxUnused := a.MaxKeyAge, a.MaxUnused
	if maxAge <= 0 {
		maxAge = DefaultMaxKeyAge
	}
	if maxUnused <= 0 {
		maxUnused = DefaultMaxUnused
	}
	now := a.now()
	rep := &Report{At: now, MaxKeyAge: Days(maxAge), MaxUnused: Days(maxUnused), Checks: Checks, Findings: []Finding{}}
	id, err := sts.NewFromConfig(a.Config).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return nil, fmt.Errorf("identify the account: %w", err)
	}
	rep.Account = aws.ToString(id.Account)
	client := iam.NewFromConfig(a.Config)
	rows, generated, err := a.credentialReport(ctx, client)
	if err != nil {
		return nil, err
	}
	rep.ReportGenerated = generated
	users := map[string]ReportRow{}
	sawRoot := false
	for _, row := range rows {
		if row.User() == RootUser {
			a.root(rep, row)
			sawRoot = true
			continue
		}
		users[row.User()] = row
		rep.Users++
		if row.Bool("password_enabled") && !row.Bool("mfa_active") {
			rep.add(Finding{Check: CheckConsoleMFA, User: row.User(), ARN: row["arn"],
				Message:  "user " + row.User() + " can sign in to the console without MFA",
				Evidence: []Evidence{rev(row, "password_enabled"), rev(row, "mfa_active")}})
		}
	}
	if !sawRoot {
		// IAM always reports the root user; without its row the root
		// key and MFA checks did not run, which is not a pass.
		rep.Incomplete = append(rep.Incomplete, "the credential report has no "+RootUser+" row: the root user's access keys and MFA not checked")
	}
	// The report can be up to 4 hours old: users created since are not in
	// it, so the user list comes from ListUsers and the keys from IAM now.
	var names []string
	p := iam.NewListUsersPaginator(client, &iam.ListUsersInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list users: %w", err)
		}
		for _, u := range page.Users {
			names = append(names, aws.ToString(u.UserName))
		}
	}
	sort.Strings(names)
	for _, name := range names {
		if _, ok := users[name]; !ok {
			rep.Users++
			if err := a.consoleMFA(ctx, client, rep, name, generated); err != nil {
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				rep.Incomplete = append(rep.Incomplete, fmt.Sprintf("user %s (newer than the credential report): console MFA not checked: %v", name, oneLine(err)))
			}
		}
		if err := a.userKeys(ctx, client, rep, name, maxAge, maxUnused); err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			rep.Incomplete = append(rep.Incomplete, fmt.Sprintf("user %s: %v", name, oneLine(err)))
		}
	}
	for i := range rep.Findings {
		rep.Findings[i].Account = rep.Account
	}
	sort.SliceStable(rep.Findings, func(i, j int) bool { return order(rep.Findings[i].Check) < order(rep.Findings[j].Check) })
	return rep, nil
}

func (r *Report) add(f Finding) { r.Findings = append(r.Findings, f) }

func order(id CheckID) int {
	for i, c := range Checks {
		if c.ID == id {
			return i
		}
	}
	return len(Checks)
}

// rev is a credential report column as evidence.
func rev(row ReportRow, col string) Evidence {
	return Evidence{Name: col, Value: row[col], Source: "credential report"}
}

func (a *Auditor) root(rep *Report, row ReportRow) {
	for _, slot := range []string{"access_key_1", "access_key_2"} {
		if row.Bool(slot + "_active") {
			rep.add(Finding{Check: CheckRootKey, User: RootUser, ARN: row["arn"],
				Message:  "the root user has an active access key (" + slot + ")",
				Evidence: []Evidence{rev(row, slot+"_active"), rev(row, slot+"_last_rotated"), rev(row, slot+"_last_used_date")}})
		}
	}
	if !row.Bool("mfa_active") {
		rep.add(Finding{Check: CheckRootMFA, User: RootUser, ARN: row["arn"],
			Message: "the root user has no MFA device", Evidence: []Evidence{rev(row, "mfa_active")}})
	}
}

// consoleMFA checks a user the credential report does not have yet (IAM
// reuses a report for up to 4 hours) with GetLoginProfile and
// ListMFADevices.
func (a *Auditor) consoleMFA(ctx context.Context, client *iam.Client, rep *Report, user string, generated time.Time) error {
	lp, err := client.GetLoginProfile(ctx, &iam.GetLoginProfileInput{UserName: aws.String(user)})
	var nse *iamtypes.NoSuchEntityException
	if errors.As(err, &nse) {
		return nil // no console password
	}
	if err != nil {
		return fmt.Errorf("get login profile: %w", err)
	}
	mfa, err := client.ListMFADevices(ctx, &iam.ListMFADevicesInput{UserName: aws.String(user)})
	if err != nil {
		return fmt.Errorf("list MFA devices: %w", err)
	}
	if len(mfa.MFADevices) == 0 {
		created := ""
		if lp.LoginProfile != nil && lp.LoginProfile.CreateDate != nil {
			created = lp.LoginProfile.CreateDate.UTC().Format(time.RFC3339)
		}
		rep.add(Finding{Check: CheckConsoleMFA, User: user, ARN: userARN(rep.Account, user),
			Message: "user " + user + " can sign in to the console without MFA",
			Evidence: []Evidence{
				{Name: "LoginProfile.CreateDate", Value: created, Source: "iam:GetLoginProfile"},
				{Name: "MFADevices", Value: "0", Source: "iam:ListMFADevices"},
				{Name: "credential report", Value: "user not in the report of " + generated.Format(time.RFC3339), Source: "credential report"},
			}})
	}
	return nil
}

// userKeys runs the key checks on one user's keys, read from IAM now.
func (a *Auditor) userKeys(ctx context.Context, client *iam.Client, rep *Report, user string, maxAge, maxUnused time.Duration) error {
	var keys []iamtypes.AccessKeyMetadata
	p := iam.NewListAccessKeysPaginator(client, &iam.ListAccessKeysInput{UserName: aws.String(user)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list access keys: %s", oneLine(err))
		}
		keys = append(keys, page.AccessKeyMetadata...)
	}
	var active []string
	now := rep.At
	for _, k := range keys {
		rep.Keys++
		if k.Status != iamtypes.StatusTypeActive {
			continue
		}
		id := aws.ToString(k.AccessKeyId)
		active = append(active, id)
		created := aws.ToTime(k.CreateDate).UTC()
		lu, err := client.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: aws.String(id)})
		if err != nil {
			return fmt.Errorf("last use of %s: %s", id, oneLine(err))
		}
		ev := []Evidence{
			{Name: "Status", Value: string(k.Status), Source: "iam:ListAccessKeys"},
			{Name: "CreateDate", Value: created.Format(time.RFC3339), Source: "iam:ListAccessKeys"},
		}
		var lastUsed time.Time
		if u := lu.AccessKeyLastUsed; u != nil && u.LastUsedDate != nil {
			lastUsed = u.LastUsedDate.UTC()
			ev = append(ev,
				Evidence{Name: "LastUsedDate", Value: lastUsed.Format(time.RFC3339), Source: "iam:GetAccessKeyLastUsed"},
				Evidence{Name: "ServiceName", Value: aws.ToString(u.ServiceName), Source: "iam:GetAccessKeyLastUsed"},
				Evidence{Name: "Region", Value: aws.ToString(u.Region), Source: "iam:GetAccessKeyLastUsed"})
		} else {
			ev = append(ev, Evidence{Name: "LastUsedDate", Value: "never", Source: "iam:GetAccessKeyLastUsed"})
		}
		arn := userARN(rep.Account, user)
		if age := now.Sub(created); age > maxAge {
			rep.add(Finding{Check: CheckKeyAge, User: user, ARN: arn, KeyID: id,
				Message:  fmt.Sprintf("access key %s of %s is %d days old (limit %d); it has never been rotated since %s", id, user, days(age), days(maxAge), created.Format("2006-01-02")),
				Evidence: ev})
		}
		since, what := lastUsed, "last used"
		if since.IsZero() {
			since, what = created, "never used since its creation"
		}
		if idle := now.Sub(since); idle > maxUnused {
			rep.add(Finding{Check: CheckKeyUnused, User: user, ARN: arn, KeyID: id,
				Message:  fmt.Sprintf("access key %s of %s is %s %d days ago (limit %d)", id, user, what, days(idle), days(maxUnused)),
				Evidence: ev})
		}
	}
	if len(active) >= 2 {
		rep.add(Finding{Check: CheckTwoActiveKeys, User: user, ARN: userARN(rep.Account, user),
			Message:  fmt.Sprintf("user %s has %d active access keys: %s", user, len(active), strings.Join(active, ", ")),
			Evidence: []Evidence{{Name: "AccessKeyMetadata", Value: strings.Join(active, " Active, ") + " Active", Source: "iam:ListAccessKeys"}}})
	}
	return nil
}

func days(d time.Duration) int { return int(d / (24 * time.Hour)) }

func userARN(acct, user string) string {
	return "arn:aws:iam::" + acct + ":user/" + user
}

// credentialReport generates (if needed) and reads the credential report.
func (a *Auditor) credentialReport(ctx context.Context, client *iam.Client) ([]ReportRow, time.Time, error) {
	poll, timeout := a.ReportPoll, a.ReportTimeout
	if poll <= 0 {
		poll = defaultReportPoll
	}
	if timeout <= 0 {
		timeout = defaultReportTimeout
	}
	deadline := time.Now().Add(timeout)
	for {
		out, err := client.GenerateCredentialReport(ctx, &iam.GenerateCredentialReportInput{})
		if err != nil {
			return nil, time.Time{}, fmt.Errorf("%w: generate: %v", ErrNoReport, oneLine(err))
		}
		if out.State == iamtypes.ReportStateTypeComplete {
			break
		}
		if time.Now().Add(poll).After(deadline) {
			return nil, time.Time{}, fmt.Errorf("%w: still %s after %s", ErrNoReport, out.State, timeout)
		}
		t := time.NewTimer(poll)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, time.Time{}, ctx.Err()
		case <-t.C:
		}
	}
	out, err := client.GetCredentialReport(ctx, &iam.GetCredentialReportInput{})
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("%w: get: %v", ErrNoReport, oneLine(err))
	}
	rows, err := ParseCredentialReport(out.Content)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("%w: %v", ErrNoReport, err)
	}
	return rows, aws.ToTime(out.GeneratedTime).UTC(), nil
}

func oneLine(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode() + ": " + ae.ErrorMessage()
	}
	return strings.Join(strings.Fields(err.Error()), " ")
}
