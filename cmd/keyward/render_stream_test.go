package main

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/patterns/patternstest"
	"github.com/keyward/keyward/scanner"
)

// streamCases are results the streaming renderers must write byte for
// byte as the whole-document renderers did: empty, hostile text (XML and
// HTML metacharacters, control bytes, invalid UTF-8), custom rules,
// commits, skips and errors.
func streamCases() map[string]*runResult {
	g := patternstest.New(9)
	var many []scanner.Finding
	for i := range 300 {
		many = append(many, scanner.Finding{
			RuleID: "aws-access-key-id", Description: "AWS access key ID",
			Provenance: scanner.Provenance{Path: fmt.Sprintf("dir/f%03d.env", i)},
			Line:       i + 1, Column: 3, Start: 10, End: 30, KeyID: g.KeyID("AKIA", patternstest.DefaultAccount), KeyKind: "long-term",
			Fingerprint: strconv.Itoa(i),
		})
	}
	hostile := []scanner.Finding{
		{
			RuleID: "aws-access-key-id", Description: "AWS <access> & key",
			Provenance: scanner.Provenance{Path: "conf/a&b <c>.env", Commit: "0123456789abcdef0123456789abcdef01234567", Author: "A \"Quote\" ]]> <b>Author</b>"},
			Line:       3, Column: 7, Start: 5, End: 25, KeyID: g.KeyID("AKIA", patternstest.DefaultAccount), KeyKind: "long-term",
			Secret: scanner.NewSecret(g.Secret()), Fingerprint: "f1",
		},
		{
			RuleID: "acme-custom", Description: "a project's own rule \u2028",
			Provenance: scanner.Provenance{Path: "bad\x01name\xff.txt", Kind: scanner.KindCommitMessage},
			Line:       1, Column: 1, Secret: scanner.NewSecret("ghp_" + strings.Repeat("q", 36)), Fingerprint: "f2",
		},
	}
	return map[string]*runResult{
		"empty": {Result: &scanner.Result{Files: 3, Bytes: 10}, Duration: time.Second, Redact: true},
		"many":  {Result: &scanner.Result{Findings: many, Files: 300, Bytes: 1 << 20}, Duration: 2500 * time.Millisecond, Redact: true},
		"hostile": {Result: &scanner.Result{
			Findings: hostile,
			Skipped: []scanner.Skip{
				{Path: "huge.bin", Reason: scanner.SkipTooLarge, Size: 200 << 20},
				{Path: "link", Reason: scanner.SkipSymlink},
				{Path: "a.zip!b", Reason: scanner.SkipArchiveLimit, Detail: "nested <too> deep"},
			},
			Errors: []scanner.FileError{{Path: "locked&", Err: errors.New("permission <denied>")}},
			Files:  3, Bytes: 1234,
		}, Duration: 1500 * time.Millisecond, Redact: false},
		"skips only": {Result: &scanner.Result{Skipped: []scanner.Skip{{Path: "x", Reason: scanner.SkipBinaryPatch}}}, Redact: true},
	}
}

// TestStreamedRenderersSameBytes: SARIF and JUnit, now written as they
// go, are byte for byte what encoding the whole document wrote.
func TestStreamedRenderersSameBytes(t *testing.T) {
	for name, rr := range streamCases() {
		for _, r := range []struct {
			format string
			stream renderer
			whole  func(io.Writer, *runResult) error
		}{
			{"sarif", sarifRenderer{}, wholeSARIF},
			{"junit", junitRenderer{}, wholeJUnit},
		} {
			var got, want bytes.Buffer
			if err := r.stream.render(&got, rr, plainStyle()); err != nil {
				t.Fatalf("%s %s: %v", name, r.format, err)
			}
			if err := r.whole(&want, rr); err != nil {
				t.Fatalf("%s %s (whole): %v", name, r.format, err)
			}
			if !bytes.Equal(got.Bytes(), want.Bytes()) {
				t.Errorf("%s %s: streamed output differs\n--- streamed\n%s\n--- whole\n%s", name, r.format, got.String(), want.String())
			}
		}
	}
}

