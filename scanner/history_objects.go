package scanner

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
)

// maxAlternateDepth bounds how many objects/info/alternates files are
// followed in a chain, as git itself does (it stops at five), so a cycle of
// alternates cannot loop.
const maxAlternateDepth = 5

// objectStore is every object of a repository, as packs and loose files,
// numbered by objectIDs. An object stored twice (in two packs, or packed
// and loose) is numbered once and swept once.
type objectStore struct {
	ids *objectIDs
	// reader is the repository's object reader, whose packs these are.
	reader *objectReader
	packs  []*packForest
	loose  []looseObject
	// problems are packs and files that could not be opened; the sweep
	// goes on without them and reports them.
	problems []FileError
	// fetched counts objects fetched from a partial clone's promisor
	// remote before the sweep (promisor.go).
	fetched int
}

// looseObject is one file under objects/xx/.
type looseObject struct {
	path string
	id   uint32
	size int64 // on disk, compressed
}

// openObjects lists every object of the repository r reads: the packs r
// opened (their forests built for the sweep) and the loose objects of the
// same object directories.
func openObjects(r *objectReader) *objectStore {
	st := &objectStore{reader: r, problems: slices.Clone(r.problems)}
	var hashes int
	for _, p := range r.packs {
		f, err := newPackForest(p)
		if err != nil {
			st.problems = append(st.problems, FileError{Path: p.path, Err: err})
			continue
		}
		st.packs = append(st.packs, f)
		hashes += len(f.ents)
	}
	type looseFile struct {
		path string
		hash plumbing.Hash
		size int64
	}
	var loose []looseFile
	for _, d := range r.dirs {
		fans, _ := os.ReadDir(d)
		for _, fan := range fans {
			if len(fan.Name()) != 2 || !fan.IsDir() || !isHexName(fan.Name()) {
				continue
			}
			files, _ := os.ReadDir(filepath.Join(d, fan.Name()))
			for _, f := range files {
				name := fan.Name() + f.Name()
				if len(name) != 40 || !isHexName(name) {
					continue // temporary files of a concurrent git
				}
				var h plumbing.Hash
				hex.Decode(h[:], []byte(name))
				var size int64
				if info, err := f.Info(); err == nil {
					size = info.Size()
				}
				loose = append(loose, looseFile{filepath.Join(d, fan.Name(), f.Name()), h, size})
			}
		}
	}
	st.ids = newObjectIDs(hashes + len(loose))
	for _, pk := range st.packs {
		for i := range pk.ents {
			e := &pk.ents[i]
			id, isNew := st.ids.add(pk.hashAt(e.id))
			e.id, e.dup = id, !isNew
		}
	}
	for _, l := range loose {
		if id, isNew := st.ids.add(l.hash); isNew {
			st.loose = append(st.loose, looseObject{path: l.path, id: id, size: l.size})
		}
	}
	return st
}

// close lets go of the packs. They are the repository's, shared with its
// point reads, and unmapped when neither holds them (openPack).
func (st *objectStore) close() {
	st.packs = nil
}

// hashOf is an object's hash by id.
func (st *objectStore) hashOf(id uint32) plumbing.Hash { return st.ids.hashes[id] }

// objectDirs is objDir and, recursively, the object directories its
// alternates file names (git clone --shared and --reference use them).
func objectDirs(objDir string, depth int, seen map[string]bool) []string {
	abs, err := filepath.Abs(objDir)
	if err != nil || seen[abs] {
		return nil
	}
	seen[abs] = true
	dirs := []string{abs}
	if depth >= maxAlternateDepth {
		return dirs
	}
	f, err := os.Open(filepath.Join(abs, "info", "alternates"))
	if err != nil {
		return dirs
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if !filepath.IsAbs(line) {
			line = filepath.Join(abs, line)
		}
		dirs = append(dirs, objectDirs(line, depth+1, seen)...)
	}
	return dirs
}

// isHexName reports whether s is lower-case hex, as object file names are.
func isHexName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// readLoose inflates a loose object and splits off its "type size\x00"
// header.
func (z *inflater) readLoose(path string, maxSize int64) (plumbing.ObjectType, []byte, error) {
	comp, err := os.ReadFile(path)
	if err != nil {
		return 0, nil, fmt.Errorf("read loose object: %w", unwrapPathError(err))
	}
	// The header is at most "commit " plus 20 digits and a NUL; inflate it
	// first to learn the size.
	head, err := z.inflatePrefix(comp, 32)
	if err != nil {
		return 0, nil, err
	}
	nul := strings.IndexByte(string(head), 0)
	sp := strings.IndexByte(string(head), ' ')
	if nul < 0 || sp < 0 || sp > nul {
		return 0, nil, fmt.Errorf("read loose object: %w: bad header", errCorruptObject)
	}
	typ, err := plumbing.ParseObjectType(string(head[:sp]))
	if err != nil {
		return 0, nil, fmt.Errorf("read loose object: %w: %w", errCorruptObject, err)
	}
	var size int64
	if _, err := fmt.Sscan(string(head[sp+1:nul]), &size); err != nil || size < 0 {
		return 0, nil, fmt.Errorf("read loose object: %w: bad size", errCorruptObject)
	}
	if typ == plumbing.BlobObject && size > maxSize {
		return typ, nil, &tooLargeError{size: size}
	}
	all, err := z.inflateBytes(comp, int64(nul)+1+size)
	if err != nil {
		return 0, nil, err
	}
	return typ, all[nul+1:], nil
}

// tooLargeError reports a blob over the engine's size limit, which is
// skipped, not inflated.
type tooLargeError struct{ size int64 }

func (e *tooLargeError) Error() string {
	return fmt.Sprintf("object of %d bytes over the size limit", e.size)
}

// inflatePrefix inflates at most n bytes of a zlib stream.
func (z *inflater) inflatePrefix(comp []byte, n int) ([]byte, error) {
	z.br.Reset(comp)
	if err := z.reset(); err != nil {
		return nil, err
	}
	buf := make([]byte, n)
	m := 0
	for m < n {
		k, err := z.zr.Read(buf[m:])
		m += k
		if err != nil {
			break
		}
	}
	if m == 0 {
		return nil, fmt.Errorf("inflate object: %w: empty stream", errCorruptObject)
	}
	return buf[:m], nil
}
