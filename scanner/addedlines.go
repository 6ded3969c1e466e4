package scanner

import (
	"bytes"
	"context"
	"hash/maphash"
	"path"
	"sort"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
)

// Which lines of a blob are new: the staged and range scans report only
// those, comparing each file with its older version (or, for a renamed and
// edited file, with the file it was renamed from).

// maxRenameSourceBytes bounds how much deleted content is read to find the
// source of a renamed-and-edited file. Past it, the remaining lines of the
// new file count as added: a bound on work when a change deletes a huge
// tree, and one that can only over-report, never hide a new secret.
const maxRenameSourceBytes = 64 << 20

// lineSet is the set of lines of older content: a line of new content is
// "added" when the set does not hold it.
//
// keyward deliberately uses set membership rather than a positional diff
// (Myers/LCS): a line that occurs anywhere in the old version of the file is
// not new, so moving or duplicating a line that was already committed never
// reports it again, and a genuinely new line is always reported because it
// cannot be in the old set. For secrets this is exactly the question that
// matters (is this credential text new in this change?), it costs one pass
// over each version, and it has none of a diff's pathological cases on huge
// or repetitive files. Lines are compared without a trailing '\r', so
// converting a file between CRLF and LF adds nothing. Lines are held as
// 64-bit hashes (a random seed per set), so memory is eight bytes a line.
type lineSet struct {
	seed  maphash.Seed
	lines map[uint64]struct{}
}

// newLineSet returns an empty set.
func newLineSet() *lineSet {
	return &lineSet{seed: maphash.MakeSeed(), lines: map[uint64]struct{}{}}
}

// add puts every line of data in the set.
func (s *lineSet) add(data []byte) {
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			s.lines[s.hash(data)] = struct{}{}
			return
		}
		s.lines[s.hash(data[:i])] = struct{}{}
		data = data[i+1:]
	}
}

// has reports whether line (without its newline) is in the set.
func (s *lineSet) has(line []byte) bool {
	_, ok := s.lines[s.hash(line)]
	return ok
}

// hash is the set's key for line: a trailing '\r' is not part of it.
func (s *lineSet) hash(line []byte) uint64 {
	return maphash.Bytes(s.seed, bytes.TrimSuffix(line, []byte{'\r'}))
}

// keepAdded returns the findings in data that touch an added line, a line
// old does not hold. A finding touches the lines of its match and, when
// paired, its secret's line, so a new secret written under a key ID that was
// already committed is still reported: Scan pairs across the whole blob,
// and only the filter looks at lines. A nil old means everything is added.
func keepAdded(data []byte, fs []Finding, old *lineSet) []Finding {
	if old == nil || len(fs) == 0 {
		return fs
	}
	starts := lineStarts(data)
	line := func(n int) []byte { // n is 1-based
		if n < 1 || n > len(starts) {
			return nil
		}
		end := len(data)
		if n < len(starts) {
			end = starts[n] - 1
		}
		return data[starts[n-1]:end]
	}
	out := fs[:0]
	for _, f := range fs {
		last := f.Line
		if f.End > f.Start {
			// Counted within the span: counting from the start of the
			// content for each finding would be quadratic.
			last += bytes.Count(data[f.Start:f.End-1], []byte{'\n'})
		}
		added := false
		for n := f.Line; n <= last && !added; n++ {
			added = !old.has(line(n))
		}
		if !added && f.SecretLine > 0 {
			added = !old.has(line(f.SecretLine))
		}
		if added {
			out = append(out, f)
		}
	}
	return out
}

// lineStarts returns the offset at which each line of data starts.
func lineStarts(data []byte) []int {
	starts := []int{0}
	for i, b := range data {
		if b == '\n' {
			starts = append(starts, i+1)
		}
	}
	return starts
}

// deletedFile is a file a change removed: a candidate source when a new
// path turns out to be a rename.
type deletedFile struct {
	Path string
	Hash plumbing.Hash
	Tree bool // a whole deleted subtree, expanded on demand
	// Kept is the tree a merge put in Tree's place, taken whole from
	// another parent: only what it lacks was deleted (treeChange.Kept).
	Kept plumbing.Hash
}

