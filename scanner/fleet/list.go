package fleet

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
)

// maxListLine bounds one line of a repository list; a clone URL is a few
// hundred bytes, so a longer line means the wrong file was given.
const maxListLine = 64 << 10

// Repo is one repository to sweep.
type Repo struct {
	// URL is what git clones: a clone URL or an absolute local path.
	URL string
	// Key is the normalised URL (see Normalize): what the state file,
	// sharding and merging identify the repository by.
	Key string
}

// ID is a short stable name for the repository, safe as a file name: a
// readable tail of the URL plus a hash of the key, so two repositories
// called "api" in different groups do not collide.
func (r Repo) ID() string {
	h := sha256.Sum256([]byte(r.Key))
	tail := strings.TrimSuffix(r.Key, "/")
	if i := strings.LastIndexAny(tail, "/:"); i >= 0 {
		tail = tail[i+1:]
	}
	tail = unsafeName().ReplaceAllString(tail, "_")
	if len(tail) > 40 {
		tail = tail[:40]
	}
	return tail + "-" + hex.EncodeToString(h[:6])
}

var unsafeName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`[^A-Za-z0-9._-]+`) })

// NewRepo makes a Repo from a clone URL or a path; relative paths are made
// absolute against the working directory, since the sweep clones from
// elsewhere.
func NewRepo(s string) (Repo, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Repo{}, fmt.Errorf("empty repository")
	}
	if !isURL(s) {
		abs, err := filepath.Abs(s)
		if err != nil {
			return Repo{}, fmt.Errorf("repository %q: %w", s, err)
		}
		s = abs
	}
	key := Normalize(s)
	if isURL(s) && !strings.Contains(strings.Trim(key, "/"), "/") {
		// No host or no path: nothing git could clone.
		return Repo{}, fmt.Errorf("repository %q: not a clone URL", s)
	}
	return Repo{URL: s, Key: key}, nil
}

// scpLike is git's user@host:path form.
var scpLike = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:`) })

func isURL(s string) bool {
	return strings.Contains(s, "://") || scpLike().MatchString(s)
}

// Normalize is the identity of a repository, so that the same repository
// written two ways is swept once and lands in the same shard: the host is
// lower-cased, the user and a trailing ".git" or "/" are dropped, an scp-like
// address is read as ssh, and a local path is cleaned. The scheme is dropped:
// https://h/x and ssh://git@h/x.git are the same repository, h/x.
func Normalize(s string) string {
	s = strings.TrimSpace(s)
	if !isURL(s) {
		return filepath.Clean(s)
	}
	if scpLike().MatchString(s) {
		at := strings.Index(s, "@")
		colon := strings.Index(s[at:], ":") + at
		s = "ssh://" + s[:colon] + "/" + strings.TrimPrefix(s[colon+1:], "/")
	}
	u, err := url.Parse(s)
	if err != nil {
		return strings.TrimSuffix(strings.TrimSuffix(s, "/"), ".git")
	}
	p := strings.TrimSuffix(strings.TrimSuffix(u.Path, "/"), ".git")
	if u.Scheme == "file" {
		return filepath.Clean(p)
	}
	return strings.ToLower(u.Hostname()) + p
}

// ParseList reads a repository list: one clone URL or path a line; blank
// lines and lines starting with # are ignored; a repository listed twice
// (after normalising) is kept once, at its first place.
func ParseList(r io.Reader) ([]Repo, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxListLine)
	var repos []Repo
	seen := map[string]bool{}
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		repo, err := NewRepo(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		if !seen[repo.Key] {
			seen[repo.Key] = true
			repos = append(repos, repo)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read repository list: line %d: %w", n+1, err)
	}
	return repos, nil
}

// Dedupe keeps the first of each repository by key, in order.
func Dedupe(repos []Repo) []Repo {
	seen := map[string]bool{}
	var out []Repo
	for _, r := range repos {
		if !seen[r.Key] {
			seen[r.Key] = true
			out = append(out, r)
		}
	}
	return out
}
