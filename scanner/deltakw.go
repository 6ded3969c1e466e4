package scanner

import (
	"bytes"
	"cmp"
	"math/bits"
	"slices"
	"sort"
	"sync"
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
// at the cost of the bytes the delta changed. The AWS finders still read
// every byte: they look at what surrounds their hits, not just whether a
// literal occurs.

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
}

// kwTracker returns the engine's keyword index for its current plan.
// Occurrences do not depend on the plan (each is a place where a keyword
// is), so those found under one plan serve under the next.
func (e *Engine) kwTracker() *kwIndex {
	ps := e.planner.current()
	ps.kwOnce.Do(func() {
		idx := &kwIndex{plan: ps.plan(0, e.regexp), usable: true}
		for i := range idx.plan.groups {
			g := &idx.plan.groups[i]
			idx.usable = idx.usable && g.masked
			idx.group[g.anchors[0].b] = g
			for _, a := range g.anchors {
				idx.maxLen = max(idx.maxLen, len(a.keyword))
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
			if !g.near(data, at) {
				continue
			}
			for m := g.mask(data, at); m != 0; m &= m - 1 {
				a := &g.anchors[bits.TrailingZeros64(m)]
				s := at - a.off
				if s >= 0 && s+len(a.keyword) <= len(data) && a.matches(data[s:s+len(a.keyword)]) {
					out = append(out, kwOcc{pos: int32(s), n: int32(len(a.keyword)), rule: int32(a.rule)})
				}
			}
			if len(out) > maxKeywordOccurrences {
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

// scanWindow appends the keyword occurrences in data that start in
// [lo, hi), one byte at a time: windows are a few dozen bytes, too short
// for a vectorised pass per anchor byte to pay off.
func (idx *kwIndex) scanWindow(data []byte, lo, hi int, out []kwOcc) []kwOcc {
	end := min(hi+idx.maxLen-1, len(data))
	for at := lo; at < end; at++ {
		g := idx.group[data[at]]
		if g == nil || !g.near(data, at) {
			continue
		}
		for m := g.mask(data, at); m != 0; m &= m - 1 {
			a := &g.anchors[bits.TrailingZeros64(m)]
			s := at - a.off
			if s >= lo && s < hi && s+len(a.keyword) <= len(data) && a.matches(data[s:s+len(a.keyword)]) {
				out = append(out, kwOcc{pos: int32(s), n: int32(len(a.keyword)), rule: int32(a.rule)})
			}
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
	// Every occurrence not inside one copied range overlaps an inserted
	// range or straddles a boundary between instructions, so it starts
	// less than a keyword's length before the end of an insert or a
	// boundary: search those starts, merged into intervals.
	lo, hi := -1, -1
	for j, s := range segs {
		var a, c int
		switch {
		case s.src < 0:
			a, c = s.dst-idx.maxLen+1, s.dst+s.n
		case j > 0:
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
// AWS finders sweep it as usual, but the regexp rules' liveness comes from
// occs rather than from searching the blob again. Decoded views (base64,
// UTF-16) are not the blob itself and are searched as usual.
func (e *Engine) scanTracked(data []byte, prov Provenance, occs []kwOcc) []Finding {
	idx := e.kwTracker()
	return e.scan(data, prov, func(d []byte, roles role, live []bool) sweepHits {
		if len(d) != len(data) || len(d) == 0 || &d[0] != &data[0] {
			return e.sweep(d, roles, e.regexp, live)
		}
		h := e.sweep(d, roles, nil, nil)
		copy(live, idx.plan.live)
		for _, o := range occs {
			live[o.rule] = true
		}
		return h
	})
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
