package scanner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
)

// Content over the engine's in-memory limit (Options.MaxFileSize) is not
// skipped: it is scanned as a stream of overlapping windows, so a key in a
// 675 MB blob is found with memory bounded by one window (issue 9, item 8).
// Each window is scanned like any content; a finding is kept by the one
// window in which it starts in the kept band, which ends streamOverlap/2
// before the window's end, and the next window starts streamOverlap before
// that end. So every finding that starts in a band has at least
// streamOverlap/2 bytes of content after it and before it in its window.

// streamOverlap is how many bytes consecutive windows share. Half of it
// must cover the longest span a finding depends on: a decoded base64 run
// (maxBase64Run, 64 KiB), a session token with the key ID paired with it
// (maxTokenLen plus pairWindow and contextWindow, under 9 KiB), and a
// regexp rule's match (a PEM or PGP private key block: a few KiB, tens for
// a large keyring). 256 KiB leaves each half twice the largest of these.
const streamOverlap = 256 << 10

// minStreamWindow is the smallest window: four overlaps, so each window
// moves the stream on by at least three quarters of itself even when
// --max-file-size is set very low.
const minStreamWindow = 4 * streamOverlap

// streamWindow is the window size for this engine: the in-memory limit,
// but never under minStreamWindow, and even so that UTF-16 code units do
// not straddle a window's start.
func (e *Engine) streamWindow() int {
	w := max(int(min(e.opts.MaxFileSize, 1<<40)), minStreamWindow)
	return w &^ 1
}

// ScanStream scans everything r yields in overlapping windows, however
// large, and returns the findings with offsets, lines and columns in the
// whole stream, and the number of bytes read. Archives are not opened in a
// stream (their formats need the whole content or random access): an
// archive over the limit is reported as a Skip by the caller that knows it
// is one.
//
// At most MaxFindingsPerContent findings are kept; Dropped on the returned
// tally says how many more there were.
func (e *Engine) ScanStream(ctx context.Context, r io.Reader, prov Provenance) ([]Finding, int64, error) {
	fs, n, _, err := e.scanStream(ctx, r, prov)
	return fs, n, err
}

// scanStream is ScanStream that also returns how many findings past the
// cap were dropped.
func (e *Engine) scanStream(ctx context.Context, r io.Reader, prov Provenance) ([]Finding, int64, int, error) {
	win := e.streamWindow()
	buf := make([]byte, 0, win)
	var (
		out       []Finding
		base      int64 // stream offset of buf[0]
		lineBase  int   // newlines before base
		lineStart int64 // stream offset of the start of the line holding base
		keepFrom  int64 // findings before this were kept by the previous window
		eof       bool
		dropped   int
	)
	for {
		for len(buf) < win && !eof {
			if err := ctx.Err(); err != nil {
				return nil, base + int64(len(buf)), 0, err
			}
			n, err := r.Read(buf[len(buf):win])
			buf = buf[:len(buf)+n]
			switch {
			case errors.Is(err, io.EOF):
				eof = true
			case err != nil:
				return nil, base + int64(len(buf)), 0, fmt.Errorf("read %s at byte %d: %w", prov.Path, base+int64(len(buf)), err)
			}
		}
		cut := int64(1) << 62 // the last window keeps everything
		if !eof {
			cut = base + int64(len(buf)) - streamOverlap/2
		}
		for _, f := range e.Scan(buf, prov) {
			abs := base + int64(f.Start)
			if abs < keepFrom || abs >= cut {
				continue
			}
			if f.Line == 1 {
				f.Column = int(abs-lineStart) + 1
			}
			f.Line += lineBase
			if f.SecretLine > 0 {
				f.SecretLine += lineBase
			}
			f.Start, f.End = int(abs), int(base)+f.End
			f.secretStart = 0 // already turned into SecretLine
			if len(out) >= MaxFindingsPerContent {
				dropped++
				continue
			}
			out = append(out, f)
		}
		if eof {
			return out, base + int64(len(buf)), dropped, nil
		}
		adv := len(buf) - streamOverlap
		head := buf[:adv]
		if n := bytes.Count(head, []byte{'\n'}); n > 0 {
			lineBase += n
			lineStart = base + int64(bytes.LastIndexByte(head, '\n')) + 1
		}
		copy(buf, buf[adv:])
		buf = buf[:streamOverlap]
		base += int64(adv)
		keepFrom = cut
	}
}

