package scanner

import (
	"math/bits"
	"regexp/syntax"
	"slices"
	"strings"
	"sync"

	"github.com/keyward/keyward/patterns"
)

// The regexp rules' prefilter. With thirty rules, searching for each
// rule's keywords in turn costs thirty or more passes over the content,
// most of them scanning for a common first letter ("s" of "sk_live_", "g"
// of "ghp_") and stopping at every occurrence: on source code that was
// thirty times slower than the AWS engine itself. Instead each keyword is
// anchored at its rarest byte, keywords that share an anchor share one
// vectorised bytes.IndexByte pass, and a pass ends as soon as every rule
// it serves is known to be live. Source code then costs a handful of
// passes for rare bytes ('k', 'z', 'j', '_', ...) whatever the number of
// rules.
//
// Keywords match case-insensitively, which costs two passes per letter
// anchor. Where a rule's regexp is case-sensitive and every match begins
// with text holding one of its keywords verbatim ("ghp_" in
// `ghp_[A-Za-z0-9]{36}`), a keyword in another case can never lead to a
// finding, so that rule's keywords are searched as written: one pass, on
// the rarest byte in its actual case ('K' of "ABSK", 'J' of "T3BlbkFJ").
// The findings are the same either way; see exactKeywords.

// byteRarity lists printable ASCII from rarest to most common in source
// code, letters folded, as measured over Go's standard library (32 MB);
// other languages differ in detail, not in which bytes are rare.
const byteRarity = "~?@^$#`\\';+j>%|<z&q!-*9][758kw3}{y46h\"b_=:/2()1gv0.xmufd,pclionsarte"

// exactRarity is byteRarity with the cases counted apart.
const exactRarity = "~?@^$#J`\\ZY'q;jK+zQ>%H|<&W!-*GU9B][7wN5kF8LDCPVEM3IbTOy}{hSX4R6vA\"_x=:/g2m()1dpf0c.ul,oisanrte"

// byteRank and exactRank are the rarity lists as tables: lower is rarer.
// Bytes not listed (space, control characters, non-ASCII) rank as common,
// so they are never chosen as anchors while anything else is available.
var (
	byteRank  = rankTable(byteRarity, true)
	exactRank = rankTable(exactRarity, false)
)

// rarity ranks bytes for choosing anchors: the static lists above until
// an engine has measured the content it is scanning (plan.go).
type rarity struct {
	order  string     // printable ASCII, rarest first, cases apart
	exact  [256]uint8 // rank, cases apart; lower is rarer
	folded [256]uint8 // rank with letters folded
}

// staticRarity is the rarity measured on Go's standard library.
var staticRarity = &rarity{order: exactRarity, exact: exactRank, folded: byteRank}

func rankTable(rarity string, fold bool) (rank [256]uint8) {
	for i := range rank {
		rank[i] = 255
	}
	for i := 0; i < len(rarity); i++ {
		c := rarity[i]
		rank[c] = uint8(i)
		if fold && c >= 'a' && c <= 'z' {
			rank[upper(c)] = uint8(i)
		}
	}
	return rank
}

// anchor is one keyword searched for by one of its bytes.
type anchor struct {
	keyword string
	off     int  // the anchor byte's offset in keyword
	b       byte // the byte searched for: keyword[off] in one case
	rule    int  // index of the rule the keyword belongs to
	exact   bool // match keyword as written, not ignoring case
}

// maxStackAnchors sizes the anchor buffer kept on the stack: the built-in
// rules need about seventy; more (custom rules) spill to the heap.
const maxStackAnchors = 128

// gateBlock is how much content each round of passes covers. All passes,
// the prefilter's and the AWS finders' (see sweep.go), run over one block
// before moving on, so that the second and later passes read the block
// from the CPU cache rather than memory: on a 32 MB file this halves the
// prefilter's cost. Hits are verified against the whole content, so a
// keyword that straddles two blocks is still found.
const gateBlock = 32 << 10

