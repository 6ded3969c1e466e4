package main

import (
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
)

// gcFloor is the heap below which keyward leaves the garbage collector
// idle. A range scan of git/git's last hundred commits holds about 50 MiB
// (the delta-base cache and the versions it compares) and grows to twice
// that under GOGC=100 whatever the collector does, since what it holds
// grows as it goes; collecting on the way up, at 4, 8, 15, 24, 43 and
// 71 MiB, only cost CPU: 8% of the scan's in alternating runs against a
// collector held back to 100 MiB, with as many page faults. Above the
// floor, or once the live heap is half of it, collection is GOGC=100's.
const gcFloor = 96 << 20

// floorGC holds the collector back until the heap reaches floor bytes,
// unless the user set GOGC or GOMEMLIMIT. It is a memory limit with
// GOGC=off, lifted after the first collection that finds more than half
// of floor live: from then on the heap may be twice the live data, as
// GOGC=100 allows, which is above the floor anyway.
func floorGC(floor int64) {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	debug.SetGCPercent(-1)
	debug.SetMemoryLimit(floor)
	watchGC(floor)
}

// watchGC checks the live heap after the next collection, and again after
// each one until it lifts the floor.
func watchGC(floor int64) {
	// Not a tiny allocation (those share a block and may never be
	// freed alone): a value with a pointer.
	sentinel := new(*byte)
	runtime.AddCleanup(sentinel, func(floor int64) {
		live := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
		metrics.Read(live)
		if live[0].Value.Kind() == metrics.KindUint64 && live[0].Value.Uint64() > uint64(floor/2) {
			debug.SetGCPercent(100)
			debug.SetMemoryLimit(math.MaxInt64)
			return
		}
		watchGC(floor)
	}, floor)
}
