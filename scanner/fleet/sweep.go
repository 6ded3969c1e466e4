package fleet

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/keyward/keyward/scanner"
)

// MaxJobs bounds --jobs: each job holds a sweep's pack windows and a git
// process, and past a few per core they only contend.
const MaxJobs = 256

// Sweeper sweeps a list of repositories.
type Sweeper struct {
	Engine *scanner.Engine
	Git    *Git
	// CacheDir holds the mirrors, one directory per repository named by
	// Repo.ID, under CacheDir/mirrors.
	CacheDir string
	// Jobs is how many repositories are mirrored and swept at once.
	Jobs int
	// AllObjects is passed to the history sweep.
	AllObjects bool
	// State is read to skip unchanged repositories; each repository done
	// is recorded in StatePath's journal at once, and the state is
	// compacted into StatePath at the start and end of a run.
	State     *State
	StatePath string
	// Config identifies rules and settings; a State with another Config
	// is swept again in full.
	Config string
	// Report is called once per repository that was swept, incomplete or
	// failed (not for unchanged ones), one call at a time, before the
	// state records it: it writes the repository's report and returns
	// its path, so the state never points at a report not yet written.
	Report func(Outcome) (string, error)
	// Progress, if set, is called as work advances, one call at a time.
	Progress func(Progress)
}

// Outcome is what happened to one repository.
type Outcome struct {
	Repo   Repo
	Status string
	Refs   string
	// Result is the sweep's result; nil when failed or unchanged.
	Result *scanner.Result
	// Err is why the repository failed, or nil.
	Err      error
	Duration time.Duration
	// Prev is the state recorded before this run (for an unchanged
	// repository, where its report is).
	Prev RepoState
	// ReportPath is where the repository's report is (written this run,
	// or earlier for an unchanged repository).
	ReportPath string
}

// Progress is the sweep's progress so far, over this run's repositories.
type Progress struct {
	Total, Done              int
	Swept, Unchanged, Failed int
	// Objects and Bytes count what the history sweeps have read so far:
	// for finished sweeps their blobs and blob bytes (Result.Files and
	// Bytes), for sweeps in flight the objects and stored bytes their
	// progress reports. A display, not an account: reports hold the exact
	// numbers.
	Objects, Bytes int64
	Leaks          int
}

// Run mirrors and sweeps repos with at most Jobs at a time and returns
// one outcome per repository, in the order given. A repository that fails
// is an outcome, not an error: Run returns an error only when it cannot go
// on (interrupted, or the state or a report cannot be written).
func (s *Sweeper) Run(ctx context.Context, repos []Repo) ([]Outcome, error) {
	jobs := s.Jobs
	if jobs < 1 {
		jobs = 1
	}
	if jobs > MaxJobs {
		jobs = MaxJobs
	}
	fresh := s.State.Config != s.Config
	s.State.Config = s.Config
	if s.StatePath != "" {
		// Start from a compact state, so the journal holds this run only.
		if err := s.State.Compact(s.StatePath); err != nil {
			return nil, err
		}
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu       sync.Mutex // guards everything below, State and the callbacks
		prog     = Progress{Total: len(repos)}
		inflight = map[int][2]int64{}
		fatal    error
	)
	report := func() {
		if s.Progress == nil {
			return
		}
		p := prog
		for _, v := range inflight {
			p.Objects += v[0]
			p.Bytes += v[1]
		}
		s.Progress(p)
	}
	outcomes := make([]Outcome, len(repos))
	work := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < jobs; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				mu.Lock()
				prev, had := s.State.Repos[repos[i].Key]
				mu.Unlock()
				if fresh {
					had = false
				}
				onProgress := func(h scanner.HistoryProgress) {
					mu.Lock()
					inflight[i] = [2]int64{h.Blobs, h.Bytes}
					report()
					mu.Unlock()
				}
				o := s.sweepOne(ctx, repos[i], prev, had, onProgress)
				mu.Lock()
				delete(inflight, i)
				if err := s.record(&o); err != nil && fatal == nil {
					fatal = err
					cancel()
				}
				outcomes[i] = o
				prog.Done++
				switch o.Status {
				case StatusUnchanged:
					prog.Unchanged++
				case StatusFailed, StatusIncomplete:
					prog.Failed++
				default:
					prog.Swept++
				}
				if o.Result != nil {
					prog.Objects += o.Result.Files
					prog.Bytes += o.Result.Bytes
					prog.Leaks += len(o.Result.Findings)
				} else if o.Status == StatusUnchanged {
					prog.Leaks += o.Prev.Findings
				}
				report()
				mu.Unlock()
			}
		}()
	}