// renameSources holds the files a change deleted, so that a file at a new
// path can be compared with what it was probably renamed from. Git's own
// rename detection is a similarity score; keyward needs less: an identical
// blob is a pure rename (nothing to scan), and for an edited one every
// deleted file's lines count as old, since a line that was already
// committed anywhere in the deleted files is not new.
type renameSources struct {
	deleted  []deletedFile
	expanded bool
	hashes   map[plumbing.Hash]bool
	lines    *lineSet
}

// expand lists the files under deleted subtrees, once.
func (rs *renameSources) expand(ctx context.Context, repo *git.Repository) error {
	if rs.expanded {
		return nil
	}
	rs.expanded = true
	var files []deletedFile
	var first func(d deletedFile) error
	first = func(d deletedFile) error {
		switch {
		case !d.Kept.IsZero():
			// The deletions in a subtree a merge took from another parent
			// are listed now, in the order the walk would have reported
			// them, and each is then treated as if it had been.
			var ds []deletedFile
			err := diffTrees(ctx, repo, d.Hash, d.Kept, d.Path, func(c treeChange) error {
				if c.To.IsZero() {
					ds = append(ds, deletedFile{Path: c.Path, Hash: c.From, Tree: c.Tree})
				}
				return nil
			})
			if err != nil {
				return err
			}
			for _, d := range ds {
				if err := first(d); err != nil {
					return err
				}
			}
			return nil
		case !d.Tree:
			files = append(files, d)
			return nil
		}
		return diffTrees(ctx, repo, d.Hash, plumbing.ZeroHash, d.Path, func(c treeChange) error {
			files = append(files, deletedFile{Path: c.Path, Hash: c.From, Tree: c.Tree})
			return nil
		})
	}
	for _, d := range rs.deleted {
		if err := first(d); err != nil {
			return err
		}
	}
	// diffTrees reports deleted subtrees of deleted subtrees as trees too.
	for i := 0; i < len(files); i++ {
		if !files[i].Tree {
			continue
		}
		d := files[i]
		err := diffTrees(ctx, repo, d.Hash, plumbing.ZeroHash, d.Path, func(c treeChange) error {
			files = append(files, deletedFile{Path: c.Path, Hash: c.From, Tree: c.Tree})
			return nil
		})
		if err != nil {
			return err
		}
	}
	rs.deleted = rs.deleted[:0]
	rs.hashes = map[plumbing.Hash]bool{}
	for _, f := range files {
		if !f.Tree {
			rs.deleted = append(rs.deleted, f)
			rs.hashes[f.Hash] = true
		}
	}
	return nil
}

// isPureRename reports whether blob h is identical to a deleted file.
func (rs *renameSources) isPureRename(ctx context.Context, repo *git.Repository, h plumbing.Hash) (bool, error) {
	if len(rs.deleted) == 0 {
		return false, nil
	}
	if err := rs.expand(ctx, repo); err != nil {
		return false, err
	}
	return rs.hashes[h], nil
}

// renameLines returns the lines of the deleted files, read once per change
// (files with the same base name as the first path that asks come first)
// within maxRenameSourceBytes. It returns nil when nothing was deleted, so
// a new file with no possible source counts as entirely added.
func (e *Engine) renameLines(ctx context.Context, repo *git.Repository, rs *renameSources, p string) (*lineSet, error) {
	if len(rs.deleted) == 0 {
		return nil, nil
	}
	if rs.lines != nil {
		return rs.lines, nil
	}
	if err := rs.expand(ctx, repo); err != nil {
		return nil, err
	}
	if len(rs.deleted) == 0 {
		return nil, nil // a merge's subtrees from other parents deleted nothing
	}
	files := append([]deletedFile(nil), rs.deleted...)
	base := path.Base(p)
	sort.SliceStable(files, func(i, j int) bool {
		return path.Base(files[i].Path) == base && path.Base(files[j].Path) != base
	})
	rs.lines = newLineSet()
	var budget int64 = maxRenameSourceBytes
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		data, size, tooLarge, err := e.readBlob(repo, f.Hash, f.Path)
		if err != nil {
			return nil, err
		}
		if tooLarge || size > budget {
			continue
		}
		budget -= size
		rs.lines.add(data)
	}
	return rs.lines, nil
}

