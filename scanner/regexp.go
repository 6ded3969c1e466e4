package scanner

import (
	"bytes"

	"github.com/keyward/keyward/patterns"
)

// findRegexp runs a regexp rule, but only over content that holds one of
// its keywords: the keyword search is a fraction of the regexp's cost.
func (e *Engine) findRegexp(r *patterns.Rule, data []byte, prov Provenance) []Finding {
	if len(r.Keywords) > 0 && !containsAnyFold(data, r.Keywords) {
		return nil
	}
	var fs []Finding
	secretIdx := r.Regexp.SubexpIndex("secret")
	for _, m := range r.Regexp.FindAllSubmatchIndex(data, -1) {
		start, end := m[0], m[1]
		if secretIdx > 0 && m[2*secretIdx] >= 0 {
			start, end = m[2*secretIdx], m[2*secretIdx+1]
		}
		v := data[start:end]
		if r.Allow.Allowed(v, r.MinEntropy) || (r.MinEntropy > 0 && patterns.Entropy(v) < r.MinEntropy) {
			continue
		}
		fs = append(fs, Finding{
			RuleID: r.ID, Description: r.Description, Provenance: prov,
			Start: start, End: end, Secret: NewSecret(string(v)),
			Fingerprint: fingerprint(r.ID, prov.Path, string(v)),
		})
	}
	return fs
}

// containsAnyFold reports whether data contains any keyword, ignoring
// ASCII case.
func containsAnyFold(data []byte, keywords []string) bool {
	for _, k := range keywords {
		if len(k) == 0 {
			return true
		}
		lower, upper := bytes.ToLower([]byte(k)), bytes.ToUpper([]byte(k))
		// Search for the rarer of the first bytes' cases, then compare
		// folded.
		for _, first := range []byte{lower[0], upper[0]} {
			for i := 0; ; {
				j := bytes.IndexByte(data[i:], first)
				if j < 0 {
					break
				}
				i += j
				if i+len(k) <= len(data) && bytes.EqualFold(data[i:i+len(k)], lower) {
					return true
				}
				i++
			}
			if lower[0] == upper[0] {
				break
			}
		}
	}
	return false
}
