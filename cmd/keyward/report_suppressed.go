package main

// jsonSuppressed is the report's account of withheld findings. It never
// holds a secret, only what is needed to find and review each one: a
// baseline or allowlist that hides too much should be visible in CI logs.
type jsonSuppressed struct {
	Count    int                     `json:"count"`
	ByReason map[string]int          `json:"by_reason"`
	Findings []jsonSuppressedFinding `json:"findings"`
}

type jsonSuppressedFinding struct {
	RuleID       string `json:"rule_id"`
	Path         string `json:"path"`
	Line         int    `json:"line"`
	Column       int    `json:"column"`
	KeyID        string `json:"key_id"`
	Fingerprint  string `json:"fingerprint"`
	SecretSHA256 string `json:"secret_sha256"`
	Commit       string `json:"commit"`
	Reason       string `json:"reason"`
	Detail       string `json:"detail"`
}

func toJSONSuppressed(rr *runResult) jsonSuppressed {
	js := jsonSuppressed{Count: len(rr.Suppressed), ByReason: map[string]int{}, Findings: []jsonSuppressedFinding{}}
	for r, n := range rr.SuppressedByReason() {
		js.ByReason[string(r)] = n
	}
	for _, f := range rr.Suppressed {
		jf := jsonSuppressedFinding{
			RuleID: f.RuleID, Path: f.Path, Line: f.Line, Column: f.Column, KeyID: f.KeyID,
			Fingerprint: f.Fingerprint, SecretSHA256: f.SecretHash(), Commit: f.Commit,
		}
		if s := f.Suppressed; s != nil {
			jf.Reason, jf.Detail = string(s.Reason), s.Detail
		}
		js.Findings = append(js.Findings, jf)
	}
	return js
}
