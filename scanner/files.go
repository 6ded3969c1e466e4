package scanner

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
)

// Result is what a scan of a source produced.
type Result struct {
	Findings []Finding
	// Skipped lists content not scanned, with the reason.
	Skipped []Skip
	// Errors lists content that could not be read; the scan went on.
	Errors []FileError
	// Warnings are conditions the user should know about that did not stop
	// the scan (a shallow clone, a partial history).
	Warnings []string
	// Files and Bytes count what was scanned: files for a directory scan,
	// blobs for git sources (Commits counts the commits of a range or
	// history).
	Files int64
	Bytes int64
	// Commits counts the commits a range scan or history sweep read.
	Commits int64
	// IgnoredFiles and IgnoredDirs count what .gitignore and
	// .git/info/exclude kept out of a directory scan (a directory counts
	// once, not its files, which are never read).
	IgnoredFiles, IgnoredDirs int64
	// Suppressed are findings withheld by an inline comment, an allowlist
	// or the baseline, each with its Finding.Suppressed reason; see
	// allow.go. They are kept so reports can account for them.
	Suppressed []Finding
}

// FileError is a file or object that could not be read.
type FileError struct {
	Path string
	Err  error
}

// Error implements error, naming the path first as a reader of a scan log
// looks for it.
func (e FileError) Error() string { return e.Path + ": " + e.Err.Error() }

// Sort orders findings by path and position, so output is stable across
// runs whatever order the workers finished in.
func (r *Result) Sort() {
	sort.SliceStable(r.Findings, func(i, j int) bool {
		a, b := r.Findings[i], r.Findings[j]
		if a.Path != b.Path {
			return a.Path < b.Path
		}
		if a.Start != b.Start {
			return a.Start < b.Start
		}
		return a.RuleID < b.RuleID
	})
	// Stable, so that sorting a sorted result again (Engine.Run sorts what
	// every source records) changes nothing.
	sort.SliceStable(r.Skipped, func(i, j int) bool { return r.Skipped[i].Path < r.Skipped[j].Path })
	sort.SliceStable(r.Errors, func(i, j int) bool { return r.Errors[i].Path < r.Errors[j].Path })
}

// ErrTooLarge is returned when a single input (standard input, a commit
// message) exceeds the engine's size limit.
var ErrTooLarge = errors.New("input larger than the size limit")

// Paths is files and directories on disk. Directories are walked without
// following symlinks (so a symlink loop cannot hang the walk), skipping
// .git and, unless Options.NoIgnore, what .gitignore excludes. Files are
// scanned in parallel; memory is bounded by Workers x MaxFileSize.
type Paths []string

// Scan implements Source.
func (p Paths) Scan(ctx context.Context, run *Run) error {
	e := run.e
	jobs := make(chan string)
	workers := e.opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for path := range jobs {
				scanFile(ctx, run, path)
			}
		}()
	}
	walkErr := e.walk(ctx, p, jobs, walkReport{
		skip: func(s Skip) { run.Skip(s) },
		fail: func(fe FileError) { run.Unreadable(fe.Path, fe.Err) },
		warn: run.Warn,
		ignored: func(files, dirs int64) {
			run.mu.Lock()
			run.res.IgnoredFiles += files
			run.res.IgnoredDirs += dirs
			run.mu.Unlock()
		},
	})
	close(jobs)
	wg.Wait()
	return walkErr
}

// RelTo implements RootRelative: files are named as given on the command
// line, relative to the working directory; outside root they stay so.
func (p Paths) RelTo(root string) PathFunc {
	return func(path string) string {
		abs, err := filepath.Abs(path)
		if err != nil {
			return filepath.ToSlash(path)
		}
		r, err := filepath.Rel(root, abs)
		if err != nil || r == ".." || strings.HasPrefix(r, ".."+string(filepath.Separator)) {
			return filepath.ToSlash(path)
		}
		return filepath.ToSlash(r)
	}
}

// ScanPaths scans files and directories (the Paths source without
// Engine.Run's suppressions).
func (e *Engine) ScanPaths(ctx context.Context, paths []string) (*Result, error) {
	return e.Collect(ctx, Paths(paths))
}

