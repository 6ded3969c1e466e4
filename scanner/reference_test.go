package scanner

// The engine as it was before its passes were shared (see sweep.go): each
// finder and the regexp prefilter make their own passes over the content.
// It is kept as the reference the differential tests hold the engine to.

import (
	"bytes"
	"slices"
	"sort"
	"strings"

	"github.com/keyward/keyward/patterns"
)

// scanView finds everything in data, whose offsets are final except for
// the UTF-16 mapping Scan applies afterwards.
func (e *Engine) refScanView(data []byte, prov Provenance, depth int) []Finding {
	var keys, secrets, tokens []candidate
	var decoded []Finding
	if e.keyID != nil {
		keys = e.refFindKeyIDs(data)
	}
	if depth < maxDecodeDepth {
		// Base64 values that are exactly a key ID join the key list, so a
		// Kubernetes Secret's ID pairs with its secret like plain text does.
		var b64keys []candidate
		b64keys, decoded = e.refFindBase64(data, prov, depth)
		keys = append(keys, b64keys...)
	}
	if e.secret != nil {
		secrets = e.refFindContextSecrets(data)
		secrets = append(secrets, e.findNearbySecrets(data, keys, secrets)...)
	}
	if e.token != nil {
		tokens = e.refFindTokens(data, keys)
	}
	fs := e.pair(data, prov, keys, secrets, tokens)
	fs = append(fs, decoded...)
	fs = append(fs, e.refFindRegexps(data, prov)...)
	return fs
}

// findKeyIDs finds access key IDs. Every prefix starts with 'A', so one
// IndexByte pass (vectorised in the runtime) skips everything else and the
// shape is checked by hand around each hit: no regexp touches the bulk of
// the input.
func (e *Engine) refFindKeyIDs(data []byte) []candidate {
	var out []candidate
	for i := 0; ; {
		j := bytes.IndexByte(data[i:], 'A')
		if j < 0 {
			return out
		}
		i += j
		if i+patterns.KeyIDLen > len(data) {
			return out
		}
		s := data[i : i+patterns.KeyIDLen]
		if patterns.IsKeyIDShape(s) && boundaryBefore(data, i, isIdentByte) &&
			(i+patterns.KeyIDLen == len(data) || !isIdentByte(data[i+patterns.KeyIDLen])) &&
			!e.keyID.Allow.Allowed(s, e.keyID.MinEntropy) {
			out = append(out, candidate{start: i, end: i + patterns.KeyIDLen, value: string(s), context: true})
			i += patterns.KeyIDLen
			continue
		}
		i++
	}
}

// findContextSecrets finds secrets named by a keyword such as
// aws_secret_access_key, SecretAccessKey or secret_key.
func (e *Engine) refFindContextSecrets(data []byte) []candidate {
	var out []candidate
	refForKeyword(data, "se", "cret", func(after int) {
		if c, ok := e.secretAfter(data, after); ok {
			out = appendUnique(out, c)
		}
	})
	return out
}

// refForKeyword calls fn with the end of each case-insensitive occurrence of
// head+tail in data. The search runs on the tail in lower and upper case
// ("cret"/"CRET", "ken"/"KEN"), whose first letters are far rarer in text
// and code than the keywords' own first letters, so the vectorised search
// stops less often; the head is then compared in any case.
func refForKeyword(data []byte, head, tail string, fn func(after int)) {
	for _, t := range []string{tail, strings.ToUpper(tail)} {
		needle := []byte(t)
		for i := 0; ; {
			j := bytes.Index(data[i:], needle)
			if j < 0 {
				break
			}
			at := i + j
			i = at + len(needle)
			if at >= len(head) && bytes.EqualFold(data[at-len(head):at], []byte(head)) {
				fn(i)
			}
		}
	}
}

// findTokens finds STS session tokens named by a keyword ("token", as in
// aws_session_token, SessionToken, aws_security_token), or long base64 runs
// within pairWindow of a temporary key ID.
func (e *Engine) refFindTokens(data []byte, keys []candidate) []candidate {
	var out []candidate
	refForKeyword(data, "to", "ken", func(after int) {
		end := min(after+contextWindow, len(data))
		if nl := bytes.IndexByte(data[after:end], '\n'); nl >= 0 {
			end = after + nl
		}
		if c, ok := e.tokenIn(data, after, end); ok {
			c.context = true
			out = appendUnique(out, c)
		}
	})
	for _, k := range keys {
		if patterns.KindOf(k.value) != patterns.Temporary {
			continue
		}
		lo, hi := max(0, k.start-pairWindow), min(len(data), k.end+pairWindow)
		if c, ok := e.tokenIn(data, lo, hi); ok && !overlaps(out, c) {
			out = append(out, c)
		}
	}
	return out
}

