package scanner

import (
	"bytes"
	"sort"

	"github.com/keyward/keyward/patterns"
)

// Limits. Each is a named constant with its reason, so that a reviewer can
// weigh it and a user can find it in the README.
const (
	// DefaultMaxFileSize bounds what one worker holds in memory. Larger
	// files are reported as skipped, never dropped silently; --max-file-size
	// raises it.
	DefaultMaxFileSize = 100 << 20

	// contextWindow is how far past a "secret" or "token" keyword the value
	// may start: room for `"SecretAccessKey": aws.String(` and the like,
	// without wandering into the next statement of a minified file.
	contextWindow = 160

	// pairWindow is how far apart, in bytes, a key ID and its secret may be
	// and still be paired: a few lines of an ini profile, an .env block or a
	// CSV row, but not the next profile of a long credentials file.
	pairWindow = 400

	// maxBase64Run bounds a base64 run decoded in search of a key, so one
	// huge embedded blob cannot cost more than a bounded amount of work.
	maxBase64Run = 64 << 10

	// maxDecodeDepth is how many layers of encoding are peeled: one level of
	// base64 catches Kubernetes Secrets and encoded config blobs; deeper
	// nesting is rare and each level multiplies the work.
	maxDecodeDepth = 1

	// minTokenLen is the shortest value taken for an STS session token; real
	// ones are several hundred characters.
	minTokenLen = 100

	// maxTokenLen bounds a session token run, for minified files that put
	// megabytes of base64 on one line.
	maxTokenLen = 8192

	// maxStackRules is how many regexp rules' liveness scanView keeps on
	// the stack: the built-in table holds about thirty; a project's custom
	// rules beyond that cost an allocation per content.
	maxStackRules = 64
)

// Options configure an Engine. The zero value scans for every built-in rule with
// the default limits.
type Options struct {
	// Rules to run; nil means patterns.All().
	Rules []patterns.Rule
	// MaxFileSize is the largest file or blob scanned; 0 means
	// DefaultMaxFileSize.
	MaxFileSize int64
	// NoIgnore scans files that .gitignore would exclude.
	NoIgnore bool
	// Workers is how many files (or a range's commits) are scanned at once;
	// 0 means GOMAXPROCS.
	Workers int
	// Filter holds a project's suppressions (see allow.go); Scan marks the
	// findings it covers and Run moves them out of the Result (see
	// suppress.go). Nil still honours inline keyward:allow comments.
	Filter *Filter
	// Baseline accepts known findings in Run; nil means none.
	Baseline *Baseline
	// BaselineDetail names the baseline in the suppressions it makes.
	BaselineDetail string
	// Root is the repository root configs and baselines are relative to;
	// Run makes the paths of sources that name files as given (Paths)
	// relative to it. "" leaves them as they are.
	Root string
}

// Engine runs rules over content. It is safe for concurrent use.
type Engine struct {
	opts   Options
	keyID  *patterns.Rule
	secret *patterns.Rule
	token  *patterns.Rule
	regexp []*patterns.Rule

	// planner builds the sweep's plans, one per set of roles, and adapts
	// them to the content met (see plan.go and sweep.go).
	planner planner
	// bare serves the history sweep's delta-aware keyword tracking
	// (deltakw.go); noTrack turns tracking off, for the tests that
	// compare it with searching every blob whole.
	bare    barePlans
	noTrack bool
	// diffByName makes range scans diff trees as before the merge-join
	// (trees.go), for the tests that compare the two.
	diffByName bool

	// archiveBudget overrides maxArchiveExpanded when set (fuzz tests
	// bound memory with it).
	archiveBudget int64
}

