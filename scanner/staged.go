package scanner

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/go-git/go-billy/v5"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/format/index"
)

// Staged is what the next commit of the repository containing Dir would
// add: the index compared with HEAD. It is the pre-commit scan, so it
// reports findings on added lines only. An old secret elsewhere in an
// edited file does not block every commit to that file (git-secrets'
// flaw); it was committed before and belongs to a history sweep. Pairing
// still sees the whole staged blob, so a new secret line written under a
// key ID that was already committed is reported.
//
// With no HEAD (the first commit) everything staged is added. During a
// merge, rebase, cherry-pick or --amend the index is compared with HEAD,
// which is what git is about to commit on top of. Unmerged paths (a conflict
// not yet resolved) cannot be committed and are reported as warnings.
// Submodules are not descended into. Blobs over the size limit are scanned
// as streams. The index holds blobs as committed, so core.autocrlf and
// clean filters have already been applied to what is scanned.
//
// Only the directories whose content changed are read from HEAD: the tree
// hashes the index would write are computed in memory and compared with
// HEAD's, top down, so a small change in a large repository reads a
// handful of tree objects.
type Staged struct{ Dir string }

// Scan implements Source.
func (st Staged) Scan(ctx context.Context, run *Run) (err error) {
	defer guardGit("scan staged changes", &err)
	e := run.e
	repo, err := e.openRepo(st.Dir)
	if err != nil {
		return err
	}
	entries, err := readStagedIndex(repo)
	if err != nil {
		return err
	}
	head, err := headTree(repo)
	if err != nil {
		return err
	}
	s := &stagedScan{e: e, repo: repo, run: run}
	root := buildIndexDir(entries, 0, &s.unmerged)
	if err := s.compare(ctx, root, "", head); err != nil {
		return err
	}
	for _, p := range s.unmerged {
		run.Warn(fmt.Sprintf("%s: unmerged (conflict not resolved), not scanned", p))
	}
	sort.Slice(s.changes, func(i, j int) bool { return s.changes[i].Path < s.changes[j].Path })
	for _, c := range s.changes {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := s.scanChange(ctx, c); err != nil {
			return err
		}
	}
	return nil
}

// ScanStaged scans what the next commit of the repository containing dir
// would add (the Staged source without Engine.Run's suppressions).
func (e *Engine) ScanStaged(ctx context.Context, dir string) (*Result, error) {
	return e.Collect(ctx, Staged{Dir: dir})
}

// indexFileEnv names the index git is committing from. Hooks of `git
// commit -a` and `git commit PATH...` run with it pointing at a temporary
// index (.git/index.lock, .git/next-index-*.lock) that holds what is about
// to be committed, while .git/index does not yet; go-git does not read the
// variable, so reading only .git/index would let `git commit -a` commit a
// secret the hook never saw. A relative value is relative to the working
// directory, as for git.
const indexFileEnv = "GIT_INDEX_FILE"

// readStagedIndex reads the entries of the index a commit made now would be
// made from. It parses the common index versions itself (see parseIndex)
// and hands anything else to go-git's decoder.
func readStagedIndex(repo *git.Repository) ([]*index.Entry, error) {
	name := os.Getenv(indexFileEnv)
	var data []byte
	var err error
	switch fsStorage, ok := repo.Storer.(interface{ Filesystem() billy.Filesystem }); {
	case name != "":
		data, err = os.ReadFile(name)
	case ok:
		name = "index"
		data, err = readBillyFile(fsStorage.Filesystem(), name)
	default:
		idx, err := repo.Storer.Index()
		if err != nil {
			return nil, fmt.Errorf("read index: %w", err)
		}
		return idx.Entries, nil
	}
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil // nothing was ever staged
	}
	if err != nil {
		return nil, fmt.Errorf("read index: %w", err)
	}
	if entries, ok := parseIndex(data); ok {
		return entries, nil
	}
	idx := &index.Index{}
	if err := index.NewDecoder(bytes.NewReader(data)).Decode(idx); err != nil {
		return nil, fmt.Errorf("read index %s: %w", name, err)
	}
	return idx.Entries, nil
}

// readBillyFile reads a whole file in one allocation, like os.ReadFile
// (io.ReadAll's doubling costs a third of the read for a large index).
func readBillyFile(fsys billy.Filesystem, name string) ([]byte, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var buf bytes.Buffer
	if info, err := fsys.Stat(name); err == nil {
		buf.Grow(int(info.Size()) + bytes.MinRead)
	}
	_, err = buf.ReadFrom(f)
	return buf.Bytes(), err
}

