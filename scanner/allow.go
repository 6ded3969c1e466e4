package scanner

import (
	"bytes"
	"path/filepath"
	"sort"
	"strings"

	"github.com/keyward/keyward/scanner/config"
)

// Suppression says why a finding is withheld from the report. Suppressed
// findings are counted and listed (without secrets) rather than dropped,
// so a reviewer can see how much a config or baseline hides.
type Suppression struct {
	Reason SuppressReason
	// Detail is what the user wrote: the reason after keyward:allow, the
	// allowlist's description, or the baseline file.
	Detail string
}

// SuppressReason names the mechanism that withheld a finding; the values
// are keys of the JSON report's suppressed.by_reason.
type SuppressReason string

// Suppression mechanisms, in the order they are consulted.
const (
	// SuppressInline is a keyward:allow comment on the finding's line.
	SuppressInline SuppressReason = "inline"
	// SuppressAllowlist is an [[allowlist]] entry in .keyward.toml.
	SuppressAllowlist SuppressReason = "allowlist"
	// SuppressBaseline is an entry in the baseline file.
	SuppressBaseline SuppressReason = "baseline"
)

// AllowMarker is the inline allow comment. It is matched anywhere on the
// line, so it works behind any language's comment syntax (#, //, --, ;,
// <!-- -->); text after it is the reason.
const AllowMarker = "keyward:allow"

// maxReasonLen bounds the reason kept from an inline comment: it is
// printed in summaries and stored in reports, and a minified file can put
// megabytes after the marker.
const maxReasonLen = 200

// Filter is a project's suppressions, built from its .keyward.toml. The
// engine applies the parts that need the content (inline comments, line
// and match regexps) while scanning, because only then is the text at
// hand for every source, staged blobs and history included; Apply does
// the parts that need the final path once a source is done.
type Filter struct {
	// Allow are the config's allowlist entries.
	Allow []config.AllowEntry
	// RulePaths limits custom rules to paths (config.Config.RulePaths).
	RulePaths map[string][]config.Glob
	// NoInline ignores keyward:allow comments, for an audit that wants
	// everything a developer waved through. A nil *Filter honours them.
	NoInline bool
}

// mark sets Suppressed on findings that an inline comment or a
// content-based allowlist condition covers. data is the content the
// findings' Start, Line and Column refer to.
func (e *Engine) mark(data []byte, fs []Finding) {
	if len(fs) == 0 {
		return
	}
	f := e.opts.Filter
	inline := (f == nil || !f.NoInline) && bytes.Contains(data, []byte(AllowMarker))
	var allow []config.AllowEntry
	if f != nil {
		allow = f.Allow
	}
	if !inline && len(allow) == 0 {
		return
	}
	for i := range fs {
		x := &fs[i]
		if x.Suppressed != nil {
			continue
		}
		lines := findingLines(data, x)
		if inline {
			for _, l := range lines {
				if reason, ok := allowComment(l); ok {
					x.Suppressed = &Suppression{Reason: SuppressInline, Detail: scrub(reason, x)}
					break
				}
			}
			if x.Suppressed != nil {
				continue
			}
		}
		for _, a := range allow {
			if !appliesTo(a, x.RuleID) {
				continue
			}
			if contentAllowed(a, data, lines, x) {
				x.Suppressed = &Suppression{Reason: SuppressAllowlist, Detail: a.Description}
				break
			}
		}
	}
}

// findingLines returns the lines the finding's match spans (one, except
// for a match that crosses a newline). For a paired finding that is the
// key ID's line: a comment beside the secret does not excuse the key.
func findingLines(data []byte, x *Finding) [][]byte {
	start := x.Start - (x.Column - 1)
	if start < 0 || start > x.Start || x.Start > len(data) {
		start = bytes.LastIndexByte(data[:min(x.Start, len(data))], '\n') + 1
	}
	var out [][]byte
	for p := start; p <= len(data); {
		end := bytes.IndexByte(data[p:], '\n')
		if end < 0 {
			end = len(data)
		} else {
			end += p
		}
		out = append(out, bytes.TrimSuffix(data[p:end], []byte{'\r'}))
		if end >= x.End || end >= len(data) {
			break
		}
		p = end + 1
	}
	return out
}

// allowComment finds the marker on a line and returns the reason after it.
func allowComment(line []byte) (string, bool) {
	for off := 0; ; {
		i := bytes.Index(line[off:], []byte(AllowMarker))
		if i < 0 {
			return "", false
		}
		i += off
		after := line[i+len(AllowMarker):]
		if len(after) > 0 && (isWordByte(after[0]) || after[0] == '_' || after[0] == '-' && len(after) > 1 && isWordByte(after[1])) {
			off = i + len(AllowMarker) // keyward:allowed, keyward:allow-list
			continue
		}
		r := strings.TrimSpace(string(after))
		r = strings.TrimLeft(r, ":-= ")
		for _, closer := range []string{"-->", "*/", "%>", "#}"} {
			r = strings.TrimSuffix(r, closer)
		}
		r = strings.TrimSpace(r)
		if len(r) > maxReasonLen {
			r = r[:maxReasonLen] + "…"
		}
		return strings.ToValidUTF8(r, "\uFFFD"), true
	}
}

