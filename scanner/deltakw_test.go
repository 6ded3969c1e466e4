package scanner

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/keyward/keyward/patterns"
	"github.com/keyward/keyward/patterns/patternstest"
)

// deltaOp is one instruction for encodeDelta: a copy of n bytes at off in
// the base, or an insert of lit.
type deltaOp struct {
	off, n int
	lit    []byte
}

// encodeDelta writes ops in git's delta format, using every size-byte
// form a copy may take (including none, which means 64 KiB, and three,
// for copies up to 16 MiB).
func encodeDelta(baseLen int, ops []deltaOp) []byte {
	varint := func(b []byte, v int) []byte {
		for v >= 0x80 {
			b = append(b, byte(v)|0x80)
			v >>= 7
		}
		return append(b, byte(v))
	}
	size := 0
	for _, op := range ops {
		if op.lit != nil {
			size += len(op.lit)
		} else {
			size += op.n
		}
	}
	d := varint(varint(nil, baseLen), size)
	for _, op := range ops {
		if op.lit != nil {
			for lit := op.lit; len(lit) > 0; {
				n := min(len(lit), maxDeltaInsert)
				d = append(append(d, byte(n)), lit[:n]...)
				lit = lit[n:]
			}
			continue
		}
		cmd := byte(0x80)
		var args []byte
		for i := range 4 {
			if b := byte(op.off >> (8 * i)); b != 0 {
				cmd |= 1 << i
				args = append(args, b)
			}
		}
		if op.n != deltaCopyDefault {
			for i := range 3 {
				if b := byte(op.n >> (8 * i)); b != 0 {
					cmd |= 1 << (4 + i)
					args = append(args, b)
				}
			}
		}
		d = append(append(d, cmd), args...)
	}
	return d
}

// keywordText builds text in which the regexp rules' keywords (in mixed
// case) sit among filler bytes that share their letters.
func keywordText(r *rand.Rand, n int) []byte {
	var kws []string
	for _, rule := range patterns.All() {
		kws = append(kws, rule.Keywords...)
	}
	var b bytes.Buffer
	for b.Len() < n {
		switch r.IntN(6) {
		case 0:
			k := kws[r.IntN(len(kws))]
			if r.IntN(3) == 0 {
				k = strings.ToUpper(k)
			}
			b.WriteString(k)
		case 1:
			k := kws[r.IntN(len(kws))]
			b.WriteString(k[:r.IntN(len(k)+1)]) // a keyword cut short
		default:
			const filler = "ghp_-_kKzwGxoxsk. \n"
			at := r.IntN(len(filler))
			b.WriteString(filler[at:min(len(filler), at+1+r.IntN(3))])
		}
	}
	return b.Bytes()[:n]
}

// randomDelta returns ops turning base into an edited copy: long copies,
// copies straddling keywords, inserts of keyword text.
func randomDelta(r *rand.Rand, base []byte) []deltaOp {
	var ops []deltaOp
	for k := r.IntN(12); k >= 0; k-- {
		if len(base) > 0 && r.IntN(3) != 0 {
			off := r.IntN(len(base))
			n := 1 + r.IntN(len(base)-off)
			if n == deltaCopyDefault && r.IntN(2) == 0 {
				n-- // keep both encodings of 64 KiB in play
			}
			ops = append(ops, deltaOp{off: off, n: n})
			continue
		}
		ops = append(ops, deltaOp{lit: keywordText(r, 1+r.IntN(300))})
	}
	return ops
}