// New returns an Engine for opts.
func New(opts Options) *Engine {
	if opts.Rules == nil {
		opts.Rules = patterns.All()
	}
	if opts.MaxFileSize <= 0 {
		opts.MaxFileSize = DefaultMaxFileSize
	}
	e := &Engine{opts: opts}
	for i := range opts.Rules {
		r := &opts.Rules[i]
		switch r.Matcher {
		case patterns.MatchKeyID:
			e.keyID = r
		case patterns.MatchSecret:
			e.secret = r
		case patterns.MatchSessionToken:
			e.token = r
		case patterns.MatchRegexp:
			if r.Regexp != nil {
				e.regexp = append(e.regexp, r)
			}
		}
	}
	return e
}

// MaxFileSize is the engine's size limit in bytes.
func (e *Engine) MaxFileSize() int64 { return e.opts.MaxFileSize }

// Scan returns the findings in data. It does no I/O and never fails: bad
// input yields no findings, not an error.
func (e *Engine) Scan(data []byte, prov Provenance) []Finding {
	return e.scan(data, prov, nil)
}

// hitFinder finds where each finder starts in data and which regexp rules
// are live. nil means the engine's sweep; the differential test supplies
// an independent one and shares everything else.
type hitFinder func(data []byte, roles role, live []bool) sweepHits

// scan is Scan with the hit finder as a parameter.
func (e *Engine) scan(data []byte, prov Provenance, find hitFinder) []Finding {
	var fs []Finding
	if view, order, ok := utf16View(data); ok {
		// Lines and columns count code units, located in the view: a 0x0A
		// byte can sit inside a non-ASCII code unit of the original.
		enc := EncUTF16LE
		if order.big {
			enc = EncUTF16BE
		}
		fs = e.scanView(view, prov, 0, find)
		locate(view, fs)
		e.mark(view, fs)
		for i := range fs {
			f := &fs[i]
			f.Start, f.End = order.origin(f.Start), order.origin(f.End)
			if f.Encoding == EncPlain {
				f.Encoding = enc
			}
		}
		// The bytes as they are, too: a byte-order mark or a UTF-16
		// opening says nothing about the rest, and a UTF-16 log with ASCII
		// lines appended, or a stray FF FE before ASCII text, once hid
		// every ASCII key after it (issue 10). What the UTF-16 view found
		// is not reported again.
		raw := e.scanView(data, prov, 0, find)
		locate(data, raw)
		e.mark(data, raw)
		var seen spanIndex
		for _, f := range fs {
			seen.add(candidate{start: f.Start, end: f.End})
		}
		for _, f := range raw {
			if !seen.overlaps(candidate{start: f.Start, end: f.End}) {
				fs = append(fs, f)
			}
		}
	} else {
		fs = e.scanView(data, prov, 0, find)
		locate(data, fs)
		e.mark(data, fs)
	}
	sort.SliceStable(fs, func(i, j int) bool { return fs[i].Start < fs[j].Start })
	return fs
}

// candidate is a match before pairing: a span of the content and the value
// it decodes to.
type candidate struct {
	start, end int
	value      string
	enc        Encoding
	context    bool // named by a context keyword rather than found by proximity
	used       bool
}

// scanView finds everything in data, whose offsets are final except for
// the UTF-16 mapping Scan applies afterwards.
func (e *Engine) scanView(data []byte, prov Provenance, depth int, find hitFinder) []Finding {
	roles := e.roles()
	if depth >= maxDecodeDepth {
		roles &^= roleBase64
	}
	var lbuf [maxStackRules]bool
	live := lbuf[:0]
	if len(e.regexp) > len(lbuf) {
		live = make([]bool, len(e.regexp))
	} else {
		live = lbuf[:len(e.regexp)]
	}
	// One round of passes finds where every finder starts (see sweep.go).
	var h sweepHits
	if find == nil {
		h = e.sweep(data, roles, e.regexp, live)
	} else {
		h = find(data, roles, live)
	}

	keys := h.keys
	var secrets, tokens []candidate
	var decoded []Finding
	if depth < maxDecodeDepth {
		// Base64 values that are exactly a key ID join the key list, so a
		// Kubernetes Secret's ID pairs with its secret like plain text does.
		var b64keys []candidate
		b64keys, decoded = e.findBase64(data, h.base64At, prov, depth, find)
		keys = append(keys, b64keys...)
	}
	if e.secret != nil {
		secrets = e.findContextSecrets(data, h.secretKw)
		secrets = append(secrets, e.findNearbySecrets(data, keys, secrets)...)
	}
	if e.token != nil {
		tokens = e.findTokens(data, h.tokenKw, keys)
	}
	fs := e.pair(data, prov, keys, secrets, tokens)
	fs = append(fs, decoded...)
	fs = append(fs, e.findRegexps(data, prov, live)...)
	return fs
}

