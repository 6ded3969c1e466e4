package scanner

import (
	"context"
	"io"
)

// Reader is one stream of content, such as standard input or a commit
// message file: everything R yields is scanned as one piece of content
// from Prov, whatever its size.
type Reader struct {
	R    io.Reader
	Prov Provenance
}

// Scan implements Source. An error reading R ends the scan: there is
// nothing else to scan.
func (r Reader) Scan(ctx context.Context, run *Run) error {
	return run.Read(ctx, r.R, r.Prov)
}

// ScanReader scans everything r yields as one piece of content (the
// Reader source without Engine.Run's suppressions).
func (e *Engine) ScanReader(ctx context.Context, r io.Reader, prov Provenance) (*Result, error) {
	return e.Collect(ctx, Reader{R: r, Prov: prov})
}
