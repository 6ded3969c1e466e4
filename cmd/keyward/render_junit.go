package main

import (
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/keyward/keyward/scanner"
)

// junitRenderer writes a JUnit XML report, the one test-report format every
// CI system displays without a plugin: GitLab's merge-request test widget
// (artifacts:reports:junit), Jenkins' junit step, Azure Pipelines, CircleCI.
//
// Each finding is its own failing testcase, named by rule and location and
// classed by file path, so a leak shows up in the CI's list of failures
// with its file, line and rule. Scanned files without findings are not
// listed (a scan of a monorepo would otherwise bury the failures under
// thousands of passes); a clean scan is one passing testcase, because
// GitLab and Jenkins treat a report with no testcases as missing. Files
// skipped as too large are skipped testcases and unreadable inputs are
// errors, so an incomplete scan does not look clean. Secrets are redacted
// unless --show-secrets was given, as in every other format.
type junitRenderer struct{}

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       string          `xml:"time,attr"`
	Properties []junitProperty `xml:"properties>property"`
	Cases      []junitCase     `xml:"testcase"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	ClassName string        `xml:"classname,attr"`
	File      string        `xml:"file,attr,omitempty"`
	Line      int           `xml:"line,attr,omitempty"`
	Time      string        `xml:"time,attr"`
	Failure   *junitProblem `xml:"failure"`
	Error     *junitProblem `xml:"error"`
	Skipped   *junitSkipped `xml:"skipped"`
}

type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

type junitSkipped struct {
	Message string `xml:"message,attr"`
}

// render streams the report: the counts the <testsuites> and <testsuite>
// elements carry are computed from the result first (one failure per
// finding, one skipped case per incomplete skip, one error per unreadable
// input), then each testcase is encoded and written out before the next
// is built, so memory does not grow with a second copy of every finding.
// The bytes are those of encoding the whole document at once.
func (junitRenderer) render(w io.Writer, rr *runResult, _ style) error {
	secs := strconv.FormatFloat(rr.Duration.Seconds(), 'f', 3, 64)
	failures, errs := len(rr.Findings), len(rr.Errors)
	skipped := 0
	for _, s := range rr.Skipped {
		if s.Incomplete() {
			skipped++
		}
	}
	tests := max(failures+skipped+errs, 1) // a clean run is one passing case
	counts := func(name string) []xml.Attr {
		return []xml.Attr{
			{Name: xml.Name{Local: "name"}, Value: name},
			{Name: xml.Name{Local: "tests"}, Value: strconv.Itoa(tests)},
			{Name: xml.Name{Local: "failures"}, Value: strconv.Itoa(failures)},
			{Name: xml.Name{Local: "errors"}, Value: strconv.Itoa(errs)},
			{Name: xml.Name{Local: "skipped"}, Value: strconv.Itoa(skipped)},
			{Name: xml.Name{Local: "time"}, Value: secs},
		}
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	suites := xml.StartElement{Name: xml.Name{Local: "testsuites"}, Attr: counts("keyward")}
	suite := xml.StartElement{Name: xml.Name{Local: "testsuite"}, Attr: counts("keyward")}
	props := struct {
		Property []junitProperty `xml:"property"`
	}{[]junitProperty{
		{Name: "keyward.version", Value: keywardVersion()},
		{Name: "keyward.files", Value: strconv.FormatInt(rr.Files, 10)},
		{Name: "keyward.bytes", Value: strconv.FormatInt(rr.Bytes, 10)},
	}}
	if err := enc.EncodeToken(suites); err != nil {
		return err
	}
	if err := enc.EncodeToken(suite); err != nil {
		return err
	}
	if err := enc.EncodeElement(props, xml.StartElement{Name: xml.Name{Local: "properties"}}); err != nil {
		return err
	}
	testcase := xml.StartElement{Name: xml.Name{Local: "testcase"}}
	if err := junitCases(rr, secs, func(c junitCase) error { return enc.EncodeElement(c, testcase) }); err != nil {
		return err
	}
	if err := enc.EncodeToken(suite.End()); err != nil {
		return err
	}
	if err := enc.EncodeToken(suites.End()); err != nil {
		return err
	}
	if err := enc.Flush(); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// junitCases builds rr's testcases one at a time, in the report's order,
// and hands each to emit: a failure per finding, a skipped case per
// incomplete skip, an error per unreadable input, and one passing case
// when there is none of these.
func junitCases(rr *runResult, secs string, emit func(junitCase) error) error {
	n := 0
	put := func(c junitCase) error {
		n++
		return emit(c)
	}
	for _, f := range rr.Findings {
		if err := put(junitFinding(f, rr.Redact)); err != nil {
			return err
		}
	}
	for _, s := range rr.Skipped {
		if !s.Incomplete() {
			continue // symlinks and devices are not content keyward should read
		}
		msg := fmt.Sprintf("%s is over the size limit (%s)", junitPath(s.Path), humanBytes(s.Size))
		if s.Reason != scanner.SkipTooLarge {
			msg = junitPath(s.Path) + ": " + skipDetail(s)
		}
		if err := put(junitCase{
			Name: "not scanned: " + junitPath(s.Path), ClassName: junitPath(s.Path), File: junitPath(s.Path), Time: "0",
			Skipped: &junitSkipped{Message: msg},
		}); err != nil {
			return err
		}
	}
	for _, fe := range rr.Errors {
		if err := put(junitCase{
			Name: "unreadable: " + junitPath(fe.Path), ClassName: junitPath(fe.Path), File: junitPath(fe.Path), Time: "0",
			Error: &junitProblem{Message: "cannot read " + junitPath(fe.Path), Type: "read-error", Text: fe.Err.Error()},
		}); err != nil {
			return err
		}
	}
	if n > 0 {
		return nil
	}
	return emit(junitCase{
		Name:      fmt.Sprintf("no credentials in %d %s", rr.Files, plural(rr.Files, "file", "files")),
		ClassName: "keyward", Time: secs,
	})
}

// junitFinding is one finding as a failing testcase. The name carries the
// rule and line so that two findings in one file stay distinct in CI
// views that key on name; the body repeats what the text output shows.
func junitFinding(f scanner.Finding, redact bool) junitCase {
	path := junitPath(f.Path)
	where := fmt.Sprintf("%s:%d:%d", path, f.Line, f.Column)
	where = describePlace(f, where)
	var b strings.Builder
	row := func(label, value string) {
		if value != "" {
			fmt.Fprintf(&b, "%-12s %s\n", label+":", value)
		}
	}
	row("location", where)
	row("rule", f.RuleID)
	if f.KeyID != "" {
		row("key ID", f.KeyID+" ("+f.KeyKind+")")
		row("account", f.AccountID)
	}
	row("secret", reveal(f.Secret, redact))
	row("token", reveal(f.SessionToken, redact))
	row("encoding", string(f.Encoding))
	if f.Commit != "" {
		row("commit", f.Commit+" by "+f.Author)
	}
	row("fingerprint", f.Fingerprint)
	b.WriteString("\nRemove the credential and rotate it")
	if f.KeyID != "" {
		b.WriteString("; if it left this machine, run 'keyward respond --key-id " + f.KeyID + "'")
	}
	b.WriteString(".\n")
	return junitCase{
		Name:      fmt.Sprintf("%s at %s:%d", f.RuleID, path, f.Line),
		ClassName: path,
		File:      path,
		Line:      f.Line,
		Time:      "0",
		Failure:   &junitProblem{Message: f.Description + " at " + where, Type: f.RuleID, Text: b.String()},
	}
}

// junitPath makes a path safe for XML: encoding/xml replaces bytes that
// XML cannot hold, but a path with control characters or invalid UTF-8 is
// clearer quoted, as the text output shows it.
func junitPath(p string) string { return quotePath(p) }
