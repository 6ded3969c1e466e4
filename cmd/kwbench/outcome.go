package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// tool is what a real-repository case runs; it decides how kwbench reads
// what the run found and how much it read.
type tool int

const (
	toolGit tool = iota // the floor
	toolKeyward
	toolGitleaks
	toolTrufflehog
)

// outcome is what one run says it did, in the tool's own words. A tool
// misinvoked (a wrong path, a bare repository it silently skips, a range
// it does not understand) tends to read nothing and so to look fast; a
// case that read nothing is refused rather than timed (see check).
type outcome struct {
	found   int   // findings reported
	errors  int   // errors reported or logged
	skipped int   // inputs the tool reports skipping (keyward)
	commits int64 // commits scanned; -1 if the tool does not say
	chunks  int64 // trufflehog's unit of reading; -1 otherwise
	bytes   int64 // bytes scanned, as the tool counts them
}

// maxToolLog bounds how much of a tool's standard error kwbench reads back:
// the counts are in its last lines.
const maxToolLog = 16 << 20

// readOutcome reads a finished run's output files (see timeProcessTo) and,
// for gitleaks, its report.
func readOutcome(c realCase, out string) (outcome, error) {
	o := outcome{commits: -1, chunks: -1, bytes: -1}
	switch c.tool {
	case toolKeyward:
		f, err := os.Open(out + ".out")
		if err != nil {
			return o, err
		}
		defer f.Close()
		var rep struct {
			Findings []struct{} `json:"findings"`
			Skipped  []struct{} `json:"skipped"`
			Errors   []struct{} `json:"errors"`
			Stats    struct {
				Bytes   int64 `json:"bytes"`
				Commits int64 `json:"commits"`
			} `json:"stats"`
		}
		if err := json.NewDecoder(bufio.NewReader(f)).Decode(&rep); err != nil {
			return o, fmt.Errorf("read keyward's JSON report: %w", err)
		}
		o.found, o.skipped, o.errors = len(rep.Findings), len(rep.Skipped), len(rep.Errors)
		o.commits, o.bytes = rep.Stats.Commits, rep.Stats.Bytes
	case toolGitleaks:
		b, err := os.ReadFile(c.report)
		if err != nil {
			return o, err
		}
		var leaks []struct{}
		if err := json.Unmarshal(b, &leaks); err != nil {
			return o, fmt.Errorf("read gitleaks' report %s: %w", c.report, err)
		}
		o.found = len(leaks)
		log, err := readLog(out + ".err")
		if err != nil {
			return o, err
		}
		log = ansi.ReplaceAll(log, nil)
		o.commits = lastInt(gitleaksCommits, log)
		o.bytes = lastInt(gitleaksBytes, log)
		o.errors = len(gitleaksError.FindAll(log, -1))
		if o.commits < 0 || o.bytes < 0 {
			return o, errors.New("gitleaks did not log what it scanned (run it with --log-level info)")
		}
	case toolTrufflehog:
		b, err := os.ReadFile(out + ".out")
		if err != nil {
			return o, err
		}
		// With --json every line of standard output is one result; its
		// log goes to standard error.
		for line := range bytes.Lines(b) {
			if bytes.Contains(line, []byte(`"DetectorName"`)) {
				o.found++
			}
		}
		log, err := readLog(out + ".err")
		if err != nil {
			return o, err
		}
		for line := range bytes.Lines(log) {
			var l struct {
				Level  string `json:"level"`
				Msg    string `json:"msg"`
				Chunks *int64 `json:"chunks"`
				Bytes  *int64 `json:"bytes"`
			}
			if json.Unmarshal(line, &l) != nil {
				continue
			}
			if l.Level == "error" {
				o.errors++
			}
			if l.Msg == "finished scanning" && l.Chunks != nil && l.Bytes != nil {
				o.chunks, o.bytes = *l.Chunks, *l.Bytes
			}
		}
		if o.bytes < 0 {
			return o, errors.New(`trufflehog did not log "finished scanning" with its counts (run it with --json)`)
		}
	}
	return o, nil
}

// check refuses a run that read nothing: it would be timed as fast when it
// did no work.
func (o outcome) check(c realCase) error {
	if c.tool == toolGit || o.bytes > 0 {
		return nil
	}
	return fmt.Errorf("%s read 0 bytes (%d errors logged): misinvoked? Its output is in %s.*", c.args[0], o.errors, c.out)
}

var (
	ansi            = regexp.MustCompile(`\x1b\[[0-9;]*m`)
	gitleaksCommits = regexp.MustCompile(`(\d+) commits scanned`)
	gitleaksBytes   = regexp.MustCompile(`scanned ~(\d+) bytes`)
	gitleaksError   = regexp.MustCompile(`(?m)^\S*\s*(ERR|FTL)\s`)
)

// lastInt is the first group of re's last match in b, or -1.
func lastInt(re *regexp.Regexp, b []byte) int64 {
	m := re.FindAllSubmatch(b, -1)
	if len(m) == 0 {
		return -1
	}
	n, err := strconv.ParseInt(string(m[len(m)-1][1]), 10, 64)
	if err != nil {
		return -1
	}
	return n
}

// readLog reads the last maxToolLog bytes of a tool's standard error.
func readLog(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > maxToolLog {
		if _, err := f.Seek(st.Size()-maxToolLog, 0); err != nil {
			return nil, err
		}
	}
	var buf bytes.Buffer
	_, err = buf.ReadFrom(f)
	return buf.Bytes(), err
}

// foundText is the table's "found" cell.
func (o outcome) foundText(c realCase) string {
	if c.tool == toolGit {
		return ""
	}
	s := strconv.Itoa(o.found)
	var also []string
	if o.skipped > 0 {
		also = append(also, fmt.Sprintf("%d skipped", o.skipped))
	}
	if o.errors > 0 {
		also = append(also, fmt.Sprintf("%d errors", o.errors))
	}
	if len(also) > 0 {
		s += " (" + strings.Join(also, ", ") + ")"
	}
	return s
}

// readText is the table's "read" cell: what the tool says it scanned, in
// its own units (keyward counts each unique blob once, gitleaks the
// patches' bytes, trufflehog its chunks' bytes, so the byte counts are
// not the same quantity).
func (o outcome) readText(c realCase) string {
	if c.tool == toolGit {
		return ""
	}
	var s string
	switch {
	case o.commits >= 0:
		s = fmt.Sprintf("%s commits, ", thousands(o.commits))
	case o.chunks >= 0:
		s = fmt.Sprintf("%s chunks, ", thousands(o.chunks))
	}
	return s + byteSize(o.bytes)
}

func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func byteSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.0f KB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
