package scanner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/go-git/go-billy/v5"
	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	format "github.com/go-git/go-git/v5/plumbing/format/config"
	"github.com/go-git/go-git/v5/storage/filesystem"
	"github.com/go-git/go-git/v5/storage/filesystem/dotgit"
	"github.com/keyward/keyward/scanner/regfile"
)

// This file is the one way the scanner opens a repository (issue 10:
// "repository discovery is written four times"): OpenRepository finds the
// git directory as git does and sets up go-git over keyward's own reader
// of the packs (objects.go), which the history sweep reads too, and, when
// asked, git itself for what go-git cannot see (gitobjects.go).
// hooks/locate.go runs git rather than this: it needs git's answer about
// hook directories (core.hooksPath, worktree config), not objects.

// ErrNotRepository is returned, wrapped, when a directory is not inside a
// git repository, so the command can print a hint rather than a stack of
// go-git wording.
var ErrNotRepository = errors.New("not a git repository (or any parent directory)")

// Repository is a git repository opened for scanning: go-git's repository
// (refs, commits, trees), embedded, reading packed objects through the
// scanner's pack reader.
type Repository struct {
	*git.Repository
	// GitDir is the git directory (a linked worktree's own); CommonDir is
	// where the objects and refs shared by every worktree live, GitDir
	// itself for an ordinary repository.
	GitDir, CommonDir string

	// objects reads the packs; every handle sharing it maps each pack once.
	objects *objectReader
	// git answers what go-git cannot find, with OpenOptions.ViaGit.
	git *gitObjects
}

// OpenOptions say how OpenRepository reads a repository's objects.
type OpenOptions struct {
	// MaxBlobSize is the largest blob read into memory whole; a larger
	// one is opened lazily, so that learning a staged 2 GB file is too
	// large to scan costs a header read. 0 means DefaultMaxFileSize.
	MaxBlobSize int64
	// ViaGit answers lookups the repository's own store misses with one
	// long-lived `git cat-file` run in the directory opened, which sees
	// exactly what git sees: a pre-receive hook's quarantine, alternates
	// named by the environment (issue 9). Close ends that process.
	ViaGit bool

	// share is the object reader of another handle on the same
	// repository, which this one reads through (it is safe for concurrent
	// use): parallel range workers map each pack once and share one
	// delta-base cache. One of another object directory is ignored.
	share *objectReader
}

// OpenRepository opens the repository containing dir. It walks up to the
// git directory as git does (dir/.git, a directory or a "gitdir:" file as
// linked worktrees and submodules have, else dir itself if bare, then each
// parent) and follows commondir, so linked worktrees (`git worktree add`)
// open too.
//
// It does what git.PlainOpenWithOptions(dir, DetectDotGit,
// EnableDotGitCommonDir) does, for two reasons. go-git v5.19 refuses every
// repository extension (it lower-cases extension names, then looks them up
// in a camel-case table), and `git sparse-checkout` sets worktreeConfig, so
// a sparse checkout could not be scanned; see scanStorage. And blobs larger
// than MaxBlobSize are opened lazily (go-git otherwise inflates whole
// objects).
func OpenRepository(ctx context.Context, dir string, opts OpenOptions) (*Repository, error) {
	if opts.MaxBlobSize <= 0 {
		opts.MaxBlobSize = DefaultMaxFileSize
	}
	loc, err := FindRepository(dir)
	if err != nil {
		return nil, fmt.Errorf("open repository: %w", err)
	}
	gitDir := loc.GitDir
	var fsys billy.Filesystem = osfs.New(gitDir)
	common, err := linkedCommonDir(gitDir)
	if err != nil {
		return nil, fmt.Errorf("open repository: %w", err)
	}
	if common != "" {
		fsys = dotgit.NewRepositoryFilesystem(fsys, osfs.New(common))
	} else {
		common = gitDir
	}
	s := filesystem.NewStorageWithOptions(fsys, cache.NewObjectLRUDefault(),
		filesystem.Options{LargeObjectThreshold: opts.MaxBlobSize})
	objects := filepath.Join(common, "objects")
	reader := opts.share
	if reader == nil || reader.objects != objects {
		reader = openObjectReader(objects)
	}
	ss := scanStorage{Storage: s, reader: reader, limit: opts.MaxBlobSize}
	repo, err := git.Open(ss, nil)
	if errors.Is(err, git.ErrRepositoryNotExists) {
		return nil, fmt.Errorf("open repository: %s: %w", gitDir, ErrNotRepository)
	}
	if err != nil {
		return nil, fmt.Errorf("open repository: %w", err)
	}
	r := &Repository{Repository: repo, GitDir: gitDir, CommonDir: common, objects: reader}
	if opts.ViaGit {
		g, err := startGitObjects(ctx, dir, opts.MaxBlobSize)
		if err != nil {
			return nil, err
		}
		repo, err = git.Open(gitFallbackStorage{scanStorage: ss, git: g}, nil)
		if err != nil {
			g.close()
			return nil, fmt.Errorf("open repository: %w", err)
		}
		r.Repository, r.git = repo, g
	}
	return r, nil
}

// Close ends the git process a ViaGit repository reads through. The
// packs need no closing: they are unmapped once nothing refers to them.
func (r *Repository) Close() error {
	if r.git != nil {
		r.git.close()
		r.git = nil
	}
	return nil
}