// TestDeltaKeywordsMatchFullScan holds keyword tracking to its definition:
// the occurrences derived from a base's through a delta are exactly those
// a search of the whole result finds, over chains of generated deltas.
func TestDeltaKeywordsMatchFullScan(t *testing.T) {
	e := New(Options{})
	idx := e.kwTracker()
	r := rand.New(rand.NewPCG(10, 5))
	var z inflater
	var segs []deltaSeg
	for chain := 0; chain < 60; chain++ {
		size := r.IntN(4000)
		if chain%10 == 0 {
			size = 70000 + r.IntN(30000) // copies past 64 KiB
		}
		base := keywordText(r, size)
		occs, ok := idx.scanAll(base)
		if !ok {
			t.Fatal("too many occurrences")
		}
		for depth := 0; depth < 8; depth++ {
			delta := encodeDelta(len(base), randomDelta(r, base))
			out, err := z.applyDeltaSegs(base, delta, &segs)
			if err != nil {
				t.Fatalf("chain %d depth %d: %v", chain, depth, err)
			}
			got, ok1 := idx.derive(out, occs, segs)
			want, ok2 := idx.scanAll(out)
			if ok1 != ok2 || !reflect.DeepEqual(got, want) {
				t.Fatalf("chain %d depth %d: derived %d occurrences %v, full scan %d %v (base %d, %d segs, %d base occs)", chain, depth, len(got), ok1, len(want), ok2, len(base), len(segs), len(occs))
			}
			if !ok1 {
				break // too many to track: the sweep searches this chain whole
			}
			base, occs = bytes.Clone(out), got
		}
	}
}

// TestScanTrackedMatchesScan checks that a scan given a blob's tracked
// occurrences reports what a plain scan does, on the differential test's
// inputs.
func TestScanTrackedMatchesScan(t *testing.T) {
	e := New(Options{})
	idx := e.kwTracker()
	r := rand.New(rand.NewPCG(11, 6))
	for i := 0; i < 200; i++ {
		data := keywordText(r, r.IntN(3*gateBlock))
		occs, _ := idx.scanAll(data)
		got := e.scanTracked(data, Provenance{Path: "x"}, occs)
		want := e.Scan(data, Provenance{Path: "x"})
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("input %d: tracked %d findings, plain %d", i, len(got), len(want))
		}
	}
}

// TestApplyDeltaLargeCopy checks git's copy semantics: three size bytes
// copy up to 16 MiB, and no size bytes means 64 KiB; a copy past 64 KiB
// was once rejected as corrupt.
func TestApplyDeltaLargeCopy(t *testing.T) {
	base := bytes.Repeat([]byte("0123456789abcdef"), 20000) // 320,000 bytes
	for _, n := range []int{deltaCopyDefault, deltaCopyDefault + 1, 200000, len(base)} {
		delta := encodeDelta(len(base), []deltaOp{{off: 0, n: n}, {lit: []byte("tail")}})
		var z inflater
		out, err := z.applyDelta(base, delta)
		if err != nil {
			t.Fatalf("copy of %d bytes: %v", n, err)
		}
		if !bytes.Equal(out, append(bytes.Clone(base[:n]), "tail"...)) {
			t.Fatalf("copy of %d bytes: wrong result", n)
		}
	}
	// A copy with no size bytes is 64 KiB, not zero.
	var z inflater
	out, err := z.applyDelta(base, []byte{0x80, 0xc4, 0x13, 0x80, 0x80, 0x0c, 0x80, 0x80, 0x80})
	if err != nil || len(out) != 3*deltaCopyDefault {
		t.Fatalf("three default copies: %d bytes, %v", len(out), err)
	}
}

// FuzzDeltaKeywords checks keyword tracking on arbitrary bases and deltas:
// whenever a delta applies, the derived occurrences equal a full search.
// Inputs are bounded so one case stays fast.
func FuzzDeltaKeywords(f *testing.F) {
	r := rand.New(rand.NewPCG(12, 7))
	for range 4 {
		base := keywordText(r, 300)
		f.Add(base, encodeDelta(len(base), randomDelta(r, base)))
	}
	e := New(Options{})
	idx := e.kwTracker()
	f.Fuzz(func(t *testing.T, base, delta []byte) {
		if len(base) > maxFuzzObjectInput || len(delta) > maxFuzzObjectInput {
			return
		}
		var z inflater
		var segs []deltaSeg
		out, err := z.applyDeltaSegs(base, delta, &segs)
		if err != nil {
			return
		}
		occs, _ := idx.scanAll(base)
		got, ok1 := idx.derive(out, occs, segs)
		want, ok2 := idx.scanAll(out)
		if ok1 != ok2 || !reflect.DeepEqual(got, want) {
			t.Fatalf("derived %v, full scan %v", got, want)
		}
	})
}