feed:
	for i := range repos {
		select {
		case work <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	if s.StatePath != "" && fatal == nil {
		fatal = s.State.Compact(s.StatePath)
	}
	if fatal != nil {
		return outcomes, fatal
	}
	if err := ctx.Err(); err != nil {
		return outcomes, err
	}
	return outcomes, nil
}

// MirrorDir is where repo's mirror lives in the cache.
func (s *Sweeper) MirrorDir(r Repo) string {
	return filepath.Join(s.CacheDir, "mirrors", r.ID()+".git")
}

// sweepOne mirrors and sweeps one repository.
func (s *Sweeper) sweepOne(ctx context.Context, r Repo, prev RepoState, had bool, progress func(scanner.HistoryProgress)) Outcome {
	start := time.Now()
	o := Outcome{Repo: r, Prev: prev}
	fail := func(err error) Outcome {
		o.Status, o.Err, o.Duration = StatusFailed, err, time.Since(start)
		return o
	}
	dir := s.MirrorDir(r)
	if err := s.Git.Mirror(ctx, r, dir); err != nil {
		return fail(err)
	}
	refs, err := s.Git.RefState(ctx, dir)
	if err != nil {
		return fail(fmt.Errorf("mirror: %w", err))
	}
	o.Refs = refs
	if had && prev.Status == StatusSwept && prev.Refs == refs && fileExists(prev.Report) {
		o.Status, o.ReportPath, o.Duration = StatusUnchanged, prev.Report, time.Since(start)
		return o
	}
	// Run, not ScanHistory: it applies the engine's suppressions (the
	// config's allowlists and custom rules' path scopes).
	res, err := s.Engine.Run(ctx, scanner.History{Dir: dir, Opts: scanner.HistoryOptions{AllObjects: s.AllObjects, Progress: progress}})
	if err != nil {
		return fail(fmt.Errorf("sweep: %w", err))
	}
	o.Result, o.Status, o.Duration = res, StatusSwept, time.Since(start)
	if len(res.Errors) > 0 {
		o.Status = StatusIncomplete
		o.Err = fmt.Errorf("%d objects could not be read: %w", len(res.Errors), res.Errors[0])
	}
	return o
}

// record writes the report of a repository that was swept or failed and
// then its state; called under the Run mutex.
func (s *Sweeper) record(o *Outcome) error {
	if o.Status == StatusUnchanged {
		return nil
	}
	if errors.Is(o.Err, context.Canceled) || errors.Is(o.Err, context.DeadlineExceeded) {
		// Interrupted, not failed: leave the state as it was so the next
		// run sweeps it.
		return nil
	}
	if s.Report != nil {
		path, err := s.Report(*o)
		if err != nil {
			return err
		}
		o.ReportPath = path
	}
	rs := RepoState{
		URL: o.Repo.URL, Status: o.Status, Refs: o.Refs, Report: o.ReportPath,
		SweptAt: time.Now().UTC(), Sweeps: o.Prev.Sweeps,
	}
	if o.Result != nil {
		rs.Sweeps++
		rs.Findings = len(o.Result.Findings)
	}
	if o.Err != nil {
		rs.Error = o.Err.Error()
	}
	if o.Status != StatusSwept {
		rs.Refs = "" // retried next time, whatever the refs
	}
	if s.StatePath == "" {
		s.State.Repos[o.Repo.Key] = rs
		return nil
	}
	return s.State.Record(s.StatePath, o.Repo.Key, rs)
}

func fileExists(p string) bool {
	if p == "" {
		return false
	}
	_, err := os.Stat(p)
	return err == nil
}
