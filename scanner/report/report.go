// Package report is keyward's JSON scan report: the one struct that
// 'keyward scan --format json' writes and that verify, respond, baseline
// --from-report and report merging read back, with its one size limit and
// schema check. The schema is stable: fields are added over time, never
// renamed or removed; SchemaVersion changes only if that promise must be
// broken (issue 10: the report lived in package main with one writer and
// two readers with two size limits).
package report

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
	"unicode/utf8"

	"github.com/keyward/keyward/scanner"
)

// SchemaVersion is the version this package writes and reads.
const SchemaVersion = 1

// MaxSize bounds a report read back: a report of a million findings is
// about 1 GB; 256 MB is far beyond any real one, and reading is bounded
// even when the path names /dev/zero.
const MaxSize = 256 << 20

// ErrNotReport is wrapped by Read for input that is not a keyward JSON
// report of this schema version.
var ErrNotReport = errors.New("not a keyward scan report")

// Report is the JSON document.
type Report struct {
	SchemaVersion int       `json:"schema_version"`
	Tool          Tool      `json:"tool"`
	Findings      []Finding `json:"findings"`
	Skipped       []Skip    `json:"skipped"`
	Errors        []Error   `json:"errors"`
	Warnings      []string  `json:"warnings"`
	Stats         Stats     `json:"stats"`
	// Suppressed accounts for findings withheld by inline comments,
	// allowlists and the baseline; no secrets.
	Suppressed Suppressed `json:"suppressed"`
}

// Tool names the program that wrote the report.
type Tool struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// Finding is one finding as reported.
type Finding struct {
	RuleID      string `json:"rule_id"`
	Description string `json:"description"`
	Path        string `json:"path"`
	// PathBytes is the path's bytes in base64 when they are not valid
	// UTF-8: JSON strings replace such bytes with U+FFFD, and verify
	// --report must find the file again.
	PathBytes      string `json:"path_bytes,omitempty"`
	Line           int    `json:"line"`
	Column         int    `json:"column"`
	Start          int    `json:"start"`
	End            int    `json:"end"`
	KeyID          string `json:"key_id"`
	KeyKind        string `json:"key_kind"`
	AccountID      string `json:"account_id"`
	Canary         bool   `json:"canary"`
	Secret         string `json:"secret"`
	SecretRedacted bool   `json:"secret_redacted"`
	SecretLine     int    `json:"secret_line"`
	SessionToken   string `json:"session_token"`
	Encoding       string `json:"encoding"`
	Fingerprint    string `json:"fingerprint"`
	SecretSHA256   string `json:"secret_sha256"`
	Commit         string `json:"commit"`
	Author         string `json:"author"`
	Email          string `json:"email"`
	Date           string `json:"date"`
	// Message is true for a commit or tag message; Kind says which.
	// Kept for readers of reports from before Kind existed.
	Message bool `json:"message"`
	// Kind is the finding's provenance kind (file, stdin, commit-message,
	// tag-message, note, stash, blob); Ref names the tag, stash entry or
	// notes ref for the kinds that have one.
	Kind      string   `json:"kind"`
	Ref       string   `json:"ref,omitempty"`
	PresentIn []string `json:"present_in"`
	// Verification is set by 'keyward scan --verify' only: the
	// responder's verdict, encoded by the caller (this package does not
	// depend on the responder).
	Verification json.RawMessage `json:"verification,omitempty"`
}

// Skip is content not scanned, with the reason.
type Skip struct {
	Path   string `json:"path"`
	Reason string `json:"reason"`
	Size   int64  `json:"size"`
	// Detail says which limit kept an archive member unread.
	Detail string `json:"detail,omitempty"`
}

// Error is content that could not be read.
type Error struct {
	Path  string `json:"path"`
	Error string `json:"error"`
}

// Stats count what was scanned.
type Stats struct {
	// Files counts files for path, stdin and staged scans and blobs for
	// --range and --history (kept under this name for older readers).
	Files      int64 `json:"files"`
	Bytes      int64 `json:"bytes"`
	DurationMS int64 `json:"duration_ms"`
	// Commits counts the commits of a range or history scan.
	Commits int64 `json:"commits"`
	// IgnoredFiles and IgnoredDirs count what .gitignore kept out of a
	// directory scan.
	IgnoredFiles int64 `json:"ignored_files"`
	IgnoredDirs  int64 `json:"ignored_dirs"`
}

// Suppressed is the report's account of withheld findings. It never holds
// a secret, only what is needed to find and review each one: a baseline or
// allowlist that hides too much should be visible in CI logs.
type Suppressed struct {
	Count    int                 `json:"count"`
	ByReason map[string]int      `json:"by_reason"`
	Findings []SuppressedFinding `json:"findings"`
}

// SuppressedFinding is one withheld finding, without its secret.
type SuppressedFinding struct {
	RuleID       string `json:"rule_id"`
	Path         string `json:"path"`
	Line         int    `json:"line"`
	Column       int    `json:"column"`
	KeyID        string `json:"key_id"`
	Fingerprint  string `json:"fingerprint"`
	SecretSHA256 string `json:"secret_sha256"`
	Commit       string `json:"commit"`
	Reason       string `json:"reason"`
	Detail       string `json:"detail"`
}

// reveal returns a secret's text, redacted unless asked.
func reveal(s scanner.Secret, redact bool) string {
	if redact {
		return s.Redacted()
	}
	return s.Reveal()
}