// maxFuzzObjectInput bounds a fuzz input, so a case stays fast and its memory
// small whatever the fuzzer grows it to.
const maxFuzzObjectInput = 1 << 20

// TestHistoryKeywordTrackingMatchesWholeScan sweeps a repository whose
// files evolve over many commits, with the rules' samples added and
// removed, packed by git gc --aggressive so that blobs are long delta
// chains, and checks that tracking keywords through the deltas reports
// exactly what searching every blob whole does.
func TestHistoryKeywordTrackingMatchesWholeScan(t *testing.T) {
	repo := newTestRepo(t)
	g := patternstest.New(21)
	var samples []string
	for _, rule := range patterns.All() {
		for _, s := range append(rule.Samples.True, rule.Samples.False...) {
			text, _ := g.Expand(s)
			samples = append(samples, text)
		}
	}
	r := rand.New(rand.NewPCG(22, 8))
	files := make([][]string, 4)
	for i := range files {
		for l := 0; l < 300; l++ {
			files[i] = append(files[i], fmt.Sprintf("static int line_%d_%d = %d; /* ghp - gl _ sk */", i, l, r.IntN(1000)))
		}
	}
	for c := 0; c < 40; c++ {
		for i := range files {
			for k := r.IntN(4); k >= 0; k-- {
				at := r.IntN(len(files[i]))
				switch r.IntN(3) {
				case 0:
					files[i][at] = samples[r.IntN(len(samples))]
				case 1:
					files[i][at] = fmt.Sprintf("edited %d %d", c, r.IntN(1000))
				default:
					files[i] = slices.Insert(files[i], at, keywordLine(r))
				}
			}
			repo.write(fmt.Sprintf("src/f%d.c", i), strings.Join(files[i], "\n"))
		}
		repo.commit(fmt.Sprintf("commit %d", c))
	}
	repo.git("gc", "-q", "--aggressive")
	if deltas := repo.git("cat-file", "--batch-all-objects", "--batch-check=%(objecttype) %(deltabase)"); !strings.Contains(deltas, "blob ") ||
		strings.Count(deltas, "blob 0000000000000000000000000000000000000000") == strings.Count(deltas, "blob ") {
		t.Fatal("the pack holds no blob deltas; the test would not exercise tracking")
	}
	// All rules, and the AWS rules alone, whose finders are left out of
	// blobs without their literals (roleKeywords).
	for _, rules := range [][]patterns.Rule{nil, patterns.AWS()} {
		tracked := New(Options{Rules: rules})
		whole := New(Options{Rules: rules})
		whole.noTrack = true
		a, err := tracked.ScanHistory(context.Background(), repo.dir, HistoryOptions{})
		if err != nil {
			t.Fatal(err)
		}
		b, err := whole.ScanHistory(context.Background(), repo.dir, HistoryOptions{})
		if err != nil {
			t.Fatal(err)
		}
		aws := 0
		for _, f := range b.Findings {
			if strings.HasPrefix(f.RuleID, "aws-") {
				aws++
			}
		}
		if aws == 0 || len(b.Findings) == aws && rules == nil {
			t.Fatalf("%d findings, %d of AWS rules: the test would not notice a rule going missing", len(b.Findings), aws)
		}
		if !reflect.DeepEqual(a.Findings, b.Findings) {
			t.Fatalf("%d rules: tracked sweep: %d findings, whole-blob sweep: %d", len(rules), len(a.Findings), len(b.Findings))
		}
	}
}

// keywordLine is a line of keywords and near-misses.
func keywordLine(r *rand.Rand) string {
	return string(keywordText(r, 20+r.IntN(60)))
}

