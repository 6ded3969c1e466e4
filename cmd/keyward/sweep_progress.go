package main

import (
	"fmt"

	"github.com/keyward/keyward/scanner/fleet"
)

// sweepProgress writes a sweep's progress to stderr: a live line on a
// terminal (throttled), and on any stderr one line per repository swept or
// failed, so a log shows what each run did.
type sweepProgress struct{ *progress }

func newSweepProgress(e *env) *sweepProgress {
	return &sweepProgress{newProgress(e)}
}

// update renders the live line; the sweeper calls it one call at a time.
func (p *sweepProgress) update(pr fleet.Progress) {
	p.showLine(func() string {
		failed := ""
		if pr.Failed > 0 {
			failed = fmt.Sprintf(", %d failed", pr.Failed)
		}
		return fmt.Sprintf("keyward: sweep: %d/%d repositories (%d unchanged%s), %d objects, %s, %d %s",
			pr.Done, pr.Total, pr.Unchanged, failed, pr.Objects, humanBytes(pr.Bytes), pr.Leaks, plural(int64(pr.Leaks), "leak", "leaks"))
	}, pr.Done >= pr.Total)
}

// line reports one repository that was swept or failed.
func (p *sweepProgress) line(o fleet.Outcome, rep *sweepReport) {
	r := rep.Repositories[0]
	findings := plural(int64(r.Findings), "finding", "findings")
	switch o.Status {
	case fleet.StatusFailed:
		p.println("keyward: failed %s: %s", o.Repo.URL, r.Error)
	case fleet.StatusIncomplete:
		p.println("keyward: incomplete %s: %d %s (%s): %s", o.Repo.URL, r.Findings, findings, humanBytes(r.Bytes), r.Error)
	default:
		p.println("keyward: swept %s: %d %s (%s)", o.Repo.URL, r.Findings, findings, humanBytes(r.Bytes))
	}
}
