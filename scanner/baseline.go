package scanner

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"sync"
	"time"
)

// DefaultBaselineFile is the baseline's name at the repository root.
const DefaultBaselineFile = ".keyward-baseline.json"

// BaselineVersion is the format version this package reads and writes.
// Fields may be added without changing it; it changes only if a reader of
// this version would misread a newer file.
const BaselineVersion = 1

// maxBaselineSize bounds a baseline read into memory: an entry is about
// 300 bytes, so this is room for tens of thousands of accepted findings
// while a mistaken --baseline pointing at a huge file fails fast.
const maxBaselineSize = 64 << 20

// MaxBaselineSize is the largest baseline file read, for callers that read
// the file themselves (ReadRegularFile).
const MaxBaselineSize = maxBaselineSize

// Baseline is the set of findings a project has accepted, usually its
// history's at the moment keyward was adopted, so that scans report only
// what is new. It holds no secrets: each entry names its credential by
// SHA-256 only, so the file is committed and written 0644 like any other.
//
// Entries match findings by rule, path and secret hash (what a finding's
// Fingerprint is made of), never by line number: moving code does not
// resurrect an accepted finding, and a different secret on an accepted
// line is still reported (both are complaints against gitleaks' ignore
// files). A credential whose accepted path no longer exists is accepted at
// any path, so a renamed file keeps its entry; see Match.
type Baseline struct {
	Version int       `json:"version"`
	Created time.Time `json:"created"`
	// Updated is when entries were last added or pruned.
	Updated time.Time       `json:"updated,omitzero"`
	Entries []BaselineEntry `json:"entries"`
}

// BaselineEntry is one accepted finding.
type BaselineEntry struct {
	// Fingerprint is the finding's fingerprint as in JSON reports, for
	// cross-reference; matching uses the three fields below.
	Fingerprint string `json:"fingerprint"`
	RuleID      string `json:"rule_id"`
	// Path is slash-separated and relative to the repository root.
	Path         string `json:"path"`
	SecretSHA256 string `json:"secret_sha256"`
	// Commit and Line say where the finding was first seen, for people
	// reading the file; neither takes part in matching.
	Commit string `json:"commit,omitempty"`
	Line   int    `json:"line,omitempty"`
	// Kind is the finding's Provenance.Kind when it is not a file, so that
	// a message or standard input is known for one without looking at its
	// path; older baselines lack it and are read by path (pinned).
	Kind Kind `json:"kind,omitempty"`
}

// pinned reports whether the entry names content with no file path that can
// move: a commit or tag message, or standard input.
func (e BaselineEntry) pinned() bool {
	if e.Kind != "" && e.Kind != KindFile {
		return Provenance{Kind: e.Kind, Path: e.Path}.Pinned()
	}
	// Baselines written before kinds existed name these by path.
	return e.Path == MessagePath || e.Path == "-"
}

// ErrBaselineVersion is returned for a baseline written by a newer keyward.
var ErrBaselineVersion = errors.New("unsupported baseline version")

// errBadBaseline is wrapped by ParseBaseline for malformed files.
var errBadBaseline = errors.New("malformed baseline")