// anchorGroup is the anchors that share a search byte, with tables of the
// bytes that may sit beside it: a common anchor byte ('h' of "ghp_") then
// costs a table lookup per occurrence, not a comparison per keyword.
type anchorGroup struct {
	anchors []anchor
	// next holds the bytes that may follow the anchor, prev those that may
	// precede it (for keywords anchored at their last byte); single is set
	// for a one-byte keyword, which every occurrence matches.
	next, prev [256]bool
	single     bool

	// With at most 64 anchors, masks name which anchors the bytes around
	// an occurrence allow (bit i for anchors[i]): the byte after (or, for
	// a keyword anchored at its end, before) and the one beyond it. A
	// common anchor byte ('-' serves sixteen keywords) then costs a few
	// table lookups per occurrence and a comparison only for anchors whose
	// neighbours are really there.
	masked                 bool
	nextM, prevM           [256]uint64
	next2M, prev2M         [256]uint64
	singleM, need2, needP2 uint64
}

func newAnchorGroup(as []anchor) anchorGroup {
	g := anchorGroup{anchors: as}
	mark := func(t *[256]bool, c byte, exact bool) {
		if exact {
			t[c] = true
		} else {
			t[lower(c)], t[upper(c)] = true, true
		}
	}
	for _, a := range as {
		switch {
		case a.off+1 < len(a.keyword):
			mark(&g.next, a.keyword[a.off+1], a.exact)
		case a.off > 0:
			mark(&g.prev, a.keyword[a.off-1], a.exact)
		default:
			g.single = true
		}
	}
	if len(as) > 64 {
		return g
	}
	g.masked = true
	set := func(t *[256]uint64, c byte, exact bool, bit uint64) {
		if exact {
			t[c] |= bit
		} else {
			t[lower(c)] |= bit
			t[upper(c)] |= bit
		}
	}
	for i, a := range as {
		bit := uint64(1) << i
		k := a.keyword
		switch {
		case a.off+1 < len(k):
			set(&g.nextM, k[a.off+1], a.exact, bit)
			if a.off+2 < len(k) {
				g.need2 |= bit
				set(&g.next2M, k[a.off+2], a.exact, bit)
			}
		case a.off > 0:
			set(&g.prevM, k[a.off-1], a.exact, bit)
			if a.off >= 2 {
				g.needP2 |= bit
				set(&g.prev2M, k[a.off-2], a.exact, bit)
			}
		default:
			g.singleM |= bit
		}
	}
	return g
}

// candidates returns the anchors (as a mask) whose keyword the bytes
// around the occurrence of the group's byte at data[at] may belong to; a
// masked group only.
func (g *anchorGroup) candidates(data []byte, at int) uint64 {
	m := g.singleM
	if at+1 < len(data) {
		m |= g.nextM[data[at+1]]
	}
	if at > 0 {
		m |= g.prevM[data[at-1]]
	}
	if m&g.need2 != 0 {
		var b uint64
		if at+2 < len(data) {
			b = g.next2M[data[at+2]]
		}
		m &= ^g.need2 | b
	}
	if m&g.needP2 != 0 {
		var b uint64
		if at >= 2 {
			b = g.prev2M[data[at-2]]
		}
		m &= ^g.needP2 | b
	}
	return m
}

// pending reports whether the group still serves a rule not known live.
func (g *anchorGroup) pending(live []bool) bool {
	for _, a := range g.anchors {
		if !live[a.rule] {
			return true
		}
	}
	return false
}

