package scanner

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyward/keyward/patterns/patternstest"
)

// Fuzz targets for the parsers and decoders of issue 10. Each caps its
// input so that a run is bounded in time and memory whatever the fuzzer
// finds: the quadratic pairing passed fuzzing for want of exactly this.

// maxFuzzInput bounds a fuzz input: large enough to reach every code
// path, small enough that any linear-time parser is fast on it and a
// superlinear one shows up as a slow input.
const maxFuzzInput = 64 << 10

// seedDir adds every file under testdata/fuzz/dir, templates expanded
// when expand is set, and fails when there are none: a target with no
// seeds is a bug.
func seedDir(f *testing.F, dir string, expand bool) {
	g := patternstest.New(123)
	for _, data := range patternstest.SeedFiles(f, filepath.Join("..", "testdata", "fuzz", dir)) {
		if expand {
			text, _ := g.Expand(string(data))
			data = []byte(text)
		}
		f.Add(data)
	}
}

// FuzzParseIgnore: any ignore file parses, and the matcher built from it
// answers for any path without panicking.
func FuzzParseIgnore(f *testing.F) {
	seedDir(f, "gitignore", false)
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > maxFuzzInput {
			return
		}
		ps := parseIgnore(data, []string{"sub"})
		if n := bytes.Count(data, []byte{'\n'}) + 1; len(ps) > n {
			t.Fatalf("%d patterns from %d lines", len(ps), n)
		}
		ig := &ignorer{on: true, root: "."}
		ig.push(".", ps)
		for _, p := range []string{"a.log", "sub/x/keep.log", "build", "deep/a/b", ".env"} {
			ig.ignored(p, false)
			ig.ignored(p, true)
		}
	})
}

// FuzzParseReflog: any reflog yields only well-formed, non-zero hashes,
// at most one per line.
func FuzzParseReflog(f *testing.F) {
	seedDir(f, "reflog", false)
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > maxFuzzInput {
			return
		}
		hs := parseReflog(data)
		if n := bytes.Count(data, []byte{'\n'}) + 1; len(hs) > n {
			t.Fatalf("%d entries from %d lines", len(hs), n)
		}
		for _, h := range hs {
			if h.IsZero() || !bytes.Contains(bytes.ToLower(data), []byte(h.String())) {
				t.Fatalf("hash %s not in the input", h)
			}
		}
	})
}

// FuzzScanContent: any bytes, archives included (seeds hold zip, tar,
// gzip and bzip2 files, nested), scan without panicking; every finding in
// a member names it, its span lies within what the member could hold, and
// every skip has a reason.
func FuzzScanContent(f *testing.F) {
	seedDir(f, "archive", false)
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > maxFuzzInput {
			return
		}
		e := New(Options{MaxFileSize: 1 << 20})
		e.archiveBudget = 16 << 20 // bounds what one input may expand to
		fs, skips := e.ScanContent(data, Provenance{Path: "in"})
		for _, x := range fs {
			if x.Path != "in" && !strings.HasPrefix(x.Path, "in"+MemberSep) {
				t.Fatalf("finding path %q", x.Path)
			}
			if x.Start < 0 || x.End < x.Start || x.End > 1<<20 {
				t.Fatalf("span [%d,%d)", x.Start, x.End)
			}
			if x.Path == "in" && x.End > len(data) {
				t.Fatalf("span [%d,%d) past %d bytes", x.Start, x.End, len(data))
			}
		}
		for _, s := range skips {
			if s.Reason == "" || !strings.HasPrefix(s.Path, "in") {
				t.Fatalf("skip %+v", s)
			}
		}
		if strings.Count(strings.Join(pathsOf(fs), "\n"), MemberSep) > len(fs)*MaxArchiveDepth {
			t.Fatalf("nested deeper than %d", MaxArchiveDepth)
		}
	})
}

func pathsOf(fs []Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Path)
	}
	return out
}

// FuzzEscapeAt: an escape's length never passes the input, and the byte
// it stands for is '/' or '+'.
func FuzzEscapeAt(f *testing.F) {
	for _, s := range []string{`\/`, `\\/`, `\\\/`, `\\\\/`, `\u002F`, `\\u002b`, `\\\u002f`, `%2F`, `%2b`, `\`, `\\u00`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 64 {
			return
		}
		for i := range data {
			c, n, enc := escapeAt(data, i)
			if n == 0 {
				continue
			}
			if i+n > len(data) || n > maxEscapeBackslashes+5 || (c != '/' && c != '+') || enc == EncPlain {
				t.Fatalf("escapeAt(%q, %d) = %q, %d, %q", data, i, c, n, enc)
			}
		}
	})
}

// FuzzKeepAdded is the range and staged diff: for an old and a new
// version (seeds separate them with a line of "====="), what is kept is a
// subset of what the new version holds; nothing is kept when the versions
// are equal, everything when there was no old version.
func FuzzKeepAdded(f *testing.F) {
	seedDir(f, "diff", true)
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > maxFuzzInput {
			return
		}
		oldV, newV, ok := bytes.Cut(data, []byte("\n=====\n"))
		if !ok {
			oldV, newV = nil, data
		}
		e := New(Options{})
		fs := e.Scan(newV, Provenance{Path: "f"})
		set := newLineSet()
		set.add(oldV)
		kept := keepAdded(newV, append([]Finding{}, fs...), set)
		if len(kept) > len(fs) {
			t.Fatalf("kept %d of %d", len(kept), len(fs))
		}
		same := newLineSet()
		same.add(newV)
		if n := len(keepAdded(newV, append([]Finding{}, fs...), same)); n != 0 {
			t.Fatalf("kept %d findings against an identical old version", n)
		}
		if n := len(keepAdded(newV, append([]Finding{}, fs...), nil)); n != len(fs) {
			t.Fatalf("kept %d of %d with no old version", n, len(fs))
		}
	})
}
