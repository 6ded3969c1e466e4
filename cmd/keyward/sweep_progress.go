package main

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/keyward/keyward/scanner/fleet"
)

// sweepProgress writes a sweep's progress to stderr: a live line on a
// terminal (throttled), and on any stderr one line per repository swept or
// failed, so a log shows what each run did.
type sweepProgress struct {
	w     io.Writer
	tty   bool
	mu    sync.Mutex
	last  time.Time
	wrote bool
}

func newSweepProgress(e *env) *sweepProgress {
	return &sweepProgress{w: e.stderr, tty: isTerminal(e.stderr)}
}

// update renders the live line; the sweeper calls it one call at a time.
func (p *sweepProgress) update(pr fleet.Progress) {
	if !p.tty {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if now.Sub(p.last) < progressInterval && pr.Done < pr.Total {
		return
	}
	p.last = now
	failed := ""
	if pr.Failed > 0 {
		failed = fmt.Sprintf(", %d failed", pr.Failed)
	}
	fmt.Fprintf(p.w, "\r\033[Kkeyward: sweep: %d/%d repositories (%d unchanged%s), %d objects, %s, %d %s",
		pr.Done, pr.Total, pr.Unchanged, failed, pr.Objects, humanBytes(pr.Bytes), pr.Leaks, plural(int64(pr.Leaks), "leak", "leaks"))
	p.wrote = true
}

// line reports one repository that was swept or failed.
func (p *sweepProgress) line(o fleet.Outcome, rep *sweepReport) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.wrote {
		fmt.Fprint(p.w, "\r\033[K")
		p.wrote = false
		p.last = time.Time{}
	}
	r := rep.Repositories[0]
	switch o.Status {
	case fleet.StatusFailed:
		fmt.Fprintf(p.w, "keyward: failed %s: %s\n", o.Repo.URL, r.Error)
	case fleet.StatusIncomplete:
		fmt.Fprintf(p.w, "keyward: incomplete %s: %d %s (%s): %s\n", o.Repo.URL, r.Findings, plural(int64(r.Findings), "finding", "findings"), humanBytes(r.Bytes), r.Error)
	default:
		fmt.Fprintf(p.w, "keyward: swept %s: %d %s (%s)\n", o.Repo.URL, r.Findings, plural(int64(r.Findings), "finding", "findings"), humanBytes(r.Bytes))
	}
}

func (p *sweepProgress) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.wrote {
		fmt.Fprint(p.w, "\r\033[K")
	}
}