// TestAdaptedPlanMatchesStatic checks that an engine whose plan adapted
// to C-like content (where '-' and '_' are common) reports exactly what
// an engine on the static plan does, on the differential test's inputs;
// and that the adapted plan did change, so the test means something.
func TestAdaptedPlanMatchesStatic(t *testing.T) {
	adapted := New(Options{})
	r := rand.New(rand.NewPCG(13, 9))
	var c bytes.Buffer
	for c.Len() < 2*planSample {
		fmt.Fprintf(&c, "\tif (!strcmp(arg, \"--no-%d\") && opt->flag_%d_x > 0) return error(_(\"bad\"));\n", r.IntN(1e6), r.IntN(1e3))
	}
	for chunk := c.Bytes(); len(chunk) > 0; chunk = chunk[min(len(chunk), planSampleChunk):] {
		adapted.Scan(chunk[:min(len(chunk), planSampleChunk)], Provenance{})
	}
	if !adapted.planner.done.Load() || adapted.planner.current().rar == staticRarity {
		t.Fatal("the plan did not adapt")
	}
	if reflect.DeepEqual(adapted.plan(roleAll).passes, New(Options{}).plan(roleAll).passes) {
		t.Fatal("the adapted plan searches the same bytes as the static one")
	}
	static := New(Options{})
	static.planner.done.Store(true) // never adapts
	g := patternstest.New(14)
	frags := ruleFragments(g)
	for i := 0; i < 200; i++ {
		data := sweepInput(r, g, frags)
		got := adapted.Scan(data, Provenance{Path: "x"})
		want := static.Scan(data, Provenance{Path: "x"})
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("input %d: adapted plan %d findings, static %d", i, len(got), len(want))
		}
	}
}

// TestManyAnchorsOneByte covers a group too large for anchor masks (more
// than 64 keywords anchored at one byte, as a project's custom rules can
// make): the prefilter still finds each keyword, and keyword tracking is
// off for such an engine, so a history sweep searches blobs whole.
func TestManyAnchorsOneByte(t *testing.T) {
	var kws []string
	for i := range 70 {
		kws = append(kws, fmt.Sprintf("~%c%c", 'a'+i%26, 'a'+i/26))
	}
	rule := &patterns.Rule{ID: "many", Keywords: kws}
	rules := []*patterns.Rule{rule}
	for _, k := range []string{kws[0], kws[33], kws[69]} {
		live := make([]bool, 1)
		liveRules([]byte("x "+k+" y"), rules, live)
		if !live[0] {
			t.Fatalf("keyword %q not found", k)
		}
	}
	live := make([]bool, 1)
	liveRules([]byte("x ~zz ~ y"), rules, live)
	if live[0] {
		t.Fatal("live without its keyword")
	}
	pl := newSweepPlan(0, rules, staticRarity)
	if len(pl.groups) != 1 || pl.groups[0].masked {
		t.Fatalf("%d groups, masked %v: the test needs one group past 64 anchors", len(pl.groups), len(pl.groups) > 0 && pl.groups[0].masked)
	}
}

// TestDeltaKeywordsAcrossEveryBoundary splits every rule keyword at each
// of its inner boundaries, in the cases it matches, with two copies of a
// base that holds it: the keyword then lies in no single copied range,
// and the boundary filter (kwIndex.mayCross) must let the search see it.
func TestDeltaKeywordsAcrossEveryBoundary(t *testing.T) {
	e := New(Options{})
	idx := e.kwTracker()
	r := rand.New(rand.NewPCG(15, 3))
	var z inflater
	var segs []deltaSeg
	for _, g := range idx.plan.groups {
		for _, a := range g.anchors {
			forms := []string{a.keyword}
			if !a.exact {
				mixed := []byte(a.keyword)
				for i := range mixed {
					if r.IntN(2) == 0 {
						mixed[i] = upper(mixed[i])
					} else {
						mixed[i] = lower(mixed[i])
					}
				}
				forms = append(forms, strings.ToUpper(a.keyword), strings.ToLower(a.keyword), string(mixed))
			}
			for _, k := range forms {
				base := []byte("= " + k + " ;")
				want, _ := idx.scanAll(base)
				if len(want) == 0 {
					t.Fatalf("keyword %q not found in %q", k, base)
				}
				for split := 3; split < 2+len(k); split++ {
					delta := encodeDelta(len(base), []deltaOp{{off: 0, n: split}, {off: split, n: len(base) - split}})
					out, err := z.applyDeltaSegs(base, delta, &segs)
					if err != nil {
						t.Fatal(err)
					}
					if !idx.mayCross(out, split) {
						t.Errorf("keyword %q: boundary after %q ruled out", k, out[:split])
					}
					if got, _ := idx.derive(out, nil, segs); !reflect.DeepEqual(got, want) {
						t.Errorf("keyword %q split after %q: derived %v, want %v", k, out[:split], got, want)
					}
				}
			}
		}
	}
	// And the filter filters: two spaces are in no keyword.
	if idx.mayCross([]byte("a  b"), 2) {
		t.Error("a boundary between two spaces may cross a keyword")
	}
}

