package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
)

// maxTextPlaces is how many places the text summary lists per credential;
// the JSON report has them all.
const maxTextPlaces = 10

// renderSweep writes a sweep report in format: text (the summary table),
// json or sarif.
func renderSweep(w io.Writer, rep *sweepReport, format string, st style) error {
	switch format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	case "sarif":
		return renderSweepSARIF(w, rep)
	case "text":
		_, err := io.WriteString(w, sweepSummary(rep, st))
		return err
	}
	return usagef("use --format text, json or sarif", "%v %q", errUnknownFormat, format)
}

// sweepFormat checks a --format or --report-format value; for --report,
// an empty format comes from the file's extension (.sarif, .txt), else
// JSON.
func sweepFormat(format, path string) (string, error) {
	if format == "" && path != "" {
		switch strings.ToLower(filepath.Ext(path)) {
		case ".sarif":
			return "sarif", nil
		case ".txt":
			return "text", nil
		}
		return "json", nil
	}
	switch format {
	case "text", "json", "sarif":
		return format, nil
	}
	return "", usagef("use text, json or sarif", "%v %q", errUnknownFormat, format)
}

// sweepFormats checks the output format (--format) and, when a report file
// is asked for, the report's (--report-format, else from the extension of
// report), before anything is swept or read, so a typo costs nothing.
func sweepFormats(format, reportFormat, report string) (out, rep string, err error) {
	if out, err = sweepFormat(format, ""); err != nil || report == "" {
		return out, "", err
	}
	rep, err = sweepFormat(reportFormat, report)
	return out, rep, err
}

// sweepSummary is the summary table: repositories by status, leaks by
// rule, then each credential, live-looking pairs first, with its places,
// then what failed.
func sweepSummary(rep *sweepReport, st style) string {
	var b strings.Builder
	s := rep.Stats
	fmt.Fprintf(&b, "%s %d: %d swept, %d unchanged since the last sweep, %d incomplete, %d failed\n",
		st.head.Render("repositories:"), s.Repositories, s.Swept, s.Unchanged, s.Incomplete, s.Failed)
	fmt.Fprintf(&b, "%s %d %s in %d %s\n", st.head.Render("leaks:"), s.Credentials,
		plural(int64(s.Credentials), "credential", "credentials"), s.Places, plural(int64(s.Places), "place", "places"))
	byRule := map[string]int{}
	var rules []string
	for _, c := range rep.Credentials {
		if byRule[c.RuleID] == 0 {
			rules = append(rules, c.RuleID)
		}
		byRule[c.RuleID]++
	}
	slices.Sort(rules)
	if len(rules) > 0 {
		b.WriteString(st.head.Render("leaks by rule:") + "\n")
		for _, r := range rules {
			fmt.Fprintf(&b, "  %-32s %d\n", r, byRule[r])
		}
	}
	if len(rep.Credentials) > 0 {
		b.WriteString(st.head.Render("credentials:") + " (key IDs found with their secret first)\n")
	}
	for _, c := range rep.Credentials {
		what := c.RuleID
		if c.KeyID != "" {
			what += " " + st.key.Render(c.KeyID)
		}
		switch {
		case c.Pair && c.Canary:
			what += " (with its secret; canary token: never validate it)"
		case c.Pair:
			what += " (with its secret)"
		case c.Canary:
			what += " (canary token: never validate it)"
		}
		if c.Secret != "" && c.KeyID == "" {
			what += " " + c.Secret
		}
		fmt.Fprintf(&b, "  %s %s: %d %s in %d %s\n", st.bad.Render("LEAK"), what,
			len(c.Places), plural(int64(len(c.Places)), "place", "places"),
			c.Repositories, plural(int64(c.Repositories), "repository", "repositories"))
		for i, p := range c.Places {
			if i == maxTextPlaces {
				fmt.Fprintf(&b, "      … and %d more (see the JSON report)\n", len(c.Places)-i)
				break
			}
			loc := fmt.Sprintf("%s %s:%d:%d", p.Repository, quotePath(p.Path), p.Line, p.Column)
			if p.Commit != "" {
				loc += " commit " + shortCommit(p.Commit)
			}
			fmt.Fprintf(&b, "      %s\n", loc)
		}
	}
	if len(rep.Incomplete) > 0 {
		b.WriteString(st.head.Render("not swept in full:") + "\n")
		for _, m := range rep.Incomplete {
			fmt.Fprintf(&b, "  %s %s\n", st.bad.Render("FAILED"), m)
		}
	}
	return b.String()
}

// sweepSARIFRun is a SARIF run for one repository: the scan's run plus the
// repository it is about and, for a repository not swept in full, an
// invocation that says so.
type sweepSARIFRun struct {
	sarifRun
	VersionControlProvenance []map[string]string `json:"versionControlProvenance,omitempty"`
	Invocations              []sweepInvocation   `json:"invocations"`
}

type sweepInvocation struct {
	ExecutionSuccessful        bool             `json:"executionSuccessful"`
	ToolExecutionNotifications []map[string]any `json:"toolExecutionNotifications,omitempty"`
	Properties                 map[string]any   `json:"properties,omitempty"`
}

// renderSweepSARIF writes SARIF 2.1.0 with one run per repository that
// has findings or was not swept in full, each naming its repository in
// versionControlProvenance; the runs' results come from the scan's SARIF
// renderer, so rules and fingerprints are the same as 'keyward scan'.
func renderSweepSARIF(w io.Writer, rep *sweepReport) error {
	byRepo := map[string][]jsonFinding{}
	for _, f := range rep.Findings {
		byRepo[f.Repository] = append(byRepo[f.Repository], f.jsonFinding)
	}
	var runs []sweepSARIFRun
	for _, r := range rep.Repositories {
		fs := byRepo[r.URL]
		ok := r.Status != "failed" && r.Status != "incomplete"
		if len(fs) == 0 && ok {
			continue
		}
		run, err := sarifRunOf(fs)
		if err != nil {
			return err
		}
		sr := sweepSARIFRun{sarifRun: run, VersionControlProvenance: []map[string]string{{"repositoryUri": r.URL}}}
		inv := sweepInvocation{ExecutionSuccessful: ok, Properties: map[string]any{"status": r.Status}}
		if r.Error != "" {
			inv.ToolExecutionNotifications = []map[string]any{{"level": "error", "message": map[string]string{"text": r.Error}}}
		}
		sr.Invocations = []sweepInvocation{inv}
		runs = append(runs, sr)
	}
	if len(runs) == 0 {
		run, err := sarifRunOf(nil)
		if err != nil {
			return err
		}
		runs = append(runs, sweepSARIFRun{sarifRun: run, Invocations: []sweepInvocation{{ExecutionSuccessful: rep.Complete}}})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(map[string]any{
		"$schema": "https://json.schemastore.org/sarif-2.1.0.json",
		"version": "2.1.0",
		"runs":    runs,
	})
}

// sarifRunOf is the scan's SARIF run for findings, through the scan's own
// renderer so the two cannot drift apart.
func sarifRunOf(fs []jsonFinding) (sarifRun, error) {
	var buf bytes.Buffer
	if err := (sarifRenderer{}).render(&buf, &runResult{Result: scanResultOf(fs), Redact: true}, plainStyle()); err != nil {
		return sarifRun{}, err
	}
	var log sarifLog
	if err := json.Unmarshal(buf.Bytes(), &log); err != nil || len(log.Runs) != 1 {
		return sarifRun{}, fmt.Errorf("render sarif: %v", err)
	}
	return log.Runs[0], nil
}
