package scanner

import (
	"bytes"
	"compress/zlib"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
)

// Fuzz targets for the object layer (issue 10, item 7): packs and their
// indexes, loose objects and trees all come from someone else's
// repository. Each target bounds its input (maxFuzzObjectInput) so that a case
// stays fast and small whatever the fuzzer grows it to; the readers' own
// limits (maxInflateRatio, maxDeltaResult, maxPointDeltaDepth) bound the
// rest. Seeds are built at test time from a repository git writes (with
// deltas), and the committed corpora under testdata/fuzz hold the same
// kind of input.

// seedPack returns the pack and index git writes for a small history with
// delta chains, and the hashes of its objects.
func seedPack(f *testing.F) (pack, idx []byte) {
	f.Helper()
	r := newTestRepo(f)
	for i := 0; i < 6; i++ {
		r.write("src/a.c", strings.Repeat("int line = 1; /* ghp_ and glpat- */\n", 40+i))
		r.write("doc/b.txt", strings.Repeat("text\n", 30)+strings.Repeat("more\n", i))
		r.commit("c")
	}
	r.git("gc", "-q", "--aggressive")
	packs, _ := filepath.Glob(filepath.Join(r.dir, ".git", "objects", "pack", "*.pack"))
	if len(packs) != 1 {
		f.Fatalf("packs: %q", packs)
	}
	pack, err := os.ReadFile(packs[0])
	if err != nil {
		f.Fatal(err)
	}
	idx, err = os.ReadFile(strings.TrimSuffix(packs[0], ".pack") + ".idx")
	if err != nil {
		f.Fatal(err)
	}
	return pack, idx
}

// writePack puts a pack and its index in a fresh objects directory.
func writePack(t *testing.T, pack, idx []byte) string {
	dir := filepath.Join(t.TempDir(), "objects")
	if err := os.MkdirAll(filepath.Join(dir, "pack"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "pack", "pack-x.pack"), pack, 0o644)
	os.WriteFile(filepath.Join(dir, "pack", "pack-x.idx"), idx, 0o644)
	return dir
}

// FuzzPack sweeps an arbitrary pack and index, and reads every object the
// index names through the object reader: no panic, no hang, and whatever
// both read of one object agrees.
func FuzzPack(f *testing.F) {
	pack, idx := seedPack(f)
	f.Add(pack, idx)
	damaged := bytes.Clone(pack)
	for i := len(damaged) / 2; i < len(damaged)/2+16; i++ {
		damaged[i] ^= 0x55
	}
	f.Add(damaged, idx)
	f.Add(pack[:len(pack)/2], idx)
	e := New(Options{Workers: 1})
	f.Fuzz(func(t *testing.T, pack, idx []byte) {
		if len(pack) > maxFuzzObjectInput || len(idx) > maxFuzzObjectInput {
			return
		}
		dir := writePack(t, pack, idx)
		pr := openObjectReader(dir)
		st := openObjects(pr)
		defer st.close()
		s := newSweep(e, st)
		for _, phase := range []int{phaseObjects, phaseTrees} {
			if phase == phaseTrees {
				s.interesting = newBitset(st.ids.len())
				s.interestingPrefix = newBitset(1 << 16)
				s.trees = make([]treeSpan, st.ids.len())
			}
			if err := s.run(context.Background(), phase, 1); err != nil {
				t.Fatal(err)
			}
		}
		for id := uint32(0); id < uint32(st.ids.len()); id++ {
			typ, size, data, err := pr.read(st.hashOf(id), maxFuzzObjectInput)
			if err != nil {
				continue
			}
			if data != nil && int64(len(data)) != size {
				t.Fatalf("object %s: %d bytes, size %d", st.hashOf(id), len(data), size)
			}
			if typ == plumbing.TreeObject && data != nil {
				parseTree(data)
			}
		}
	})
}

// looseObjectBytes deflates a loose object: "type size\x00" then the content.
func looseObjectBytes(typ string, content []byte) []byte {
	var b bytes.Buffer
	z := zlib.NewWriter(&b)
	z.Write([]byte(typ + " " + strconv.Itoa(len(content)) + "\x00"))
	z.Write(content)
	z.Close()
	return b.Bytes()
}

// FuzzLooseObject reads an arbitrary loose object file: a clean error or
// an object whose content has the size its header declares.
func FuzzLooseObject(f *testing.F) {
	f.Add(looseObjectBytes("blob", []byte("hello\n")))
	f.Add(looseObjectBytes("tree", []byte("100644 a\x00aaaaaaaaaaaaaaaaaaaa")))
	f.Add(looseObjectBytes("commit", []byte("tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n\nmsg\n")))
	f.Add(looseObjectBytes("blob 99999999999", nil))
	f.Add([]byte("not zlib"))
	f.Fuzz(func(t *testing.T, comp []byte) {
		if len(comp) > maxFuzzObjectInput {
			return
		}
		path := filepath.Join(t.TempDir(), "obj")
		os.WriteFile(path, comp, 0o644)
		var z inflater
		typ, data, err := z.readLoose(path, 1<<20)
		if err != nil {
			return
		}
		if typ == plumbing.TreeObject {
			parseTree(data)
		}
	})
}

// FuzzParseTree parses arbitrary tree objects: entries are either all
// parsed, each with a name and a 20-byte hash from the input, or the
// tree is refused; the sweep's own tree walk must not panic either.
func FuzzParseTree(f *testing.F) {
	f.Add([]byte("100644 a.txt\x00aaaaaaaaaaaaaaaaaaaa40000 dir\x00bbbbbbbbbbbbbbbbbbbb"))
	f.Add([]byte("160000 sub\x00cccccccccccccccccccc"))
	f.Add([]byte("100644 \x00dddddddddddddddddddd"))
	f.Add([]byte("12345678 x\x00"))
	f.Add([]byte{})
	st := &objectStore{ids: newObjectIDs(4)}
	st.ids.add(plumbing.NewHash(strings.Repeat("61", 20)))
	s := newSweep(New(Options{}), st)
	s.interesting = newBitset(st.ids.len())
	s.interestingPrefix = newBitset(1 << 16)
	s.trees = make([]treeSpan, st.ids.len())
	s.arenas = make([][]treeEdge, 1)
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > maxFuzzObjectInput {
			return
		}
		es, ok := parseTree(data)
		if ok {
			n := 0
			for _, e := range es {
				n += len(e.Name)
			}
			// Each entry takes at least a mode byte, a space, its name,
			// a NUL and a 20-byte hash.
			if n+23*len(es) > len(data) {
				t.Fatalf("%d entries with %d name bytes from %d bytes", len(es), n, len(data))
			}
		}
		w := &worker{s: s, cache: map[string]uint32{}}
		w.tree(0, data, nil, nil, false)
	})
}
