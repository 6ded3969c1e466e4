package main

import (
	"testing"
	"time"
)

// TestFormatProgress holds the progress line to one unit per line and an
// ETA that follows the work: the same sweep at a steady rate shows a
// shrinking ETA, a stall shows a growing one, and nothing is promised
// before any work is done. Pure function: no clock, no terminal.
func TestFormatProgress(t *testing.T) {
	const mib = 1 << 20
	for _, tc := range []struct {
		name string
		in   progressState
		want string
	}{
		{"history start", progressState{What: "history", Unit: unitBytes, Total: 4 * mib},
			"keyward: history: 0 B of 4.0 MiB (0%), ETA ?"},
		{"history quarter", progressState{What: "history", Unit: unitBytes, Done: mib, Total: 4 * mib, Elapsed: 10 * time.Second},
			"keyward: history: 1.0 MiB of 4.0 MiB (25%), 102.4 KiB/s, ETA 30s"},
		{"history half, same rate", progressState{What: "history", Unit: unitBytes, Done: 2 * mib, Total: 4 * mib, Elapsed: 20 * time.Second},
			"keyward: history: 2.0 MiB of 4.0 MiB (50%), 102.4 KiB/s, ETA 20s"},
		{"history stalled", progressState{What: "history", Unit: unitBytes, Done: 2 * mib, Total: 4 * mib, Elapsed: 40 * time.Second},
			"keyward: history: 2.0 MiB of 4.0 MiB (50%), 51.2 KiB/s, ETA 40s"},
		{"history trees phase", progressState{What: "history (trees)", Unit: unitBytes, Done: 3 * mib, Total: 4 * mib, Elapsed: 30 * time.Second},
			"keyward: history (trees): 3.0 MiB of 4.0 MiB (75%), 102.4 KiB/s, ETA 10s"},
		{"almost done", progressState{What: "history", Unit: unitBytes, Done: 4*mib - 1, Total: 4 * mib, Elapsed: 40 * time.Second},
			"keyward: history: 4.0 MiB of 4.0 MiB (99%), 102.4 KiB/s, ETA <1s"},
		{"done", progressState{What: "history", Unit: unitBytes, Done: 4 * mib, Total: 4 * mib, Elapsed: 40 * time.Second},
			"keyward: history: 4.0 MiB of 4.0 MiB (100%), 102.4 KiB/s, ETA 0s"},
		{"range", progressState{What: "range", Unit: unitCommits, Done: 40, Total: 100, Elapsed: 4 * time.Second},
			"keyward: range: 40 of 100 commits (40%), 10.0 commits/s, ETA 6s"},
		{"range one commit", progressState{What: "range", Unit: unitCommits, Done: 0, Total: 1},
			"keyward: range: 0 of 1 commit (0%), ETA ?"},
		{"range long", progressState{What: "range", Unit: unitCommits, Done: 10, Total: 10000, Elapsed: 10 * time.Second},
			"keyward: range: 10 of 10000 commits (0%), 1.0 commits/s, ETA 2h46m30s"},
		{"no total", progressState{What: "history", Unit: unitBytes, Done: 10, Elapsed: time.Second},
			"keyward: history: 10 B of 0 B, 10 B/s, ETA 0s"},
	} {
		if got := formatProgress(tc.in); got != tc.want {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, got, tc.want)
		}
	}
}
