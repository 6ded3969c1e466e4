package scanner

import (
	"context"
	"io"
)

// Source is somewhere content comes from: files, standard input, the git
// index, a commit range, a whole history. Scan reads all of it with the
// engine and returns what was found, skipped and unreadable, with each
// finding's Provenance saying where it is. Adding a source (issue 10: "scan
// annotated tag messages" had no place to start) is one type implementing
// Source, in its own file, with its test; Engine.Run runs any of them.
type Source interface {
	Scan(ctx context.Context, e *Engine) (*Result, error)
}

// Paths is files and directories on disk (see ScanPaths).
type Paths []string

// Scan implements Source.
func (p Paths) Scan(ctx context.Context, e *Engine) (*Result, error) {
	return e.ScanPaths(ctx, p)
}

// Reader is one stream of content, such as standard input or a commit
// message file (see ScanReader).
type Reader struct {
	R    io.Reader
	Prov Provenance
}

// Scan implements Source.
func (r Reader) Scan(ctx context.Context, e *Engine) (*Result, error) {
	return e.ScanReader(ctx, r.R, r.Prov)
}

// Staged is what the next commit of the repository at Dir would add (see
// ScanStaged).
type Staged struct{ Dir string }

// Scan implements Source.
func (s Staged) Scan(ctx context.Context, e *Engine) (*Result, error) {
	return e.ScanStaged(ctx, s.Dir)
}

// Range is the commits of Spec in the repository at Dir, with the messages
// of the annotated tags it pushes (see ScanRange).
type Range struct {
	Dir, Spec string
	// Progress, if set, is called after each commit is scanned.
	Progress func(RangeProgress)
}

// Scan implements Source.
func (r Range) Scan(ctx context.Context, e *Engine) (*Result, error) {
	return e.scanRange(ctx, r.Dir, r.Spec, r.Progress)
}

// History is every object the refs of the repository at Dir reach: blobs,
// commit and tag messages, every stash entry, notes (see ScanHistory).
type History struct {
	Dir  string
	Opts HistoryOptions
}

// Scan implements Source.
func (h History) Scan(ctx context.Context, e *Engine) (*Result, error) {
	return e.ScanHistory(ctx, h.Dir, h.Opts)
}
