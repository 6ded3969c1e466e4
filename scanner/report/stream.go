package report

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/keyward/keyward/scanner"
)

// streamBuffer is Stream's write buffer: large enough that a finding costs
// no system call of its own, small beside the findings themselves.
const streamBuffer = 64 << 10

// Stream writes the report of res to w, byte for byte what Write(w,
// New(res, ...)) writes, without building it: each finding is converted
// and encoded on its own and written out before the next, so memory does
// not grow with a second copy of every finding plus the whole encoded
// document (issue 10: 1.5M key IDs took 6.9 GB as JSON). verification,
// if not nil, gives finding i's encoded --verify verdict, or nil.
func Stream(w io.Writer, res *scanner.Result, redact bool, tool Tool, d time.Duration, verification func(i int) json.RawMessage) error {
	// Everything but the findings and the suppressed findings is built
	// as before: bounded by what was skipped or unreadable.
	rest := *res
	rest.Findings, rest.Suppressed = nil, nil
	rep := New(&rest, redact, tool, d)
	byReason := map[string]int{}
	for r, n := range res.SuppressedByReason() {
		byReason[string(r)] = n
	}

	bw := bufio.NewWriterSize(w, streamBuffer)
	sw := &streamWriter{w: bw}
	sw.str("{\n")
	sw.field("schema_version", rep.SchemaVersion)
	sw.field("tool", rep.Tool)
	sw.str(`  "findings": `)
	sw.list(len(res.Findings), "  ", func(i int) any {
		f := NewFinding(res.Findings[i], redact)
		if verification != nil {
			f.Verification = verification(i)
		}
		return f
	})
	sw.str(",\n")
	sw.field("skipped", rep.Skipped)
	sw.field("errors", rep.Errors)
	sw.field("warnings", rep.Warnings)
	sw.field("stats", rep.Stats)
	// The suppressed findings can be as many as the findings (a large
	// baseline): streamed the same way.
	sw.str("  \"suppressed\": {\n")
	sw.str(fmt.Sprintf("    \"count\": %d,\n", len(res.Suppressed)))
	sw.str(`    "by_reason": `)
	sw.value(byReason, "    ")
	sw.str(",\n")
	sw.str(`    "findings": `)
	sw.list(len(res.Suppressed), "    ", func(i int) any { return newSuppressedFinding(res.Suppressed[i]) })
	sw.str("\n  }\n}\n")
	if sw.err != nil {
		return sw.err
	}
	return bw.Flush()
}

// streamWriter keeps the first error, so Stream reads as the document it
// writes.
type streamWriter struct {
	w   *bufio.Writer
	err error
}

func (s *streamWriter) str(x string) {
	if s.err == nil {
		_, s.err = s.w.WriteString(x)
	}
}

// value writes v indented as json.Encoder with SetIndent("", "  ") would
// at a depth whose indentation is prefix.
func (s *streamWriter) value(v any, prefix string) {
	if s.err != nil {
		return
	}
	b, err := json.MarshalIndent(v, prefix, "  ")
	if err != nil {
		s.err = err
		return
	}
	_, s.err = s.w.Write(b)
}

// list writes an array of n elements, each built by elem just before it
// is written, at a depth whose indentation is prefix.
func (s *streamWriter) list(n int, prefix string, elem func(i int) any) {
	if n == 0 {
		s.str("[]")
		return
	}
	s.str("[\n")
	inner := prefix + "  "
	for i := range n {
		s.str(inner)
		s.value(elem(i), inner)
		if i < n-1 {
			s.str(",")
		}
		s.str("\n")
	}
	s.str(prefix + "]")
}

// field writes a top-level member that is not the last.
func (s *streamWriter) field(name string, v any) {
	s.str(`  "` + name + `": `)
	s.value(v, "  ")
	s.str(",\n")
}
