package scanner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/go-git/go-billy/v5"
	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	format "github.com/go-git/go-git/v5/plumbing/format/config"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/filesystem"
	"github.com/go-git/go-git/v5/storage/filesystem/dotgit"
)

// This file holds what the git sources share: opening a repository, reading
// blobs within the size limit, diffing trees, and deciding which lines of a
// blob are new. The staged, range and history scans are built from these.

// maxRenameSourceBytes bounds how much deleted content is read to find the
// source of a renamed-and-edited file. Past it, the remaining lines of the
// new file count as added: a bound on work when a change deletes a huge
// tree, and one that can only over-report, never hide a new secret.
const maxRenameSourceBytes = 64 << 20

// ErrNotRepository is returned, wrapped, when a directory is not inside a
// git repository, so the command can print a hint rather than a stack of
// go-git wording.
var ErrNotRepository = errors.New("not a git repository (or any parent directory)")

// openRepo opens the repository containing dir. It walks up to the .git
// directory like git does and follows .git files and commondir, so linked
// worktrees (`git worktree add`) and submodules' own checkouts open too; a
// bare repository (dir holds HEAD, objects and refs) opens as itself.
//
// It does what git.PlainOpenWithOptions(dir, DetectDotGit,
// EnableDotGitCommonDir) does, for two reasons. go-git v5.19 refuses every
// repository extension (it lower-cases extension names, then looks them up
// in a camel-case table), and `git sparse-checkout` sets worktreeConfig, so
// a sparse checkout could not be scanned; see scanStorage. And blobs larger
// than the engine's size limit are opened lazily, so learning that a staged
// 2 GB file is too large to scan costs a header read rather than reading it
// into memory (go-git otherwise inflates whole objects).
func (e *Engine) openRepo(dir string) (*git.Repository, error) {
	gitDir, err := findGitDir(dir)
	if err != nil {
		return nil, fmt.Errorf("open repository: %w", err)
	}
	var fsys billy.Filesystem = osfs.New(gitDir)
	common, err := linkedCommonDir(gitDir)
	if err != nil {
		return nil, fmt.Errorf("open repository: %w", err)
	}
	if common != "" {
		fsys = dotgit.NewRepositoryFilesystem(fsys, osfs.New(common))
	}
	s := filesystem.NewStorageWithOptions(fsys, cache.NewObjectLRUDefault(),
		filesystem.Options{LargeObjectThreshold: e.opts.MaxFileSize})
	repo, err := git.Open(scanStorage{Storage: s, point: openPointReader(filepath.Join(common0(common, gitDir), "objects")), limit: e.opts.MaxFileSize}, nil)
	if errors.Is(err, git.ErrRepositoryNotExists) {
		return nil, fmt.Errorf("open repository: %s: %w", gitDir, ErrNotRepository)
	}
	if err != nil {
		return nil, fmt.Errorf("open repository: %w", err)
	}
	return repo, nil
}

// findGitDir returns the git directory for dir: dir/.git (a directory, or
// a file saying "gitdir: PATH"), else the same in each parent, else dir
// itself when it is a bare repository.
func findGitDir(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for d := abs; ; {
		p := filepath.Join(d, ".git")
		info, err := os.Stat(p)
		switch {
		case err == nil && info.IsDir():
			return p, nil
		case err == nil:
			return readGitFile(p)
		case !errors.Is(err, fs.ErrNotExist):
			return "", err
		}
		parent := filepath.Dir(d)
		if parent == d {
			break
		}
		d = parent
	}
	if isGitDir(abs) {
		return abs, nil
	}
	return "", fmt.Errorf("%s: %w", abs, ErrNotRepository)
}

// readGitFile follows a .git file, as worktrees and submodules have.
func readGitFile(p string) (string, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return "", err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	target, ok := strings.CutPrefix(strings.TrimSpace(line), "gitdir: ")
	if !ok {
		return "", fmt.Errorf("%s: no \"gitdir: \" line", p)
	}
	if !filepath.IsAbs(target) {
		target = filepath.Join(filepath.Dir(p), target)
	}
	return target, nil
}

// isGitDir is git's test for a bare repository: HEAD, objects and refs.
func isGitDir(d string) bool {
	for _, name := range []string{"HEAD", "objects", "refs"} {
		if _, err := os.Stat(filepath.Join(d, name)); err != nil {
			return false
		}
	}
	return true
}

