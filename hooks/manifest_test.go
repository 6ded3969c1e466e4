package hooks

import (
	"os"
	"regexp"
	"testing"
)

// TestPreCommitManifest keeps .pre-commit-hooks.yaml in step with the hooks
// keyward knows: every entry runs 'keyward hook run <hook>' for the one
// stage it declares, and every hook has an entry. Stages use the names
// pre-commit 3.0 accepts (commit, push), which later releases map to the
// git hooks of the same role.
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
	stageOf := map[string]string{PreCommit: "commit", CommitMsg: "commit-msg", PrePush: "push"}
	for i, name := range Names {
		if e, s := string(entries[i][1]), string(stages[i][1]); e != name || s != stageOf[name] {
			t.Errorf("hook %d: entry runs %q at stage %q, want %q at %q", i, e, s, name, stageOf[name])
		}
	}
}
