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
	sw := NewJSONStream(bw)
	sw.Raw("{\n")
	field(sw, "schema_version", rep.SchemaVersion)
	field(sw, "tool", rep.Tool)
	sw.Raw(`  "findings": `)
	sw.List(len(res.Findings), "  ", func(i int) any {
		f := NewFinding(res.Findings[i], redact)
		if verification != nil {
			f.Verification = verification(i)
		}
		return f
	})
	sw.Raw(",\n")
	field(sw, "skipped", rep.Skipped)
	field(sw, "errors", rep.Errors)
	field(sw, "warnings", rep.Warnings)
	field(sw, "stats", rep.Stats)
	// The suppressed findings can be as many as the findings (a large
	// baseline): streamed the same way.
	sw.Raw("  \"suppressed\": {\n")
	sw.Raw(fmt.Sprintf("    \"count\": %d,\n", len(res.Suppressed)))
	sw.Raw(`    "by_reason": `)
	sw.Value(byReason, "    ")
	sw.Raw(",\n")
	sw.Raw(`    "findings": `)
	sw.List(len(res.Suppressed), "    ", func(i int) any { return newSuppressedFinding(res.Suppressed[i]) })
	sw.Raw("\n  }\n}\n")
	if err := sw.Err(); err != nil {
		return err
	}
	return bw.Flush()
}

// field writes a top-level member that is not the last.
func field(s *JSONStream, name string, v any) {
	s.Raw(`  "` + name + `": `)
	s.Value(v, "  ")
	s.Raw(",\n")
}
