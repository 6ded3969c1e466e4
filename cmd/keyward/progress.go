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
	start time.Time
	last  time.Time
	wrote bool
}

func newProgress(e *env) *progress {
	return &progress{w: e.stderr, on: isTerminal(e.stderr), start: time.Now()}
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
	elapsed := now.Sub(p.start).Seconds()
	rate := float64(h.Bytes) / elapsed
	eta := "?"
	if rate > 0 && h.BytesTotal > h.Bytes {
		eta = (time.Duration(float64(h.BytesTotal-h.Bytes)/rate) * time.Second).Round(time.Second).String()
	}
	fmt.Fprintf(p.w, "\rkeyward: %d/%d blobs, %s/%s, %s/s, ETA %s   ",
		h.Blobs, h.BlobsTotal, humanBytes(h.Bytes), humanBytes(h.BytesTotal), humanBytes(int64(rate)), eta)
	p.wrote = true
}

func (p *progress) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.wrote {
		fmt.Fprint(p.w, "\r\033[K")
	}
}
