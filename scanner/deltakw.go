package scanner

import (
	"bytes"
	"cmp"
	"math/bits"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/keyward/keyward/patterns"
)

// Delta-aware keyword tracking for the history sweep (issue 10, item 5).
//
// The regexp rules' prefilter asks one question of a blob: which rules'
// keywords occur in it. In a packed history almost every blob is a delta
// of another, and almost all of its bytes are copied from that base: on
// git/git 97% of the 8 GB of blob bytes, on tmux 94%, come from delta
// chains whose roots hold the rest. A keyword that lies wholly inside a
// copied range occurs in the base at a known place, so the sweep records
// every keyword occurrence of each blob it resolves and derives a delta's
// occurrences from its base's: the copied occurrences are mapped through
// the copy instructions, and only the inserted bytes, with a keyword's
// length of context around every instruction boundary, are searched. A
// blob's set of live rules is then exactly what a search of the whole blob
// finds (TestDeltaKeywordsMatchFullScan and FuzzDeltaKeywords check it),
// at the cost of the bytes the delta changed. The AWS finders look at
// what surrounds their hits, so they cannot be tracked this way; but each
// hit holds one of a few literals (roleKeywords), which are tracked, and a
// finder whose literals a blob lacks skips the blob.

// maxKeywordOccurrences bounds the occurrences tracked for one blob. A
// file that mentions a keyword tens of thousands of times (a test corpus
// of tokens) would make every delta of it pay to map them all; past the
// bound its deltas are searched whole instead, which is always correct.
const maxKeywordOccurrences = 1 << 14

// kwOcc is one occurrence of a regexp rule's keyword: the keyword is
// data[pos:pos+n] and belongs to e.regexp[rule]. It is kept small (blobs
// over maxTrackedBlob are not tracked) because a delta chain holds one
// list per level while it is resolved.
type kwOcc struct {
	pos, n, rule int32
}

// maxTrackedBlob is the largest blob whose keywords are tracked: offsets
// are 32-bit. Larger ones (only with --max-file-size over 2 GiB) are
// searched whole.
const maxTrackedBlob = 1<<31 - 1

// deltaSeg is one instruction of an applied delta: n bytes at dst in the
// result, copied from src in the base, or inserted literally if src < 0.
type deltaSeg struct {
	dst, n, src int
}

// kwIndex is what keyword tracking needs from the engine's prefilter
// plan: the anchor groups by byte and the longest keyword.
type kwIndex struct {
	plan   *sweepPlan
	group  [256]*anchorGroup
	maxLen int
	// usable is false when a group has too many anchors for masks (a
	// project with many custom keywords sharing a byte): blobs are then
	// searched whole.
	usable bool
	// pairs holds every two-byte sequence inside a keyword (in every case,
	// for a keyword matched ignoring case), a bit per sequence. A keyword
	// that crosses the boundary between two delta instructions holds the
	// bytes either side of it, so a boundary whose bytes are no such pair
	// needs no search: on git/git that rules out most of the 25 million
	// boundaries, whose windows were most of the bytes tracking searched.
	pairs [1 << 16 / 64]uint64
	// nRegexp is how many of the plan's rules are the engine's regexp
	// rules; the rest serve the AWS finders, roleOf[i] for rule nRegexp+i.
	nRegexp int
	roleOf  []role
	// minLen is the shortest keyword's length. From three bytes up, a
	// keyword crossing a boundary also holds the pair before the boundary
	// or the pair after it, which rules out more boundaries.
	minLen int
}

// addPairs records the two-byte sequences of keyword k, in every case
// unless it is matched as written.
func (idx *kwIndex) addPairs(k string, exact bool) {
	for i := 0; i+1 < len(k); i++ {
		for _, a := range caseVariants(k[i], exact) {
			for _, b := range caseVariants(k[i+1], exact) {
				p := uint16(a)<<8 | uint16(b)
				idx.pairs[p>>6] |= 1 << (p & 63)
			}
		}
	}
}

