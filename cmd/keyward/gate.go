package main

import (
	"fmt"

	"github.com/keyward/keyward/scanner"
)

// gateSource is scanOptions.source's name for a source a gate chose (see
// runScanFrom): the commits of a push, in pre-receive, pre-push or CI.
const gateSource = "gate"

// gateSources are the sources that decide whether git accepts something:
// hooks, CI and the history sweep. For them an incomplete scan is a failed
// gate (exit 2), never a pass: "0 findings" over a blob that was skipped
// would be the false all-clear issue 9 is about.
var gateSources = map[string]bool{
	"--staged": true, "--range": true, "--history": true, "--commit-msg": true, gateSource: true,
}

// gateIncomplete reports whether a gate's scan left content unread for
// being over the size limit, and says so with the way out. Whatever the
// scanner does with large content (skip it, or stream it in windows), a
// Skip it reports is content nobody looked at. Unreadable content
// (Result.Errors) already fails every scan; this adds the skips.
func gateIncomplete(e *env, res *scanner.Result, src string, limit int64) bool {
	if !gateSources[src] {
		return false
	}
	var n int
	var first string
	var biggest int64
	for _, s := range res.Skipped {
		if s.Reason != scanner.SkipTooLarge {
			continue
		}
		if n == 0 {
			first = s.Path
		}
		n++
		biggest = max(biggest, s.Size)
	}
	if n == 0 {
		return false
	}
	errorf(e.stderr, "scan incomplete: %d %s over --max-file-size (%s) %s not scanned (%s%s), so this is not a clean result",
		n, plural(int64(n), "blob", "blobs"), humanBytes(limit), plural(int64(n), "was", "were"),
		quotePath(first), map[bool]string{true: " and others", false: ""}[n > 1])
	hintf(e.stderr, "scan it with a larger limit (--max-file-size %s or more), or take the file out of git ('git rm --cached %s' and a .gitignore line)",
		humanLimit(biggest), quotePath(pathOfSkip(first)))
	return true
}

// humanLimit is a --max-file-size value at least n, in the flag's own
// units, rounded up so pasting it works.
func humanLimit(n int64) string {
	const mib = 1 << 20
	m := (n + mib - 1) / mib
	if m >= 1024 {
		return fmt.Sprintf("%dG", (m+1023)/1024)
	}
	return fmt.Sprintf("%dM", m)
}

// pathOfSkip drops the "<commit>:" a range scan puts before a path.
func pathOfSkip(p string) string {
	for i := 0; i < len(p) && i <= 64; i++ {
		c := p[i]
		if c == ':' && i >= 7 {
			return p[i+1:]
		}
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return p
		}
	}
	return p
}