// pair joins each key ID with the nearest unused secret (and, for
// temporary keys, token) within pairWindow, because the responder can only
// validate a pair; what stays unpaired is reported alone if a context
// keyword named it.
func (e *Engine) pair(data []byte, prov Provenance, keys, secrets, tokens []candidate) []Finding {
	var fs []Finding
	secretIdx, tokenIdx := newNearIndex(secrets), newNearIndex(tokens)
	for i, k := range keys {
		if i > MaxFindingsPerContent {
			// Past the per-content cap (caps.go): one more than the cap
			// says the cap was passed without holding a finding per key.
			break
		}
		f := Finding{
			RuleID:      e.keyID.ID,
			Description: e.keyID.Description,
			Provenance:  prov,
			Start:       k.start,
			End:         k.end,
			KeyID:       k.value,
			Encoding:    k.enc,
		}
		f.KeyKind = string(patterns.KindOf(k.value))
		if acct, ok := patterns.AccountID(k.value); ok {
			f.AccountID = acct
			_, f.Canary = patterns.CanaryAccount(acct)
		}
		if s := secretIdx.nearest(data, k); s != nil {
			s.used = true
			f.Secret = NewSecret(s.value)
			f.secretStart = s.start
		}
		if f.KeyKind == string(patterns.Temporary) {
			if t := tokenIdx.nearest(data, k); t != nil {
				t.used = true
				f.SessionToken = NewSecret(t.value)
			}
		}
		f.Fingerprint = fingerprint(f.RuleID, prov.Path, f.KeyID)
		fs = append(fs, f)
	}
	for _, s := range secrets {
		if s.used || !s.context {
			continue
		}
		f := Finding{
			RuleID: e.secret.ID, Description: e.secret.Description, Provenance: prov,
			Start: s.start, End: s.end, Secret: NewSecret(s.value), Encoding: s.enc,
		}
		f.secretStart = s.start
		f.Fingerprint = fingerprint(f.RuleID, prov.Path, s.value)
		fs = append(fs, f)
	}
	for _, t := range tokens {
		if t.used || !t.context {
			continue
		}
		f := Finding{
			RuleID: e.token.ID, Description: e.token.Description, Provenance: prov,
			Start: t.start, End: t.end, SessionToken: NewSecret(t.value), Encoding: t.enc,
		}
		f.Fingerprint = fingerprint(f.RuleID, prov.Path, t.value)
		fs = append(fs, f)
	}
	return fs
}

// nearIndex finds, for a key, the unused candidate nearest to it. The
// candidates are looked up by start offset in a sorted view, so pairing
// costs the candidates within reach of each key, not all of them: a CSV
// of many key pairs pairs in linear time (issue 10; it was quadratic).
type nearIndex struct {
	cs     []candidate
	order  []int // indices into cs by start
	maxLen int   // longest candidate, bounding how far before a key one may start
}

func newNearIndex(cs []candidate) nearIndex {
	x := nearIndex{cs: cs, order: make([]int, len(cs))}
	for i := range cs {
		x.order[i] = i
		x.maxLen = max(x.maxLen, cs[i].end-cs[i].start)
	}
	sort.SliceStable(x.order, func(a, b int) bool { return cs[x.order[a]].start < cs[x.order[b]].start })
	return x
}