func caseVariants(c byte, exact bool) []byte {
	if exact || lower(c) == upper(c) {
		return []byte{c}
	}
	return []byte{lower(c), upper(c)}
}

// pair reports whether a, b occur in this order in some keyword.
func (idx *kwIndex) pair(a, b byte) bool {
	p := uint16(a)<<8 | uint16(b)
	return idx.pairs[p>>6]&(1<<(p&63)) != 0
}

// mayCross reports whether a keyword may cross the boundary between
// data[b-1] and data[b], that is start before b and end after it. It
// holds both bytes; and, being at least minLen long, when minLen is
// three or more, either the byte before them or the byte after them too.
func (idx *kwIndex) mayCross(data []byte, b int) bool {
	if b <= 0 || b >= len(data) {
		return true // not a boundary inside data: let the window decide
	}
	if !idx.pair(data[b-1], data[b]) {
		return false
	}
	if idx.minLen < 3 {
		return true
	}
	return (b >= 2 && idx.pair(data[b-2], data[b-1])) || (b+1 < len(data) && idx.pair(data[b], data[b+1]))
}

// roleKeywords are, for each AWS finder, literals one of which every hit
// of the finder holds: a key ID opens with its prefix (keyIDAt), the
// secret and token keywords are matched in some case (contextKeyword),
// and a base64 credential run opens with an anchor (hasAnchor). A blob
// that holds none of a finder's literals gives it no hits, so its passes
// can be left out: they are the sweep's commonest bytes ('c' of "cret"
// stops 24 to 28 times per KB of C), and on git/git "secret" occurs in 2%
// of the bytes, key ID prefixes and base64 anchors in fewer. Tracked like
// the regexp rules' keywords, they cost what a delta changed.
// Literals are matched as written where the finder does (the regexp
// makes exactKeywords say so), else ignoring case, which finds a superset.
var roleKeywords = func() []struct {
	r    role
	rule patterns.Rule
} {
	var prefixes, anchors []string
	for _, p := range patterns.Prefixes {
		prefixes = append(prefixes, p.Prefix)
	}
	for _, a := range base64Anchors {
		anchors = append(anchors, string(a))
	}
	// Only their source is read (exactKeywords): never compiled.
	exact := func(ks []string) *patterns.Pattern { return patterns.Lazy("(?:" + strings.Join(ks, "|") + ")") }
	return []struct {
		r    role
		rule patterns.Rule
	}{
		{roleKeyID, patterns.Rule{ID: "role-key-id", Keywords: prefixes, Regexp: exact(prefixes)}},
		{roleSecret, patterns.Rule{ID: "role-secret", Keywords: []string{secretKeyword.head + secretKeyword.tails[0]}}},
		{roleToken, patterns.Rule{ID: "role-token", Keywords: []string{tokenKeyword.head + tokenKeyword.tails[0]}}},
		{roleBase64, patterns.Rule{ID: "role-base64", Keywords: anchors, Regexp: exact(anchors)}},
	}
}()

// kwTracker returns the engine's keyword index for its current plan: the
// regexp rules' keywords, then roleKeywords for the AWS finders it has.
// Occurrences do not depend on the plan (each is a place where a keyword
// is), so those found under one plan serve under the next.
func (e *Engine) kwTracker() *kwIndex {
	ps := e.planner.current()
	ps.kwOnce.Do(func() {
		rules := slices.Clone(e.regexp)
		idx := &kwIndex{usable: true, nRegexp: len(rules)}
		for i := range roleKeywords {
			if e.roles()&roleKeywords[i].r != 0 {
				rules = append(rules, &roleKeywords[i].rule)
				idx.roleOf = append(idx.roleOf, roleKeywords[i].r)
			}
		}
		idx.plan = newSweepPlan(0, rules, ps.rar)
		for i := range idx.plan.groups {
			g := &idx.plan.groups[i]
			idx.usable = idx.usable && g.masked
			idx.group[g.anchors[0].b] = g
			for _, a := range g.anchors {
				idx.maxLen = max(idx.maxLen, len(a.keyword))
				if idx.minLen == 0 || len(a.keyword) < idx.minLen {
					idx.minLen = len(a.keyword)
				}
				idx.addPairs(a.keyword, a.exact)
			}
		}
		ps.kw = idx
	})
	return ps.kw
}