// findBase64 decodes base64 runs that start with a credential anchor. A run
// that is exactly a key ID comes back as a key candidate for pairing with
// what surrounds it; any other run is scanned as content of its own, its
// findings reported at the encoded run.
func (e *Engine) refFindBase64(data []byte, prov Provenance, depth int) ([]candidate, []Finding) {
	var keys []candidate
	var fs []Finding
	for _, first := range []byte("QWY") {
		for i := 0; ; {
			j := bytes.IndexByte(data[i:], first)
			if j < 0 {
				break
			}
			at := i + j
			i = at + 1
			if !boundaryBefore(data, at, isBase64Byte) || !hasAnchor(data[at:]) {
				continue
			}
			q := at
			for q < len(data) && q-at < maxBase64Run && (isBase64Byte(data[q]) || data[q] == '-' || data[q] == '_') {
				q++
			}
			if q-at < minBase64Run {
				continue
			}
			decoded, end, ok := decodeBase64At(data, at, q-at)
			if !ok {
				// Line-wrapped or URL-safe base64 is decoded leniently: drop
				// what is not in the alphabet, then decode.
				decoded, ok = lenientBase64(data[at:q])
				end = q
				if !ok {
					continue
				}
			}
			if v := bytes.TrimSpace(decoded); e.keyID != nil && patterns.IsKeyIDShape(v) {
				if !e.keyID.Allow.Allowed(v, e.keyID.MinEntropy) {
					keys = append(keys, candidate{start: at, end: end, value: string(v), enc: EncBase64, context: true})
				}
				i = end
				continue
			}
			for _, f := range e.refScanView(decoded, prov, depth+1) {
				f.Start, f.End = at, end
				f.Encoding = EncBase64
				f.secretStart = at // located by Scan at the encoded run
				fs = append(fs, f)
			}
			i = end
		}
	}
	return keys, fs
}

// findRegexps runs every regexp rule whose keywords occur in data. The
// keyword check for all rules together is one prefilter (see liveRules),
// a fraction of the regexps' cost and of checking each rule in turn.
func (e *Engine) refFindRegexps(data []byte, prov Provenance) []Finding {
	var buf [64]bool
	live := buf[:0]
	if len(e.regexp) > len(buf) {
		live = make([]bool, len(e.regexp))
	} else {
		live = buf[:len(e.regexp)]
	}
	refLiveRules(data, e.regexp, live)
	var fs []Finding
	for i, r := range e.regexp {
		if live[i] {
			fs = append(fs, matchRegexp(r, data, prov)...)
		}
	}
	return dropSameSpan(fs)
}

// liveRules sets live[i] for each rule that has a keyword in data, or no
// keywords at all, ignoring ASCII case.
func refLiveRules(data []byte, rules []*patterns.Rule, live []bool) {
	var buf [maxStackAnchors]anchor
	as := planAnchors(rules, live, buf[:0])
	// Rarest bytes first: a rule found by a rare anchor spares the passes
	// for its commoner ones.
	slices.SortFunc(as, func(x, y anchor) int {
		if d := int(exactRank[x.b]) - int(exactRank[y.b]); d != 0 {
			return d
		}
		return int(x.b) - int(y.b)
	})
	var gbuf [32]anchorGroup
	groups := gbuf[:0]
	for start := 0; start < len(as); {
		end := start + 1
		for end < len(as) && as[end].b == as[start].b {
			end++
		}
		groups = append(groups, newAnchorGroup(as[start:end]))
		start = end
	}
	for lo := 0; lo < len(data); lo += gateBlock {
		hi := min(lo+gateBlock, len(data))
		pending := false
		for i := range groups {
			if g := &groups[i]; g.pending(live) {
				g.refSearch(data, lo, hi, live)
				pending = true
			}
		}
		if !pending {
			return
		}
	}
}

// search looks for the group's anchors in data[lo:hi], verifying hits
// against all of data, until every rule the group serves is live.
func (g *anchorGroup) refSearch(data []byte, lo, hi int, live []bool) {
	b := g.anchors[0].b
	for i := lo; i < hi; {
		j := bytes.IndexByte(data[i:hi], b)
		if j < 0 {
			return
		}
		at := i + j
		i = at + 1
		if !g.single && !(at+1 < len(data) && g.next[data[at+1]]) && !(at > 0 && g.prev[data[at-1]]) {
			continue
		}
		found := false
		for _, a := range g.anchors {
			s := at - a.off
			if !live[a.rule] && s >= 0 && s+len(a.keyword) <= len(data) && a.matches(data[s:s+len(a.keyword)]) {
				live[a.rule] = true
				found = true
			}
		}
		if found && !g.pending(live) {
			return
		}
	}
}

// refScan is Scan over refScanView.
func (e *Engine) refScan(data []byte, prov Provenance) []Finding {
	var fs []Finding
	if view, order, ok := utf16View(data); ok {
		enc := EncUTF16LE
		if order.big {
			enc = EncUTF16BE
		}
		fs = e.refScanView(view, prov, 0)
		locate(view, fs)
		e.mark(view, fs)
		for i := range fs {
			f := &fs[i]
			f.Start, f.End = order.origin(f.Start), order.origin(f.End)
			if f.Encoding == EncPlain {
				f.Encoding = enc
			}
		}
	} else {
		fs = e.refScanView(data, prov, 0)
		locate(data, fs)
		e.mark(data, fs)
	}
	sort.SliceStable(fs, func(i, j int) bool { return fs[i].Start < fs[j].Start })
	return fs
}
