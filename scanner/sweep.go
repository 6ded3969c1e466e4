package scanner

import (
	"bytes"
	"slices"
	"strings"

	"github.com/keyward/keyward/patterns"
)

// Every finder starts from occurrences of a few bytes: 'A' for key IDs,
// "cret"/"CRET" for the secret keyword, "ken"/"KEN" for the token keyword,
// 'Q', 'W' and 'Y' for base64 anchors, and the regexp prefilter's anchor
// bytes (see keywords.go). Each search is a vectorised bytes.IndexByte
// pass, which costs a sweep of the content plus a stop at every
// occurrence. Run finder by finder, that was sixteen passes over the
// content, two of them for bytes another finder searched for anyway ('k'
// of "ken" and of a keyword group, 'W' of a base64 anchor and of
// "twilio"), and the AWS passes each read all of a large file from memory.
// The sweep makes one pass per distinct byte instead, block by block
// (gateBlock) so that later passes read the block from cache, and hands
// each occurrence to every finder that wants it. The finders then work
// from the positions gathered, in the order their own passes used to see
// them, so the findings are the same.

// role is a finder a pass serves besides the regexp prefilter.
type role uint8

const (
	roleKeyID  role = 1 << iota // 'A': access key IDs
	roleSecret                  // 'c', 'C': the "secret" keyword
	roleToken                   // 'k', 'K': the "token" keyword
	roleBase64                  // base64First: base64 credential anchors

	// roleAll is every role: plans are indexed by role sets.
	roleAll = roleKeyID | roleSecret | roleToken | roleBase64
)

// base64First holds the first bytes of base64Anchors, in the order
// findBase64 takes their hits.
const base64First = "QWY"

// contextKeyword is a keyword that names an AWS value, searched for by its
// tail in lower and upper case ("cret"/"CRET", "ken"/"KEN"), whose first
// letters are far rarer in text and code than the keywords' own first
// letters; the head is then compared in any case.
type contextKeyword struct {
	head  string
	tails [2]string // lower case, upper case
}

var (
	secretKeyword = newContextKeyword("se", "cret")
	tokenKeyword  = newContextKeyword("to", "ken")
)

func newContextKeyword(head, tail string) contextKeyword {
	return contextKeyword{head: head, tails: [2]string{tail, strings.ToUpper(tail)}}
}

// match reports whether the keyword's tail, in either case, starts at
// data[at], preceded by its head; it returns which case (0 lower, 1
// upper) and the keyword's end.
func (k *contextKeyword) match(data []byte, at int) (tcase, end int, ok bool) {
	if data[at] != k.tails[0][0] {
		tcase = 1
	}
	t := k.tails[tcase]
	end = at + len(t)
	if end > len(data) || string(data[at:end]) != t || at < len(k.head) ||
		!bytes.EqualFold(data[at-len(k.head):at], []byte(k.head)) {
		return 0, 0, false
	}
	return tcase, end, true
}

// sweepHits is what the sweep gathers for the AWS finders, each list in
// content order.
type sweepHits struct {
	keys []candidate // access key IDs
	// secretKw and tokenKw hold the ends of keyword matches, per case of
	// the tail.
	secretKw, tokenKw [2][]int
	// base64At holds where a base64 credential anchor starts, per first
	// byte in base64First order.
	base64At [len(base64First)][]int
}

// pass is one search byte and everything it serves.
type pass struct {
	b     byte
	roles role
	// follows holds the bytes that may come after b in what the roles
	// look for: most occurrences of a common byte ('c', 'A') are then
	// turned away by one table lookup, as bytes.Index turns them away by
	// comparing the needle's second byte, before any finder is called.
	follows [4]uint64    // a bit per byte
	group   *anchorGroup // the prefilter's keywords anchored at b, or nil
}

// addPass adds role r, which looks for b followed by one of next, to the
// pass for b.
func addPass(ps []pass, b byte, r role, next string) []pass {
	i := 0
	for i < len(ps) && ps[i].b != b {
		i++
	}
	if i == len(ps) {
		ps = append(ps, pass{b: b})
	}
	ps[i].roles |= r
	for j := 0; j < len(next); j++ {
		ps[i].follows[next[j]>>6] |= 1 << (next[j] & 63)
	}
	return ps
}

// sweepPlan is the passes for one set of roles over one set of rules:
// which keyword each pass serves, grouped and merged. Building it costs
// more than scanning a small file, and a history sweep scans tens of
// thousands of them, so an Engine builds each plan once and shares it; a
// plan is read-only once built (a sweep's state lives in its live slice).
type sweepPlan struct {
	groups []anchorGroup
	passes []pass
	// live is the state before any search: rules without keywords.
	live []bool
}

