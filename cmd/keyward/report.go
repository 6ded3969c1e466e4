package main

import (
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/keyward/keyward/scanner"
	"github.com/keyward/keyward/scanner/report"
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
// may hold secrets (--show-secrets) and always holds key IDs and locations,
// atomically (scanner.WriteFileAtomic): a reader never sees half a report,
// and an existing file or symlink at the target is replaced, never written
// through.
func writeReport(path string, r renderer, rr *runResult) error {
	err := scanner.WriteFileAtomic(path, 0o600, func(w io.Writer) error {
		return r.render(w, rr, plainStyle())
	})
	if err != nil {
		return fmt.Errorf("write report %s: %w", path, err)
	}
	return nil
}

// reveal returns a secret's text, redacted unless the user asked.
func reveal(s scanner.Secret, redact bool) string {
	if redact {
		return s.Redacted()
	}
	return s.Reveal()
}

// toJSON is the JSON report of a run (scanner/report), with each
// finding's --verify verdict when there is one.
func toJSON(rr *runResult) *report.Report {
	rep := report.New(rr.Result, rr.Redact, report.Tool{Name: "keyward", Version: keywardVersion()}, rr.Duration)
	for i := range rep.Findings {
		rep.Findings[i].Verification = rr.verification(i)
	}
	return rep
}

type jsonRenderer struct{}

// render streams the report (report.Stream): findings are encoded one at
// a time, so a scan with millions of findings does not hold a second copy
// of them and the whole document in memory.
func (jsonRenderer) render(w io.Writer, rr *runResult, _ style) error {
	return report.Stream(w, rr.Result, rr.Redact, report.Tool{Name: "keyward", Version: keywardVersion()}, rr.Duration, rr.verification)
}

// verification is finding i's --verify verdict as JSON, nil without one.
func (rr *runResult) verification(i int) json.RawMessage {
	if i >= len(rr.Verdicts) {
		return nil
	}
	v, err := json.Marshal(&rr.Verdicts[i].Verdict)
	if err != nil {
		return nil
	}
	return v
}

// The JSON report's types under the names this package used before they
// moved to scanner/report, for the code (report merging) written against
// those names.
type (
	jsonReport     = report.Report
	jsonTool       = report.Tool
	jsonFinding    = report.Finding
	jsonSkip       = report.Skip
	jsonError      = report.Error
	jsonStats      = report.Stats
	jsonSuppressed = report.Suppressed
)
