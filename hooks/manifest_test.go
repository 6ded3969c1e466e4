package hooks

import (
	"os"
	"regexp"
	"testing"
)

// TestPreCommitManifest keeps .pre-commit-hooks.yaml in step with the hooks
// keyward knows: every entry runs 'keyward hook run <stage>' for the one
// stage it declares, and every hook has an entry.
func TestPreCommitManifest(t *testing.T) {
	b, err := os.ReadFile("../.pre-commit-hooks.yaml")
	if err != nil {
		t.Fatal(err)
	}
	entries := regexp.MustCompile(`(?m)^  entry: keyward hook run (\S+)$`).FindAllSubmatch(b, -1)
	stages := regexp.MustCompile(`(?m)^  stages: \[(\S+)\]$`).FindAllSubmatch(b, -1)
	if len(entries) != len(Names) || len(stages) != len(Names) {
		t.Fatalf("%d entries and %d stages, want %d of each", len(entries), len(stages), len(Names))
	}
	for i, name := range Names {
		if e, s := string(entries[i][1]), string(stages[i][1]); e != name || s != name {
			t.Errorf("hook %d: entry runs %q at stage %q, want %q", i, e, s, name)
		}
	}
}