// nearest returns the unused candidate closest to k within pairWindow,
// preferring one after the key (ini and env files name the ID first), and
// among equals the one listed first. A candidate in another ini section is
// never taken: a profile that holds only a key ID (its secret comes from
// credential_process or SSO) must not borrow the next profile's secret,
// which would also leave that profile's own key unpaired.
func (x nearIndex) nearest(data []byte, k candidate) *candidate {
	var best *candidate
	bestDist, bestIdx := pairWindow+1, len(x.cs)
	// A candidate within reach ends at most pairWindow before the key,
	// so it starts no earlier than that minus the longest candidate.
	from := k.start - pairWindow - x.maxLen
	lo := sort.Search(len(x.order), func(i int) bool { return x.cs[x.order[i]].start >= from })
	for _, i := range x.order[lo:] {
		c := &x.cs[i]
		if c.start > k.end+pairWindow {
			break
		}
		if c.used {
			continue
		}
		d := c.start - k.end
		if c.start < k.start {
			d = k.start - c.end + 1 // a secret before its ID loses ties
		}
		if d >= 0 && (d < bestDist || d == bestDist && i < bestIdx) && !crossesSection(data, min(k.start, c.start), max(k.end, c.end)) {
			best, bestDist, bestIdx = c, d, i
		}
	}
	return best
}

// crossesSection reports whether a line of data[from:to] is an ini or TOML
// section header such as "[profile prod]": a line that is nothing but a
// bracketed name, so JSON and YAML arrays ("[", `["a", "b"]`) are not
// taken for one.
func crossesSection(data []byte, from, to int) bool {
	for p := from; p < to; {
		nl := bytes.IndexByte(data[p:to], '\n')
		if nl < 0 {
			return false
		}
		p += nl + 1
		line := data[p:]
		if e := bytes.IndexByte(line, '\n'); e >= 0 {
			line = line[:e]
		}
		if isSectionHeader(bytes.TrimSpace(line)) {
			return true
		}
	}
	return false
}

func isSectionHeader(line []byte) bool {
	if len(line) < 3 || line[0] != '[' || line[len(line)-1] != ']' {
		return false
	}
	for _, c := range line[1 : len(line)-1] {
		if !(isWordByte(c) || c == ' ' || c == '-' || c == '_' || c == '.' || c == ':' || c == '@' || c == '/') {
			return false
		}
	}
	return true
}

// locate fills Line, Column and SecretLine from offsets in one pass over
// the content's newlines, in offset order: counting from the start for each
// finding would make a file with many findings quadratic.
func locate(data []byte, fs []Finding) {
	if len(fs) == 0 {
		return
	}
	type mark struct {
		off int
		set func(line, col int)
	}
	marks := make([]mark, 0, 2*len(fs))
	for i := range fs {
		f := &fs[i]
		marks = append(marks, mark{f.Start, func(l, c int) { f.Line, f.Column = l, c }})
		if !f.Secret.IsZero() && f.secretStart >= 0 && f.SecretLine == 0 {
			marks = append(marks, mark{f.secretStart, func(l, _ int) { f.SecretLine = l }})
		}
	}
	sort.Slice(marks, func(i, j int) bool { return marks[i].off < marks[j].off })
	line, lineStart, pos := 1, 0, 0
	for _, m := range marks {
		off := min(m.off, len(data))
		if off > pos {
			// Count, not IndexByte per line: one vectorised sweep per gap
			// between findings instead of a call per line.
			seg := data[pos:off]
			if n := bytes.Count(seg, []byte{'\n'}); n > 0 {
				line += n
				lineStart = pos + bytes.LastIndexByte(seg, '\n') + 1
			}
			pos = off
		}
		m.set(line, off-lineStart+1)
	}
}

func lineOf(data []byte, off int) int {
	if off > len(data) {
		off = len(data)
	}
	return bytes.Count(data[:off], []byte{'\n'}) + 1
}