// New builds the report of a scan result. Lists are never null, so a
// reader can range over them without checks.
func New(res *scanner.Result, redact bool, tool Tool, d time.Duration) *Report {
	rep := &Report{
		SchemaVersion: SchemaVersion,
		Tool:          tool,
		Findings:      []Finding{},
		Skipped:       []Skip{},
		Errors:        []Error{},
		Warnings:      append([]string{}, res.Warnings...),
		Stats: Stats{Files: res.Files, Bytes: res.Bytes, DurationMS: d.Milliseconds(),
			Commits: res.Commits, IgnoredFiles: res.IgnoredFiles, IgnoredDirs: res.IgnoredDirs},
		Suppressed: newSuppressed(res),
	}
	for _, f := range res.Findings {
		rep.Findings = append(rep.Findings, NewFinding(f, redact))
	}
	for _, s := range res.Skipped {
		rep.Skipped = append(rep.Skipped, Skip{Path: s.Path, Reason: string(s.Reason), Size: s.Size, Detail: s.Detail})
	}
	for _, e := range res.Errors {
		rep.Errors = append(rep.Errors, Error{Path: e.Path, Error: e.Err.Error()})
	}
	return rep
}

// NewFinding is f as reported, its secret redacted unless redact is false.
func NewFinding(f scanner.Finding, redact bool) Finding {
	rf := Finding{
		RuleID: f.RuleID, Description: f.Description, Path: f.Path,
		Line: f.Line, Column: f.Column, Start: f.Start, End: f.End,
		KeyID: f.KeyID, KeyKind: f.KeyKind, AccountID: f.AccountID, Canary: f.Canary,
		Secret:         reveal(f.Secret, redact),
		SecretRedacted: redact && !f.Secret.IsZero(),
		SecretLine:     f.SecretLine,
		SessionToken:   reveal(f.SessionToken, redact),
		Encoding:       string(f.Encoding),
		Fingerprint:    f.Fingerprint,
		SecretSHA256:   f.SecretHash(),
		Commit:         f.Commit, Author: f.Author, Email: f.Email, Message: f.IsMessage(),
		Kind: string(f.KindOrFile()), Ref: f.Ref,
		PresentIn: append([]string{}, f.PresentIn...),
	}
	if !f.Date.IsZero() {
		rf.Date = f.Date.UTC().Format(time.RFC3339)
	}
	if !utf8.ValidString(f.Path) {
		rf.PathBytes = base64.StdEncoding.EncodeToString([]byte(f.Path))
	}
	return rf
}

func newSuppressed(res *scanner.Result) Suppressed {
	js := Suppressed{Count: len(res.Suppressed), ByReason: map[string]int{}, Findings: []SuppressedFinding{}}
	for r, n := range res.SuppressedByReason() {
		js.ByReason[string(r)] = n
	}
	for _, f := range res.Suppressed {
		js.Findings = append(js.Findings, newSuppressedFinding(f))
	}
	return js
}

// newSuppressedFinding is a withheld finding as reported, without its
// secret.
func newSuppressedFinding(f scanner.Finding) SuppressedFinding {
	jf := SuppressedFinding{
		RuleID: f.RuleID, Path: f.Path, Line: f.Line, Column: f.Column, KeyID: f.KeyID,
		Fingerprint: f.Fingerprint, SecretSHA256: f.SecretHash(), Commit: f.Commit,
	}
	if s := f.Suppressed; s != nil {
		jf.Reason, jf.Detail = string(s.Reason), s.Detail
	}
	return jf
}

// Write encodes the report as indented JSON.
func Write(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// Read decodes a report and checks its size and schema version.
func Read(data []byte) (*Report, error) {
	if len(data) > MaxSize {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrNotReport, MaxSize)
	}
	var r Report
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotReport, err)
	}
	if r.SchemaVersion != SchemaVersion {
		return nil, fmt.Errorf("%w: schema_version %d, want %d", ErrNotReport, r.SchemaVersion, SchemaVersion)
	}
	return &r, nil
}

// ReadFile reads the report at path: a regular file of at most MaxSize
// bytes (a FIFO or device in its place is refused, never waited on).
func ReadFile(path string) (*Report, error) {
	data, err := scanner.ReadRegularFile(path, MaxSize)
	if errors.Is(err, scanner.ErrFileTooLarge) {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrNotReport, MaxSize)
	}
	if err != nil {
		return nil, err
	}
	return Read(data)
}

// RawPath is the finding's path with its exact bytes: from path_bytes when
// the path is not valid UTF-8 (Path holds U+FFFD in their place).
func (f Finding) RawPath() string {
	if f.PathBytes != "" {
		if b, err := base64.StdEncoding.DecodeString(f.PathBytes); err == nil {
			return string(b)
		}
	}
	return f.Path
}

// Provenance is the finding's provenance. A report from before kinds
// existed says only "message", which then meant a commit message.
func (f Finding) Provenance() scanner.Provenance {
	p := scanner.Provenance{Path: f.RawPath(), Commit: f.Commit, Author: f.Author, Email: f.Email,
		Kind: scanner.Kind(f.Kind), Ref: f.Ref}
	if p.Kind == "" && f.Message {
		p.Kind = scanner.KindCommitMessage
	}
	if t, err := time.Parse(time.RFC3339, f.Date); err == nil {
		p.Date = t
	}
	return p
}