// planAnchors chooses each keyword's anchor, appending to as, and sets
// live[i] for rules with no keywords. Each keyword starts at its rarest
// byte; then, commonest pass first, a pass whose keywords all hold a byte
// that another pass searches for anyway is dropped and its keywords ride
// on those passes: "ghp_" joins the pass for '_' that "npm_" needs,
// rather than scanning for 'h' as well.
func planAnchors(rules []*patterns.Rule, live []bool, as []anchor, rar *rarity) []anchor {
	type kw struct {
		k     string
		rule  int
		exact bool
		off   int
	}
	var kbuf [maxStackAnchors]kw
	kws := kbuf[:0]
	var uses [256]int // keywords searched for by each byte
	bytesOf := func(w kw, i int) (byte, byte) {
		if w.exact {
			return w.k[i], w.k[i]
		}
		return lower(w.k[i]), upper(w.k[i])
	}
	use := func(w kw, i, d int) {
		lo, up := bytesOf(w, i)
		uses[lo] += d
		if up != lo {
			uses[up] += d
		}
	}
	for i, r := range rules {
		live[i] = len(r.Keywords) == 0
		exact := exactKeywords(r)
		for _, k := range r.Keywords {
			if k == "" {
				live[i] = true
				break
			}
			rank := &rar.folded
			if exact {
				rank = &rar.exact
			}
			w := kw{k: k, rule: i, exact: exact, off: rarestByte(k, rank)}
			use(w, w.off, 1)
			kws = append(kws, w)
		}
	}
	for b := len(rar.order) - 1; b >= 0; b-- {
		c := rar.order[b]
		if uses[c] == 0 {
			continue
		}
		// Every keyword searched for by c needs another byte already
		// searched for, or the pass stays.
		// The alternative is the rarest such byte: its pass stops least
		// often, so the keyword's checks cost least there.
		alt := func(w kw) int {
			best := -1
			rank := &rar.folded
			if w.exact {
				rank = &rar.exact
			}
			for i := 0; i < len(w.k); i++ {
				lo, up := bytesOf(w, i)
				if lo != c && up != c && uses[lo] > 0 && uses[up] > 0 && (best < 0 || rank[w.k[i]] < rank[w.k[best]]) {
					best = i
				}
			}
			return best
		}
		movable := true
		for _, w := range kws {
			if lo, up := bytesOf(w, w.off); (lo == c || up == c) && alt(w) < 0 {
				movable = false
				break
			}
		}
		if !movable {
			continue
		}
		for n := range kws {
			w := &kws[n]
			if lo, up := bytesOf(*w, w.off); lo == c || up == c {
				i := alt(*w)
				use(*w, w.off, -1)
				use(*w, i, 1)
				w.off = i
			}
		}
	}
	for _, w := range kws {
		lo, up := bytesOf(w, w.off)
		as = append(as, anchor{keyword: w.k, off: w.off, b: lo, rule: w.rule, exact: w.exact})
		if up != lo {
			as = append(as, anchor{keyword: w.k, off: w.off, b: up, rule: w.rule, exact: w.exact})
		}
	}
	return as
}

// near reports whether the bytes around an occurrence of the group's
// byte at data[at] may belong to one of its keywords: a table lookup that
// turns most occurrences of a common byte away before hit compares
// keywords.
func (g *anchorGroup) near(data []byte, at int) bool {
	if g.masked {
		return g.candidates(data, at) != 0
	}
	return g.single || (at+1 < len(data) && g.next[data[at+1]]) || (at > 0 && g.prev[data[at-1]])
}

// hit checks an occurrence of the group's byte at data[at] that near let
// through, verifying the keywords against all of data so that one
// straddling two blocks is still found, and marks the rules whose keyword
// is there live. It reports whether any was.
func (g *anchorGroup) hit(data []byte, at int, live []bool) bool {
	found := false
	if g.masked {
		for m := g.candidates(data, at); m != 0; m &= m - 1 {
			a := &g.anchors[bits.TrailingZeros64(m)]
			s := at - a.off
			if !live[a.rule] && s >= 0 && s+len(a.keyword) <= len(data) && a.matches(data[s:s+len(a.keyword)]) {
				live[a.rule] = true
				found = true
			}
		}
		return found
	}
	for _, a := range g.anchors {
		s := at - a.off
		if !live[a.rule] && s >= 0 && s+len(a.keyword) <= len(data) && a.matches(data[s:s+len(a.keyword)]) {
			live[a.rule] = true
			found = true
		}
	}
	return found
}

// matches reports whether b, as long as the keyword, is the keyword.
func (a *anchor) matches(b []byte) bool {
	if a.exact {
		return string(b) == a.keyword
	}
	return equalFoldASCII(b, a.keyword)
}

