package scanner

import (
	"context"
	"errors"
	"runtime"
	"sync"

	"github.com/go-git/go-git/v5"
)

// A range's commits are scanned on every core. Each commit's work (diffing
// its trees, reading the files it changed, scanning them) is independent of
// the others', so workers take runs of commits from a shared position and
// the results are merged in commit order, which keeps the output exactly
// what a one-at-a-time scan gives. Each extra worker opens the repository
// again, because go-git's storage is not safe for concurrent use, but
// shares the first handle's point reader (objects.go), so packs are mapped
// once and delta bases are shared. Runs are of consecutive commits: their
// trees and file versions are deltas of one another, and a worker's index
// of the trees it checked (trees.go) serves the next commit. The last
// scanned version of each path, with its keywords (rangekw.go), is shared
// by all workers: a topic's commits and the merge that brings it in often
// land in different runs.

// rangeBatchesPerWorker is how many runs of consecutive commits each worker
// gets on average before the runs shrink: more balances the load better
// when commits differ in size, fewer keeps more of each worker's cache hits.
const rangeBatchesPerWorker = 8

// scanCommits scans commits, oldest first, into res. open returns another
// handle on the same repository for an extra worker; nil (or one worker)
// scans them one at a time through w.repo. done, if set, is called from
// the calling goroutine with how many commits are finished, in order.
func (e *Engine) scanCommits(ctx context.Context, w *rangeWalk, commits []*commitRec, open func() (*git.Repository, error), res *Result, done func(int)) error {
	jobs := make([]commitJob, len(commits))
	for i, c := range commits {
		j, err := w.job(c)
		if err != nil {
			return err
		}
		jobs[i] = j
	}
	workers := e.opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = min(workers, len(jobs))
	repos := []*git.Repository{w.repo}
	for open != nil && len(repos) < workers {
		r, err := open()
		if err != nil {
			break // fewer workers; the first handle serves every commit
		}
		repos = append(repos, r)
	}
	if len(repos) <= 1 {
		rw := e.newRangeWorker(&versionMemo{})
		for i, j := range jobs {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := e.scanJob(ctx, w.repo, rw, j, res); err != nil {
				return err
			}
			if done != nil {
				done(i + 1)
			}
		}
		return nil
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batch := max(1, len(jobs)/(len(repos)*rangeBatchesPerWorker))
	parts := make([]*Result, len(jobs))
	errs := make([]error, len(jobs))
	finished := make([]chan struct{}, len(jobs))
	for i := range finished {
		finished[i] = make(chan struct{})
	}
	// Runs shrink towards the end (guided scheduling), so that no worker
	// is left with a long run while the others have nothing to do.
	var mu sync.Mutex
	next := 0
	take := func() (start, end int) {
		mu.Lock()
		defer mu.Unlock()
		n := max(1, min(batch, (len(jobs)-next)/(2*len(repos))))
		start, next = next, min(next+n, len(jobs))
		return start, next
	}
	versions := &versionMemo{}
	var wg sync.WaitGroup
	for _, repo := range repos {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rw := e.newRangeWorker(versions)
			for {
				start, end := take()
				if start >= end {
					return
				}
				for i := start; i < end; i++ {
					if err := ctx.Err(); err != nil {
						errs[i] = err
					} else {
						part := &Result{}
						errs[i] = e.scanJob(ctx, repo, rw, jobs[i], part)
						parts[i] = part
						if errs[i] != nil {
							cancel()
						}
					}
					close(finished[i])
				}
			}
		}()
	}
	for i := range jobs {
		<-finished[i]
		if errs[i] != nil {
			cancel()
			wg.Wait()
			return firstRangeError(errs)
		}
		mergeResult(res, parts[i])
		parts[i] = nil
		if done != nil {
			done(i + 1)
		}
	}
	wg.Wait()
	return nil
}

// firstRangeError picks the error to report once a worker failed: the
// earliest commit's own error, not the cancellation it caused in the
// commits other workers were on. A cancellation is returned only when
// nothing else failed (the caller's context ended).
func firstRangeError(errs []error) error {
	var cancelled error
	for _, err := range errs {
		switch {
		case err == nil:
		case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
			if cancelled == nil {
				cancelled = err
			}
		default:
			return err
		}
	}
	return cancelled
}

// mergeResult adds one commit's part of a range scan to res.
func mergeResult(res, part *Result) {
	res.Files += part.Files
	res.Bytes += part.Bytes
	res.Findings = append(res.Findings, part.Findings...)
	res.Skipped = append(res.Skipped, part.Skipped...)
	res.Errors = append(res.Errors, part.Errors...)
	res.Warnings = append(res.Warnings, part.Warnings...)
	res.Suppressed = append(res.Suppressed, part.Suppressed...)
	res.IgnoredFiles += part.IgnoredFiles
	res.IgnoredDirs += part.IgnoredDirs
}
