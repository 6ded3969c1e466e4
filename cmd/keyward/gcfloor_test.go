package main

import (
	"math"
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

// gcSettings reads the collector's GOGC and memory limit.
func gcSettings() (percent int, limit int64) {
	percent = debug.SetGCPercent(100)
	debug.SetGCPercent(percent)
	return percent, debug.SetMemoryLimit(-1)
}

// TestFloorGC checks that the collector is held back to the floor, and
// handed back to GOGC=100 once a collection finds more than half the floor
// live; and that a GOGC the user set is left alone.
func TestFloorGC(t *testing.T) {
	percent, limit := gcSettings()
	t.Cleanup(func() {
		debug.SetGCPercent(percent)
		debug.SetMemoryLimit(limit)
	})

	t.Setenv("GOGC", "150")
	floorGC(8 << 20)
	if p, l := gcSettings(); p != percent || l != limit {
		t.Fatalf("with GOGC set: GOGC %d and limit %d, want them unchanged", p, l)
	}

	t.Setenv("GOGC", "")
	floorGC(8 << 20)
	if p, l := gcSettings(); p != -1 || l != 8<<20 {
		t.Fatalf("GOGC %d and limit %d, want off and the floor", p, l)
	}
	live := make([][]byte, 6)
	for i := range live {
		live[i] = make([]byte, 1<<20)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		runtime.GC()
		if p, l := gcSettings(); p == 100 && l == math.MaxInt64 {
			break
		}
		if time.Now().After(deadline) {
			p, l := gcSettings()
			t.Fatalf("6 MiB live against an 8 MiB floor: GOGC %d and limit %d, want 100 and none", p, l)
		}
		time.Sleep(10 * time.Millisecond)
	}
	runtime.KeepAlive(live)
}
