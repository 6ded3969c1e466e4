package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/keyward/keyward/responder"
	"github.com/keyward/keyward/scanner"
)

// runResult is a finished scan as the renderers see it.
type runResult struct {
	*scanner.Result
	Duration time.Duration
	Redact   bool
	// Source is the scan's source as o.source names it ("paths", "-",
	// "--staged", "--range", "--history"...), for how the summary counts.
	Source string
	// Verdicts, with --verify, hold one validation per finding, in the
	// same order.
	Verdicts []verdict
}

// renderer turns a scan into one output format.
type renderer interface {
	render(w io.Writer, rr *runResult, st style) error
}

func newRenderer(format string) (renderer, error) {
	switch format {
	case "text":
		return textRenderer{}, nil
	case "json":
		return jsonRenderer{}, nil
	case "sarif":
		return sarifRenderer{}, nil
	case "junit":
		return junitRenderer{}, nil
	}
	return nil, usagef("use --format text, json or sarif", "%v %q", errUnknownFormat, format)
}

// reportRenderer picks the report's format: the flag, else the file's
// extension, else JSON (a report is for machines).
func reportRenderer(path, format string) (renderer, error) {
	if format == "" {
		format = "json"
		if strings.EqualFold(filepath.Ext(path), ".sarif") {
			format = "sarif"
		}
		if strings.EqualFold(filepath.Ext(path), ".xml") {
			format = "junit"
		}
	}
	if format == "text" {
		return textRenderer{}, nil
	}
	if format != "json" && format != "sarif" && format != "junit" {
		return nil, usagef("use --report-format json, sarif or junit", "%v %q", errUnknownFormat, format)
	}
	return newRenderer(format)
}

// writeReport writes the report with mode 0600 whatever the umask, since it
// may hold secrets (--show-secrets) and always holds key IDs and locations.
// It goes to a new file created with O_EXCL beside the target and is then
// renamed over it, so a reader never sees half a report and an existing
// file or symlink at the target is replaced, never written through.
func writeReport(path string, r renderer, rr *runResult) error {
	dir := filepath.Dir(path)
	var f *os.File
	var err error
	for i := 0; i < 100; i++ {
		tmp := filepath.Join(dir, fmt.Sprintf(".%s.keyward-%d-%d", filepath.Base(path), os.Getpid(), i))
		f, err = os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if !os.IsExist(err) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	tmp := f.Name()
	err = r.render(f, rr, plainStyle())
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, 0o600)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write report %s: %w", path, err)
	}
	return nil
}

// jsonReport is the stable JSON schema, documented in the README. Fields
// are added over time, never renamed or removed; schema_version changes
// only if that promise must be broken.
type jsonReport struct {
	SchemaVersion int           `json:"schema_version"`
	Tool          jsonTool      `json:"tool"`
	Findings      []jsonFinding `json:"findings"`
	Skipped       []jsonSkip    `json:"skipped"`
	Errors        []jsonError   `json:"errors"`
	Warnings      []string      `json:"warnings"`
	Stats         jsonStats     `json:"stats"`
	// Suppressed accounts for findings withheld by inline comments,
	// allowlists and the baseline (config_load.go); no secrets.
	Suppressed jsonSuppressed `json:"suppressed"`
}

type jsonTool struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

type jsonFinding struct {
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
	// Verification is set by 'keyward scan --verify' only.
	Verification *responder.Verdict `json:"verification,omitempty"`
}

type jsonSkip struct {
	Path   string `json:"path"`
	Reason string `json:"reason"`
	Size   int64  `json:"size"`
	// Detail says which limit kept an archive member unread.
	Detail string `json:"detail,omitempty"`
}

type jsonError struct {
	Path  string `json:"path"`
	Error string `json:"error"`
}

type jsonStats struct {
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

// reveal returns a secret's text, redacted unless the user asked.
func reveal(s scanner.Secret, redact bool) string {
	if redact {
		return s.Redacted()
	}
	return s.Reveal()
}

func toJSON(rr *runResult) jsonReport {
	rep := jsonReport{
		SchemaVersion: 1,
		Tool:          jsonTool{Name: "keyward", Version: keywardVersion()},
		Findings:      []jsonFinding{},
		Skipped:       []jsonSkip{},
		Errors:        []jsonError{},
		Warnings:      append([]string{}, rr.Warnings...),
		Stats: jsonStats{Files: rr.Files, Bytes: rr.Bytes, DurationMS: rr.Duration.Milliseconds(),
			Commits: rr.Commits, IgnoredFiles: rr.IgnoredFiles, IgnoredDirs: rr.IgnoredDirs},
		Suppressed: toJSONSuppressed(rr),
	}
	for i, f := range rr.Findings {
		jf := jsonFinding{
			RuleID: f.RuleID, Description: f.Description, Path: f.Path,
			Line: f.Line, Column: f.Column, Start: f.Start, End: f.End,
			KeyID: f.KeyID, KeyKind: f.KeyKind, AccountID: f.AccountID, Canary: f.Canary,
			Secret:         reveal(f.Secret, rr.Redact),
			SecretRedacted: rr.Redact && !f.Secret.IsZero(),
			SecretLine:     f.SecretLine,
			SessionToken:   reveal(f.SessionToken, rr.Redact),
			Encoding:       string(f.Encoding),
			Fingerprint:    f.Fingerprint,
			SecretSHA256:   f.SecretHash(),
			Commit:         f.Commit, Author: f.Author, Email: f.Email, Message: f.IsMessage(),
			Kind: string(f.KindOrFile()), Ref: f.Ref,
			PresentIn: append([]string{}, f.PresentIn...),
		}
		if !f.Date.IsZero() {
			jf.Date = f.Date.UTC().Format(time.RFC3339)
		}
		if !utf8.ValidString(f.Path) {
			jf.PathBytes = base64.StdEncoding.EncodeToString([]byte(f.Path))
		}
		if i < len(rr.Verdicts) {
			jf.Verification = &rr.Verdicts[i].Verdict
		}
		rep.Findings = append(rep.Findings, jf)
	}
	for _, s := range rr.Skipped {
		rep.Skipped = append(rep.Skipped, jsonSkip{Path: s.Path, Reason: string(s.Reason), Size: s.Size, Detail: s.Detail})
	}
	for _, e := range rr.Errors {
		rep.Errors = append(rep.Errors, jsonError{Path: e.Path, Error: e.Err.Error()})
	}
	return rep
}

type jsonRenderer struct{}

func (jsonRenderer) render(w io.Writer, rr *runResult, _ style) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(toJSON(rr))
}
