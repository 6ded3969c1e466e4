package scanner

import (
	"slices"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/format/gitignore"
)

// ignoreMatcher answers what go-git's gitignore matcher answers, the last
// matching pattern deciding, without trying every pattern on every path: a
// pattern that is a plain name ("node_modules/", "secrets.env") can only
// match a path with a component of that name, and a "*.ext" pattern one
// with a component ending so; both are found by map lookups, and only they
// and the patterns of other shapes are tried, last first, with go-git's own
// Match. With 5,000 patterns a walk cost a pass over all of them per file
// (issue 10: 10x what git takes). The differential test holds it to go-git.
type ignoreMatcher struct {
	ps      []gitignore.Pattern
	byName  map[string][]int
	bySuf   map[string][]int
	sufLens []int
	other   []int
	cands   []int // scratch; a matcher serves one walk at a time
}

// ignorePattern is a parsed pattern with the line it came from, for
// classifying its shape.
type ignorePattern struct {
	p    gitignore.Pattern
	line string
}

func newIgnoreMatcher(ips []ignorePattern) *ignoreMatcher {
	m := &ignoreMatcher{byName: map[string][]int{}, bySuf: map[string][]int{}}
	for i, ip := range ips {
		m.ps = append(m.ps, ip.p)
		switch kind, key := patternShape(ip.line); kind {
		case shapeName:
			m.byName[key] = append(m.byName[key], i)
		case shapeSuffix:
			if _, ok := m.bySuf[key]; !ok && !slices.Contains(m.sufLens, len(key)) {
				m.sufLens = append(m.sufLens, len(key))
			}
			m.bySuf[key] = append(m.bySuf[key], i)
		default:
			m.other = append(m.other, i)
		}
	}
	return m
}

// Pattern shapes.
const (
	shapeOther = iota
	shapeName
	shapeSuffix
)

// patternShape classifies an ignore line the way go-git parses it: a
// pattern with no '/' (but a trailing one) is matched against each path
// component with filepath.Match, so one with no glob characters matches
// exactly its name, and "*" followed by none matches names ending so.
func patternShape(line string) (int, string) {
	p := strings.TrimPrefix(line, "!")
	if !strings.HasSuffix(p, "\\ ") {
		p = strings.TrimRight(p, " ")
	}
	p = strings.TrimSuffix(p, "/")
	const meta = "*?[\\"
	switch {
	case p == "" || strings.Contains(p, "/"):
		return shapeOther, ""
	case !strings.ContainsAny(p, meta):
		return shapeName, p
	case len(p) > 1 && p[0] == '*' && !strings.ContainsAny(p[1:], meta):
		return shapeSuffix, p[1:]
	}
	return shapeOther, ""
}

// Match reports whether path is excluded.
func (m *ignoreMatcher) Match(path []string, isDir bool) bool {
	c := m.cands[:0]
	for _, name := range path {
		c = append(c, m.byName[name]...)
		for _, n := range m.sufLens {
			if len(name) >= n {
				c = append(c, m.bySuf[name[len(name)-n:]]...)
			}
		}
	}
	c = append(c, m.other...)
	slices.Sort(c)
	m.cands = c
	for i := len(c) - 1; i >= 0; i-- {
		if i+1 < len(c) && c[i] == c[i+1] {
			continue
		}
		switch m.ps[c[i]].Match(path, isDir) {
		case gitignore.Exclude:
			return true
		case gitignore.Include:
			return false
		}
	}
	return false
}
