package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/keyward/keyward/patterns/patternstest"
)

// repoSpec is the shape of a generated repository.
type repoSpec struct {
	name    string
	commits int   // at least this many commits
	bytes   int64 // and at least this much blob content written
	seed    uint64
}

// Sizes. The large one matches issue 3's floor: at least 20k commits and
// 1 GB of unique blobs, between tmux (12.6k commits, 1.1 GB) and git/git.
var specs = map[string]repoSpec{
	"small": {name: "small", commits: 2000, bytes: 100 << 20, seed: 1},
	"large": {name: "large", commits: 20000, bytes: 1 << 30, seed: 1},
}

// Generator limits, each a trade between realism and build time.
const (
	// maxSourceFile leaves out the toolchain's few huge test fixtures,
	// which would dominate the byte count without being edited like code.
	maxSourceFile = 1 << 20
	// hotFiles is the working set most commits touch: real histories edit
	// a few hundred files over and over, which is what builds long delta
	// chains.
	hotFiles = 400
	// maxOpenTopics is how many topic branches are in flight at once.
	maxOpenTopics = 3
	// secretEvery spaces out commits that add fake credentials, so the
	// sweep has findings to attribute (and its tree phase runs), some
	// removed again and some still at a tip.
	secretEvery = 997
)

// sourceFile is one file of the Go tree, split into lines for editing.
type sourceFile struct {
	path  string
	lines [][]byte
}

// loadSources reads the corpus the history is made from: dir if given
// (--source, for C-heavy content such as a checkout of git/git), else
// $(go env GOROOT)/src: real code, real sizes, real directory shapes.
func loadSources(ctx context.Context, dir string) ([]sourceFile, error) {
	root := dir
	if root == "" {
		out, err := exec.CommandContext(ctx, "go", "env", "GOROOT").Output()
		if err != nil {
			return nil, fmt.Errorf("find GOROOT: %w", err)
		}
		root = filepath.Join(strings.TrimSpace(string(out)), "src")
	}
	var files []sourceFile
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() && d.Name() == ".git" {
			return filepath.SkipDir
		}
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		info, err := d.Info()
		if err != nil || info.Size() == 0 || info.Size() > maxSourceFile {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		files = append(files, sourceFile{path: filepath.ToSlash(rel), lines: bytes.SplitAfter(data, []byte("\n"))})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read sources under %s: %w", root, err)
	}
	sort.Slice(files, func(i, j int) bool { return files[i].path < files[j].path })
	return files, nil
}

// branchState is the tree of one branch: path to content. Contents are
// never modified in place, so branches share them freely.
type branchState struct {
	ref    string
	files  map[string][]byte
	mark   int // last commit's mark, 0 before the first
	left   int // commits until a topic is merged
	merge  bool
	change map[string]bool // paths changed since the fork, for the merge
}

func (b *branchState) fork(ref string) *branchState {
	c := &branchState{ref: ref, files: make(map[string][]byte, len(b.files)), mark: b.mark, change: map[string]bool{}}
	for k, v := range b.files {
		c.files[k] = v
	}
	return c
}

// generator writes a git fast-import stream: thousands of commits per
// second, where running git commit would take an hour for 20k.
type generator struct {
	w       *bufio.Writer
	r       *rand.Rand
	src     []sourceFile
	unused  []int // sources not yet added
	hot     []string
	mark    int
	when    int64
	commits int
	bytes   int64
	creds   *patternstest.Gen
	secrets []string // paths of fake credentials still present on main
	merged  []string // topic refs merged into main, deleted after import
}

var authors = []string{
	"Ada Lovelace <ada@example.com>", "Grace Hopper <grace@example.com>",
	"Ken Thompson <ken@example.com>", "Barbara Liskov <barbara@example.com>",
	"Rob Pike <rob@example.com>", "Frances Allen <fran@example.com>",
}