// linkedCommonDir returns the directory a linked worktree shares objects and
// refs with (its commondir file), or "" for an ordinary repository.
func linkedCommonDir(gitDir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(gitDir, "commondir"))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	p := strings.TrimSpace(string(b))
	if !filepath.IsAbs(p) {
		p = filepath.Join(gitDir, p)
	}
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("worktree's common directory: %w", err)
	}
	return p, nil
}

// ignorableExtensions are repository extensions that change nothing a
// read-only scan relies on: worktreeConfig only adds a config file,
// preciousObjects only forbids pruning, and partialClone only says where
// missing objects could be fetched from (a missing one is still reported
// as an error naming it). Others, such as objectFormat=sha256 or
// refStorage=reftable, still make the open fail.
var ignorableExtensions = map[string]bool{
	"noop": true, "worktreeconfig": true, "preciousobjects": true, "partialclone": true,
}

// scanStorage hides ignorable extensions from go-git's check when the
// repository is opened. Every other method is the filesystem storage's.
type scanStorage struct {
	*filesystem.Storage
	// point serves single packed objects without go-git's whole-index
	// setup; see objects.go.
	point *pointReader
	limit int64
}

// EncodedObject reads an object through the point reader, falling back to
// go-git for loose objects, alternates and anything else it cannot serve.
func (s scanStorage) EncodedObject(t plumbing.ObjectType, h plumbing.Hash) (plumbing.EncodedObject, error) {
	if s.point != nil {
		typ, size, data, err := s.point.read(h, s.limit)
		if err == nil && (t == plumbing.AnyObject || t == typ) {
			return &pointObject{hash: h, typ: typ, size: size, data: data, fallback: func() (plumbing.EncodedObject, error) {
				return s.Storage.EncodedObject(t, h)
			}}, nil
		}
		if err == nil {
			return nil, plumbing.ErrObjectNotFound
		}
	}
	return s.Storage.EncodedObject(t, h)
}

// common0 is the directory holding the objects: a linked worktree's common
// directory, else the git directory itself.
func common0(common, gitDir string) string {
	if common != "" {
		return common
	}
	return gitDir
}

// Config returns the repository configuration without the ignorable
// extensions.
func (s scanStorage) Config() (*config.Config, error) {
	cfg, err := s.Storage.Config()
	if err != nil || cfg == nil || cfg.Raw == nil || !cfg.Raw.HasSection("extensions") {
		return cfg, err
	}
	sec := cfg.Raw.Section("extensions")
	var keep format.Options
	for _, o := range sec.Options {
		if !ignorableExtensions[strings.ToLower(o.Key)] {
			keep = append(keep, o)
		}
	}
	sec.Options = keep
	if len(keep) == 0 {
		cfg.Raw.RemoveSection("extensions")
	}
	return cfg, nil
}

// readBlob returns the content of blob h, or tooLarge and its size when it
// exceeds the engine's limit (the caller records a Skip). label names the
// blob in errors: a path, or commit:path.
func (e *Engine) readBlob(repo *git.Repository, h plumbing.Hash, label string) (data []byte, size int64, tooLarge bool, err error) {
	blob, err := repo.BlobObject(h)
	if err != nil {
		return nil, 0, false, fmt.Errorf("read blob %s (%s): %w", h, label, err)
	}
	if blob.Size > e.opts.MaxFileSize {
		return nil, blob.Size, true, nil
	}
	r, err := blob.Reader()
	if err != nil {
		return nil, 0, false, fmt.Errorf("read blob %s (%s): %w", h, label, err)
	}
	defer r.Close()
	data, err = io.ReadAll(io.LimitReader(r, e.opts.MaxFileSize+1))
	if err != nil {
		return nil, 0, false, fmt.Errorf("read blob %s (%s): %w", h, label, err)
	}
	return data, int64(len(data)), false, nil
}

// isContent reports whether a tree or index entry of this mode holds file
// content to scan. Submodules (gitlinks) name a commit of another
// repository and are not descended into; that repository is scanned on
// its own.
func isContent(m filemode.FileMode) bool {
	return m == filemode.Regular || m == filemode.Executable || m == filemode.Deprecated || m == filemode.Symlink
}

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
			last = lineOf(data, f.End-1)
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

// treeChange is one path whose content differs between two trees. From is
// the zero hash for an added path, To for a deleted one. A deleted subtree is
// reported once with Tree set, its files expanded only if a rename search
// needs them.
type treeChange struct {
	Path     string
	From, To plumbing.Hash
	Tree     bool
}

