package main

import (
	"encoding/json"
	"testing"

	"github.com/keyward/keyward/scanner"
)

// TestReportPathBytes: a path that is not valid UTF-8 survives the JSON
// report, so verify --report finds the file again (issue 10: it became
// U+FFFD); kinds survive, and a report from before kinds reads as before.
func TestReportPathBytes(t *testing.T) {
	raw := "dir/a\xffb.ini"
	rr := &runResult{Result: &scanner.Result{Findings: []scanner.Finding{
		{RuleID: "r", Provenance: scanner.Provenance{Path: raw}},
		{RuleID: "r", Provenance: scanner.Provenance{Path: scanner.TagMessagePath, Kind: scanner.KindTagMessage, Ref: "v1"}},
	}}}
	data, err := json.Marshal(toJSON(rr))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := parseScanReport(data)
	if err != nil {
		t.Fatal(err)
	}
	if p := rep.Findings[0].provenance(); p.Path != raw || p.KindOrFile() != scanner.KindFile {
		t.Errorf("path %q kind %q, want %q file", p.Path, p.Kind, raw)
	}
	if p := rep.Findings[1].provenance(); p.Kind != scanner.KindTagMessage || p.Ref != "v1" || !rep.Findings[1].Message {
		t.Errorf("tag finding read back as %+v", p)
	}
	old, err := parseScanReport([]byte(`{"schema_version":1,"findings":[{"rule_id":"r","path":"commit-message","commit":"abc","message":true}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if p := old.Findings[0].provenance(); p.Kind != scanner.KindCommitMessage {
		t.Errorf("old report's message read as kind %q", p.Kind)
	}
}
