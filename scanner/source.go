package scanner

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sync"
)

// Source is somewhere content comes from: files, standard input, the git
// index, a commit range, a whole history, a patch. Scan reads all of it
// and hands it to run, whose methods scan it and record what was found,
// skipped and unreadable; each finding's Provenance says where it is.
// Engine.Run runs any source and applies the project's suppressions to
// what it recorded.
//
// Adding a source is one new file (issue 10: "scan annotated tag
// messages" had no place to start): a type implementing Source with the
// services of Run alone, and its test. patch.go is the example to copy. A
// source need not sort what it records (Run's result is sorted by path and
// position) nor apply allowlists or the baseline (Engine.Run does). A
// source that can say how far it got takes its own progress callback as a
// field, as Range and History do.
type Source interface {
	Scan(ctx context.Context, run *Run) error
}

// Run is one scan of one source in progress: the engine services a Source
// uses. Content, Read and Find scan bytes with a Provenance; Add, Skip,
// Unreadable, Warn and Count record what the source met. Every method is
// safe for concurrent use, so a source may scan in parallel.
type Run struct {
	e   *Engine
	mu  sync.Mutex
	res Result
}

// Counts are what a source read, added to the result's totals by Count.
type Counts struct {
	// Files counts files, or blobs for git sources.
	Files int64
	// Bytes counts the bytes scanned.
	Bytes int64
	// Commits counts commits read.
	Commits int64
}

// Engine is the engine the run scans with, for its limits
// (Engine.MaxFileSize).
func (r *Run) Engine() *Engine { return r.e }

// Content scans data, which came from prov, as one file: an archive's
// members, or the bytes themselves. Its findings (at most
// MaxFindingsPerContent) and skips are recorded, and it counts as one file
// of len(data) bytes. data must fit the engine's size limit; Read takes
// content of any size.
func (r *Run) Content(data []byte, prov Provenance) {
	fs, skips := r.e.ScanContent(data, prov)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.res.addContent(int64(len(data)), fs, skips)
}

// Read reads rd to its end and scans it as Content does: in memory within
// the engine's size limit, past it as a stream of overlapping windows, so
// large content is never skipped (an archive over the limit is scanned as
// bytes and a Skip says its members were not read). An error reading rd
// is returned and nothing is recorded; the source decides whether it ends
// the scan or is recorded with Unreadable.
func (r *Run) Read(ctx context.Context, rd io.Reader, prov Provenance) error {
	limit := r.e.opts.MaxFileSize
	data, err := io.ReadAll(io.LimitReader(rd, limit+1))
	if err != nil {
		return fmt.Errorf("read %s: %w", prov.Path, err)
	}
	if int64(len(data)) > limit {
		// Over the in-memory limit: the rest is scanned as a stream.
		return r.stream(ctx, io.MultiReader(bytes.NewReader(data), rd), prov, prov.Path)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	r.Content(data, prov)
	return nil
}

// stream scans rd as a stream (stream.go) and records it as one file;
// label names it in errors and skips.
func (r *Run) stream(ctx context.Context, rd io.Reader, prov Provenance, label string) error {
	fs, n, skips, err := r.e.streamFrom(ctx, rd, prov, label)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.res.addContent(n, fs, skips)
	return nil
}

// Find scans data, which came from prov, and returns its findings without
// recording them, for a source that keeps only some (the added lines of a
// change) and records those with Add. Skips (archive members not read,
// findings past MaxFindingsPerContent) are recorded; nothing is counted,
// so the source says what it read with Count.
func (r *Run) Find(data []byte, prov Provenance) []Finding {
	fs, skips := r.e.ScanContent(data, prov)
	if len(skips) > 0 {
		r.Skip(skips...)
	}
	return fs
}

// Add records findings.
func (r *Run) Add(fs ...Finding) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.res.Findings = append(r.res.Findings, fs...)
}

// Skip records content that was not scanned, with the reason. A Skip
// whose Incomplete is true keeps a scan without findings from passing as
// clean.
func (r *Run) Skip(ss ...Skip) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.res.Skipped = append(r.res.Skipped, ss...)
}

// Unreadable records content at path that could not be read; the scan
// goes on, and is reported incomplete.
func (r *Run) Unreadable(path string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.res.Errors = append(r.res.Errors, FileError{Path: path, Err: err})
}

// Warn records a condition the user should know about that did not stop
// the scan (a shallow clone, a conflict not yet resolved).
func (r *Run) Warn(msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.res.Warnings = append(r.res.Warnings, msg)
}

// Count adds what the source read to the totals; Content and Read count
// for themselves.
func (r *Run) Count(c Counts) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.res.Files += c.Files
	r.res.Bytes += c.Bytes
	r.res.Commits += c.Commits
}

// Merge records everything in res, for a source built on a scan that
// returns a whole Result (a gate's own scan, say).
func (r *Run) Merge(res *Result) {
	if res == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.res.empty() {
		r.res = *res // the usual case: one result, taken without copying
		return
	}
	r.res.Findings = append(r.res.Findings, res.Findings...)
	r.res.Skipped = append(r.res.Skipped, res.Skipped...)
	r.res.Errors = append(r.res.Errors, res.Errors...)
	r.res.Warnings = append(r.res.Warnings, res.Warnings...)
	r.res.Suppressed = append(r.res.Suppressed, res.Suppressed...)
	r.res.Files += res.Files
	r.res.Bytes += res.Bytes
	r.res.Commits += res.Commits
	r.res.IgnoredFiles += res.IgnoredFiles
	r.res.IgnoredDirs += res.IgnoredDirs
}

// addContent records one file (or blob) of n bytes scanned, with what was
// found in it and what of it was skipped.
func (res *Result) addContent(n int64, fs []Finding, skips []Skip) {
	res.Files++
	res.Bytes += n
	res.Findings = append(res.Findings, fs...)
	res.Skipped = append(res.Skipped, skips...)
}

// empty reports whether nothing has been recorded.
func (res *Result) empty() bool {
	return len(res.Findings) == 0 && len(res.Skipped) == 0 && len(res.Errors) == 0 &&
		len(res.Warnings) == 0 && len(res.Suppressed) == 0 && res.Files == 0 && res.Bytes == 0 &&
		res.Commits == 0 && res.IgnoredFiles == 0 && res.IgnoredDirs == 0
}

// Collect runs src and returns what it recorded, sorted, with only the
// content-based suppressions marked: Engine.Run without the suppressions
// that need a path or the baseline. It is for a source run inside another
// (a gate's SourceFunc scanning a patch), whose result the outer Run
// suppresses once; the ScanX methods are Collect over their source.
func (e *Engine) Collect(ctx context.Context, src Source) (*Result, error) {
	run := &Run{e: e}
	if err := src.Scan(ctx, run); err != nil {
		return nil, err
	}
	res := &run.res
	res.Sort()
	return res, nil
}

// SourceFunc is a source given as a function that returns a whole
// Result, for callers that choose their content themselves (the gates scan
// the commits of a push with ScanCommits).
type SourceFunc func(ctx context.Context, e *Engine) (*Result, error)

// Scan implements Source.
func (f SourceFunc) Scan(ctx context.Context, run *Run) error {
	res, err := f(ctx, run.e)
	if err != nil {
		return err
	}
	run.Merge(res)
	return nil
}
