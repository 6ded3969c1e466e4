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

// progress writes a history sweep's progress to stderr, only on a terminal.
type progress struct {
	w     io.Writer
	on    bool
	mu    sync.Mutex
	last  time.Time
	wrote bool
}

func newProgress(e *env) *progress {
	return &progress{w: e.stderr, on: isTerminal(e.stderr)}
}

func (p *progress) update(h scanner.HistoryProgress) {
	if !p.on {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if now.Sub(p.last) < progressInterval {
		return
	}
	p.last = now
	// The sweep reports its own rate and ETA; this only renders them.
	eta := "?"
	if h.ETA > 0 {
		eta = h.ETA.Round(time.Second).String()
	}
	fmt.Fprintf(p.w, "\rkeyward: %s: %d/%d blobs, %s/%s, %s/s, ETA %s   ",
		h.Phase, h.Blobs, h.BlobsTotal, humanBytes(h.Bytes), humanBytes(h.BytesTotal), humanBytes(int64(h.Rate)), eta)
	p.wrote = true
}

func (p *progress) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.wrote {
		fmt.Fprint(p.w, "\r\033[K")
	}
}
