package scanner

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/keyward/keyward/patterns"
	"github.com/keyward/keyward/patterns/patternstest"
)

// zipOf builds a zip of name/content pairs, deflated.
func zipOf(t testing.TB, members ...string) []byte {
	t.Helper()
	var b bytes.Buffer
	w := zip.NewWriter(&b)
	for i := 0; i+1 < len(members); i += 2 {
		f, err := w.Create(members[i])
		if err != nil {
			t.Fatal(err)
		}
		f.Write([]byte(members[i+1]))
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func gzipOf(t testing.TB, name string, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Name = name
	w.Write(data)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func tarOf(t testing.TB, members ...string) []byte {
	t.Helper()
	var b bytes.Buffer
	w := tar.NewWriter(&b)
	for i := 0; i+1 < len(members); i += 2 {
		w.WriteHeader(&tar.Header{Name: members[i], Mode: 0o644, Size: int64(len(members[i+1])), Typeflag: tar.TypeReg})
		w.Write([]byte(members[i+1]))
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// paths lists the findings' paths for key ID id.
func findingPaths(fs []Finding, id string) []string {
	var out []string
	for _, f := range fs {
		if f.KeyID == id {
			out = append(out, f.Path)
		}
	}
	sort.Strings(out)
	return out
}

func TestArchiveMembers(t *testing.T) {
	t.Parallel()
	a, b, c, d := newCreds(31), newCreds(32), newCreds(33), newCreds(34)
	inner := gzipOf(t, "credentials", []byte(b.ini()))
	lambda := zipOf(t, "handler.py", "import os\n"+a.ini(), "conf/credentials.gz", string(inner))
	tgz := gzipOf(t, "", tarOf(t, "./etc/app.env", c.ini(), "readme", "nothing"))
	jar := zipOf(t, "WEB-INF/lib/inner.jar", string(zipOf(t, "app.properties", d.ini())))
	e := New(Options{})
	for _, tc := range []struct {
		name string
		path string
		data []byte
		key  fakeCreds
		want string
	}{
		{"zip member", "lambda/function.zip", lambda, a, "lambda/function.zip!handler.py"},
		{"gzip inside zip", "lambda/function.zip", lambda, b, "lambda/function.zip!conf/credentials.gz!credentials"},
		{"tar.gz", "backup.tar.gz", tgz, c, "backup.tar.gz!etc/app.env"},
		{"jar in war", "app.war", jar, d, "app.war!WEB-INF/lib/inner.jar!app.properties"},
		{"named by content, not suffix", "report.docx", lambda, a, "report.docx!handler.py"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs, skips := e.ScanContent(tc.data, Provenance{Path: tc.path})
			if got := findingPaths(fs, tc.key.keyID); !reflect.DeepEqual(got, []string{tc.want}) {
				t.Fatalf("paths %q, want [%s] (skips %+v)", got, tc.want, skips)
			}
			for _, f := range fs {
				if f.KeyID == tc.key.keyID && (f.Secret.Reveal() != tc.key.secret || f.Line != 2 && f.Line != 3) {
					t.Errorf("secret paired %v, line %d", f.Secret.Reveal() == tc.key.secret, f.Line)
				}
			}
			if len(skips) != 0 {
				t.Errorf("skips: %+v", skips)
			}
		})
	}
}

// TestArchiveBzip2 uses the bzip2 tool: the standard library reads bzip2
// but cannot write it.
func TestArchiveBzip2(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("bzip2"); err != nil {
		t.Skip("bzip2 not installed")
	}
	c := newCreds(35)
	cmd := exec.Command("bzip2", "-c")
	cmd.Stdin = bytes.NewReader(tarOf(t, "secrets/aws", c.ini()))
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	fs, skips := New(Options{}).ScanContent(out, Provenance{Path: "b.tar.bz2"})
	if got := findingPaths(fs, c.keyID); !reflect.DeepEqual(got, []string{"b.tar.bz2!secrets/aws"}) {
		t.Fatalf("paths %q skips %+v", got, skips)
	}
}

// TestArchiveLimits: a bomb, a nest deeper than MaxArchiveDepth and a
// member over the size limit are each a skip with a reason, and what the
// limits allow is still scanned.
func TestArchiveLimits(t *testing.T) {
	t.Parallel()
	c := newCreds(36)
	bomb := zipOf(t, "ok.ini", c.ini(), "zeros.txt", strings.Repeat("\x00", 8<<20))
	fs, skips := New(Options{}).ScanContent(bomb, Provenance{Path: "bomb.zip"})
	if got := findingPaths(fs, c.keyID); !reflect.DeepEqual(got, []string{"bomb.zip!ok.ini"}) {
		t.Errorf("bomb: paths %q", got)
	}
	if len(skips) != 1 || skips[0].Path != "bomb.zip!zeros.txt" || skips[0].Reason != SkipArchiveLimit || !strings.Contains(skips[0].Detail, "bomb") {
		t.Errorf("bomb: skips %+v", skips)
	}

	deep := []byte(c.ini())
	for range MaxArchiveDepth + 1 {
		deep = zipOf(t, "x.zip", string(deep))
	}
	fs, skips = New(Options{}).ScanContent(deep, Provenance{Path: "deep.zip"})
	if len(fs) != 0 || len(skips) != 1 || skips[0].Reason != SkipArchiveLimit || !strings.Contains(skips[0].Detail, "deep") ||
		strings.Count(skips[0].Path, MemberSep) != MaxArchiveDepth {
		t.Errorf("deep: %d findings, skips %+v", len(fs), skips)
	}

	big := zipOf(t, "big.txt", strings.Repeat("x", 4096), "small.ini", c.ini())
	fs, skips = New(Options{MaxFileSize: 1024}).ScanContent(big, Provenance{Path: "big.zip"})
	if got := findingPaths(fs, c.keyID); len(got) != 1 || len(skips) != 1 || skips[0].Path != "big.zip!big.txt" {
		t.Errorf("size limit: paths %q skips %+v", got, skips)
	}
}

// TestArchiveNotReally: bytes that start like an archive but are not one
// are scanned as they are.
func TestArchiveNotReally(t *testing.T) {
	t.Parallel()
	c := newCreds(37)
	for _, prefix := range []string{"PK\x03\x04", "\x1f\x8b\x08", "BZh91AY&SY"} {
		fs, _ := New(Options{}).ScanContent([]byte(prefix+"\n"+c.ini()), Provenance{Path: "x"})
		if got := findingPaths(fs, c.keyID); !reflect.DeepEqual(got, []string{"x"}) {
			t.Errorf("%q: paths %q", prefix, got)
		}
	}
}

// TestArchiveSources: the same archive is read on disk, in history, in a
// range and staged.
func TestArchiveSources(t *testing.T) {
	t.Parallel()
	c := newCreds(38)
	r := newTestRepo(t)
	r.write("README", "x\n")
	base := r.commit("initial")
	zipped := zipOf(t, "handler.py", c.ini())
	if err := os.WriteFile(filepath.Join(r.dir, "function.zip"), zipped, 0o644); err != nil {
		t.Fatal(err)
	}
	r.git("add", "function.zip")
	e := New(Options{})
	want := []string{"function.zip!handler.py"}

	staged, err := e.ScanStaged(context.Background(), r.dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := findingPaths(staged.Findings, c.keyID); !reflect.DeepEqual(got, want) {
		t.Errorf("staged: %q", got)
	}
	intro := r.commit("add lambda")
	// A later version that keeps the member unchanged adds nothing.
	zipped2 := zipOf(t, "handler.py", c.ini(), "other.txt", "hello")
	os.WriteFile(filepath.Join(r.dir, "function.zip"), zipped2, 0o644)
	r.commit("update lambda")

	rng, err := e.ScanRange(context.Background(), r.dir, base+"..HEAD")
	if err != nil {
		t.Fatal(err)
	}
	fs := byKey(rng, c.keyID)
	if len(fs) != 1 || fs[0].Path != want[0] || fs[0].Commit != intro {
		t.Errorf("range: %+v", fs)
	}
	for _, l := range layouts {
		l.pack(r)
		f := one(t, r.scan(HistoryOptions{}), c.keyID)
		if f.Path != want[0] || f.Commit != intro || !reflect.DeepEqual(f.PresentIn, []string{"main"}) {
			t.Errorf("history %s: path %q commit %s present %q", l.name, f.Path, f.Commit, f.PresentIn)
		}
	}
	disk, err := e.ScanPaths(context.Background(), []string{filepath.Join(r.dir, "function.zip")})
	if err != nil {
		t.Fatal(err)
	}
	if got := findingPaths(disk.Findings, c.keyID); !reflect.DeepEqual(got, []string{filepath.Join(r.dir, "function.zip") + "!handler.py"}) {
		t.Errorf("disk: %q", got)
	}
}

// TestArchiveSkipInHistory: a bomb in history is a skip at its path.
func TestArchiveSkipInHistory(t *testing.T) {
	t.Parallel()
	r := newTestRepo(t)
	bomb := zipOf(t, "zeros.txt", strings.Repeat("\x00", 8<<20))
	os.WriteFile(filepath.Join(r.dir, "b.zip"), bomb, 0o644)
	r.commit("bomb")
	res := r.scan(HistoryOptions{})
	if len(res.Skipped) != 1 || res.Skipped[0].Path != "b.zip!zeros.txt" || res.Skipped[0].Reason != SkipArchiveLimit {
		t.Errorf("skips %+v", res.Skipped)
	}
}

// TestArchiveMatchesReference holds ScanContent to the reference expansion
// (reference_test.go) on generated archives: zips, tars and gzips, nested
// up to the depth limit, holding the differential test's generated content.
func TestArchiveMatchesReference(t *testing.T) {
	g := patternstest.New(71)
	var frags []string
	for _, r := range patterns.All() {
		for _, s := range r.Samples.True {
			text, _ := g.Expand(s)
			frags = append(frags, text)
		}
	}
	rnd := rand.New(rand.NewPCG(72, 73))
	var build func(depth int) []byte
	build = func(depth int) []byte {
		if depth == MaxArchiveDepth || rnd.IntN(3) == 0 {
			return sweepInput(rnd, g, frags)
		}
		var members []string
		for i := range 1 + rnd.IntN(3) {
			members = append(members, fmt.Sprintf("d%d/m%d.txt", depth, i), string(build(depth+1)))
		}
		switch rnd.IntN(3) {
		case 0:
			return zipOf(t, members...)
		case 1:
			return gzipOf(t, "", tarOf(t, members...))
		default:
			return gzipOf(t, fmt.Sprintf("g%d", depth), []byte(members[1]))
		}
	}
	e := New(Options{})
	total, members := 0, 0
	for i := range 60 {
		data := build(0)
		got, skips := e.ScanContent(data, Provenance{Path: "a.bin"})
		want := e.refExpand(data, "a.bin")
		if len(skips) != 0 {
			t.Fatalf("input %d: skips %+v", i, skips)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("input %d: %d findings, reference %d\ngot  %+v\nwant %+v", i, len(got), len(want), got, want)
		}
		total += len(got)
		for _, f := range got {
			if strings.Contains(f.Path, MemberSep) {
				members++
			}
		}
	}
	if total == 0 || members == 0 {
		t.Fatalf("%d findings, %d in members: the generated archives hold nothing to compare", total, members)
	}
}
