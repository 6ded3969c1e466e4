package scanner

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/keyward/keyward/patterns/patternstest"
)

// rangeKeywords returns the regexp rules' keywords as the tracker knows
// them, in both cases.
func rangeKeywords(t *testing.T, e *Engine) []string {
	t.Helper()
	idx := e.kwTracker()
	if !idx.usable {
		t.Fatal("keyword tracking is not usable with the built-in rules")
	}
	var kws []string
	for _, g := range idx.plan.groups {
		for _, a := range g.anchors {
			kws = append(kws, a.keyword, strings.ToUpper(a.keyword), strings.ToLower(a.keyword))
		}
	}
	if len(kws) == 0 {
		t.Fatal("no keywords")
	}
	return kws
}

// editVersion returns data edited in a few random places: lines inserted,
// deleted, replaced or moved, keywords written whole or split by an edit.
func editVersion(r *rand.Rand, data []byte, kws []string) []byte {
	lines := strings.SplitAfter(string(data), "\n")
	word := func() string {
		switch r.IntN(5) {
		case 0:
			return kws[r.IntN(len(kws))]
		case 1: // half a keyword, completed (or not) by what follows
			k := kws[r.IntN(len(kws))]
			return k[:r.IntN(len(k)+1)]
		default:
			return fmt.Sprintf("\tx%d = y(%d);", r.IntN(1e6), r.IntN(100))
		}
	}
	line := func() string {
		var b strings.Builder
		for range 1 + r.IntN(4) {
			b.WriteString(word())
		}
		if r.IntN(8) > 0 {
			b.WriteByte('\n')
		}
		return b.String()
	}
	for range 1 + r.IntN(6) {
		at := r.IntN(len(lines) + 1)
		switch r.IntN(5) {
		case 0, 1:
			lines = slices.Insert(lines, at, line())
		case 2:
			if at < len(lines) {
				lines = slices.Delete(lines, at, at+1)
			}
		case 3:
			if at < len(lines) {
				lines[at] = line()
			}
		case 4: // a stretch moved elsewhere
			if at < len(lines) {
				end := min(len(lines), at+1+r.IntN(40))
				moved := slices.Clone(lines[at:end])
				lines = slices.Delete(lines, at, end)
				lines = slices.Insert(lines, r.IntN(len(lines)+1), moved...)
			}
		}
	}
	if r.IntN(20) == 0 {
		return nil // the file emptied
	}
	return []byte(strings.Join(lines, ""))
}

// TestRangeKeywordsMatchFullScan: the occurrences a range worker derives
// from a path's previous version (or from another path's, since any
// description of shared bytes must serve) are exactly those a search of
// the whole version finds.
func TestRangeKeywordsMatchFullScan(t *testing.T) {
	e := New(Options{})
	kws := rangeKeywords(t, e)
	idx := e.kwTracker()
	derived := 0
	for seed := range uint64(60) {
		r := rand.New(rand.NewPCG(seed, 77))
		var data []byte
		for range 200 + r.IntN(2000) {
			data = append(data, editVersion(r, nil, kws)...)
			data = append(data, fmt.Sprintf("static int f%d(void) { return %d; }\n", r.IntN(1e6), r.IntN(9))...)
		}
		m := &versionMemo{}
		for v := range 30 {
			path := fmt.Sprintf("f%d.c", r.IntN(2))
			if k := m.get(path); k != nil {
				if _, small := sharedEnds(k.data, data); small {
					derived++
				}
			}
			got, ok := m.occurrences(idx, path, data)
			want, wok := idx.scanAll(data)
			if ok != wok || !slices.Equal(got, want) {
				t.Fatalf("seed %d version %d: derived %v (%v), whole search %v (%v)", seed, v, got, ok, want, wok)
			}
			data = editVersion(r, data, kws)
		}
	}
	if derived < 500 {
		t.Errorf("only %d versions derived from an earlier one: the test does not exercise derivation", derived)
	}
}

// TestSharedEndsDescribesData: every copy sharedEnds reports is old's
// bytes, and the instructions cover data in order.
func TestSharedEndsDescribesData(t *testing.T) {
	e := New(Options{})
	kws := rangeKeywords(t, e)
	for seed := range uint64(200) {
		r := rand.New(rand.NewPCG(seed, 5))
		var old []byte
		for range r.IntN(3000) {
			old = append(old, fmt.Sprintf("line %d %s\n", r.IntN(500), kws[r.IntN(len(kws))])...)
		}
		data := editVersion(r, old, kws)
		segs, small := sharedEnds(old, data)
		if !small {
			continue
		}
		at := 0
		for _, s := range segs {
			if s.dst != at || s.n <= 0 {
				t.Fatalf("seed %d: segments %v do not cover %d bytes in order", seed, segs, len(data))
			}
			if s.src >= 0 && string(old[s.src:s.src+s.n]) != string(data[s.dst:s.dst+s.n]) {
				t.Fatalf("seed %d: copy %v is not old's bytes", seed, s)
			}
			at += s.n
		}
		if at != len(data) {
			t.Fatalf("seed %d: segments cover %d of %d bytes", seed, at, len(data))
		}
	}
}