// generate writes the whole history of spec to w.
func generate(w io.Writer, spec repoSpec, src []sourceFile) (*generator, error) {
	g := &generator{
		w:     bufio.NewWriterSize(w, 1<<20),
		r:     rand.New(rand.NewPCG(spec.seed, spec.seed^0x5eed)),
		src:   src,
		when:  time.Date(2015, 1, 1, 9, 0, 0, 0, time.UTC).Unix(),
		creds: patternstest.New(spec.seed),
	}
	main := &branchState{ref: "refs/heads/main", files: map[string][]byte{}, change: map[string]bool{}}
	// The first commit holds half the tree; the rest arrives as adds.
	perm := g.r.Perm(len(src))
	initial := map[string][]byte{}
	for _, i := range perm[:len(perm)/2] {
		initial[src[i].path] = bytes.Join(src[i].lines, nil)
	}
	g.unused = perm[len(perm)/2:]
	var paths []string
	for p, c := range initial {
		paths = append(paths, p)
		if len(c) > 4096 {
			g.hot = append(g.hot, p)
		}
	}
	sort.Strings(g.hot)
	g.r.Shuffle(len(g.hot), func(i, j int) { g.hot[i], g.hot[j] = g.hot[j], g.hot[i] })
	if len(g.hot) > hotFiles {
		g.hot = g.hot[:hotFiles]
	}
	sort.Strings(paths)
	g.commit(main, nil, "Initial import\n", func(m map[string][]byte, emit func(string, []byte)) {
		for _, p := range paths {
			emit(p, initial[p])
		}
	})

	var topics []*branchState
	nTopic, nTag, nMain := 0, 0, 0
	for iter := 1; g.commits < spec.commits || g.bytes < spec.bytes; iter++ {
		b := main
		if len(topics) > 0 && g.r.IntN(2) == 0 {
			b = topics[g.r.IntN(len(topics))]
		}
		g.commit(b, nil, g.message(), g.edits)
		if b != main {
			b.left--
			if b.left == 0 {
				topics = remove(topics, b)
				if b.merge {
					g.mergeInto(main, b)
					g.merged = append(g.merged, b.ref)
				}
			}
		} else {
			nMain++
			if nMain%400 == 0 {
				nTag++
				g.tag(main, nTag)
			}
			if len(topics) < maxOpenTopics && g.r.IntN(25) == 0 {
				nTopic++
				t := main.fork(fmt.Sprintf("refs/heads/topic/%04d", nTopic))
				t.left = 3 + g.r.IntN(20)
				t.merge = g.r.IntN(10) < 8 // the rest are left unmerged
				topics = append(topics, t)
			}
		}
		if iter%secretEvery == 0 {
			g.leak(b)
		}
	}
	fmt.Fprintf(g.w, "done\n")
	return g, g.w.Flush()
}

func remove(ts []*branchState, b *branchState) []*branchState {
	out := ts[:0]
	for _, t := range ts {
		if t != b {
			out = append(out, t)
		}
	}
	return out
}

func (g *generator) message() string {
	verbs := []string{"fix", "refactor", "speed up", "document", "simplify", "test", "clean up"}
	nouns := []string{"parser", "scheduler", "linker", "escape analysis", "net/http", "runtime", "gc"}
	return verbs[g.r.IntN(len(verbs))] + " " + nouns[g.r.IntN(len(nouns))] + "\n\nChange-Id: I" + fmt.Sprintf("%016x", g.r.Uint64()) + "\n"
}

// commit writes one commit on b (a merge of merge, if not nil): change
// edits b's files through emit (nil content deletes).
func (g *generator) commit(b *branchState, merge *branchState, msg string, change func(map[string][]byte, func(string, []byte))) {
	g.mark++
	g.commits++
	g.when += 60 + g.r.Int64N(6*3600)
	author := authors[g.r.IntN(len(authors))]
	fmt.Fprintf(g.w, "commit %s\nmark :%d\nauthor %s %d +0000\ncommitter %s %d +0000\ndata %d\n%s\n",
		b.ref, g.mark, author, g.when, author, g.when, len(msg), msg)
	if b.mark != 0 {
		fmt.Fprintf(g.w, "from :%d\n", b.mark)
	}
	if merge != nil {
		fmt.Fprintf(g.w, "merge :%d\n", merge.mark)
	}
	change(b.files, func(p string, content []byte) {
		b.change[p] = true
		if content == nil {
			delete(b.files, p)
			fmt.Fprintf(g.w, "D %s\n", p)
			return
		}
		b.files[p] = content
		g.bytes += int64(len(content))
		fmt.Fprintf(g.w, "M 100644 inline %s\ndata %d\n", p, len(content))
		g.w.Write(content)
		g.w.WriteByte('\n')
	})
	g.w.WriteByte('\n')
	b.mark = g.mark
}

