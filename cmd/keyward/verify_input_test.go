package main

import "testing"

// FuzzParseScanReport feeds arbitrary bytes to the scan report reader that
// verify and respond use: it must never panic and must only accept schema
// version 1.
func FuzzParseScanReport(f *testing.F) {
	f.Add([]byte(`{"schema_version":1,"tool":{"name":"keyward","version":"dev"},"findings":[{"rule_id":"aws-access-key-id","path":"a/b.env","line":3,"key_id":"AKIAIOSFODNN7EXAMPLE","secret":"abcd…(40 chars)","secret_redacted":true,"fingerprint":"00112233445566778899aabbccddeeff","commit":""}],"skipped":[],"errors":[],"stats":{"files":1}}`))
	f.Add([]byte(`{"schema_version":2,"findings":[]}`))
	f.Add([]byte(`{"findings":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := parseScanReport(data)
		if err != nil {
			return
		}
		if r.SchemaVersion != 1 {
			t.Fatalf("accepted schema %d", r.SchemaVersion)
		}
	})
}
