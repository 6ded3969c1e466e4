package hooks

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// scriptVersion is bumped whenever the shim's text changes in a way an
// installed copy should be refreshed for; Status reports older ones.
const scriptVersion = 1

// markerPrefix starts the line that identifies a file as keyward's. Only a
// regular file containing it in its first maxHeader bytes is ever
// overwritten or removed.
const markerPrefix = "# keyward-hook: "

// maxHeader bounds how much of a hook keyward reads to identify it: the
// marker is on line 2, and a foreign hook's body is none of keyward's
// business.
const maxHeader = 4096

// scriptTemplate is the shim. Everything interpolated is shell-quoted, and
// "$0" is passed so keyward can find what it chains to. It fails closed:
// a hook that cannot run keyward blocks the commit rather than letting a key
// through, and says how to get out.
const scriptTemplate = `#!/bin/sh
%[1]s%[2]s v%[3]d
#
# Written by 'keyward hook install'; 'keyward hook uninstall' removes it and
# restores any hook keyward moved aside. Edits here are lost on reinstall.
# The logic lives in 'keyward hook run'; this script only finds keyward,
# first where it was at install time, then on PATH.
recorded=%[4]s
keyward=$recorded
if [ ! -x "$keyward" ]; then
	keyward=$(command -v keyward 2>/dev/null) || keyward=
fi
if [ -z "$keyward" ]; then
	printf 'keyward: error: %[2]s hook: keyward not found at %%s or on PATH\n' "$recorded" >&2
	printf 'keyward: hint: install keyward again, or delete %%s to stop using it; to skip the check once, use "%[5]s"\n' "$0" >&2
	exit 1
fi
exec "$keyward" hook run --shim "$0" %[2]s "$@"
`

// Script returns the shim for hook, recording keyward (an absolute path, or
// empty to rely on PATH alone) as the binary to run.
func Script(hook, keyward string) []byte {
	return fmt.Appendf(nil, scriptTemplate, markerPrefix, hook, scriptVersion, shellQuote(keyward), bypass(hook))
}

// bypass is the git command line that skips hook, for messages.
func bypass(hook string) string {
	if hook == PrePush {
		return "git push --no-verify"
	}
	return "git commit --no-verify"
}

// shellQuote quotes s for POSIX sh: inside single quotes nothing is special
// except the single quote itself, which is closed, escaped and reopened.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// scriptInfo is what an installed shim says about itself.
type scriptInfo struct {
	hook    string
	version int
	keyward string // the recorded binary path
}

// parseScript reports whether b (a hook's first bytes) is a keyward shim,
// and what it records.
func parseScript(b []byte) (scriptInfo, bool) {
	var info scriptInfo
	found := false
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, markerPrefix); ok && !found {
			name, ver, _ := strings.Cut(rest, " ")
			info.hook = name
			info.version, _ = strconv.Atoi(strings.TrimPrefix(ver, "v"))
			found = true
		}
		if rest, ok := strings.CutPrefix(line, "recorded="); ok {
			info.keyward = shellUnquote(rest)
		}
	}
	return info, found
}

// shellUnquote reverses shellQuote; anything it did not produce comes back
// as is.
func shellUnquote(s string) string {
	if len(s) < 2 || s[0] != '\'' || s[len(s)-1] != '\'' {
		return s
	}
	return strings.ReplaceAll(s[1:len(s)-1], `'\''`, "'")
}