// oldLines returns the lines of the older versions of the file at p: the
// blobs from, where a zero hash is a version without the file. When no
// version has the file it is new, and the files the change deleted stand
// in as possible rename sources. A nil set means every line is added. An
// old version over the size limit contributes nothing, so its lines count
// as added: over-reporting, never hiding.
func (e *Engine) oldLines(ctx context.Context, repo *git.Repository, from []plumbing.Hash, rs *renameSources, p string) (*lineSet, error) {
	var set *lineSet
	for _, h := range from {
		if h.IsZero() {
			continue
		}
		if set == nil {
			set = newLineSet()
		}
		data, _, tooLarge, err := e.readBlob(repo, h, p)
		if err != nil {
			return nil, err
		}
		if !tooLarge {
			set.add(data)
		}
	}
	if set != nil || rs == nil {
		return set, nil
	}
	return e.renameLines(ctx, repo, rs, p)
}

// scanChanged scans a blob a change wrote and keeps what is new in it: for
// text, the findings on lines none of the versions from had; for an
// archive, whose members' lines cannot be compared with a diff, the
// findings no earlier version of the archive held (same member path, rule
// and credential, which is what a fingerprint is made of).
func (e *Engine) scanChanged(ctx context.Context, repo *git.Repository, data []byte, prov Provenance, from []plumbing.Hash, rs *renameSources) ([]Finding, []Skip, error) {
	return e.scanChangedVersion(ctx, repo, data, prov, from, rs, nil)
}

// scanChangedVersion is scanChanged for a range worker, whose versions
// track keywords from each path's previous version (scanVersion).
func (e *Engine) scanChangedVersion(ctx context.Context, repo *git.Repository, data []byte, prov Provenance, from []plumbing.Hash, rs *renameSources, versions *versionMemo) ([]Finding, []Skip, error) {
	fs, skips := e.scanVersion(data, prov, versions)
	if len(fs) == 0 {
		return nil, skips, nil
	}
	if !IsArchive(data) {
		old, err := e.oldLines(ctx, repo, from, rs, prov.Path)
		if err != nil {
			return nil, nil, err
		}
		return keepAdded(data, fs, old), skips, nil
	}
	fs, err := e.keepNew(ctx, repo, fs, prov, from)
	return fs, skips, err
}

// keepNew drops the findings some version in from already held, by
// fingerprint (rule, path and credential): how changes are judged where
// lines cannot be diffed, in archives and in blobs scanned as a stream.
func (e *Engine) keepNew(ctx context.Context, repo *git.Repository, fs []Finding, prov Provenance, from []plumbing.Hash) ([]Finding, error) {
	had := map[string]bool{}
	for _, h := range from {
		if h.IsZero() {
			continue
		}
		old, _, tooLarge, err := e.readBlob(repo, h, prov.Path)
		if err != nil {
			return nil, err
		}
		var ofs []Finding
		if tooLarge {
			ofs, _, _, err = e.streamBlob(ctx, repo, h, prov, prov.Path)
			if err != nil {
				return nil, err
			}
		} else {
			ofs, _ = e.ScanContent(old, prov)
		}
		for _, f := range ofs {
			had[f.Fingerprint] = true
		}
	}
	out := fs[:0]
	for _, f := range fs {
		if !had[f.Fingerprint] {
			out = append(out, f)
		}
	}
	return out, nil
}

// scanChangedLarge is scanChanged for a blob over the in-memory limit: it
// is scanned as a stream and its findings kept unless an earlier version
// held them.
func (e *Engine) scanChangedLarge(ctx context.Context, repo *git.Repository, h plumbing.Hash, prov Provenance, from []plumbing.Hash, label string) ([]Finding, int64, []Skip, error) {
	fs, size, skips, err := e.streamBlob(ctx, repo, h, prov, label)
	if err != nil {
		return nil, 0, nil, err
	}
	if len(fs) == 0 {
		return nil, size, skips, nil
	}
	fs, err = e.keepNew(ctx, repo, fs, prov, from)
	return fs, size, skips, err
}