// scanFile reads and scans one regular file (an archive's members, if it
// is one), recording what it found or why it could not.
func scanFile(ctx context.Context, run *Run, path string) {
	prov := Provenance{Path: path}
	// Stat before opening: opening a FIFO named on the command line would
	// block until something writes to it.
	if info, err := os.Stat(path); err != nil {
		run.Unreadable(path, unwrapPathError(err))
		return
	} else if m := info.Mode(); m&(fs.ModeNamedPipe|fs.ModeCharDevice) != 0 {
		// Only arguments get here (the walk skips special files): a pipe
		// given by name, as `keyward scan <(cmd)` and /dev/stdin do.
		f, err := openPipe(ctx, path, m)
		if err != nil {
			run.Unreadable(path, unwrapPathError(err))
			return
		}
		defer f.Close()
		streamFile(ctx, run, f, prov)
		return
	} else if !m.IsRegular() {
		run.Skip(Skip{Path: path, Reason: SkipSpecial})
		return
	}
	f, err := os.Open(path)
	if err != nil {
		run.Unreadable(path, unwrapPathError(err))
		return
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		run.Unreadable(path, unwrapPathError(err))
		return
	}
	if !info.Mode().IsRegular() {
		run.Skip(Skip{Path: path, Reason: SkipSpecial})
		return
	}
	if info.Size() > run.e.opts.MaxFileSize {
		streamFile(ctx, run, f, prov)
		return
	}
	data, err := io.ReadAll(io.LimitReader(f, run.e.opts.MaxFileSize+1))
	if err != nil {
		run.Unreadable(path, unwrapPathError(err))
		return
	}
	if int64(len(data)) > run.e.opts.MaxFileSize { // grew while we read it
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			run.Unreadable(path, unwrapPathError(err))
			return
		}
		streamFile(ctx, run, f, prov)
		return
	}
	run.Content(data, prov)
}

// openPipe opens a pipe or device named as an argument. A named pipe is
// opened as cat opens it, waiting for a writer: opened without waiting, a
// FIFO whose writer has not connected yet reads as empty, and the scan
// would pass content it never saw (mkfifo p; cmd >p & keyward scan p).
// The wait ends with ctx (Ctrl-C), and the scan then fails rather than
// passes. A device is opened without blocking, as before.
func openPipe(ctx context.Context, path string, m fs.FileMode) (*os.File, error) {
	if m&fs.ModeNamedPipe == 0 {
		return os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	}
	type opened struct {
		f   *os.File
		err error
	}
	done := make(chan opened, 1)
	go func() {
		f, err := os.Open(path) // blocks until a writer connects
		done <- opened{f, err}
	}()
	select {
	case o := <-done:
		return o.f, o.err
	case <-ctx.Done():
		// The open goes on waiting; if a writer comes after all, the
		// file is closed unread.
		go func() {
			if o := <-done; o.f != nil {
				o.f.Close()
			}
		}()
		return nil, ctx.Err()
	}
}

// streamFile scans an open file over the in-memory limit as a stream.
func streamFile(ctx context.Context, run *Run, f *os.File, prov Provenance) {
	if err := run.stream(ctx, f, prov, prov.Path); err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		run.Unreadable(prov.Path, unwrapPathError(err))
	}
}

// unwrapPathError drops the operation and path from an *fs.PathError: the
// caller reports the path itself.
func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// walkReport is how walk reports what it meets besides files to scan.
type walkReport struct {
	skip    func(Skip)
	fail    func(FileError)
	warn    func(string)
	ignored func(files, dirs int64)
}

// walk sends every file under paths to jobs.
func (e *Engine) walk(ctx context.Context, paths []string, jobs chan<- string, rep walkReport) error {
	skip, fail := rep.skip, rep.fail
	for _, root := range paths {
		info, err := os.Stat(root) // arguments are followed, like every tool does
		if err != nil {
			fail(FileError{Path: root, Err: unwrapPathError(err)})
			continue
		}
		if !info.IsDir() {
			select {
			case jobs <- root:
			case <-ctx.Done():
				return ctx.Err()
			}
			continue
		}
		ig := newIgnorer(root, !e.opts.NoIgnore, rep.warn)
		err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				fail(FileError{Path: path, Err: unwrapPathError(err)})
				if d != nil && d.IsDir() {
					return fs.SkipDir
				}
				return nil
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if d.IsDir() {
				if d.Name() == ".git" && path != root {
					return fs.SkipDir
				}
				if path != root && ig.ignored(path, true) {
					return fs.SkipDir
				}
				ig.enter(path)
				return nil
			}
			if ig.ignored(path, false) {
				return nil
			}
			switch {
			case d.Type()&fs.ModeSymlink != 0:
				skip(Skip{Path: path, Reason: SkipSymlink})
				return nil
			case !d.Type().IsRegular():
				skip(Skip{Path: path, Reason: SkipSpecial})
				return nil
			}
			select {
			case jobs <- path:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
		rep.ignored(ig.files, ig.dirs)
		if err != nil {
			return err
		}
	}
	return nil
}