// Index file layout (git's Documentation/gitformat-index.txt).
const (
	indexHeaderLen   = 12
	indexEntryFixed  = 62 // stat data, mode, sizes, SHA-1, flags
	indexFlagExtend  = 0x4000
	indexNameMask    = 0x0fff
	indexExtIntent   = 0x2000
	indexExtSkipWork = 0x4000
)

// parseIndex decodes the entries of an index file of version 2, 3 or 4
// with SHA-1 object names. go-git's decoder reads every field through
// reflection and checksums the file with collision-detecting SHA-1, about a
// microsecond an entry: 60 ms for a 60,000-file repository, the bulk of a
// pre-commit scan that should take a few. Only the fields the staged scan
// uses are kept. It returns false for anything it does not fully
// understand (another version, a split index, a truncated file), and the
// caller falls back to go-git.
func parseIndex(data []byte) ([]*index.Entry, bool) {
	if len(data) < indexHeaderLen+20 || string(data[:4]) != "DIRC" {
		return nil, false
	}
	version := binary.BigEndian.Uint32(data[4:])
	count := binary.BigEndian.Uint32(data[8:])
	if version < 2 || version > 4 || uint64(count) > uint64(len(data)/indexEntryFixed) {
		return nil, false
	}
	body := data[:len(data)-20] // the trailing checksum
	all := string(body)         // one copy; v2/v3 names are substrings of it
	entries := make([]index.Entry, count)
	out := make([]*index.Entry, count)
	off := indexHeaderLen
	prev := ""
	for i := range entries {
		if off+indexEntryFixed > len(body) {
			return nil, false
		}
		en := &entries[i]
		en.Mode = filemode.FileMode(binary.BigEndian.Uint32(body[off+24:]))
		copy(en.Hash[:], body[off+40:off+60])
		flags := binary.BigEndian.Uint16(body[off+60:])
		en.Stage = index.Stage(flags>>12) & 3
		p := off + indexEntryFixed
		if flags&indexFlagExtend != 0 {
			if version < 3 || p+2 > len(body) {
				return nil, false
			}
			ext := binary.BigEndian.Uint16(body[p:])
			en.IntentToAdd = ext&indexExtIntent != 0
			en.SkipWorktree = ext&indexExtSkipWork != 0
			p += 2
		}
		if version == 4 {
			strip, n := indexVarint(body[p:])
			if n == 0 || strip > uint64(len(prev)) {
				return nil, false
			}
			p += n
			end := bytes.IndexByte(body[p:], 0)
			if end < 0 {
				return nil, false
			}
			en.Name = prev[:len(prev)-int(strip)] + all[p:p+end]
			off = p + end + 1
		} else {
			n := int(flags & indexNameMask)
			if n == indexNameMask { // 0xfff or longer: NUL-terminated
				n = bytes.IndexByte(body[p:], 0)
			}
			if n < 0 || p+n > len(body) {
				return nil, false
			}
			en.Name = all[p : p+n]
			// Entries are NUL-padded to a multiple of eight bytes.
			off += (p - off + n + 8) &^ 7
		}
		prev = en.Name
		out[i] = en
	}
	// A split index keeps most entries in another file: leave it to go-git.
	for off+8 <= len(body) {
		size := int(binary.BigEndian.Uint32(body[off+4:]))
		if string(body[off:off+4]) == "link" {
			return nil, false
		}
		off += 8 + size
	}
	return out, off == len(body)
}

// indexVarint decodes the offset encoding of index version 4 (git's
// varint.c, not encoding/binary's): it returns the value and the bytes
// used, 0 if malformed.
func indexVarint(b []byte) (uint64, int) {
	if len(b) == 0 {
		return 0, 0
	}
	c := b[0]
	val := uint64(c & 127)
	n := 1
	for c&128 != 0 {
		if n >= len(b) || n > 9 {
			return 0, 0
		}
		val++
		c = b[n]
		n++
		val = val<<7 | uint64(c&127)
	}
	return val, n
}

