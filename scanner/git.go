package scanner

import (
	"context"
	"errors"
	"fmt"
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
// blobs within the size limit and diffing trees (which lines are new is in
// addedlines.go). The staged, range and history scans are built from these.

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
	return e.openRepoSharing(dir, nil)
}

// openRepoSharing is openRepo for another handle on a repository already
// open with point reader share: the new handle reads packs through share,
// which is safe for concurrent use, so the handles map each pack once and
// share one delta-base cache. A nil share, or one of another object
// directory, maps the packs afresh.
func (e *Engine) openRepoSharing(dir string, share *pointReader) (*git.Repository, error) {
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
	objects := filepath.Join(common0(common, gitDir), "objects")
	var point *pointReader
	if share != nil && share.objects == objects {
		point = share
	} else {
		point = openPointReader(objects)
	}
	repo, err := git.Open(scanStorage{Storage: s, point: point, limit: e.opts.MaxFileSize}, nil)
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
	// The point reader's result is the blob itself, shared with its
	// cache and never modified: no copy through a Reader.
	if ss, ok := repo.Storer.(scanStorage); ok && ss.point != nil {
		if typ, size, data, err := ss.point.read(h, e.opts.MaxFileSize); err == nil && typ == plumbing.BlobObject {
			if size > e.opts.MaxFileSize {
				return nil, size, true, nil
			}
			return data, size, false, nil
		}
	}
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
		oe, had := old[ne.Name]
		delete(old, ne.Name)
		if had && oe.Hash == ne.Hash && oe.Mode == ne.Mode {
			continue // unchanged: most entries of a large directory
		}
		p := path.Join(prefix, ne.Name)
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
	if ss, ok := repo.Storer.(scanStorage); ok && ss.point != nil {
		if entries, ok := ss.point.tree(h); ok {
			return entries, nil
		}
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
