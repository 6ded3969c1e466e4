package awsemu

import (
	"bytes"
	"encoding/base64"
	"encoding/csv"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// reportMaxAge: IAM generates a new credential report only when the last
// one is older than four hours (IAM User Guide, "Getting credential
// reports"); until then GenerateCredentialReport answers COMPLETE and
// GetCredentialReport the old report. Tests Advance the clock past it.
const reportMaxAge = 4 * time.Hour

// credentialReportHeader is the column list of the IAM credential report.
var credentialReportHeader = []string{
	"user", "arn", "user_creation_time", "password_enabled", "password_last_used",
	"password_last_changed", "password_next_rotation", "mfa_active",
	"access_key_1_active", "access_key_1_last_rotated", "access_key_1_last_used_date",
	"access_key_1_last_used_region", "access_key_1_last_used_service",
	"access_key_2_active", "access_key_2_last_rotated", "access_key_2_last_used_date",
	"access_key_2_last_used_region", "access_key_2_last_used_service",
	"cert_1_active", "cert_1_last_rotated", "cert_2_active", "cert_2_last_rotated",
}

// reportTime is the report's time format, ISO 8601 with a numeric offset.
func reportTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05+00:00") }

func orNA(t time.Time) string {
	if t.IsZero() {
		return "N/A"
	}
	return reportTime(t)
}

// keyColumns are the five columns of one access key slot.
func keyColumns(k *accessKey) []string {
	if k == nil {
		return []string{"false", "N/A", "N/A", "N/A", "N/A"}
	}
	region, service := "N/A", "N/A"
	if !k.lastUsed.IsZero() {
		region, service = k.lastRgn, k.lastService
	}
	return []string{strconv.FormatBool(k.status == "Active"), reportTime(k.created), orNA(k.lastUsed), region, service}
}

// credentialReport builds the CSV for acct: the <root_account> row first,
// then users by name.
func (s *Server) credentialReport(acct string) []byte {
	a := s.accounts[acct]
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Write(credentialReportHeader)
	var rootKeys []*accessKey
	for _, k := range s.keys {
		if k.account == acct && k.root && !k.deleted {
			rootKeys = append(rootKeys, k)
		}
	}
	sortKeys(rootKeys)
	row := func(name, arn string, created time.Time, pw []string, mfa bool, keys []*accessKey) {
		r := append([]string{name, arn, reportTime(created)}, pw...)
		r = append(r, strconv.FormatBool(mfa))
		for i := 0; i < 2; i++ {
			var k *accessKey
			if i < len(keys) {
				k = keys[i]
			}
			r = append(r, keyColumns(k)...)
		}
		w.Write(append(r, "false", "N/A", "false", "N/A"))
	}
	row("<root_account>", s.rootARN(acct), a.rootCreated,
		[]string{"not_supported", "N/A", "not_supported", "not_supported"}, a.rootMFA, rootKeys)
	for _, name := range sortedNames(a.users) {
		u := a.users[name]
		pw := []string{"false", "N/A", "N/A", "N/A"}
		if u.login != nil {
			pw = []string{"true", orNA(u.login.lastUsed), reportTime(u.login.created), "N/A"}
		}
		row(name, s.userARN(acct, name), u.created, pw, len(u.mfa) > 0, s.userKeys(acct, name))
	}
	w.Flush()
	return buf.Bytes()
}

func sortedNames[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (s *Server) iamGenerateCredentialReport(c *call) (string, *apiError) {
	if err := s.authorize(c, "iam:GenerateCredentialReport", "*"); err != nil {
		return "", err
	}
	a := s.accounts[c.key.account]
	if a.reportCSV == nil || c.now.Sub(a.reportAt) >= reportMaxAge {
		a.reportCSV, a.reportAt = s.credentialReport(c.key.account), c.now
		return el("State", "STARTED") + el("Description", "No report exists. Starting a new report generation task"), nil
	}
	return el("State", "COMPLETE"), nil
}

func (s *Server) iamGetCredentialReport(c *call) (string, *apiError) {
	if err := s.authorize(c, "iam:GetCredentialReport", "*"); err != nil {
		return "", err
	}
	a := s.accounts[c.key.account]
	if a.reportCSV == nil {
		return "", &apiError{410, "ReportNotPresent", "Credential report does not exist. Use GenerateCredentialReport to generate a credential report."}
	}
	if c.now.Sub(a.reportAt) >= reportMaxAge {
		return "", &apiError{410, "ReportExpired", "Credential report has expired. Use GenerateCredentialReport to generate a new credential report."}
	}
	return el("Content", base64.StdEncoding.EncodeToString(a.reportCSV)) + el("ReportFormat", "text/csv") +
		el("GeneratedTime", isoTime(a.reportAt)), nil
}

// iamGetAccountSummary reports the counts an audit needs, notably
// AccountMFAEnabled and AccountAccessKeysPresent (root's).
func (s *Server) iamGetAccountSummary(c *call) (string, *apiError) {
	if err := s.authorize(c, "iam:GetAccountSummary", "*"); err != nil {
		return "", err
	}
	acct := c.key.account
	a := s.accounts[acct]
	rootKeys, mfaInUse := 0, 0
	for _, k := range s.keys {
		if k.account == acct && k.root && !k.deleted {
			rootKeys = 1
		}
	}
	for _, d := range a.mfa {
		if d.user != "" {
			mfaInUse++
		}
	}
	b2i := func(b bool) int {
		if b {
			return 1
		}
		return 0
	}
	if a.rootMFA {
		mfaInUse++
	}
	custom := 0
	for arn := range s.policies {
		if strings.Contains(arn, ":iam::"+acct+":policy/") {
			custom++
		}
	}
	entries := [][2]any{
		{"Users", len(a.users)}, {"UsersQuota", 5000}, {"Groups", len(a.groups)}, {"GroupsQuota", 300},
		{"Roles", len(a.roles)}, {"RolesQuota", 1000}, {"Policies", custom}, {"PoliciesQuota", 1500},
		{"MFADevices", len(a.mfa) + b2i(a.rootMFA)}, {"MFADevicesInUse", mfaInUse},
		{"AccountMFAEnabled", b2i(a.rootMFA)}, {"AccountAccessKeysPresent", rootKeys},
		{"AccountSigningCertificatesPresent", 0}, {"AttachedPoliciesPerUserQuota", MaxManagedPoliciesPerUser},
		{"AttachedPoliciesPerRoleQuota", MaxManagedPoliciesPerUser}, {"AccessKeysPerUserQuota", MaxKeysPerUser},
		{"UserPolicySizeQuota", MaxUserInlinePolicyChars}, {"RolePolicySizeQuota", MaxRoleInlinePolicyChars},
	}
	out := "<SummaryMap>"
	for _, e := range entries {
		out += "<entry>" + el("key", e[0].(string)) + el("value", fmt.Sprint(e[1])) + "</entry>"
	}
	return out + "</SummaryMap>", nil
}
