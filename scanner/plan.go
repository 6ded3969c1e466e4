package scanner

import (
	"cmp"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/keyward/keyward/patterns"
)

// The prefilter's plan adapts to the content it meets (issue 10, item 5).
// Which byte of a keyword to search for depends on how often each byte
// occurs: the static table was measured on Go's standard library, where
// '-' and '_' are rare; in git/git's C, tests and docs '-' occurs 8.7 to
// 33 times per KB (1.8 in Go) and '_' 33 times, and every occurrence of an
// anchor byte costs a stop of the vectorised search. So an engine counts
// the bytes of the first content it scans (planSampleChunk from each
// content, planSample in all), then ranks bytes by those counts and
// rebuilds its plans. Which anchor is chosen changes only the speed: a
// rule is live if and only if one of its keywords occurs, whichever byte
// found it (TestSweepMatchesReference, TestLiveRules and
// TestAdaptedPlanMatchesStatic hold every plan to that).

// Sampling limits: enough content to rank the bytes keywords are made of
// (a megabyte holds thousands of each common byte), taken from several
// contents so one odd file does not decide, and small enough to cost
// nothing next to the scan.
const (
	planSample      = 1 << 20
	planSampleChunk = 64 << 10
)

// planner holds an engine's plan set and the byte counts it is sampling.
type planner struct {
	cur  atomic.Pointer[planSet]
	done atomic.Bool

	mu      sync.Mutex
	counts  [256]uint64
	sampled int
}

// planSet is the plans built from one rarity ranking, each built on
// first use.
type planSet struct {
	rar   *rarity
	once  [roleAll + 1]sync.Once
	plans [roleAll + 1]*sweepPlan

	kwOnce sync.Once
	kw     *kwIndex
}

// current returns the plan set in use.
func (p *planner) current() *planSet {
	if ps := p.cur.Load(); ps != nil {
		return ps
	}
	p.cur.CompareAndSwap(nil, &planSet{rar: staticRarity})
	return p.cur.Load()
}

// plan returns the set's plan for roles over rules.
func (ps *planSet) plan(roles role, rules []*patterns.Rule) *sweepPlan {
	ps.once[roles].Do(func() { ps.plans[roles] = newSweepPlan(roles, rules, ps.rar) })
	return ps.plans[roles]
}

// sample counts the bytes at the start of data until planSample bytes
// have been counted, then switches the engine to plans ranked by what was
// counted.
func (p *planner) sample(data []byte) {
	if p.done.Load() || len(data) == 0 {
		return
	}
	var local [256]uint64
	for _, c := range data[:min(len(data), planSampleChunk)] {
		local[c]++
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done.Load() {
		return
	}
	for i, n := range local {
		p.counts[i] += n
	}
	p.sampled += min(len(data), planSampleChunk)
	if p.sampled < planSample {
		return
	}
	p.cur.Store(&planSet{rar: measuredRarity(&p.counts)})
	p.done.Store(true)
}

// measuredRarity ranks printable ASCII by counts, rarest first; ties keep
// the static order. Other bytes rank as common, as in the static table.
func measuredRarity(counts *[256]uint64) *rarity {
	printable := []byte(exactRarity)
	rankBy := func(n func(c byte) uint64) []byte {
		bs := slices.Clone(printable)
		slices.SortStableFunc(bs, func(a, b byte) int { return cmp.Compare(n(a), n(b)) })
		return bs
	}
	exact := rankBy(func(c byte) uint64 { return counts[c] })
	folded := rankBy(func(c byte) uint64 {
		if lower(c) != upper(c) {
			return counts[lower(c)] + counts[upper(c)]
		}
		return counts[c]
	})
	r := &rarity{order: string(exact)}
	for i := range r.exact {
		r.exact[i], r.folded[i] = 255, 255
	}
	for i, c := range exact {
		r.exact[c] = uint8(i)
	}
	// Both cases of a letter share the rank of the first seen.
	for i, c := range folded {
		if r.folded[c] == 255 {
			r.folded[lower(c)], r.folded[upper(c)] = uint8(i), uint8(i)
		}
	}
	return r
}