// headTree returns the tree HEAD points at, or the zero hash when HEAD is
// unborn (an empty repository, or an orphan branch before its first commit).
func headTree(repo *git.Repository) (plumbing.Hash, error) {
	ref, err := repo.Head()
	if errors.Is(err, plumbing.ErrReferenceNotFound) {
		return plumbing.ZeroHash, nil
	}
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("resolve HEAD: %w", err)
	}
	c, err := repo.CommitObject(ref.Hash())
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("read commit %s: %w", ref.Hash(), err)
	}
	return c.TreeHash, nil
}

// stagedScan carries one ScanStaged call's state.
type stagedScan struct {
	e        *Engine
	repo     *git.Repository
	run      *Run
	changes  []treeChange
	renames  renameSources
	unmerged []string
}

// indexDir is one directory of the index as the tree git would write for
// it. hash is zero when it cannot be computed (an unmerged entry below), so
// the comparison descends. Children are kept in slices, in index order:
// maps for tens of thousands of directories cost more than the whole scan
// should, and only the few directories that differ from HEAD are searched.
type indexDir struct {
	hash      plumbing.Hash
	fileNames []string
	files     []*index.Entry
	dirNames  []string
	dirs      []*indexDir
	// sparse is set for a directory a sparse index holds as one tree entry
	// (outside the sparse-checkout cone): hash is that tree's.
	sparse bool
}

// buildIndexDir groups entries, sorted by path as git keeps them and all
// starting with the same prefix of length skip, into directories, hashing
// each as git write-tree would. Full-path order is also git's tree order
// (a directory sorts as its name plus '/'), so no sorting is needed.
// Unmerged paths are appended to unmerged.
func buildIndexDir(entries []*index.Entry, skip int, unmerged *[]string) *indexDir {
	b := &indexBuilder{unmerged: *unmerged}
	d := b.dir(entries, skip)
	*unmerged = b.unmerged
	return d
}

// indexBuilder holds one buffer for every tree's content: a directory's
// entries are appended after its parent's, hashed, and truncated away.
type indexBuilder struct {
	buf      []byte
	unmerged []string
}

// dir builds and hashes the directory holding entries (see buildIndexDir).
func (b *indexBuilder) dir(entries []*index.Entry, skip int) *indexDir {
	d := &indexDir{}
	start := len(b.buf)
	defer func() { b.buf = b.buf[:start] }()
	ok := true
	for i := 0; i < len(entries); {
		en := entries[i]
		rest := en.Name[skip:]
		if j := strings.IndexByte(rest, '/'); j >= 0 {
			prefix := en.Name[:skip+j+1]
			k := i + 1
			for k < len(entries) && strings.HasPrefix(entries[k].Name, prefix) {
				k++
			}
			sub := b.dir(entries[i:k], skip+j+1)
			d.dirNames = append(d.dirNames, rest[:j])
			d.dirs = append(d.dirs, sub)
			if sub.hash.IsZero() {
				ok = false
			} else {
				b.buf = appendTreeEntry(b.buf, filemode.Dir, rest[:j], sub.hash)
			}
			i = k
			continue
		}
		i++
		switch {
		case rest == "" && en.Mode == filemode.Dir:
			// A sparse-index directory entry, "dir/": the whole directory.
			return &indexDir{hash: en.Hash, sparse: true}
		case en.Stage != 0:
			// Stages 1-3 of a conflicted path: report it once.
			if n := len(b.unmerged); n == 0 || b.unmerged[n-1] != en.Name {
				b.unmerged = append(b.unmerged, en.Name)
			}
			ok = false
		case en.IntentToAdd:
			// `git add -N`: nothing is staged yet, and git leaves it out of
			// the tree it writes.
		default:
			d.fileNames = append(d.fileNames, rest)
			d.files = append(d.files, en)
			b.buf = appendTreeEntry(b.buf, en.Mode, rest, en.Hash)
		}
	}
	if ok {
		d.hash = treeHash(b.buf[start:])
	}
	return d
}

// treeHash is the object name git gives a tree with this content. It uses
// plain SHA-1 rather than go-git's collision-detecting variant, which is
// several times slower: the hash only decides which directories to read
// from HEAD, and a wrong answer could only come from a collision crafted
// against one's own pre-commit hook.
func treeHash(content []byte) plumbing.Hash {
	h := sha1.New()
	fmt.Fprintf(h, "tree %d\x00", len(content))
	h.Write(content)
	var out plumbing.Hash
	h.Sum(out[:0])
	return out
}

