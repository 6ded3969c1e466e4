package config

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Glob is a compiled path pattern from a configuration file. Paths are
// matched in the slash-separated form relative to the repository root, so
// one .keyward.toml means the same on every machine and in every scan mode.
//
// The syntax is the one people know from .gitignore: "*" and "?" stop at
// a slash, "**" crosses them, a pattern without a slash matches a name at
// any depth ("*.pem"), and a trailing slash matches everything under a
// directory ("testdata/"). Character classes are not supported: they are
// rare in path lists and would add a second regexp dialect to document.
type Glob struct {
	pattern string
	re      *regexp.Regexp
}

// errBadGlob is wrapped by CompileGlob's errors.
var errBadGlob = errors.New("bad glob")

// CompileGlob compiles pattern.
func CompileGlob(pattern string) (Glob, error) {
	if strings.TrimSpace(pattern) == "" {
		return Glob{}, fmt.Errorf("compile glob: %w: empty pattern", errBadGlob)
	}
	if strings.ContainsAny(pattern, "[]\\") {
		return Glob{}, fmt.Errorf("compile glob %q: %w: '[', ']' and '\\' are not supported", pattern, errBadGlob)
	}
	p := strings.TrimPrefix(pattern, "./")
	dir := strings.HasSuffix(p, "/")
	p = strings.TrimSuffix(p, "/")
	anchored := strings.Contains(p, "/")
	p = strings.TrimPrefix(p, "/")
	var b strings.Builder
	b.WriteString("^")
	if !anchored {
		b.WriteString("(?:.*/)?")
	}
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case c == '*' && i+1 < len(p) && p[i+1] == '*':
			i++
			if i+1 < len(p) && p[i+1] == '/' {
				i++
				b.WriteString("(?:.*/)?")
			} else {
				b.WriteString(".*")
			}
		case c == '*':
			b.WriteString("[^/]*")
		case c == '?':
			b.WriteString("[^/]")
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	if dir {
		b.WriteString("/.*")
	} else {
		// A pattern naming a directory also covers what is inside it.
		b.WriteString("(?:/.*)?")
	}
	b.WriteString("$")
	re, err := regexp.Compile(b.String())
	if err != nil {
		return Glob{}, fmt.Errorf("compile glob %q: %w", pattern, err)
	}
	return Glob{pattern: pattern, re: re}, nil
}

// Match reports whether the slash-separated relative path matches.
func (g Glob) Match(path string) bool {
	return g.re != nil && g.re.MatchString(strings.TrimPrefix(path, "./"))
}

// String returns the pattern as written.
func (g Glob) String() string { return g.pattern }
