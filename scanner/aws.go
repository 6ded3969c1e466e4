package scanner

import (
	"bytes"

	"github.com/keyward/keyward/patterns"
)

// keyIDAt reports whether an access key ID starts at data[at], an 'A'
// found by the sweep. Every prefix starts with 'A', so one vectorised pass
// skips everything else and the shape is checked by hand around each hit:
// no regexp touches the bulk of the input.
func (e *Engine) keyIDAt(data []byte, at int) (candidate, bool) {
	end := at + patterns.KeyIDLen
	if end > len(data) {
		return candidate{}, false
	}
	s := data[at:end]
	if patterns.IsKeyIDShape(s) && boundaryBefore(data, at, isIdentByte) &&
		(end == len(data) || !isIdentByte(data[end])) &&
		!e.keyID.Allow.Allowed(s, e.keyID.MinEntropy) {
		return candidate{start: at, end: end, value: string(s), context: true}, true
	}
	return candidate{}, false
}

// findContextSecrets finds secrets named by a keyword such as
// aws_secret_access_key, SecretAccessKey or secret_key, from the keyword
// ends the sweep found.
func (e *Engine) findContextSecrets(data []byte, kw [2][]int) []candidate {
	var out []candidate
	var seen spanIndex
	for _, ends := range kw {
		for _, after := range ends {
			if c, ok := e.secretAfter(data, after); ok && !seen.overlaps(c) {
				seen.add(c)
				out = append(out, c)
			}
		}
	}
	return out
}

// secretAfter returns the first secret candidate that starts within
// contextWindow of from, on the same line.
func (e *Engine) secretAfter(data []byte, from int) (candidate, bool) {
	end := min(from+contextWindow, len(data))
	if nl := bytes.IndexByte(data[from:end], '\n'); nl >= 0 {
		end = from + nl
		// A keyword line that holds no value, such as a YAML block scalar
		// ("aws_secret_access_key: |"), gives its value on the next line.
		if valueless(data[from:end]) {
			next := end + 1
			end = min(next+contextWindow, len(data))
			if nl := bytes.IndexByte(data[next:end], '\n'); nl >= 0 {
				end = next + nl
			}
		}
	}
	for p := from; p < end; {
		r, ok := readRun(data, p, len(data))
		if !ok {
			p++
			continue
		}
		if c, ok := e.secretCandidate(data, r); ok {
			c.context = true
			return c, true
		}
		p = r.end
	}
	return candidate{}, false
}

// findNearbySecrets finds secrets with no keyword that sit within
// pairWindow of a key ID: CSV rows, tuples in code, two adjacent strings.
//
// Each key's window is read from where the previous key's window stopped
// when keys come in order, and overlap checks go through a spanIndex, so a
// CSV of a hundred thousand key pairs costs linear time, not quadratic
// (issue 10: 99 s for 4.7 MiB).
func (e *Engine) findNearbySecrets(data []byte, keys []candidate, have []candidate) []candidate {
	var out []candidate
	var seen spanIndex
	for _, c := range have {
		seen.add(c)
	}
	readTo, lastKey := 0, -1
	for _, k := range keys {
		if k.start < lastKey {
			readTo = 0 // base64 keys follow plain ones: start afresh
		}
		lastKey = k.start
		lo, hi := max(0, k.start-pairWindow, readTo), min(len(data), k.end+pairWindow)
		p := lo
		for p < hi {
			r, ok := readRun(data, p, len(data))
			if !ok {
				p++
				continue
			}
			if c, ok := e.secretCandidate(data, r); ok && !seen.overlaps(c) {
				seen.add(c)
				out = append(out, c)
			}
			p = r.end
		}
		readTo = max(readTo, p)
	}
	return out
}

// secretCandidate checks a run as a secret access key: exactly 40
// characters once decoded, not a placeholder, or the base64 encoding of one.
func (e *Engine) secretCandidate(data []byte, r run) (candidate, bool) {
	if r.decodedLen == 40 && !r.trailingEq {
		v := r.decode(data)
		if !e.secret.Allow.Allowed(v, e.secret.MinEntropy) {
			return candidate{start: r.start, end: r.end, value: string(v), enc: r.enc}, true
		}
		return candidate{}, false
	}
	// A Kubernetes Secret stores the 40 bytes as 56 base64 characters.
	if r.enc == EncPlain && r.end-r.start >= 54 && r.end-r.start <= 56 {
		if v, end, ok := decodeBase64At(data, r.start, 56); ok && len(v) == 40 && isSecretRun(v) &&
			!e.secret.Allow.Allowed(v, e.secret.MinEntropy) {
			return candidate{start: r.start, end: end, value: string(v), enc: EncBase64}, true
		}
	}
	return candidate{}, false
}