// archiveTooLarge is the Skip for an archive over the in-memory limit: its
// bytes are scanned as a stream, but its members are not read.
func archiveTooLarge(path string, size, limit int64) Skip {
	return Skip{Path: path, Reason: SkipArchiveLimit, Size: size,
		Detail: fmt.Sprintf("an archive over the size limit (%d bytes) is scanned as bytes, its members are not read; raise --max-file-size", limit)}
}

// streamBlob scans blob h, which is over the in-memory limit, as a stream.
// It returns the findings, the blob's size, and a Skip when the blob is an
// archive whose members were not read.
func (e *Engine) streamBlob(ctx context.Context, repo *git.Repository, h plumbing.Hash, prov Provenance, label string) ([]Finding, int64, []Skip, error) {
	blob, err := repo.BlobObject(h)
	if err != nil {
		return nil, 0, nil, fmt.Errorf("read blob %s (%s): %w", h, label, err)
	}
	rc, err := blob.Reader()
	if err != nil {
		return nil, 0, nil, fmt.Errorf("read blob %s (%s): %w", h, label, err)
	}
	defer rc.Close()
	return e.streamFrom(ctx, rc, prov, label)
}

// streamFrom streams r, first sniffing whether it is an archive. The
// skips say when it was one (its members were not read) and when findings
// past the cap were dropped.
func (e *Engine) streamFrom(ctx context.Context, r io.Reader, prov Provenance, label string) ([]Finding, int64, []Skip, error) {
	head := make([]byte, 512)
	n, err := io.ReadFull(r, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, 0, nil, fmt.Errorf("read %s: %w", label, err)
	}
	head = head[:n]
	fs, size, dropped, err := e.scanStream(ctx, io.MultiReader(bytes.NewReader(head), r), prov)
	if err != nil {
		return nil, size, nil, err
	}
	var skips []Skip
	if IsArchive(head) {
		skips = append(skips, archiveTooLarge(label, size, e.opts.MaxFileSize))
	}
	if dropped > 0 {
		skips = append(skips, findingsCapped(label, len(fs), dropped))
	}
	return fs, size, skips, nil
}

// streamLarge scans a blob the sweep found over the in-memory limit as a
// stream, keeping its findings with the sweep's like any blob's. It returns
// a Skip when the blob could not be read (recorded in res.Errors too) or is
// an archive whose members were not read.
func (s *sweep) streamLarge(ctx context.Context, h *history, id uint32, size int64, path string, res *Result) []Skip {
	hash := s.st.hashOf(id)
	fs, n, skips, err := s.e.streamBlob(ctx, h.repo, hash, Provenance{}, path)
	if err != nil {
		res.Errors = append(res.Errors, FileError{Path: path, Err: err})
		return []Skip{{Path: path, Reason: SkipTooLarge, Size: size, Detail: "could not be read as a stream"}}
	}
	s.blobBytes.Add(n)
	if len(fs) > 0 {
		s.blobFinds[id] = fs
	}
	return skips
}

// scanMessage scans a commit or tag message already in memory: whole when
// it is within the limit, else in stream windows, so an oversized message
// is never dropped (its bytes are held anyway; the windows bound the
// engine's working memory).
func (e *Engine) scanMessage(msg []byte, prov Provenance) []Finding {
	if int64(len(msg)) <= e.opts.MaxFileSize {
		return e.Scan(msg, prov)
	}
	fs, _, _ := e.ScanStream(context.Background(), bytes.NewReader(msg), prov)
	return fs
}
