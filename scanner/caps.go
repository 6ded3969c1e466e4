package scanner

import "fmt"

// MaxFindingsPerContent bounds the findings kept for one file, blob or
// stream: a generated file of a million key IDs (a test fixture, a dump)
// would otherwise hold gigabytes of findings in memory and in every report
// (issue 10: 1.5M key IDs took 6.9 GB for JSON). Ten thousand is far past
// what anyone acts on one by one; the Skip says how many more there were.
const MaxFindingsPerContent = 10000

// SkipFindingsCap marks content whose findings past MaxFindingsPerContent
// were dropped. The content was read: its findings make the scan exit 1.
const SkipFindingsCap SkipReason = "too-many-findings"

// findingsCapped is the Skip that says findings were dropped.
func findingsCapped(path string, kept, dropped int) Skip {
	return Skip{Path: path, Reason: SkipFindingsCap, Size: int64(kept + dropped),
		Detail: fmt.Sprintf("more than %d findings; only the first %d are listed", kept, kept)}
}

// capFindings keeps the first MaxFindingsPerContent findings, adding a
// Skip to skips when it drops any.
func capFindings(fs []Finding, skips []Skip, path string) ([]Finding, []Skip) {
	if len(fs) <= MaxFindingsPerContent {
		return fs, skips
	}
	skips = append(skips, findingsCapped(path, MaxFindingsPerContent, len(fs)-MaxFindingsPerContent))
	out := make([]Finding, MaxFindingsPerContent) // let the rest be freed
	copy(out, fs)
	return out, skips
}
