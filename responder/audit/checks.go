// Package audit checks an AWS account's key hygiene (issue 11): access
// keys too old or unused, users with two active keys, root access keys,
// console users and root without MFA. It reads the IAM credential report
// (GenerateCredentialReport, GetCredentialReport) and, for the keys
// themselves, ListUsers, ListAccessKeys and GetAccessKeyLastUsed, and returns
// findings with their evidence; it never prints.
//
// An audit is complete only if every check ran over every user: a report
// that cannot be generated or read is an error, and a user whose keys cannot
// be listed makes the Report incomplete, never a clean pass.
package audit

import (
	"strconv"
	"time"
)

// CheckID names a check; it is the rule ID in SARIF and JSON.
type CheckID string

// The checks. Each maps to the Prowler checks and Trusted Advisor check
// that cover the same ground, so results can be compared.
const (
	CheckKeyAge        CheckID = "access-key-age"
	CheckKeyUnused     CheckID = "access-key-unused"
	CheckTwoActiveKeys CheckID = "two-active-keys"
	CheckRootKey       CheckID = "root-access-key"
	CheckConsoleMFA    CheckID = "console-without-mfa"
	CheckRootMFA       CheckID = "root-without-mfa"
)

// Defaults (issue 11). 90 days is AWS Trusted Advisor's and Prowler's
// rotation threshold; 45 days of non-use is Prowler's
// iam_user_accesskey_unused default and AWS Security Hub's IAM.22.
const (
	DefaultMaxKeyAge = 90 * 24 * time.Hour
	DefaultMaxUnused = 45 * 24 * time.Hour
)

// Severity orders findings, as SARIF levels do.
type Severity string

// Severities.
const (
	SeverityHigh   Severity = "high"
	SeverityMedium Severity = "medium"
	SeverityLow    Severity = "low"
)

// Check describes one check and what other tools call it.
type Check struct {
	ID             CheckID  `json:"id"`
	Title          string   `json:"title"`
	Severity       Severity `json:"severity"`
	Prowler        []string `json:"prowler,omitempty"`
	TrustedAdvisor string   `json:"trusted_advisor,omitempty"`
	// Fix says what to do; Fixable marks the one check --fix acts on.
	Fix     string `json:"fix"`
	Fixable bool   `json:"fixable,omitempty"`
}

// Checks is every check, in report order.
var Checks = []Check{
	{ID: CheckRootKey, Title: "The root user has an access key", Severity: SeverityHigh,
		Prowler: []string{"iam_no_root_access_key"},
		Fix:     "sign in as root, deactivate and delete the root access key; use IAM roles instead"},
	{ID: CheckRootMFA, Title: "The root user has no MFA", Severity: SeverityHigh,
		Prowler: []string{"iam_root_mfa_enabled"},
		Fix:     "sign in as root and enable MFA (IAM console, Security credentials)"},
	{ID: CheckConsoleMFA, Title: "A console user has no MFA", Severity: SeverityHigh,
		Prowler: []string{"iam_user_mfa_enabled_console_access"},
		Fix:     "enable an MFA device for the user, or remove the console password (aws iam delete-login-profile)"},
	{ID: CheckKeyAge, Title: "An active access key is older than the rotation limit", Severity: SeverityMedium,
		Prowler: []string{"iam_rotate_access_key_90_days"}, TrustedAdvisor: "IAM Access Key Rotation",
		Fix: "rotate it: keyward rotate --profile NAME (or create a new key, switch, deactivate, delete)"},
	{ID: CheckKeyUnused, Title: "An active access key has not been used within the limit", Severity: SeverityMedium,
		Prowler: []string{"iam_user_accesskey_unused"},
		Fix:     "deactivate it (keyward audit --fix does, reversibly), then delete it", Fixable: true},
	{ID: CheckTwoActiveKeys, Title: "A user has two active access keys", Severity: SeverityLow,
		Prowler: []string{"iam_user_two_active_access_key"},
		Fix:     "finish the rotation: deactivate and delete the key no longer used"},
}

// CheckByID returns the check with id.
func CheckByID(id CheckID) (Check, bool) {
	for _, c := range Checks {
		if c.ID == id {
			return c, true
		}
	}
	return Check{}, false
}

// Evidence is one fact behind a finding, named as the source names it
// (a credential report column, an API field).
type Evidence struct {
	Name   string `json:"name"`
	Value  string `json:"value"`
	Source string `json:"source"` // "credential report", "iam:ListAccessKeys", ...
}

// Finding is one problem found.
type Finding struct {
	Check   CheckID `json:"check"`
	Account string  `json:"account"`
	// User is the IAM user name, or "<root_account>".
	User     string     `json:"user"`
	ARN      string     `json:"arn"`
	KeyID    string     `json:"access_key_id,omitempty"`
	Message  string     `json:"message"`
	Evidence []Evidence `json:"evidence"`
}

// Report is an audit's result.
type Report struct {
	Account string `json:"account"`
	// ReportGenerated is the credential report's GeneratedTime: IAM
	// reuses a report for up to 4 hours.
	ReportGenerated time.Time `json:"credential_report_generated"`
	At              time.Time `json:"audited_at"`
	MaxKeyAge       Days      `json:"max_key_age_days"`
	MaxUnused       Days      `json:"max_unused_days"`
	Users           int       `json:"users_checked"`
	Keys            int       `json:"keys_checked"`
	Findings        []Finding `json:"findings"`
	// Incomplete lists what could not be checked; a report with any is
	// never a clean pass.
	Incomplete []string `json:"incomplete,omitempty"`
	Checks     []Check  `json:"checks"`
}

// Complete reports whether every check ran over every user.
func (r *Report) Complete() bool { return len(r.Incomplete) == 0 }

// Days is a duration written as whole days in JSON.
type Days time.Duration

// MarshalJSON writes the number of days.
func (d Days) MarshalJSON() ([]byte, error) {
	return []byte(strconv.FormatInt(int64(time.Duration(d)/(24*time.Hour)), 10)), nil
}
