package main

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/keyward/keyward/scanner"
)

// progressInterval throttles progress lines: often enough to look alive,
// rarely enough to cost nothing.
const progressInterval = 250 * time.Millisecond

// progressUnit is what a progress line counts. A line shows one unit
// (issue 10: a sweep's line mixed blobs and bytes, with an ETA of a third
// measure): a history sweep counts bytes, its work being proportional to
// them; a range counts commits.
type progressUnit int

const (
	unitBytes progressUnit = iota
	unitCommits
)

// progressState is one progress update, everything formatProgress needs.
type progressState struct {
	// What names the work, such as "history" or "range".
	What        string
	Unit        progressUnit
	Done, Total int64
	// Elapsed is the time since the work began: the rate is Done over
	// it, and the ETA the rest of Total at that rate, so the ETA moves
	// with every update rather than waiting for a new estimate.
	Elapsed time.Duration
}

// formatProgress renders a progress line (without the leading carriage
// return): "keyward: history: 1.0 MiB of 4.0 MiB (25%), 100.0 KiB/s, ETA 31s".
// It is a pure function of the state, so it is tested without a clock.
func formatProgress(s progressState) string {
	count := func(n int64) string {
		if s.Unit == unitBytes {
			return humanBytes(n)
		}
		return fmt.Sprintf("%d", n)
	}
	of := fmt.Sprintf("%s of %s", count(s.Done), count(s.Total))
	if s.Unit == unitCommits {
		of += " " + plural(s.Total, "commit", "commits")
	}
	line := fmt.Sprintf("keyward: %s: %s", s.What, of)
	if s.Total > 0 {
		line += fmt.Sprintf(" (%d%%)", min(100, s.Done*100/s.Total))
	}
	sec := s.Elapsed.Seconds()
	if s.Done <= 0 || sec <= 0 {
		return line + ", ETA ?"
	}
	rate := float64(s.Done) / sec
	if s.Unit == unitBytes {
		line += fmt.Sprintf(", %s/s", humanBytes(int64(rate)))
	} else {
		line += fmt.Sprintf(", %.1f commits/s", rate)
	}
	left := max(0, s.Total-s.Done)
	eta := time.Duration(float64(left) / rate * float64(time.Second))
	return line + ", ETA " + formatETA(eta)
}

// formatETA rounds an estimate to what a reader can use: whole seconds,
// "<1s" rather than a flickering "0s" while work remains.
func formatETA(d time.Duration) string {
	switch {
	case d <= 0:
		return "0s"
	case d < time.Second:
		return "<1s"
	}
	return d.Round(time.Second).String()
}

// progress writes a scan's progress to stderr, only on a terminal, at
// most every progressInterval.
type progress struct {
	w     io.Writer
	on    bool
	mu    sync.Mutex
	last  time.Time
	wrote bool
	width int
}

func newProgress(e *env) *progress {
	return &progress{w: e.stderr, on: isTerminal(e.stderr)}
}

// update renders a history sweep's progress, in bytes.
func (p *progress) update(h scanner.HistoryProgress) {
	what := "history"
	if h.Phase != "" && h.Phase != "objects" {
		what += " (" + h.Phase + ")"
	}
	p.show(func() progressState {
		return progressState{What: what, Unit: unitBytes, Done: h.Bytes, Total: h.BytesTotal, Elapsed: h.Elapsed}
	})
}

// updateRange renders a range scan's progress, in commits.
func (p *progress) updateRange(r scanner.RangeProgress) {
	p.show(func() progressState {
		return progressState{What: "range", Unit: unitCommits, Done: r.Commits, Total: r.CommitsTotal, Elapsed: r.Elapsed}
	})
}

// show writes the state, throttled; state is built only when shown.
func (p *progress) show(state func() progressState) {
	p.showLine(func() string { return formatProgress(state()) }, false)
}

// showLine writes the live line, at most every progressInterval unless
// final (the last update, which must not be dropped); line is built only
// when shown.
func (p *progress) showLine(line func() string, final bool) {
	if !p.on {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if now.Sub(p.last) < progressInterval && !final {
		return
	}
	p.last = now
	p.write(line())
}

// write replaces the live line with line. Callers hold p.mu.
func (p *progress) write(line string) {
	// Pad over the previous line's tail: the line can shrink.
	pad := max(0, p.width-len(line))
	p.width = len(line)
	fmt.Fprintf(p.w, "\r%s%*s", line, pad, "")
	p.wrote = true
}

func (p *progress) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clear()
}

// clear removes the live line, so a whole line can be printed in its
// place; the next update is shown at once. Callers hold p.mu.
func (p *progress) clear() {
	if p.wrote {
		fmt.Fprint(p.w, "\r\033[K")
		p.wrote, p.width, p.last = false, 0, time.Time{}
	}
}

// println prints a whole line on the stream the live line shares, on any
// writer, terminal or not.
func (p *progress) println(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clear()
	fmt.Fprintf(p.w, format+"\n", args...)
}