// TestRangeTrackedMatchesWhole: a range scanned with keywords tracked
// from each path's previous version (one worker and two) reports exactly
// what it reports when every version is searched whole. The files are
// edited many times in several places, hold keys of many rules, and a
// private key block whose body changes under unchanged BEGIN and END
// lines: its keywords are all in bytes copied from the previous version.
func TestRangeTrackedMatchesWhole(t *testing.T) {
	r := newGitRepo(t)
	rng := rand.New(rand.NewPCG(41, 42))
	g := patternstest.New(43)
	kws := rangeKeywords(t, New(Options{}))
	filler := func(n int) string {
		var b strings.Builder
		for range n {
			fmt.Fprintf(&b, "\tstrbuf_addf(&sb, \"%%s-%d\", name_%d);\n", rng.IntN(1e6), rng.IntN(100))
		}
		return b.String()
	}
	placeholders := []string{"{{GITHUB_PAT}}", "{{SLACK_BOT}}", "{{STRIPE_LIVE}}", "{{PGP_PRIVATE}}", "{{OPENSSH}}"}
	secret := func() string {
		if rng.IntN(3) == 0 {
			s, _ := g.Expand("aws_access_key_id = {{AKIA}}\naws_secret_access_key = {{SECRET}}\n")
			return s
		}
		s, _ := g.Expand("token: " + placeholders[rng.IntN(len(placeholders))] + "\n")
		return s
	}
	// A key block whose body is replaced, BEGIN and END kept.
	pemBody := func() string {
		s, _ := g.Expand("{{PEM_RSA}}")
		lines := strings.Split(strings.TrimSpace(s), "\n")
		return strings.Join(lines[1:len(lines)-1], "\n") + "\n"
	}
	files := map[string][]string{}
	for i := range 4 {
		name := fmt.Sprintf("src/f%d.c", i)
		files[name] = []string{filler(300), "-----BEGIN RSA PRIVATE KEY-----\n", pemBody(), "-----END RSA PRIVATE KEY-----\n", filler(300)}
	}
	write := func(name string) { r.write(name, strings.Join(files[name], "")) }
	edit := func(name string) {
		parts := files[name]
		for range 1 + rng.IntN(3) {
			at := rng.IntN(len(parts)-4) + 4 // after the key block's END
			switch rng.IntN(5) {
			case 0:
				parts[2] = pemBody()
			case 1:
				parts = slices.Insert(parts, at, secret())
			case 2:
				parts = slices.Insert(parts, at, kws[rng.IntN(len(kws))]+"\n")
			default:
				parts = slices.Insert(parts, at, filler(1+rng.IntN(20)))
			}
		}
		files[name] = parts
		write(name)
	}
	file := func(i int) string { return fmt.Sprintf("src/f%d.c", i%4) }
	for i := range 4 {
		write(file(i))
	}
	first := r.commit("base")
	for i := range 30 {
		if i%6 == 3 {
			// A topic edits one file while main edits another; the merge
			// then slips in an edit of its own.
			r.git("checkout", "-q", "-b", fmt.Sprintf("topic%d", i))
			edit(file(i))
			r.commit(fmt.Sprintf("topic %d", i))
			r.git("checkout", "-q", "main")
			edit(file(i + 1))
			r.commit(fmt.Sprintf("main %d", i))
			r.git("merge", "-q", "--no-ff", "--no-commit", fmt.Sprintf("topic%d", i))
			write(file(i))
			edit(file(i + 2))
			r.commit(fmt.Sprintf("merge %d", i))
			continue
		}
		edit(file(rng.IntN(4)))
		r.commit(fmt.Sprintf("edit %d", i))
	}
	r.git("gc", "-q")
	spec := first + "..HEAD"
	whole := New(Options{Workers: 1})
	whole.noTrack = true
	want, err := whole.ScanRange(context.Background(), r.dir, spec)
	if err != nil {
		t.Fatal(err)
	}
	if len(want.Findings) < 20 {
		t.Fatalf("only %d findings: the test does not exercise tracking", len(want.Findings))
	}
	rules := map[string]bool{}
	for _, f := range want.Findings {
		rules[f.RuleID] = true
	}
	if len(rules) < 4 {
		t.Fatalf("findings of only %d rules: %v", len(rules), rules)
	}
	for _, workers := range []int{1, 2} {
		got, err := New(Options{Workers: workers}).ScanRange(context.Background(), r.dir, spec)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%d workers: tracked scan differs from whole search:\n got %d findings\nwant %d", workers, len(got.Findings), len(want.Findings))
		}
	}
}