// openRepo opens dir's repository with the engine's size limit, for the
// scans that read a few objects through go-git's API.
func (e *Engine) openRepo(dir string) (*git.Repository, error) {
	r, err := OpenRepository(context.Background(), dir, OpenOptions{MaxBlobSize: e.opts.MaxFileSize})
	if err != nil {
		return nil, err
	}
	return r.Repository, nil
}

// repoHandles opens handles on the repository containing dir for one scan
// and its workers (go-git's storage is not safe for concurrent use): the
// first opens the repository, every other one reads through the first's
// object reader, so the packs are mapped once and the delta bases shared.
// With viaGit each handle also runs its own git cat-file (OpenOptions).
func (e *Engine) repoHandles(ctx context.Context, dir string, viaGit bool) *handleSet {
	return &handleSet{ctx: ctx, dir: dir, opts: OpenOptions{MaxBlobSize: e.opts.MaxFileSize, ViaGit: viaGit}}
}

// handleSet is repoHandles' handles; its methods are not safe for
// concurrent use.
type handleSet struct {
	ctx     context.Context
	dir     string
	opts    OpenOptions
	handles []*Repository
}

// open opens one more handle.
func (h *handleSet) open() (*git.Repository, error) {
	opts := h.opts
	if len(h.handles) > 0 {
		opts.share = h.handles[0].objects
	}
	r, err := OpenRepository(h.ctx, h.dir, opts)
	if err != nil {
		return nil, err
	}
	h.handles = append(h.handles, r)
	return r.Repository, nil
}

// close closes every handle opened (ends their git processes).
func (h *handleSet) close() {
	for _, r := range h.handles {
		r.Close()
	}
}

// Location is where a repository is: its git directory and, unless it is
// bare, the top of its working tree (the directory holding .git).
type Location struct {
	GitDir, WorkTree string
}

// FindRepository finds the repository containing dir as git does: in dir
// and then each parent, a .git directory, a .git file saying "gitdir:
// PATH" (linked worktrees, submodules), or the directory itself when it is
// a bare repository. It reads only the file system, so loading a config in
// a pre-commit hook costs no git process. Outside every repository the
// error wraps ErrNotRepository. OpenRepository starts from it; so does the
// command line's config loading, which needs the working tree's top.
func FindRepository(dir string) (Location, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return Location{}, err
	}
	for d := abs; ; {
		p := filepath.Join(d, ".git")
		info, err := os.Stat(p)
		switch {
		case err == nil && info.IsDir():
			return Location{GitDir: p, WorkTree: d}, nil
		case err == nil:
			g, err := readGitFile(p)
			return Location{GitDir: g, WorkTree: d}, err
		case !errors.Is(err, fs.ErrNotExist):
			return Location{}, err
		}
		if isGitDir(d) {
			return Location{GitDir: d}, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			break
		}
		d = parent
	}
	return Location{}, fmt.Errorf("%s: %w", abs, ErrNotRepository)
}

// readGitFile follows a .git file, as worktrees and submodules have.
func readGitFile(p string) (string, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return "", err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	target, ok := strings.CutPrefix(strings.TrimSpace(line), "gitdir:")
	if !ok {
		return "", fmt.Errorf("%s: no \"gitdir: \" line", p)
	}
	target = strings.TrimSpace(target)
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

// maxRepoConfigSize bounds the repository config file ObjectFormat reads.
const maxRepoConfigSize = 4 << 20

// ObjectFormat returns the object name format of the repository
// containing dir: "sha1", or "sha256" for a repository whose config sets
// extensions.objectFormat (which go-git v5 cannot read; the command line
// then reads it through git). git reads the setting from the repository's
// own config file, includes not followed, and so does this: a hook asking
// before every scan costs a file read, not a git process.
func ObjectFormat(dir string) (string, error) {
	loc, err := FindRepository(dir)
	if err != nil {
		return "", err
	}
	common, err := linkedCommonDir(loc.GitDir)
	if err != nil {
		return "", err
	}
	if common == "" {
		common = loc.GitDir
	}
	data, err := regfile.Read(filepath.Join(common, "config"), maxRepoConfigSize)
	if err != nil {
		return "", err
	}
	cfg := format.New()
	if err := format.NewDecoder(bytes.NewReader(data)).Decode(cfg); err != nil {
		return "", fmt.Errorf("read %s: %w", filepath.Join(common, "config"), err)
	}
	if f := strings.ToLower(cfg.Section("extensions").Option("objectformat")); f != "" {
		return f, nil
	}
	return "sha1", nil
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
// repository is opened, and reads packed objects through the object
// reader. Every other method is the filesystem storage's.
type scanStorage struct {
	*filesystem.Storage
	// reader serves single packed objects without go-git's whole-index
	// setup; see objects.go.
	reader *objectReader
	limit  int64
}

// EncodedObject reads an object through the object reader, falling back to
// go-git for loose objects and anything else it cannot serve.
func (s scanStorage) EncodedObject(t plumbing.ObjectType, h plumbing.Hash) (plumbing.EncodedObject, error) {
	if s.reader != nil {
		typ, size, data, err := s.reader.read(h, s.limit)
		if err == nil && (t == plumbing.AnyObject || t == typ) {
			return &packedObject{hash: h, typ: typ, size: size, data: data, fallback: func() (plumbing.EncodedObject, error) {
				return s.Storage.EncodedObject(t, h)
			}}, nil
		}
		if err == nil {
			return nil, plumbing.ErrObjectNotFound
		}
	}
	return s.Storage.EncodedObject(t, h)
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