// writeLog records the size of each write a renderer makes.
type writeLog struct {
	sizes []int
	fail  error
}

func (w *writeLog) Write(p []byte) (int, error) {
	if w.fail != nil {
		return 0, w.fail
	}
	w.sizes = append(w.sizes, len(p))
	return len(p), nil
}

// TestRenderersStream: with many findings every format writes its output
// in pieces no larger than a buffer as it goes, rather than building the
// whole output and writing it at once (issue 10: output memory grew with
// the findings), and a failing writer's error is returned.
func TestRenderersStream(t *testing.T) {
	g := patternstest.New(10)
	var fs []scanner.Finding
	for i := range 6000 {
		fs = append(fs, scanner.Finding{
			RuleID: "aws-access-key-id", Description: "AWS access key ID",
			Provenance: scanner.Provenance{Path: fmt.Sprintf("f%04d.env", i)}, Line: 1, Column: 1,
			KeyID: g.KeyID("AKIA", patternstest.DefaultAccount), KeyKind: "long-term", Fingerprint: strconv.Itoa(i),
		})
	}
	rr := &runResult{Result: &scanner.Result{Findings: fs}, Redact: true}
	for _, format := range []string{"text", "json", "sarif", "junit"} {
		r, err := newRenderer(format)
		if err != nil {
			t.Fatal(err)
		}
		var w writeLog
		if err := r.render(&w, rr, plainStyle()); err != nil {
			t.Fatalf("%s: %v", format, err)
		}
		total, largest := 0, 0
		for _, n := range w.sizes {
			total += n
			largest = max(largest, n)
		}
		if largest > renderBuffer || total < 4*renderBuffer {
			t.Errorf("%s: %d bytes in %d writes, the largest %d; want pieces of at most %d", format, total, len(w.sizes), largest, renderBuffer)
		}
		boom := errors.New("disk full")
		if err := r.render(&writeLog{fail: boom}, rr, plainStyle()); !errors.Is(err, boom) {
			t.Errorf("%s: a failing writer gave %v", format, err)
		}
	}
}

// wholeJUnit and wholeSARIF build the whole document from the same
// pieces the renderers use (the testcases, the driver, each result) and
// encode it at once, as the renderers did before they streamed: the
// reference the streamed output is compared with.
func wholeJUnit(w io.Writer, rr *runResult) error {
	secs := strconv.FormatFloat(rr.Duration.Seconds(), 'f', 3, 64)
	suite := junitSuite{
		Name: "keyward",
		Time: secs,
		Properties: []junitProperty{
			{Name: "keyward.version", Value: keywardVersion()},
			{Name: "keyward.files", Value: strconv.FormatInt(rr.Files, 10)},
			{Name: "keyward.bytes", Value: strconv.FormatInt(rr.Bytes, 10)},
		},
	}
	if err := junitCases(rr, secs, func(c junitCase) error {
		suite.Cases = append(suite.Cases, c)
		switch {
		case c.Failure != nil:
			suite.Failures++
		case c.Skipped != nil:
			suite.Skipped++
		case c.Error != nil:
			suite.Errors++
		}
		return nil
	}); err != nil {
		return err
	}
	suite.Tests = len(suite.Cases)
	doc := junitSuites{
		Name: "keyward", Tests: suite.Tests, Failures: suite.Failures, Errors: suite.Errors,
		Skipped: suite.Skipped, Time: secs, Suites: []junitSuite{suite},
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

func wholeSARIF(w io.Writer, rr *runResult) error {
	driver, index := sarifDriverOf(rr)
	run := sarifRun{Tool: sarifTool{Driver: driver}, Results: []sarifResult{}}
	for _, f := range rr.Findings {
		run.Results = append(run.Results, sarifResultOf(f, index))
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(sarifLog{
		Schema:  "https://json.schemastore.org/sarif-2.1.0.json",
		Version: "2.1.0",
		Runs:    []sarifRun{run},
	})
}
