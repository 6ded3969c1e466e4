package scanner

import (
	"github.com/keyward/keyward/patterns"
)

// findRegexps runs every regexp rule that live marks as having a keyword
// in data. The keyword check for all rules together is one prefilter (see
// liveRules), run by the sweep: a fraction of the regexps' cost and of
// checking each rule in turn.
func (e *Engine) findRegexps(data []byte, prov Provenance, live []bool) []Finding {
	var fs []Finding
	for i, r := range e.regexp {
		if live[i] {
			fs = append(fs, matchRegexp(r, data, prov)...)
		}
	}
	return dropSameSpan(fs)
}

// dropSameSpan keeps the first of findings that report the same bytes:
// a GCP service-account file's key is also a PEM private key, and one
// credential should be one finding, under the rule listed first (the more
// specific one; see patterns.Others).
func dropSameSpan(fs []Finding) []Finding {
	if len(fs) < 2 {
		return fs
	}
	seen := make(map[[2]int]bool, len(fs))
	out := fs[:0]
	for _, f := range fs {
		span := [2]int{f.Start, f.End}
		if !seen[span] {
			seen[span] = true
			out = append(out, f)
		}
	}
	return out
}

// matchRegexp runs r's regexp over data and keeps the matches that are
// neither allowlisted nor under the rule's entropy floor.
func matchRegexp(r *patterns.Rule, data []byte, prov Provenance) []Finding {
	var fs []Finding
	re := r.Regexp.Regexp()
	secretIdx := re.SubexpIndex("secret")
	for _, m := range re.FindAllSubmatchIndex(data, -1) {
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
			Start: start, End: end, Secret: NewSecret(string(v)), secretStart: start,
			Fingerprint: fingerprint(r.ID, prov.Path, string(v)),
		})
	}
	return fs
}