// scanAll finds every keyword occurrence in data, in position order. It
// reports false if there are more than maxKeywordOccurrences.
func (idx *kwIndex) scanAll(data []byte) ([]kwOcc, bool) {
	if len(data) > maxTrackedBlob {
		return nil, false
	}
	var out []kwOcc
	for gi := range idx.plan.groups {
		g := &idx.plan.groups[gi]
		b := g.anchors[0].b
		for j := 0; j < len(data); {
			k := bytes.IndexByte(data[j:], b)
			if k < 0 {
				break
			}
			at := j + k
			j = at + 1
			if out = idx.check(g, data, at, 0, len(data), out); len(out) > maxKeywordOccurrences {
				return nil, false
			}
		}
	}
	return sortOccs(out), true
}

// mask is the anchors to compare at an occurrence. Only masked groups
// are tracked (kwIndex.usable).
func (g *anchorGroup) mask(data []byte, at int) uint64 {
	return g.candidates(data, at)
}

// minVectorWindow is the shortest window searched one vectorised pass
// per anchor byte rather than one byte at a time. A byte costs a table
// lookup and a branch; a pass costs a call and its setup, and there are a
// dozen or more anchor bytes. Inserted text (368 MB of git/git's history)
// comes in runs of a few dozen bytes, where the profile of the git/git
// sweep put passes at twice the cost per byte of the loop.
const minVectorWindow = 256

// scanWindow appends the keyword occurrences in data that start in
// [lo, hi), where hi is the end of data or a boundary between delta
// instructions. Their anchors lie in [lo, hi+maxLen-1), and before hi
// unless a keyword may cross that boundary.
func (idx *kwIndex) scanWindow(data []byte, lo, hi int, out []kwOcc) []kwOcc {
	end := hi
	if hi < len(data) && idx.mayCross(data, hi) {
		end = min(hi+idx.maxLen-1, len(data))
	}
	if end-lo < minVectorWindow {
		for at := lo; at < end; at++ {
			if g := idx.group[data[at]]; g != nil {
				out = idx.check(g, data, at, lo, hi, out)
			}
		}
		return out
	}
	w := data[lo:end]
	for gi := range idx.plan.groups {
		g := &idx.plan.groups[gi]
		b := g.anchors[0].b
		for j := 0; ; {
			k := bytes.IndexByte(w[j:], b)
			if k < 0 {
				break
			}
			out = idx.check(g, data, lo+j+k, lo, hi, out)
			j += k + 1
		}
	}
	return out
}

// check appends the keywords of group g whose anchor is at data[at] and
// that start in [lo, hi).
func (idx *kwIndex) check(g *anchorGroup, data []byte, at, lo, hi int, out []kwOcc) []kwOcc {
	for m := g.mask(data, at); m != 0; m &= m - 1 {
		a := &g.anchors[bits.TrailingZeros64(m)]
		s := at - a.off
		if s >= lo && s < hi && s+len(a.keyword) <= len(data) && a.matches(data[s:s+len(a.keyword)]) {
			out = append(out, kwOcc{pos: int32(s), n: int32(len(a.keyword)), rule: int32(a.rule)})
		}
	}
	return out
}

