package main

import (
	"bufio"
	"io"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/keyward/keyward/patterns"
	"github.com/keyward/keyward/scanner"
	"github.com/keyward/keyward/scanner/report"
)

// sarifRenderer writes SARIF 2.1.0 as GitHub code scanning accepts it:
// rules with help text, results with relative URIs and
// partialFingerprints, so alerts survive line moves.
type sarifRenderer struct{}

type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool    sarifTool     `json:"tool"`
	Results []sarifResult `json:"results"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	Version        string      `json:"version"`
	InformationURI string      `json:"informationUri"`
	Rules          []sarifRule `json:"rules"`
}

type sarifText struct {
	Text     string `json:"text"`
	Markdown string `json:"markdown,omitempty"`
}

type sarifRule struct {
	ID                   string         `json:"id"`
	Name                 string         `json:"name"`
	ShortDescription     sarifText      `json:"shortDescription"`
	FullDescription      sarifText      `json:"fullDescription"`
	Help                 sarifText      `json:"help"`
	DefaultConfiguration map[string]any `json:"defaultConfiguration"`
	Properties           map[string]any `json:"properties"`
}

type sarifResult struct {
	RuleID              string            `json:"ruleId"`
	RuleIndex           int               `json:"ruleIndex"`
	Level               string            `json:"level"`
	Message             sarifText         `json:"message"`
	Locations           []sarifLocation   `json:"locations"`
	PartialFingerprints map[string]string `json:"partialFingerprints"`
	Properties          map[string]any    `json:"properties,omitempty"`
}

type sarifLocation struct {
	PhysicalLocation sarifPhysical `json:"physicalLocation"`
}

type sarifPhysical struct {
	ArtifactLocation sarifArtifact `json:"artifactLocation"`
	Region           sarifRegion   `json:"region"`
}

type sarifArtifact struct {
	URI string `json:"uri"`
}

type sarifRegion struct {
	StartLine   int `json:"startLine"`
	StartColumn int `json:"startColumn"`
	EndLine     int `json:"endLine"`
	EndColumn   int `json:"endColumn"`
}

const ruleHelp = `A credential was found in the repository. Treat it as compromised: anyone
who can read the repository, its forks or clones can use it.

1. If the key may have left this machine (pushed, shared, in CI logs), run
   'keyward respond --key-id <ID>' to plan AWS's exposed-credential steps,
   then re-run with --execute.
2. Remove it from the code and load credentials from the environment, an
   AWS profile, SSO or a role instead.
3. If this is a false positive, allow it (see the README's allowlist section).`

// otherRuleHelp is the help of the detection-only rules: keyward cannot
// respond to these credentials, only say where they are.
const otherRuleHelp = `A credential was found in the repository. Treat it as compromised: anyone
who can read the repository, its forks or clones can use it.

1. Revoke or rotate it with its provider (keyward does not contact
   providers other than AWS).
2. Remove it from the code and load it from the environment or a secret
   manager instead.
3. If this is a false positive, allow it (see the README's allowlist section).`

// sarifDriverOf describes keyward and its rules for rr's log, with each
// rule's index in the list for the results' ruleIndex: every built-in
// rule, then any rule (a project's custom one) that produced a result.
func sarifDriverOf(rr *runResult) (sarifDriver, map[string]int) {
	index := map[string]int{}
	driver := sarifDriver{Name: "keyward", Version: keywardVersion(), InformationURI: "https://github.com/keyward/keyward"}
	addRule := func(id, desc string) {
		index[id] = len(driver.Rules)
		help, tags := otherRuleHelp, []string{"security", "secret"}
		if patterns.IsAWS(id) {
			help, tags = ruleHelp, append(tags, "aws")
		}
		driver.Rules = append(driver.Rules, sarifRule{
			ID:                   id,
			Name:                 sarifName(id),
			ShortDescription:     sarifText{Text: desc},
			FullDescription:      sarifText{Text: desc},
			Help:                 sarifText{Text: help, Markdown: help},
			DefaultConfiguration: map[string]any{"level": "error"},
			Properties:           map[string]any{"tags": tags, "security-severity": "9.0", "precision": "high"},
		})
	}
	for _, r := range patterns.All() {
		addRule(r.ID, r.Description)
	}
	for _, f := range rr.Findings {
		if _, ok := index[f.RuleID]; !ok {
			addRule(f.RuleID, f.Description)
		}
	}
	return driver, index
}

func (sarifRenderer) render(w io.Writer, rr *runResult, _ style) error {
	driver, index := sarifDriverOf(rr)
	// The log is written as json.Encoder with two-space indentation would
	// write the whole sarifLog, but each result is built and written on
	// its own: the results array is as long as the findings.
	b := bufio.NewWriterSize(w, renderBuffer)
	sw := report.NewJSONStream(b)
	sw.Raw("{\n")
	sw.Raw(`  "$schema": "https://json.schemastore.org/sarif-2.1.0.json",` + "\n")
	sw.Raw(`  "version": "2.1.0",` + "\n")
	sw.Raw(`  "runs": [` + "\n")
	sw.Raw("    {\n")
	sw.Raw(`      "tool": `)
	sw.Value(sarifTool{Driver: driver}, "      ")
	sw.Raw(",\n")
	sw.Raw(`      "results": `)
	sw.List(len(rr.Findings), "      ", func(i int) any { return sarifResultOf(rr.Findings[i], index) })
	sw.Raw("\n    }\n  ]\n}\n")
	if err := sw.Err(); err != nil {
		return err
	}
	return b.Flush()
}

// sarifResultOf is one finding as a SARIF result.
func sarifResultOf(f scanner.Finding, index map[string]int) sarifResult {
	msg := f.Description
	if f.KeyID != "" {
		msg = "AWS access key " + f.KeyID
		if !f.Secret.IsZero() {
			msg += " with its secret access key"
		}
	}
	if f.Commit != "" {
		msg += " (commit " + f.Commit + ")"
	}
	span := f.End - f.Start
	res := sarifResult{
		RuleID:    f.RuleID,
		RuleIndex: index[f.RuleID],
		Level:     sarifLevel(f),
		Message:   sarifText{Text: msg},
		Locations: []sarifLocation{{PhysicalLocation: sarifPhysical{
			ArtifactLocation: sarifArtifact{URI: sarifURI(f.Path)},
			Region:           sarifRegion{StartLine: f.Line, StartColumn: f.Column, EndLine: f.Line, EndColumn: f.Column + span},
		}}},
		PartialFingerprints: map[string]string{"keyward/v1": f.Fingerprint},
	}
	if f.Commit != "" {
		res.Properties = map[string]any{"commit": f.Commit, "author": f.Author}
	}
	return res
}

// sarifURI makes a repository-relative URI: forward slashes, each segment
// percent-encoded, so spaces and non-UTF-8 bytes survive.
func sarifURI(p string) string {
	p = filepath.ToSlash(strings.TrimPrefix(filepath.Clean(p), "./"))
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}

// sarifName turns a rule ID into the PascalCase name SARIF viewers show.
func sarifName(id string) string {
	var b strings.Builder
	for _, part := range strings.Split(id, "-") {
		if part == "" {
			continue
		}
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String()
}

// sarifLevel is "warning" for a lone AWS key ID, which is an identifier and
// cannot be used without its secret, and "error" for everything that can
// be used: a key ID with its secret, a secret, a token, a private key
// (issue 10).
func sarifLevel(f scanner.Finding) string {
	if f.KeyID != "" && f.Secret.IsZero() && f.SessionToken.IsZero() {
		return "warning"
	}
	return "error"
}
