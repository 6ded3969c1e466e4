package audit

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// maxReportRows bounds the credential report parsed: IAM allows 5,000 users
// per account by default (quota up to 5,000), plus the root row.
const maxReportRows = 5001 + 1

// RootUser is the credential report's name for the root user.
const RootUser = "<root_account>"

// reportColumns are the credential report columns the checks read (IAM
// User Guide, "Getting credential reports for your AWS account").
var reportColumns = []string{
	"user", "arn", "user_creation_time", "password_enabled", "mfa_active",
	"access_key_1_active", "access_key_1_last_rotated", "access_key_1_last_used_date",
	"access_key_2_active", "access_key_2_last_rotated", "access_key_2_last_used_date",
}

// ReportRow is one row of the credential report, by column name.
type ReportRow map[string]string

// User is the row's user name.
func (r ReportRow) User() string { return r["user"] }

// Bool reads a true/false column; "not_supported" and "N/A" are false.
func (r ReportRow) Bool(col string) bool { return r[col] == "true" }

// Time reads a time column; "N/A", "no_information" and "not_supported" are
// the zero time.
func (r ReportRow) Time(col string) time.Time {
	t, err := time.Parse(time.RFC3339, r[col])
	if err != nil {
		return time.Time{}
	}
	return t
}

// ErrBadReport is wrapped by every refusal of a credential report.
var ErrBadReport = errors.New("unreadable credential report")

// ParseCredentialReport reads the CSV of GetCredentialReport. Columns are
// found by name, so AWS adding one does not break it; a missing column the
// checks need is an error.
func ParseCredentialReport(data []byte) ([]ReportRow, error) {
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = 0
	header, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrBadReport, err)
	}
	index := map[string]int{}
	for i, h := range header {
		index[strings.TrimSpace(h)] = i
	}
	for _, c := range reportColumns {
		if _, ok := index[c]; !ok {
			return nil, fmt.Errorf("%w: no %q column", ErrBadReport, c)
		}
	}
	var rows []ReportRow
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadReport, err)
		}
		if len(rows) >= maxReportRows {
			return nil, fmt.Errorf("%w: more than %d rows", ErrBadReport, maxReportRows)
		}
		row := ReportRow{}
		for name, i := range index {
			row[name] = rec[i]
		}
		if row.User() == "" {
			return nil, fmt.Errorf("%w: a row without a user", ErrBadReport)
		}
		rows = append(rows, row)
	}
	return rows, nil
}
