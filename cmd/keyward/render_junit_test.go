package main

import (
	"bytes"
	"encoding/xml"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/patterns/patternstest"
	"github.com/keyward/keyward/scanner"
)

// TestJUnitParses renders findings with hostile paths and messages and
// parses the report back with encoding/xml, as CI systems will: counts,
// names and locations must survive, and no secret may appear.
func TestJUnitParses(t *testing.T) {
	g := patternstest.New(7)
	keyID, secret := g.KeyID("AKIA", patternstest.DefaultAccount), g.Secret()
	rr := &runResult{
		Result: &scanner.Result{
			Findings: []scanner.Finding{
				{
					RuleID: "aws-access-key-id", Description: "AWS access key ID",
					Provenance: scanner.Provenance{Path: "conf/a&b <c>.env", Commit: "0123456789abcdef", Author: "A \"Quote\" ]]> Author"},
					Line:       3, Column: 7, KeyID: keyID, KeyKind: "long-term",
					Secret: scanner.NewSecret(secret), Fingerprint: "f1",
				},
				{
					RuleID: "github-pat", Description: "GitHub personal access token",
					Provenance: scanner.Provenance{Path: "bad\x01name\xff.txt"},
					Line:       1, Column: 1, Secret: scanner.NewSecret("ghp_" + strings.Repeat("q", 36)), Fingerprint: "f2",
				},
			},
			Skipped: []scanner.Skip{{Path: "huge.bin", Reason: scanner.SkipTooLarge, Size: 200 << 20}},
			Errors:  []scanner.FileError{{Path: "locked", Err: errors.New("permission denied")}},
			Files:   3, Bytes: 1234,
		},
		Duration: 1500 * time.Millisecond,
		Redact:   true,
	}
	var buf bytes.Buffer
	if err := (junitRenderer{}).render(&buf, rr, plainStyle()); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), secret) || strings.Contains(buf.String(), strings.Repeat("q", 36)) {
		t.Fatalf("report holds a secret:\n%s", buf.String())
	}
	var doc junitSuites
	if err := xml.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("report does not parse: %v\n%s", err, buf.String())
	}
	if doc.Tests != 4 || doc.Failures != 2 || doc.Errors != 1 || doc.Skipped != 1 || len(doc.Suites) != 1 {
		t.Fatalf("counts: tests %d failures %d errors %d skipped %d suites %d", doc.Tests, doc.Failures, doc.Errors, doc.Skipped, len(doc.Suites))
	}
	s := doc.Suites[0]
	if s.Time != "1.500" || len(s.Cases) != 4 {
		t.Fatalf("suite time %q, %d cases", s.Time, len(s.Cases))
	}
	c := s.Cases[0]
	if c.Name != "aws-access-key-id at conf/a&b <c>.env:3" || c.ClassName != "conf/a&b <c>.env" || c.Line != 3 || c.Failure == nil {
		t.Errorf("first case: %+v", c)
	}
	if c.Failure.Type != "aws-access-key-id" || !strings.Contains(c.Failure.Text, keyID) ||
		!strings.Contains(c.Failure.Text, `A "Quote" ]]> Author`) || !strings.Contains(c.Failure.Text, secret[:4]+"…(40 chars)") {
		t.Errorf("first failure: %+v", c.Failure)
	}
	if c := s.Cases[1]; c.ClassName != `"bad\x01name\xff.txt"` || c.Failure == nil {
		t.Errorf("hostile path case: %+v", c)
	}
	if c := s.Cases[2]; c.Skipped == nil || !strings.Contains(c.Skipped.Message, "200.0 MiB") {
		t.Errorf("skipped case: %+v", c)
	}
	if c := s.Cases[3]; c.Error == nil || c.Error.Text != "permission denied" {
		t.Errorf("error case: %+v", c)
	}

	// A clean run is one passing case.
	rr.Result = &scanner.Result{Files: 1}
	buf.Reset()
	if err := (junitRenderer{}).render(&buf, rr, plainStyle()); err != nil {
		t.Fatal(err)
	}
	doc = junitSuites{}
	if err := xml.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Tests != 1 || doc.Failures != 0 || doc.Suites[0].Cases[0].Failure != nil {
		t.Errorf("clean run: %+v", doc)
	}
}
