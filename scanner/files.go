package scanner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
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
	sort.Slice(r.Skipped, func(i, j int) bool { return r.Skipped[i].Path < r.Skipped[j].Path })
	sort.Slice(r.Errors, func(i, j int) bool { return r.Errors[i].Path < r.Errors[j].Path })
}

// ErrTooLarge is returned when a single input (standard input, a commit
// message) exceeds the engine's size limit.
var ErrTooLarge = errors.New("input larger than the size limit")

// ScanReader scans everything r yields as one piece of content.
func (e *Engine) ScanReader(ctx context.Context, r io.Reader, prov Provenance) (*Result, error) {
	data, err := io.ReadAll(io.LimitReader(r, e.opts.MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", prov.Path, err)
	}
	if int64(len(data)) > e.opts.MaxFileSize {
		// Over the in-memory limit: the rest is scanned as a stream.
		fs, n, skips, err := e.streamFrom(ctx, io.MultiReader(bytes.NewReader(data), r), prov, prov.Path)
		if err != nil {
			return nil, err
		}
		return &Result{Files: 1, Bytes: n, Findings: fs, Skipped: skips}, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	res := &Result{Files: 1, Bytes: int64(len(data))}
	res.Findings, res.Skipped = e.ScanContent(data, prov)
	return res, nil
}

// ScanPaths scans files and directories. Directories are walked without
// following symlinks (so a symlink loop cannot hang the walk), skipping
// .git and, unless Options.NoIgnore, what .gitignore excludes. Files are
// scanned in parallel; memory is bounded by Workers x MaxFileSize.
func (e *Engine) ScanPaths(ctx context.Context, paths []string) (*Result, error) {
	res := &Result{}
	var mu sync.Mutex
	jobs := make(chan string)
	workers := e.opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	var wg sync.WaitGroup
	var files, nbytes atomic.Int64
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for path := range jobs {
				fs, n, skips, err := e.scanFile(ctx, path)
				mu.Lock()
				switch {
				case err != nil:
					res.Errors = append(res.Errors, FileError{Path: path, Err: err})
				case n < 0:
					res.Skipped = append(res.Skipped, skips...)
				default:
					files.Add(1)
					nbytes.Add(n)
					res.Findings = append(res.Findings, fs...)
					res.Skipped = append(res.Skipped, skips...)
				}
				mu.Unlock()
			}
		}()
	}
	walkErr := e.walk(ctx, paths, jobs, walkReport{
		skip: func(s Skip) {
			mu.Lock()
			res.Skipped = append(res.Skipped, s)
			mu.Unlock()
		},
		fail: func(fe FileError) {
			mu.Lock()
			res.Errors = append(res.Errors, fe)
			mu.Unlock()
		},
		warn: func(w string) {
			mu.Lock()
			res.Warnings = append(res.Warnings, w)
			mu.Unlock()
		},
		ignored: func(files, dirs int64) {
			mu.Lock()
			res.IgnoredFiles += files
			res.IgnoredDirs += dirs
			mu.Unlock()
		},
	})
	close(jobs)
	wg.Wait()
	if walkErr != nil {
		return nil, walkErr
	}
	res.Files, res.Bytes = files.Load(), nbytes.Load()
	res.Sort()
	return res, nil
}

// scanFile reads and scans one regular file (an archive's members, if it
// is one). n is -1 when the file was skipped as a whole.
func (e *Engine) scanFile(ctx context.Context, path string) (found []Finding, n int64, skips []Skip, err error) {
	skipped := func(s Skip) ([]Finding, int64, []Skip, error) { return nil, -1, []Skip{s}, nil }
	// Stat before opening: opening a FIFO named on the command line would
	// block until something writes to it.
	if info, err := os.Stat(path); err != nil {
		return nil, 0, nil, unwrapPathError(err)
	} else if m := info.Mode(); m&(fs.ModeNamedPipe|fs.ModeCharDevice) != 0 {
		// Only arguments get here (the walk skips special files): a pipe
		// given by name, as `keyward scan <(cmd)` and /dev/stdin do.
		return e.scanPipe(ctx, path)
	} else if !m.IsRegular() {
		return skipped(Skip{Path: path, Reason: SkipSpecial})
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, nil, unwrapPathError(err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, 0, nil, unwrapPathError(err)
	}
	if !info.Mode().IsRegular() {
		return skipped(Skip{Path: path, Reason: SkipSpecial})
	}
	if info.Size() > e.opts.MaxFileSize {
		return e.streamFile(ctx, f, path)
	}
	data, err := io.ReadAll(io.LimitReader(f, e.opts.MaxFileSize+1))
	if err != nil {
		return nil, 0, nil, unwrapPathError(err)
	}
	if int64(len(data)) > e.opts.MaxFileSize { // grew while we read it
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return nil, 0, nil, unwrapPathError(err)
		}
		return e.streamFile(ctx, f, path)
	}
	found, skips = e.ScanContent(data, Provenance{Path: path})
	return found, int64(len(data)), skips, nil
}

// streamFile scans an open file over the in-memory limit as a stream.
func (e *Engine) streamFile(ctx context.Context, f *os.File, path string) ([]Finding, int64, []Skip, error) {
	fs, n, skips, err := e.streamFrom(ctx, f, Provenance{Path: path}, path)
	if err != nil {
		if ctx.Err() != nil {
			return nil, 0, nil, ctx.Err()
		}
		return nil, 0, nil, unwrapPathError(err)
	}
	return fs, n, skips, nil
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

// scanPipe reads a FIFO or character device named on the command line as
// a stream. It is opened without blocking, so a FIFO nobody writes to
// reads as empty instead of hanging the scan.
func (e *Engine) scanPipe(ctx context.Context, path string) ([]Finding, int64, []Skip, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, 0, nil, unwrapPathError(err)
	}
	defer f.Close()
	return e.streamFile(ctx, f, path)
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
