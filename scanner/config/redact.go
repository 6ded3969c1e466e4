package config

import (
	"regexp"
	"strconv"
	"sync"
)

// Error messages about configuration and flags quote the value they
// reject, which is what a user needs to find a typo, and what leaks a
// secret pasted into the wrong place: a credentials file symlinked as
// .keyward.toml, a key given to --max-file-size (issue 10). RedactValue
// and RedactQuoted keep short and identifier-like values readable and
// show only the start and length of anything else.

// maxShownValue is the longest value shown in full when it is not
// identifier-like: shorter than any credential keyward knows.
const maxShownValue = 8

// identifierLike is what rule IDs, format names and keywords look like.
var identifierLike = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^-{0,2}[a-z][a-z0-9._-]*$`) })

// RedactValue returns v as it may appear in an error message.
func RedactValue(v string) string {
	if len(v) <= maxShownValue || identifierLike().MatchString(v) && len(v) <= 64 {
		return v
	}
	n := 4
	if len(v) < 12 {
		n = 0
	}
	return v[:n] + "…(" + strconv.Itoa(len(v)) + " chars)"
}

// quoted finds double-quoted strings in a message, escapes included.
var quoted = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`"(?:[^"\\]|\\.)*"`) })

// RedactQuoted redacts every double-quoted value in msg with RedactValue.
func RedactQuoted(msg string) string {
	return quoted().ReplaceAllStringFunc(msg, func(q string) string {
		v, err := strconv.Unquote(q)
		if err != nil {
			v = q[1 : len(q)-1]
		}
		return strconv.Quote(RedactValue(v))
	})
}