// scrub keeps secrets out of a reason written on the secret's own line
// ("keyward:allow wJalr..." would otherwise copy the secret into reports).
func scrub(reason string, x *Finding) string {
	for _, s := range []Secret{x.Secret, x.SessionToken} {
		if !s.IsZero() && strings.Contains(reason, s.Reveal()) {
			reason = strings.ReplaceAll(reason, s.Reveal(), s.Redacted())
		}
	}
	return reason
}

func appliesTo(a config.AllowEntry, ruleID string) bool {
	if len(a.Rules) == 0 {
		return true
	}
	for _, r := range a.Rules {
		if r == ruleID {
			return true
		}
	}
	return false
}

// contentAllowed checks an entry's conditions that need the content: a
// regexp on the lines, a regexp on the match, a hash of the credential.
func contentAllowed(a config.AllowEntry, data []byte, lines [][]byte, x *Finding) bool {
	for _, re := range a.Lines {
		for _, l := range lines {
			if re.Match(l) {
				return true
			}
		}
	}
	if len(a.Regexes) > 0 {
		material := x.secretMaterial()
		var span []byte
		if x.Start >= 0 && x.End <= len(data) && x.Start <= x.End {
			span = data[x.Start:x.End]
		}
		for _, re := range a.Regexes {
			if re.MatchString(material) || (span != nil && string(span) != material && re.Match(span)) {
				return true
			}
		}
	}
	return hashAllowed(a, x)
}

// hashAllowed matches the finding's secret_sha256 (the key ID's hash for a
// pair, as in the JSON report) or, for a pair, the secret's own hash.
func hashAllowed(a config.AllowEntry, x *Finding) bool {
	if len(a.SecretSHA256) == 0 {
		return false
	}
	hs := []string{x.SecretHash()}
	if x.KeyID != "" && !x.Secret.IsZero() {
		hs = append(hs, x.Secret.Hash())
	}
	for _, want := range a.SecretSHA256 {
		for _, h := range hs {
			if h == want {
				return true
			}
		}
	}
	return false
}

// PathFunc maps a finding's path to the slash-separated path relative to
// the repository root that configs and baselines use. Sources report paths
// differently (ScanPaths as given on the command line, git sources relative
// to the root), so the caller, who knows the source, supplies it.
type PathFunc func(path string) string

// Apply finishes filtering a source's result: it applies path conditions
// and custom rules' path scopes, which need the final path, then moves
// every suppressed finding to res.Suppressed. A nil Filter still moves
// findings an inline comment suppressed; a nil rel uses paths as they are.
func (f *Filter) Apply(res *Result, rel PathFunc) {
	if res == nil {
		return
	}
	if rel == nil {
		rel = func(p string) string { return filepath.ToSlash(p) }
	}
	res.sift(func(x *Finding) bool {
		if f == nil || x.Suppressed != nil || x.Pinned() {
			return false
		}
		p := rel(x.Path)
		if gs, ok := f.RulePaths[x.RuleID]; ok && !matchAny(gs, p) {
			return true // the rule does not apply here: not a finding at all
		}
		for _, a := range f.Allow {
			if appliesTo(a, x.RuleID) && matchAny(a.Paths, p) {
				x.Suppressed = &Suppression{Reason: SuppressAllowlist, Detail: a.Description}
				break
			}
		}
		return false
	})
}

// sift is what every suppression mechanism ends with: mark may suppress a
// finding (set its Suppressed) or say it is no finding at all (return
// true); suppressed findings then move to r.Suppressed and the rest keep
// their order, so nothing withheld disappears silently.
func (r *Result) sift(mark func(f *Finding) (drop bool)) {
	kept := r.Findings[:0]
	for _, f := range r.Findings {
		if mark(&f) {
			continue
		}
		if f.Suppressed != nil {
			r.Suppressed = append(r.Suppressed, f)
			continue
		}
		kept = append(kept, f)
	}
	clear(r.Findings[len(kept):])
	r.Findings = kept
	sortSuppressed(r)
}

func matchAny(gs []config.Glob, p string) bool {
	for _, g := range gs {
		if g.Match(p) {
			return true
		}
	}
	return false
}

func sortSuppressed(res *Result) {
	sort.SliceStable(res.Suppressed, func(i, j int) bool {
		a, b := res.Suppressed[i], res.Suppressed[j]
		if a.Path != b.Path {
			return a.Path < b.Path
		}
		return a.Start < b.Start
	})
}

// SuppressedByReason counts res.Suppressed by mechanism, for summaries.
func (r *Result) SuppressedByReason() map[SuppressReason]int {
	m := map[SuppressReason]int{}
	for _, f := range r.Suppressed {
		if f.Suppressed != nil {
			m[f.Suppressed.Reason]++
		}
	}
	return m
}