// edits is an ordinary commit: a few files modified, sometimes one added,
// deleted or renamed.
func (g *generator) edits(files map[string][]byte, emit func(string, []byte)) {
	n := 1 + g.r.IntN(6)
	for range n {
		switch k := g.r.IntN(100); {
		case k < 4 && len(g.unused) > 0: // add
			i := g.unused[len(g.unused)-1]
			g.unused = g.unused[:len(g.unused)-1]
			emit(g.src[i].path, bytes.Join(g.src[i].lines, nil))
		case k < 6: // delete
			if p := g.pick(files, false); p != "" {
				emit(p, nil)
			}
		case k < 8: // rename, with a small edit as renames usually have
			if p := g.pick(files, false); p != "" {
				dir, base := path.Split(p)
				old := files[p]
				emit(p, nil)
				emit(dir+"renamed_"+base, g.edit(old))
			}
		default:
			if p := g.pick(files, true); p != "" {
				emit(p, g.edit(files[p]))
			}
		}
	}
}

// pick chooses a file, from the hot set most of the time when hot.
func (g *generator) pick(files map[string][]byte, hot bool) string {
	if hot && g.r.IntN(10) < 8 {
		for range 5 {
			p := g.hot[g.r.IntN(len(g.hot))]
			if _, ok := files[p]; ok {
				return p
			}
		}
	}
	// A uniform pick from a map needs an order; the sources give one.
	for range 20 {
		p := g.src[g.r.IntN(len(g.src))].path
		if _, ok := files[p]; ok {
			return p
		}
	}
	return ""
}

// edit replaces a few lines of content with lines from another source
// file, keeping its size about the same.
func (g *generator) edit(content []byte) []byte {
	lines := bytes.SplitAfter(content, []byte("\n"))
	donor := g.src[g.r.IntN(len(g.src))].lines
	at := g.r.IntN(len(lines) + 1)
	del := min(g.r.IntN(6), len(lines)-at)
	ins := 1 + g.r.IntN(8)
	from := g.r.IntN(len(donor))
	var out [][]byte
	out = append(out, lines[:at]...)
	for i := 0; i < ins && from+i < len(donor); i++ {
		out = append(out, donor[from+i])
	}
	out = append(out, lines[at+del:]...)
	return bytes.Join(out, nil)
}

// mergeInto merges topic into main: main's tree with the topic's changes
// on top (the topic wins a conflict, as if resolved that way).
func (g *generator) mergeInto(main, topic *branchState) {
	g.commit(main, topic, fmt.Sprintf("Merge branch '%s'\n", strings.TrimPrefix(topic.ref, "refs/heads/")),
		func(files map[string][]byte, emit func(string, []byte)) {
			var paths []string
			for p := range topic.change {
				paths = append(paths, p)
			}
			sort.Strings(paths)
			for _, p := range paths {
				c, ok := topic.files[p]
				_, inMain := files[p]
				switch {
				case ok && !bytes.Equal(c, files[p]):
					emit(p, c)
				case !ok && inMain:
					emit(p, nil)
				}
			}
		})
}

// tag writes an annotated tag every other time and a lightweight one
// otherwise.
func (g *generator) tag(b *branchState, n int) {
	if n%2 == 1 {
		msg := fmt.Sprintf("Release 1.%d\n", n)
		fmt.Fprintf(g.w, "tag v1.%d\nfrom :%d\ntagger %s %d +0000\ndata %d\n%s\n", n, b.mark, authors[0], g.when, len(msg), msg)
		return
	}
	fmt.Fprintf(g.w, "reset refs/tags/snapshot-%d\nfrom :%d\n\n", n, b.mark)
}

// leak adds a fake credentials file on b, or removes one left on main, so
// that the sweep has findings both gone and still present.
func (g *generator) leak(b *branchState) {
	if len(g.secrets) > 0 && g.r.IntN(2) == 0 && b.ref == "refs/heads/main" {
		p := g.secrets[0]
		g.secrets = g.secrets[1:]
		g.commit(b, nil, "remove credentials\n", func(_ map[string][]byte, emit func(string, []byte)) { emit(p, nil) })
		return
	}
	p := fmt.Sprintf("deploy/credentials-%d.ini", g.commits)
	content := "[default]\naws_access_key_id = " + g.creds.KeyID("AKIA", patternstest.DefaultAccount) +
		"\naws_secret_access_key = " + g.creds.Secret() + "\n"
	g.commit(b, nil, "add deploy credentials\n", func(_ map[string][]byte, emit func(string, []byte)) { emit(p, []byte(content)) })
	if b.ref == "refs/heads/main" {
		g.secrets = append(g.secrets, p)
	}
}
