package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/keyward/keyward/responder/audit"
)

// isTerminalReader reports whether r is a terminal, for a confirmation
// prompt: keyward never waits for an answer on a pipe.
func isTerminalReader(r io.Reader) bool {
	f, ok := r.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// severityWord is a finding's severity for text output; colour is never
// the only signal, so the word is always printed.
func severityWord(id audit.CheckID) string {
	c, _ := audit.CheckByID(id)
	return strings.ToUpper(string(c.Severity))
}

func writeAuditText(w io.Writer, rep *audit.Report) {
	fmt.Fprintf(w, "Account %s: %d users, %d access keys; credential report of %s\n",
		rep.Account, rep.Users, rep.Keys, rep.ReportGenerated.Format(time.RFC3339))
	for _, f := range rep.Findings {
		c, _ := audit.CheckByID(f.Check)
		fmt.Fprintf(w, "\n%-6s %s  %s\n", severityWord(f.Check), f.Check, f.Message)
		fmt.Fprintf(w, "       %s\n", f.ARN)
		for _, ev := range f.Evidence {
			fmt.Fprintf(w, "       %s = %s  (%s)\n", ev.Name, ev.Value, ev.Source)
		}
		ids := append([]string(nil), c.Prowler...)
		if c.TrustedAdvisor != "" {
			ids = append(ids, "Trusted Advisor: "+c.TrustedAdvisor)
		}
		fmt.Fprintf(w, "       same as: %s\n", strings.Join(ids, ", "))
		fmt.Fprintf(w, "       fix: %s\n", c.Fix)
	}
	fmt.Fprintln(w)
	switch {
	case !rep.Complete():
		fmt.Fprintf(w, "%d finding(s); INCOMPLETE: %d item(s) could not be checked\n", len(rep.Findings), len(rep.Incomplete))
	case len(rep.Findings) == 0:
		fmt.Fprintln(w, "No findings: every check ran over every user.")
	default:
		fmt.Fprintf(w, "%d finding(s)\n", len(rep.Findings))
	}
}

func writeAuditJSON(w io.Writer, rep *audit.Report, plan []audit.FixAction) error {
	out := struct {
		*audit.Report
		Complete bool              `json:"complete"`
		FixPlan  []audit.FixAction `json:"fix_plan,omitempty"`
	}{rep, rep.Complete(), plan}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// writeAuditSARIF writes SARIF 2.1.0 with one rule per check. AWS
// resources have no file, so each result names its IAM ARN as a logical
// location.
func writeAuditSARIF(w io.Writer, rep *audit.Report) error {
	level := map[audit.Severity]string{audit.SeverityHigh: "error", audit.SeverityMedium: "warning", audit.SeverityLow: "note"}
	var rules []map[string]any
	index := map[audit.CheckID]int{}
	for i, c := range audit.Checks {
		index[c.ID] = i
		props := map[string]any{"prowler": c.Prowler, "severity": c.Severity}
		if c.TrustedAdvisor != "" {
			props["trusted_advisor"] = c.TrustedAdvisor
		}
		rules = append(rules, map[string]any{
			"id": string(c.ID), "name": string(c.ID),
			"shortDescription":     map[string]string{"text": c.Title},
			"help":                 map[string]string{"text": c.Fix},
			"defaultConfiguration": map[string]string{"level": level[c.Severity]},
			"properties":           props,
		})
	}
	results := []map[string]any{}
	for _, f := range rep.Findings {
		c, _ := audit.CheckByID(f.Check)
		ev := map[string]string{}
		for _, e := range f.Evidence {
			ev[e.Name] = e.Value
		}
		fp := f.ARN
		if f.KeyID != "" {
			fp += "/" + f.KeyID
		}
		results = append(results, map[string]any{
			"ruleId": string(f.Check), "ruleIndex": index[f.Check], "level": level[c.Severity],
			"message":             map[string]string{"text": f.Message},
			"locations":           []any{map[string]any{"logicalLocations": []any{map[string]string{"fullyQualifiedName": f.ARN, "kind": "resource"}}}},
			"partialFingerprints": map[string]string{"keywardAudit/v1": string(f.Check) + ":" + fp},
			"properties":          map[string]any{"account": f.Account, "user": f.User, "access_key_id": f.KeyID, "evidence": ev},
		})
	}
	log := map[string]any{
		"$schema": "https://json.schemastore.org/sarif-2.1.0.json",
		"version": "2.1.0",
		"runs": []any{map[string]any{
			"tool": map[string]any{"driver": map[string]any{"name": "keyward audit", "version": keywardVersion(),
				"informationUri": "https://github.com/keyward/keyward", "rules": rules}},
			"results": results,
			"invocations": []any{map[string]any{"executionSuccessful": rep.Complete(),
				"toolExecutionNotifications": notifications(rep.Incomplete)}},
		}},
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(log)
}

func notifications(incomplete []string) []any {
	out := []any{}
	for _, s := range incomplete {
		out = append(out, map[string]any{"level": "error", "message": map[string]string{"text": "not audited: " + s}})
	}
	return out
}