func newSweepPlan(roles role, rules []*patterns.Rule, rar *rarity) *sweepPlan {
	pl := &sweepPlan{live: make([]bool, len(rules))}
	as := planAnchors(rules, pl.live, nil, rar)
	// Rarest bytes first: a rule found by a rare anchor spares the passes
	// for its commoner ones.
	slices.SortFunc(as, func(x, y anchor) int {
		if d := int(rar.exact[x.b]) - int(rar.exact[y.b]); d != 0 {
			return d
		}
		return int(x.b) - int(y.b)
	})
	for start := 0; start < len(as); {
		end := start + 1
		for end < len(as) && as[end].b == as[start].b {
			end++
		}
		pl.groups = append(pl.groups, newAnchorGroup(as[start:end]))
		start = end
	}
	ps := make([]pass, 0, len(pl.groups)+8)
	for i := range pl.groups {
		ps = append(ps, pass{b: pl.groups[i].anchors[0].b, group: &pl.groups[i]})
	}
	if roles&roleKeyID != 0 {
		var second []byte
		for _, p := range patterns.Prefixes {
			second = append(second, p.Prefix[1])
		}
		ps = addPass(ps, 'A', roleKeyID, string(second))
	}
	for _, r := range []struct {
		r role
		k *contextKeyword
	}{{roleSecret, &secretKeyword}, {roleToken, &tokenKeyword}} {
		if roles&r.r != 0 {
			for _, t := range r.k.tails {
				ps = addPass(ps, t[0], r.r, t[1:2])
			}
		}
	}
	if roles&roleBase64 != 0 {
		for _, a := range base64Anchors {
			ps = addPass(ps, a[0], roleBase64, string(a[1:2]))
		}
	}
	pl.passes = ps
	return pl
}

// plan returns the engine's plan for roles over its regexp rules, as
// adapted so far to the content it has met (plan.go).
func (e *Engine) plan(roles role) *sweepPlan {
	return e.planner.current().plan(roles, e.regexp)
}

// sweep runs the passes for roles and for the keywords of rules, setting
// live[i] for each rule that has a keyword in data (or no keywords), as
// liveRules documents.
func (e *Engine) sweep(data []byte, roles role, rules []*patterns.Rule, live []bool) sweepHits {
	var pl *sweepPlan
	switch {
	case len(rules) == len(e.regexp) && (len(rules) == 0 || &rules[0] == &e.regexp[0]):
		e.planner.sample(data)
		pl = e.plan(roles)
	case len(rules) == 0:
		pl = e.bare.get(roles)
	default:
		pl = newSweepPlan(roles, rules, staticRarity)
	}
	copy(live, pl.live)
	ps := pl.passes

	var h sweepHits
	keyNext := 0 // a key ID taken hides the 'A's inside it
	for lo := 0; lo < len(data); lo += gateBlock {
		hi := min(lo+gateBlock, len(data))
		busy := false
		for i := range ps {
			p := &ps[i]
			searching := p.group != nil && p.group.pending(live)
			if !searching && p.roles == 0 {
				continue
			}
			busy = true
			for j := lo; j < hi; {
				k := bytes.IndexByte(data[j:hi], p.b)
				if k < 0 {
					break
				}
				at := j + k
				j = at + 1
				if at+1 < len(data) && p.follows[data[at+1]>>6]&(1<<(data[at+1]&63)) != 0 {
					e.dispatch(&h, data, at, p, &keyNext)
				}
				if searching && p.group.near(data, at) && p.group.hit(data, at, live) && !p.group.pending(live) {
					searching = false
					if p.roles == 0 {
						break
					}
				}
			}
		}
		if !busy {
			break
		}
	}
	return h
}

// dispatch hands the occurrence of p.b at data[at] to the AWS finders p
// serves.
func (e *Engine) dispatch(h *sweepHits, data []byte, at int, p *pass, keyNext *int) {
	if p.roles&roleKeyID != 0 && at >= *keyNext {
		if c, ok := e.keyIDAt(data, at); ok {
			h.keys = append(h.keys, c)
			*keyNext = c.end
		}
	}
	if p.roles&roleSecret != 0 {
		if tc, end, ok := secretKeyword.match(data, at); ok {
			h.secretKw[tc] = append(h.secretKw[tc], end)
		}
	}
	if p.roles&roleToken != 0 {
		if tc, end, ok := tokenKeyword.match(data, at); ok {
			h.tokenKw[tc] = append(h.tokenKw[tc], end)
		}
	}
	if p.roles&roleBase64 != 0 && boundaryBefore(data, at, isBase64Byte) && hasAnchor(data[at:]) {
		n := strings.IndexByte(base64First, p.b)
		h.base64At[n] = append(h.base64At[n], at)
	}
}