// diffTrees calls fn for every file that differs between the trees from
// and to (either may be the zero hash: an empty tree). Subtrees with equal
// hashes are never read, so the cost is proportional to the change, not to
// the repository. Submodule entries are ignored.
func diffTrees(ctx context.Context, repo *git.Repository, from, to plumbing.Hash, prefix string, fn func(treeChange) error) error {
	if from == to {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	oldEntries, err := treeEntries(repo, from)
	if err != nil {
		return err
	}
	newEntries, err := treeEntries(repo, to)
	if err != nil {
		return err
	}
	old := make(map[string]object.TreeEntry, len(oldEntries))
	for _, te := range oldEntries {
		old[te.Name] = te
	}
	for _, ne := range newEntries {
		p := path.Join(prefix, ne.Name)
		oe, had := old[ne.Name]
		delete(old, ne.Name)
		switch {
		case ne.Mode == filemode.Dir:
			var fromTree plumbing.Hash
			if had && oe.Mode == filemode.Dir {
				fromTree = oe.Hash
			} else if had && isContent(oe.Mode) {
				if err := fn(treeChange{Path: p, From: oe.Hash}); err != nil {
					return err
				}
			}
			if err := diffTrees(ctx, repo, fromTree, ne.Hash, p, fn); err != nil {
				return err
			}
		case isContent(ne.Mode):
			var fromBlob plumbing.Hash
			if had && isContent(oe.Mode) {
				fromBlob = oe.Hash
			} else if had && oe.Mode == filemode.Dir {
				if err := fn(treeChange{Path: p, From: oe.Hash, Tree: true}); err != nil {
					return err
				}
			}
			if fromBlob != ne.Hash {
				if err := fn(treeChange{Path: p, From: fromBlob, To: ne.Hash}); err != nil {
					return err
				}
			}
		}
	}
	// What is left was deleted; report in a stable order.
	names := make([]string, 0, len(old))
	for n := range old {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		oe := old[n]
		if oe.Mode != filemode.Dir && !isContent(oe.Mode) {
			continue
		}
		if err := fn(treeChange{Path: path.Join(prefix, n), From: oe.Hash, Tree: oe.Mode == filemode.Dir}); err != nil {
			return err
		}
	}
	return nil
}

// treeEntries reads tree h; the zero hash is the empty tree.
func treeEntries(repo *git.Repository, h plumbing.Hash) ([]object.TreeEntry, error) {
	if h.IsZero() {
		return nil, nil
	}
	t, err := repo.TreeObject(h)
	if err != nil {
		return nil, fmt.Errorf("read tree %s: %w", h, err)
	}
	return t.Entries, nil
}

// blobAt returns the hash of the file at p in tree root, or the zero hash
// when there is none (or it is not file content). It reads one tree per
// path component and validates nothing, so odd names in old history still
// resolve.
func blobAt(repo *git.Repository, root plumbing.Hash, p string) (plumbing.Hash, error) {
	h := root
	for h != plumbing.ZeroHash {
		entries, err := treeEntries(repo, h)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		name, rest, more := cutPath(p)
		h = plumbing.ZeroHash
		for _, te := range entries {
			if te.Name != name {
				continue
			}
			if !more && isContent(te.Mode) {
				return te.Hash, nil
			}
			if more && te.Mode == filemode.Dir {
				h, p = te.Hash, rest
			}
			break
		}
	}
	return plumbing.ZeroHash, nil
}

// cutPath splits a slash-separated path at its first component.
func cutPath(p string) (first, rest string, more bool) {
	if i := strings.IndexByte(p, '/'); i >= 0 {
		return p[:i], p[i+1:], true
	}
	return p, "", false
}

// deletedFile is a file a change removed: a candidate source when a new
// path turns out to be a rename.
type deletedFile struct {
	Path string
	Hash plumbing.Hash
	Tree bool // a whole deleted subtree, expanded on demand
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
	for _, d := range rs.deleted {
		if !d.Tree {
			files = append(files, d)
			continue
		}
		err := diffTrees(ctx, repo, d.Hash, plumbing.ZeroHash, d.Path, func(c treeChange) error {
			files = append(files, deletedFile{Path: c.Path, Hash: c.From, Tree: c.Tree})
			return nil
		})
		if err != nil {
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

// guardGit turns a panic inside go-git into an error naming the operation.
// go-git has panicked on corrupt packfiles and malformed objects (index out
// of range while decoding); a scan of a damaged repository must fail with a
// message and exit status 2, not crash the hook that runs it. The panic
// value describes the decoder's state, never file content.
func guardGit(what string, err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("%s: corrupt repository data: %v", what, r)
	}
}