// rarestByte returns the offset of k's rarest byte by rank.
func rarestByte(k string, rank *[256]uint8) int {
	best := 0
	for i := 1; i < len(k); i++ {
		if rank[k[i]] < rank[k[best]] {
			best = i
		}
	}
	return best
}

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func upper(c byte) byte {
	if c >= 'a' && c <= 'z' {
		return c - 'a' + 'A'
	}
	return c
}

// equalFoldASCII reports whether b equals s ignoring ASCII case; keywords
// are ASCII, so Unicode folding (bytes.EqualFold) is wasted work here.
func equalFoldASCII(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		if b[i] != s[i] && lower(b[i]) != lower(s[i]) {
			return false
		}
	}
	return true
}

// maxPrefixes bounds the opening texts exactKeywords expands a regexp into
// before giving up and matching keywords case-insensitively.
const maxPrefixes = 32

// exactCache remembers exactKeywords per pattern: the analysis parses the
// pattern, far too slow to repeat per file. Patterns are made once per
// process (the built-in table, a project's config), so the cache stays
// small.
var exactCache sync.Map // *patterns.Pattern -> exactEntry

type exactEntry struct {
	keywords []string
	exact    bool
}

// exactKeywords reports whether r's keywords may be searched as written:
// its regexp is case-sensitive and every text a match can open with (as
// far as the pattern spells it out) holds one of the keywords verbatim. A
// keyword in another case then never leads to a match.
func exactKeywords(r *patterns.Rule) bool {
	if r.Regexp == nil || len(r.Keywords) == 0 {
		return false
	}
	if v, ok := exactCache.Load(r.Regexp); ok && slices.Equal(v.(exactEntry).keywords, r.Keywords) {
		return v.(exactEntry).exact
	}
	exact := false
	if re, err := syntax.Parse(r.Regexp.String(), syntax.Perl); err == nil {
		prefixes, _ := openings(re.Simplify(), []string{""})
		exact = len(prefixes) > 0
		for _, p := range prefixes {
			holds := false
			for _, k := range r.Keywords {
				holds = holds || (k != "" && strings.Contains(p, k))
			}
			exact = exact && holds
		}
	}
	exactCache.Store(r.Regexp, exactEntry{keywords: slices.Clone(r.Keywords), exact: exact})
	return exact
}

// openings extends each of prefixes by the exact texts re opens with and
// reports whether re was spelled out completely (so that what follows it
// may extend them further). It gives up (complete false) at anything
// other than case-sensitive literals, small character classes,
// alternations and groups of those.
func openings(re *syntax.Regexp, prefixes []string) ([]string, bool) {
	switch re.Op {
	case syntax.OpLiteral:
		if re.Flags&syntax.FoldCase != 0 {
			return prefixes, false
		}
		for i := range prefixes {
			prefixes[i] += string(re.Rune)
		}
		return prefixes, true
	case syntax.OpCharClass:
		var runes []rune
		for i := 0; i+1 < len(re.Rune); i += 2 {
			for c := re.Rune[i]; c <= re.Rune[i+1]; c++ {
				if len(runes) == 4 {
					return prefixes, false
				}
				runes = append(runes, c)
			}
		}
		if len(runes)*len(prefixes) > maxPrefixes {
			return prefixes, false
		}
		var out []string
		for _, p := range prefixes {
			for _, c := range runes {
				out = append(out, p+string(c))
			}
		}
		return out, true
	case syntax.OpCapture:
		return openings(re.Sub[0], prefixes)
	case syntax.OpConcat:
		for _, sub := range re.Sub {
			var complete bool
			if prefixes, complete = openings(sub, prefixes); !complete {
				return prefixes, false
			}
		}
		return prefixes, true
	case syntax.OpAlternate:
		var out []string
		complete := true
		for _, sub := range re.Sub {
			ps, c := openings(sub, slices.Clone(prefixes))
			out = append(out, ps...)
			complete = complete && c
		}
		if len(out) > maxPrefixes {
			return prefixes, false
		}
		// An incomplete branch still opens with its prefix, but what
		// follows the alternation cannot be appended to it.
		return out, complete
	}
	return prefixes, false
}