// derive returns the keyword occurrences of data, the result of applying
// the delta whose instructions are segs to a base whose occurrences are
// base. It reports false when there are too many to track.
func (idx *kwIndex) derive(data []byte, base []kwOcc, segs []deltaSeg) ([]kwOcc, bool) {
	if len(data) > maxTrackedBlob {
		return nil, false
	}
	var out []kwOcc
	if len(base) > 0 {
		for _, s := range segs {
			if s.src < 0 {
				continue
			}
			end := s.src + s.n
			i := sort.Search(len(base), func(i int) bool { return int(base[i].pos) >= s.src })
			for ; i < len(base) && int(base[i].pos) < end; i++ {
				if o := base[i]; int(o.pos+o.n) <= end {
					out = append(out, kwOcc{pos: int32(s.dst + int(o.pos) - s.src), n: o.n, rule: o.rule})
				}
			}
		}
	}
	// Every occurrence not inside one copied range starts inside an
	// inserted range or crosses a boundary between instructions (the
	// first it crosses is less than a keyword's length after its start):
	// search those starts, merged into intervals, skipping the
	// boundaries no keyword can cross.
	lo, hi := -1, -1
	for j, s := range segs {
		var a, c int
		switch {
		case s.src < 0:
			a, c = s.dst, s.dst+s.n
			if j > 0 && idx.mayCross(data, s.dst) {
				a = s.dst - idx.maxLen + 1
			}
		case j > 0 && idx.mayCross(data, s.dst):
			a, c = s.dst-idx.maxLen+1, s.dst
		default:
			continue
		}
		a = max(a, 0)
		if c <= a {
			continue
		}
		if hi >= 0 && a <= hi {
			hi = max(hi, c)
			continue
		}
		if hi > lo {
			out = idx.scanWindow(data, lo, hi, out)
		}
		lo, hi = a, c
	}
	if hi > lo {
		out = idx.scanWindow(data, lo, hi, out)
	}
	if len(out) > maxKeywordOccurrences {
		return nil, false
	}
	return sortOccs(out), true
}

// sortOccs sorts occurrences by position and drops duplicates (a keyword
// inside a copied range near a boundary is found by both routes).
func sortOccs(out []kwOcc) []kwOcc {
	if len(out) < 2 {
		return out
	}
	slices.SortFunc(out, func(a, b kwOcc) int {
		if c := cmp.Compare(a.pos, b.pos); c != 0 {
			return c
		}
		if c := cmp.Compare(a.rule, b.rule); c != 0 {
			return c
		}
		return cmp.Compare(a.n, b.n)
	})
	return slices.Compact(out)
}

// scanTracked is Scan for a blob whose keyword occurrences are known: the
// regexp rules' liveness comes from occs rather than from searching the
// blob again, and the AWS finders sweep it only for those whose literals
// (roleKeywords) occs holds. Decoded views (base64, UTF-16) are not the
// blob itself and are searched as usual.
func (e *Engine) scanTracked(data []byte, prov Provenance, occs []kwOcc) []Finding {
	idx := e.kwTracker()
	return e.scan(data, prov, func(d []byte, roles role, live []bool) sweepHits {
		if len(d) != len(data) || len(d) == 0 || &d[0] != &data[0] {
			return e.sweep(d, roles, e.regexp, live)
		}
		copy(live, idx.plan.live[:idx.nRegexp])
		var present role
		for _, o := range occs {
			if int(o.rule) < idx.nRegexp {
				live[o.rule] = true
			} else {
				present |= idx.roleOf[int(o.rule)-idx.nRegexp]
			}
		}
		return e.sweep(d, roles&present, nil, nil)
	})
}

// tracking reports whether the history sweep tracks keyword occurrences
// through delta chains for e: unless a test turned it off, or a group has
// too many anchors, whenever there is a rule to serve.
func (e *Engine) tracking() bool {
	return !e.noTrack && (len(e.regexp) > 0 || e.roles() != 0) && e.kwTracker().usable
}

// roles is the AWS finders e has.
func (e *Engine) roles() role {
	var r role
	if e.keyID != nil {
		r |= roleKeyID
	}
	if e.secret != nil {
		r |= roleSecret
	}
	if e.token != nil {
		r |= roleToken
	}
	return r | roleBase64
}

// barePlans caches the plans with no regexp rules, by role set: the AWS
// half of a tracked scan.
type barePlans struct {
	once  [roleAll + 1]sync.Once
	plans [roleAll + 1]*sweepPlan
}

func (b *barePlans) get(roles role) *sweepPlan {
	b.once[roles].Do(func() { b.plans[roles] = newSweepPlan(roles, nil, staticRarity) })
	return b.plans[roles]
}