var hexDigest = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[0-9a-f]{64}$`) })

// ParseBaseline decodes and checks a baseline file's contents.
func ParseBaseline(data []byte) (*Baseline, error) {
	if len(data) > maxBaselineSize {
		return nil, fmt.Errorf("parse baseline: %w: larger than %d bytes", errBadBaseline, maxBaselineSize)
	}
	var b Baseline
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&b); err != nil {
		return nil, fmt.Errorf("parse baseline: %w: %v", errBadBaseline, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("parse baseline: %w: data after the JSON object", errBadBaseline)
	}
	if b.Version != BaselineVersion {
		return nil, fmt.Errorf("parse baseline: %w %d (this keyward reads version %d)", ErrBaselineVersion, b.Version, BaselineVersion)
	}
	for i, e := range b.Entries {
		switch {
		case e.RuleID == "":
			return nil, fmt.Errorf("parse baseline: %w: entries[%d]: no rule_id", errBadBaseline, i)
		case e.Path == "":
			return nil, fmt.Errorf("parse baseline: %w: entries[%d]: no path", errBadBaseline, i)
		case !hexDigest().MatchString(e.SecretSHA256):
			return nil, fmt.Errorf("parse baseline: %w: entries[%d]: secret_sha256 is not a lower-case hex SHA-256", errBadBaseline, i)
		}
	}
	if b.Entries == nil {
		b.Entries = []BaselineEntry{}
	}
	return &b, nil
}

// Marshal encodes the baseline, entries sorted, so that a committed
// baseline changes only where findings changed.
func (b *Baseline) Marshal() ([]byte, error) {
	b.sort()
	if b.Entries == nil {
		b.Entries = []BaselineEntry{}
	}
	data, err := json.MarshalIndent(b, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode baseline: %w", err)
	}
	return append(data, '\n'), nil
}

// NewBaseline returns an empty baseline created at now.
func NewBaseline(now time.Time) *Baseline {
	return &Baseline{Version: BaselineVersion, Created: now.UTC().Truncate(time.Second), Entries: []BaselineEntry{}}
}

// EntryFor describes a finding as a baseline entry; rel maps its path to
// the repository-relative form (nil: as it is).
func EntryFor(f *Finding, rel PathFunc) BaselineEntry {
	p := f.Path
	if rel != nil {
		p = rel(p)
	}
	kind := f.Kind
	if kind == KindFile {
		kind = ""
	}
	return BaselineEntry{
		Kind:         kind,
		Fingerprint:  fingerprint(f.RuleID, p, f.secretMaterial()),
		RuleID:       f.RuleID,
		Path:         p,
		SecretSHA256: f.SecretHash(),
		Commit:       f.Commit,
		Line:         f.Line,
	}
}

type entryKey struct{ rule, path, hash string }

func (e BaselineEntry) key() entryKey { return entryKey{e.RuleID, e.Path, e.SecretSHA256} }

// Add adds the entries not already in the baseline (by rule, path and
// secret hash) and returns how many it added; the first of duplicates
// wins, so the earliest commit and line are kept when entries come in
// history order.
func (b *Baseline) Add(es []BaselineEntry) int {
	have := map[entryKey]bool{}
	for _, e := range b.Entries {
		have[e.key()] = true
	}
	n := 0
	for _, e := range es {
		if have[e.key()] {
			continue
		}
		have[e.key()] = true
		b.Entries = append(b.Entries, e)
		n++
	}
	return n
}

// BaselineMatch says how findings meet entries.
type BaselineMatch struct {
	// Rel maps a finding's path to the repository-relative form.
	Rel PathFunc
	// Exists reports whether a repository-relative path is still present
	// (in the working tree). An entry whose path is gone accepts its
	// credential (same rule and secret hash) at any other path: the file
	// was renamed or the code moved to another file. While the path
	// exists, the same credential at a new path is a copy and is reported.
	// Nil takes every path for gone.
	Exists func(path string) bool
	// Detail is reported with each suppression, usually the file's name.
	Detail string
}

// matcher finds the entry, if any, that accepts a finding.
type matcher struct {
	exact map[entryKey]int
	moved map[[2]string][]int // (rule, hash) -> entries whose path is gone
}

func (b *Baseline) matcher(m BaselineMatch) *matcher {
	mt := &matcher{exact: map[entryKey]int{}, moved: map[[2]string][]int{}}
	for i, e := range b.Entries {
		if _, ok := mt.exact[e.key()]; !ok {
			mt.exact[e.key()] = i
		}
		// A commit message or standard input is not a file that can move.
		if e.pinned() {
			continue
		}
		if m.Exists == nil || !m.Exists(e.Path) {
			k := [2]string{e.RuleID, e.SecretSHA256}
			mt.moved[k] = append(mt.moved[k], i)
		}
	}
	return mt
}

// match returns the index of the entry accepting e, or -1.
func (mt *matcher) match(e BaselineEntry) int {
	if i, ok := mt.exact[e.key()]; ok {
		return i
	}
	if e.pinned() {
		return -1
	}
	if is := mt.moved[[2]string{e.RuleID, e.SecretSHA256}]; len(is) > 0 {
		return is[0]
	}
	return -1
}

// Apply moves the findings the baseline accepts from res.Findings to
// res.Suppressed. It is a filter over a Result, so it works the same for
// files, staged changes, commit ranges and history sweeps.
func (b *Baseline) Apply(res *Result, m BaselineMatch) {
	if b == nil || res == nil || len(b.Entries) == 0 {
		return
	}
	mt := b.matcher(m)
	res.sift(func(f *Finding) bool {
		if f.Suppressed != nil {
			return false
		}
		e := EntryFor(f, m.Rel)
		if i := mt.match(e); i >= 0 {
			detail := m.Detail
			if p := b.Entries[i].Path; p != e.Path {
				detail += " (moved from " + p + ")"
			}
			f.Suppressed = &Suppression{Reason: SuppressBaseline, Detail: detail}
		}
		return false
	})
}

// Prune removes the entries that accept none of found, the findings of a
// fresh sweep, matched exactly as Apply would, and returns them. So
// "stale" is defined by the sweep it is given: against a history sweep an
// entry goes only once its credential is gone from every ref (after a
// history rewrite); against a working-tree scan, once the credential is
// gone from the files, which suits a baseline used only by pre-commit and
// path scans.
func (b *Baseline) Prune(found []BaselineEntry, m BaselineMatch) []BaselineEntry {
	mt := b.matcher(m)
	used := make([]bool, len(b.Entries))
	for _, e := range found {
		if i, ok := mt.exact[e.key()]; ok {
			used[i] = true
			continue
		}
		// A moved credential keeps every gone-path entry that accepts it.
		if !e.pinned() {
			for _, i := range mt.moved[[2]string{e.RuleID, e.SecretSHA256}] {
				used[i] = true
			}
		}
	}
	var kept, removed []BaselineEntry
	for i, e := range b.Entries {
		if used[i] {
			kept = append(kept, e)
		} else {
			removed = append(removed, e)
		}
	}
	if kept == nil {
		kept = []BaselineEntry{}
	}
	b.Entries = kept
	return removed
}

func (b *Baseline) sort() {
	sort.SliceStable(b.Entries, func(i, j int) bool {
		x, y := b.Entries[i], b.Entries[j]
		if x.Path != y.Path {
			return x.Path < y.Path
		}
		if x.RuleID != y.RuleID {
			return x.RuleID < y.RuleID
		}
		return x.SecretSHA256 < y.SecretSHA256
	})
}