// appendTreeEntry appends one entry in git's tree object encoding.
func appendTreeEntry(buf []byte, mode filemode.FileMode, name string, h plumbing.Hash) []byte {
	switch mode {
	case filemode.Regular:
		buf = append(buf, "100644"...)
	case filemode.Dir:
		buf = append(buf, "40000"...)
	default:
		buf = strconv.AppendUint(buf, uint64(mode), 8)
	}
	buf = append(buf, ' ')
	buf = append(buf, name...)
	buf = append(buf, 0)
	return append(buf, h[:]...)
}

// compare records the files under d that differ from HEAD's tree head,
// reading HEAD's trees only where the hashes differ.
func (s *stagedScan) compare(ctx context.Context, d *indexDir, prefix string, head plumbing.Hash) error {
	if !d.hash.IsZero() && d.hash == head {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if d.sparse {
		return diffTrees(ctx, s.repo, head, d.hash, prefix, func(c treeChange) error {
			if c.To.IsZero() {
				s.renames.deleted = append(s.renames.deleted, deletedFile{Path: c.Path, Hash: c.From, Tree: c.Tree})
			} else {
				s.changes = append(s.changes, c)
			}
			return nil
		})
	}
	entries, err := treeEntries(s.repo, head)
	if err != nil {
		return err
	}
	files := make(map[string]*index.Entry, len(d.files))
	for i, name := range d.fileNames {
		files[name] = d.files[i]
	}
	dirs := make(map[string]*indexDir, len(d.dirs))
	for i, name := range d.dirNames {
		dirs[name] = d.dirs[i]
	}
	seenFiles := map[string]bool{}
	seenDirs := map[string]bool{}
	for _, te := range entries {
		p := path.Join(prefix, te.Name)
		if te.Mode == filemode.Dir {
			if sub, ok := dirs[te.Name]; ok {
				seenDirs[te.Name] = true
				if err := s.compare(ctx, sub, p, te.Hash); err != nil {
					return err
				}
			} else {
				s.renames.deleted = append(s.renames.deleted, deletedFile{Path: p, Hash: te.Hash, Tree: true})
			}
			continue
		}
		if !isContent(te.Mode) {
			continue // a submodule in HEAD
		}
		ie, ok := files[te.Name]
		if !ok || !isContent(ie.Mode) {
			s.renames.deleted = append(s.renames.deleted, deletedFile{Path: p, Hash: te.Hash})
			continue
		}
		seenFiles[te.Name] = true
		if ie.Hash != te.Hash {
			s.changes = append(s.changes, treeChange{Path: p, From: te.Hash, To: ie.Hash})
		}
	}
	for i, name := range d.fileNames {
		if ie := d.files[i]; !seenFiles[name] && isContent(ie.Mode) {
			s.changes = append(s.changes, treeChange{Path: path.Join(prefix, name), To: ie.Hash})
		}
	}
	for i, name := range d.dirNames {
		if !seenDirs[name] {
			if err := s.compare(ctx, d.dirs[i], path.Join(prefix, name), plumbing.ZeroHash); err != nil {
				return err
			}
		}
	}
	return nil
}

// scanChange scans one staged file and keeps the findings on added lines.
func (s *stagedScan) scanChange(ctx context.Context, c treeChange) error {
	if c.From.IsZero() {
		pure, err := s.renames.isPureRename(ctx, s.repo, c.To)
		if err != nil || pure {
			return err
		}
	}
	data, size, tooLarge, err := s.e.readBlob(s.repo, c.To, c.Path)
	if err != nil {
		return err
	}
	if tooLarge {
		fs, n, skips, err := s.e.scanChangedLarge(ctx, s.repo, c.To, Provenance{Path: c.Path}, []plumbing.Hash{c.From}, c.Path)
		if err != nil {
			return err
		}
		s.run.Count(Counts{Files: 1, Bytes: n})
		s.run.Add(fs...)
		s.run.Skip(skips...)
		return nil
	}
	s.run.Count(Counts{Files: 1, Bytes: size})
	fs, skips, err := s.e.scanChanged(ctx, s.repo, data, Provenance{Path: c.Path}, []plumbing.Hash{c.From}, &s.renames)
	if err != nil {
		return err
	}
	s.run.Skip(skips...)
	s.run.Add(fs...)
	return nil
}