// TestScanTrackedRolesMatchScan checks that leaving out the AWS finders
// whose literals a blob lacks (roleKeywords) changes no finding: blobs
// of AWS credentials in every form the finders know (pairs, named
// secrets and tokens, base64, UTF-16) and of other rules' samples are
// scanned with their tracked occurrences and plainly, by an engine with
// all rules and one with the AWS rules alone.
func TestScanTrackedRolesMatchScan(t *testing.T) {
	g := patternstest.New(16)
	frags := ruleFragments(g)
	for _, c := range []struct {
		name  string
		rules []patterns.Rule
	}{{"all", nil}, {"aws", patterns.AWS()}} {
		t.Run(c.name, func(t *testing.T) {
			e := New(Options{Rules: c.rules})
			idx := e.kwTracker()
			r := rand.New(rand.NewPCG(17, 4))
			found := map[string]int{}
			var left, kept [roleAll + 1]int
			for i := 0; i < 400; i++ {
				data := sweepInput(r, g, frags)
				occs, ok := idx.scanAll(data)
				if !ok {
					continue
				}
				var present role
				for _, o := range occs {
					if int(o.rule) >= idx.nRegexp {
						present |= idx.roleOf[int(o.rule)-idx.nRegexp]
					}
				}
				for _, ro := range []role{roleKeyID, roleSecret, roleToken, roleBase64} {
					if present&ro == 0 {
						left[ro]++
					} else {
						kept[ro]++
					}
				}
				got := e.scanTracked(data, Provenance{Path: "x"}, occs)
				want := e.Scan(data, Provenance{Path: "x"})
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("input %d (finders with literals %04b): tracked %d findings, plain %d", i, present, len(got), len(want))
				}
				for _, f := range want {
					found[f.RuleID]++
				}
			}
			for _, id := range []string{"aws-access-key-id", "aws-secret-access-key", "aws-session-token"} {
				if found[id] == 0 {
					t.Errorf("no %s finding: the test would not notice its finder left out", id)
				}
			}
			for _, ro := range []role{roleKeyID, roleSecret, roleToken, roleBase64} {
				if left[ro] == 0 || kept[ro] == 0 {
					t.Errorf("finder %04b left out of %d inputs and kept for %d: the test needs both", ro, left[ro], kept[ro])
				}
			}
		})
	}
}

// ruleFragments is every rule's true samples, expanded with g's fake
// credentials, and its keywords: the pieces sweepInput builds content of.
func ruleFragments(g *patternstest.Gen) []string {
	var frags []string
	for _, rule := range patterns.All() {
		for _, s := range rule.Samples.True {
			text, _ := g.Expand(s)
			frags = append(frags, text)
		}
		frags = append(frags, rule.Keywords...)
	}
	return frags
}

// TestScanAllMatchesByteSearch checks scanAll against a byte-by-byte
// search on text dense in every anchor byte.
func TestScanAllMatchesByteSearch(t *testing.T) {
	idx := New(Options{}).kwTracker()
	r := rand.New(rand.NewPCG(5, 8))
	for i := range 300 {
		data := keywordText(r, 4096+i)
		got, ok := idx.scanAll(data)
		if !ok {
			t.Fatalf("length %d: too many occurrences", len(data))
		}
		var want []kwOcc
		for gi := range idx.plan.groups {
			g := &idx.plan.groups[gi]
			for at := range data {
				if data[at] == g.anchors[0].b {
					want = idx.check(g, data, at, 0, len(data), want)
				}
			}
		}
		if want = sortOccs(want); !reflect.DeepEqual(got, want) {
			t.Fatalf("length %d: scanAll found %d occurrences, a byte-by-byte search %d", len(data), len(got), len(want))
		}
	}
}