// findTokens finds STS session tokens named by a keyword ("token", as in
// aws_session_token, SessionToken, aws_security_token), from the keyword
// ends the sweep found, or long base64 runs within pairWindow of a
// temporary key ID.
func (e *Engine) findTokens(data []byte, kw [2][]int, keys []candidate) []candidate {
	var out []candidate
	var seen spanIndex
	for _, ends := range kw {
		for _, after := range ends {
			end := min(after+contextWindow, len(data))
			if nl := bytes.IndexByte(data[after:end], '\n'); nl >= 0 {
				end = after + nl
			}
			if c, ok := e.tokenIn(data, after, end); ok && !seen.overlaps(c) {
				c.context = true
				seen.add(c)
				out = append(out, c)
			}
		}
	}
	for _, k := range keys {
		if patterns.KindOf(k.value) != patterns.Temporary {
			continue
		}
		lo, hi := max(0, k.start-pairWindow), min(len(data), k.end+pairWindow)
		if c, ok := e.tokenIn(data, lo, hi); ok && !seen.overlaps(c) {
			seen.add(c)
			out = append(out, c)
		}
	}
	return out
}

// tokenIn returns the first session-token-shaped run starting in
// [from, to).
func (e *Engine) tokenIn(data []byte, from, to int) (candidate, bool) {
	for p := from; p < to; p++ {
		if !isSecretByte(data[p]) || escapeLetter(data, p) || !boundaryBefore(data, p, isSecretByte) {
			continue
		}
		// A token is base64: '=' only as padding at its end, so
		// "BEDROCK=ABSK..." is a name and a value, not one token.
		q := p
		for q < len(data) && q-p < maxTokenLen && isSecretByte(data[q]) {
			q++
		}
		for pad := 0; pad < 2 && q < len(data) && data[q] == '='; pad++ {
			q++
		}
		if q-p >= minTokenLen && !e.token.Allow.Allowed(data[p:q], e.token.MinEntropy) {
			return candidate{start: p, end: q, value: string(data[p:q])}, true
		}
		p = q
	}
	return candidate{}, false
}

// spanBucket is the width of a spanIndex bucket: a few secrets wide, so a
// bucket holds a handful of spans however many the content has.
const spanBucket = 256

// spanIndex answers whether a span overlaps one added before in time
// proportional to the span's length, not to how many were added: each span
// is filed under every spanBucket-wide bucket it touches. The zero value
// is empty.
type spanIndex struct {
	buckets map[int][]candidate
}

func (x *spanIndex) add(c candidate) {
	if x.buckets == nil {
		x.buckets = map[int][]candidate{}
	}
	for b := c.start / spanBucket; b <= max(c.end-1, c.start)/spanBucket; b++ {
		x.buckets[b] = append(x.buckets[b], c)
	}
}

func (x *spanIndex) overlaps(c candidate) bool {
	for b := c.start / spanBucket; b <= max(c.end-1, c.start)/spanBucket; b++ {
		for _, o := range x.buckets[b] {
			if c.start < o.end && o.start < c.end {
				return true
			}
		}
	}
	return false
}

// valueless reports whether the rest of a keyword's line is only the rest
// of its name and punctuation, with no value.
func valueless(rest []byte) bool {
	for _, c := range rest {
		if !(isWordByte(c) || bytes.IndexByte([]byte(" \t\r_-.:='\"|>"), c) >= 0) {
			return false
		}
	}
	return true
}

// isIdentByte is what may not touch a key ID: a key inside a longer
// identifier (FOO_AKIA..., AKIA...X) is not a key, as a regexp's \b
// would also say.
func isIdentByte(c byte) bool { return isWordByte(c) || c == '_' }

// isWordByte is the alphanumeric core of the key and secret alphabets.
func isWordByte(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
}

// isSecretByte is the secret access key alphabet.
func isSecretByte(c byte) bool {
	return isWordByte(c) || c == '/' || c == '+'
}

func isSecretRun(b []byte) bool {
	for _, c := range b {
		if !isSecretByte(c) {
			return false
		}
	}
	return true
}
