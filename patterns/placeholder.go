package patterns

import (
	"bytes"
	"math"
	"strings"
)

// ExampleKeys are the credentials AWS prints in its own documentation. They
// appear in thousands of READMEs and are never findings.
var ExampleKeys = []string{
	"AKIAIOSFODNN7EXAMPLE",
	"AKIAI44QH8DHBEXAMPLE",
	"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
	"je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY",
}

// IsExample reports whether s is one of AWS's documented example
// credentials or follows their convention of ending in EXAMPLE or EXAMPLEKEY.
func IsExample(s []byte) bool {
	return bytes.HasSuffix(s, []byte("EXAMPLE")) || bytes.HasSuffix(s, []byte("EXAMPLEKEY"))
}

// placeholderWords betray text written by a person for a person. Each has
// at least five letters so that a random 40-character secret contains one by
// chance about once in 10^5 keys (36 positions x (2/64)^5 per word); shorter
// words such as "test" would hide one real key in a few thousand.
var placeholderWords = []string{
	"example", "sample", "secret", "password", "placeholder", "changeme",
	"dummy", "redacted", "access", "insert", "replace", "token",
}

// IsPlaceholderKeyID reports whether the 16 characters after the prefix are
// too regular to be issued by AWS: a run of one character, very few distinct
// characters, or an alphabet walk such as ABCDEFGH.
func IsPlaceholderKeyID(id []byte) bool {
	if len(id) != KeyIDLen {
		return true
	}
	body := id[4:]
	if IsExample(id) || distinct(body) <= 4 || longestWalk(body) >= 8 {
		return true
	}
	return false
}

// IsPlaceholderSecret reports whether a 40-character candidate is a
// placeholder or look-alike rather than a secret: hex-only strings (SHA-1s,
// checksums), single-case strings, strings spelling out words, and strings
// below the entropy floor.
func IsPlaceholderSecret(s []byte, minEntropy float64) bool {
	if IsExample(s) || isHex(s) || longestWalk(s) >= 8 {
		return true
	}
	var upper, lower bool
	for _, c := range s {
		switch {
		case c >= 'A' && c <= 'Z':
			upper = true
		case c >= 'a' && c <= 'z':
			lower = true
		}
	}
	if !upper || !lower {
		return true
	}
	ls := strings.ToLower(string(s))
	for _, w := range placeholderWords {
		if strings.Contains(ls, w) {
			return true
		}
	}
	return Entropy(s) < minEntropy
}

// Entropy is the Shannon entropy of s in bits per byte.
func Entropy(s []byte) float64 {
	if len(s) == 0 {
		return 0
	}
	var counts [256]int
	for _, c := range s {
		counts[c]++
	}
	n := float64(len(s))
	var h float64
	for _, c := range counts {
		if c > 0 {
			p := float64(c) / n
			h -= p * math.Log2(p)
		}
	}
	return h
}

func distinct(s []byte) int {
	var seen [256]bool
	n := 0
	for _, c := range s {
		if !seen[c] {
			seen[c] = true
			n++
		}
	}
	return n
}

// longestWalk is the length of the longest run in which each byte is one
// more than the previous: "ABCDEFGH" and "23456789" are typed, not drawn.
func longestWalk(s []byte) int {
	best, cur := 1, 1
	for i := 1; i < len(s); i++ {
		if s[i] == s[i-1]+1 {
			cur++
			if cur > best {
				best = cur
			}
		} else {
			cur = 1
		}
	}
	return best
}

func isHex(s []byte) bool {
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}
