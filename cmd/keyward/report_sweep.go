package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/keyward/keyward/scanner"
	"github.com/keyward/keyward/scanner/fleet"
)

// sweepReportKind marks a sweep report (per repository, per shard or
// merged), so 'keyward report merge' can tell it from a scan report.
const sweepReportKind = "keyward-sweep"

// maxSweepReportSize bounds a report read by merge: a shard of thousands of
// repositories with findings is megabytes, not gigabytes.
const maxSweepReportSize = 1 << 30

// sweepReport is the JSON report of 'keyward sweep' and 'keyward report
// merge': the repositories with their status, the findings (the scan
// report's findings, each with its repository), and the findings grouped
// into credentials. One schema serves a single repository, a shard and a
// whole merged sweep, so merge takes any mix of them.
type sweepReport struct {
	SchemaVersion int      `json:"schema_version"`
	Kind          string   `json:"kind"`
	Tool          jsonTool `json:"tool"`
	// Complete is true only when every repository was swept in full and,
	// for shard reports, every shard is present: merge exits 0 only then.
	Complete bool `json:"complete"`
	// Incomplete says, one line each, what is missing: failed or partly
	// read repositories and missing shards.
	Incomplete   []string          `json:"incomplete"`
	Shards       []sweepShard      `json:"shards"`
	Repositories []sweepRepo       `json:"repositories"`
	Credentials  []sweepCredential `json:"credentials"`
	Findings     []sweepFinding    `json:"findings"`
	Stats        sweepStats        `json:"stats"`
}

// sweepShard records which shard of which list a report covers, so merge
// can tell that a shard is missing.
type sweepShard struct {
	Index int `json:"index"`
	Count int `json:"count"`
	// List is the SHA-256 of the whole list's repository keys, sorted:
	// shards of different lists are not parts of one sweep.
	List string `json:"list"`
	// Repositories is this shard's size.
	Repositories int `json:"repositories"`
}

type sweepRepo struct {
	URL        string      `json:"url"`
	Key        string      `json:"key"`
	Status     string      `json:"status"`
	Error      string      `json:"error,omitempty"`
	Refs       string      `json:"refs,omitempty"`
	Findings   int         `json:"findings"`
	Suppressed int         `json:"suppressed"`
	Objects    int64       `json:"objects"`
	Bytes      int64       `json:"bytes"`
	DurationMS int64       `json:"duration_ms"`
	SweptAt    string      `json:"swept_at,omitempty"`
	Errors     []jsonError `json:"errors"`
	Skipped    []jsonSkip  `json:"skipped"`
	Warnings   []string    `json:"warnings"`
	findings   []jsonFinding
}

// sweepFinding is a scan report finding with the repository it is in.
type sweepFinding struct {
	Repository string `json:"repository"`
	jsonFinding
}

// sweepCredential is one credential and every place it was found.
type sweepCredential struct {
	RuleID         string       `json:"rule_id"`
	Description    string       `json:"description"`
	KeyID          string       `json:"key_id"`
	KeyKind        string       `json:"key_kind"`
	AccountID      string       `json:"account_id"`
	Canary         bool         `json:"canary"`
	Pair           bool         `json:"pair"`
	Secret         string       `json:"secret"`
	SecretRedacted bool         `json:"secret_redacted"`
	SecretSHA256   string       `json:"secret_sha256"`
	Repositories   int          `json:"repositories"`
	Places         []sweepPlace `json:"places"`
}

type sweepPlace struct {
	Repository  string   `json:"repository"`
	Path        string   `json:"path"`
	Line        int      `json:"line"`
	Column      int      `json:"column"`
	Commit      string   `json:"commit"`
	Author      string   `json:"author"`
	Date        string   `json:"date"`
	Fingerprint string   `json:"fingerprint"`
	PresentIn   []string `json:"present_in"`
}

type sweepStats struct {
	Repositories int   `json:"repositories"`
	Swept        int   `json:"swept"`
	Unchanged    int   `json:"unchanged"`
	Incomplete   int   `json:"incomplete"`
	Failed       int   `json:"failed"`
	Credentials  int   `json:"credentials"`
	Places       int   `json:"places"`
	Objects      int64 `json:"objects"`
	Bytes        int64 `json:"bytes"`
	DurationMS   int64 `json:"duration_ms"`
}

// repoReport is the report of one repository's sweep, from its outcome:
// the scan report's findings (through toJSON, the scan's own adapter) plus
// the repository's status.
func repoReport(o fleet.Outcome) *sweepReport {
	r := sweepRepo{
		URL: o.Repo.URL, Key: o.Repo.Key, Status: o.Status, Refs: o.Refs,
		DurationMS: o.Duration.Milliseconds(), SweptAt: time.Now().UTC().Format(time.RFC3339),
		Errors: []jsonError{}, Skipped: []jsonSkip{}, Warnings: []string{},
	}
	if o.Err != nil {
		r.Error = o.Err.Error()
	}
	if o.Result != nil {
		j := toJSON(&runResult{Result: o.Result, Duration: o.Duration, Redact: true})
		r.findings = j.Findings
		r.Findings, r.Suppressed = len(j.Findings), j.Suppressed.Count
		r.Objects, r.Bytes = o.Result.Files, o.Result.Bytes
		r.Errors, r.Skipped, r.Warnings = j.Errors, j.Skipped, j.Warnings
	}
	return buildSweepReport([]sweepRepo{r}, nil, nil)
}

// buildSweepReport assembles a report from repositories (each carrying its
// findings), de-duplicating places and grouping credentials, and works out
// whether the whole is complete.
func buildSweepReport(repos []sweepRepo, shards []sweepShard, extra []string) *sweepReport {
	rep := &sweepReport{
		SchemaVersion: 1, Kind: sweepReportKind,
		Tool:         jsonTool{Name: "keyward", Version: keywardVersion()},
		Incomplete:   []string{},
		Shards:       append([]sweepShard{}, shards...),
		Repositories: []sweepRepo{},
		Credentials:  []sweepCredential{},
		Findings:     []sweepFinding{},
	}
	slices.SortFunc(repos, func(a, b sweepRepo) int { return cmp.Compare(a.Key, b.Key) })
	var places []fleet.Place
	for _, r := range repos {
		for _, f := range r.findings {
			rep.Findings = append(rep.Findings, sweepFinding{Repository: r.URL, jsonFinding: f})
			places = append(places, placeOf(r.URL, f))
		}
		r.findings = nil
		rep.Repositories = append(rep.Repositories, r)
		rep.Stats.Objects += r.Objects
		rep.Stats.Bytes += r.Bytes
		rep.Stats.DurationMS += r.DurationMS
		switch r.Status {
		case fleet.StatusSwept:
			rep.Stats.Swept++
		case fleet.StatusUnchanged:
			rep.Stats.Unchanged++
		case fleet.StatusIncomplete:
			rep.Stats.Incomplete++
			rep.Incomplete = append(rep.Incomplete, r.URL+": incomplete: "+r.Error)
		default:
			rep.Stats.Failed++
			rep.Incomplete = append(rep.Incomplete, r.URL+": "+r.Status+": "+r.Error)
		}
	}
	rep.Stats.Repositories = len(rep.Repositories)

	keep := fleet.DedupePlaces(places)
	findings := make([]sweepFinding, 0, len(keep))
	kept := make([]fleet.Place, 0, len(keep))
	for _, i := range keep {
		findings = append(findings, rep.Findings[i])
		kept = append(kept, places[i])
	}
	order := make([]int, len(kept))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return fleet.ComparePlaces(kept[a], kept[b]) })
	rep.Findings = make([]sweepFinding, len(order))
	places = make([]fleet.Place, len(order))
	for i, j := range order {
		rep.Findings[i], places[i] = findings[j], kept[j]
	}
	for _, c := range fleet.Group(places) {
		rep.Credentials = append(rep.Credentials, credentialOf(c, rep.Findings))
	}
	rep.Stats.Credentials, rep.Stats.Places = len(rep.Credentials), len(rep.Findings)
	rep.Incomplete = append(rep.Incomplete, extra...)
	rep.Complete = len(rep.Incomplete) == 0
	return rep
}

// placeOf adapts a report finding to what fleet groups on.
func placeOf(repo string, f jsonFinding) fleet.Place {
	return fleet.Place{
		Repository: repo, RuleID: f.RuleID, SecretSHA256: f.SecretSHA256, Fingerprint: f.Fingerprint,
		Commit: f.Commit, Path: f.Path, Line: f.Line, Column: f.Column,
		Pair: f.KeyID != "" && f.Secret != "", Canary: f.Canary,
	}
}

// credentialOf describes a credential from its first place with a key ID
// and secret, and lists every place.
func credentialOf(c fleet.Credential, fs []sweepFinding) sweepCredential {
	first := fs[c.Places[0]].jsonFinding
	for _, i := range c.Places {
		if f := fs[i].jsonFinding; f.KeyID != "" && f.Secret != "" {
			first = f
			break
		}
	}
	out := sweepCredential{
		RuleID: c.RuleID, Description: first.Description, KeyID: first.KeyID, KeyKind: first.KeyKind,
		AccountID: first.AccountID, Canary: c.Canary, Pair: c.Pair,
		Secret: first.Secret, SecretRedacted: first.SecretRedacted, SecretSHA256: c.SecretSHA256,
		Places: []sweepPlace{},
	}
	repos := map[string]bool{}
	for _, i := range c.Places {
		f := fs[i]
		repos[f.Repository] = true
		out.Places = append(out.Places, sweepPlace{
			Repository: f.Repository, Path: f.Path, Line: f.Line, Column: f.Column,
			Commit: f.Commit, Author: f.Author, Date: f.Date, Fingerprint: f.Fingerprint,
			PresentIn: append([]string{}, f.PresentIn...),
		})
	}
	out.Repositories = len(repos)
	return out
}

// readSweepReport reads a report for merging: a sweep report of any
// scope, or a scan report (--format json), which becomes one repository
// named by the file, incomplete if the scan could not read everything.
func readSweepReport(path string) (*sweepReport, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read report: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxSweepReportSize+1))
	if err != nil {
		return nil, fmt.Errorf("read report %s: %w", path, err)
	}
	if len(data) > maxSweepReportSize {
		return nil, fmt.Errorf("read report %s: over %d bytes", path, maxSweepReportSize)
	}
	return parseSweepReport(path, data)
}

// parseSweepReport parses a report read from path (the name a scan
// report's repository gets).
func parseSweepReport(path string, data []byte) (*sweepReport, error) {
	var probe struct {
		SchemaVersion int             `json:"schema_version"`
		Kind          string          `json:"kind"`
		Findings      json.RawMessage `json:"findings"`
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, fmt.Errorf("read report %s: not a keyward JSON report: %v", path, err)
	}
	if probe.SchemaVersion != 1 || probe.Findings == nil {
		return nil, fmt.Errorf("read report %s: not a keyward JSON report (schema_version %d)", path, probe.SchemaVersion)
	}
	if probe.Kind == sweepReportKind {
		var rep sweepReport
		if err := json.Unmarshal(data, &rep); err != nil {
			return nil, fmt.Errorf("read report %s: %w", path, err)
		}
		byRepo := map[string][]jsonFinding{}
		for _, f := range rep.Findings {
			byRepo[f.Repository] = append(byRepo[f.Repository], f.jsonFinding)
		}
		for i := range rep.Repositories {
			rep.Repositories[i].findings = byRepo[rep.Repositories[i].URL]
			delete(byRepo, rep.Repositories[i].URL)
		}
		if len(byRepo) > 0 {
			return nil, fmt.Errorf("read report %s: findings for a repository it does not list", path)
		}
		return &rep, nil
	}
	var scan jsonReport
	if err := json.Unmarshal(data, &scan); err != nil {
		return nil, fmt.Errorf("read report %s: %w", path, err)
	}
	r := sweepRepo{
		URL: path, Key: path, Status: fleet.StatusSwept, findings: scan.Findings,
		Findings: len(scan.Findings), Suppressed: scan.Suppressed.Count,
		Objects: scan.Stats.Files, Bytes: scan.Stats.Bytes, DurationMS: scan.Stats.DurationMS,
		Errors: scan.Errors, Skipped: scan.Skipped, Warnings: scan.Warnings,
	}
	if len(scan.Errors) > 0 {
		r.Status = fleet.StatusIncomplete
		r.Error = fmt.Sprintf("%d %s could not be read", len(scan.Errors), plural(int64(len(scan.Errors)), "input", "inputs"))
	}
	return &sweepReport{SchemaVersion: 1, Repositories: []sweepRepo{r}}, nil
}

// mergeSweepReports merges reports: repositories by key (a repository in
// two reports keeps its best status and the findings of both, de-duplicated
// by place), shards checked for gaps, earlier incompleteness carried over.
func mergeSweepReports(reps []*sweepReport) *sweepReport {
	rank := map[string]int{fleet.StatusSwept: 0, fleet.StatusUnchanged: 0, fleet.StatusIncomplete: 1, fleet.StatusFailed: 2}
	byKey := map[string]*sweepRepo{}
	var keys []string
	var shards []sweepShard
	for _, rep := range reps {
		shards = append(shards, rep.Shards...)
		for _, r := range rep.Repositories {
			have := byKey[r.Key]
			if have == nil {
				r := r
				byKey[r.Key] = &r
				keys = append(keys, r.Key)
				continue
			}
			fs := append(have.findings, r.findings...)
			if rank[r.Status] < rank[have.Status] {
				*have = r
			}
			have.findings = fs
			have.Findings = len(fs)
		}
	}
	repos := make([]sweepRepo, 0, len(keys))
	for _, k := range keys {
		repos = append(repos, *byKey[k])
	}
	shards, missing := checkShards(shards)
	return buildSweepReport(repos, shards, missing)
}

// checkShards de-duplicates shard records and names each shard missing
// from a list of which some shard is present.
func checkShards(shards []sweepShard) ([]sweepShard, []string) {
	type key struct {
		list         string
		count, index int
	}
	seen := map[key]bool{}
	var out []sweepShard
	lists := map[[2]string]int{}
	for _, s := range shards {
		k := key{s.List, s.Count, s.Index}
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, s)
		lists[[2]string{s.List, fmt.Sprint(s.Count)}] = s.Count
	}
	slices.SortFunc(out, func(a, b sweepShard) int {
		return cmp.Or(cmp.Compare(a.List, b.List), cmp.Compare(a.Count, b.Count), cmp.Compare(a.Index, b.Index))
	})
	var missing []string
	var ids [][2]string
	for id := range lists {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b [2]string) int { return cmp.Or(cmp.Compare(a[0], b[0]), cmp.Compare(a[1], b[1])) })
	if len(ids) > 1 {
		missing = append(missing, "the reports are shards of different repository lists or shard counts")
	}
	for _, id := range ids {
		n := lists[id]
		for i := 0; i < n; i++ {
			if !seen[key{id[0], n, i}] {
				missing = append(missing, fmt.Sprintf("shard %d of %d missing (list %.12s)", i, n, id[0]))
			}
		}
	}
	return out, missing
}

// toScanFindings adapts report findings back to scanner findings, for the
// SARIF renderer. Secrets are the report's (redacted) text.
func toScanFindings(fs []jsonFinding) []scanner.Finding {
	out := make([]scanner.Finding, 0, len(fs))
	for _, f := range fs {
		sf := scanner.Finding{
			RuleID: f.RuleID, Description: f.Description,
			Provenance: f.Provenance(),
			Line:       f.Line, Column: f.Column, Start: f.Start, End: f.End,
			KeyID: f.KeyID, KeyKind: f.KeyKind, AccountID: f.AccountID, Canary: f.Canary,
			Secret: scanner.NewSecret(f.Secret), SecretLine: f.SecretLine,
			SessionToken: scanner.NewSecret(f.SessionToken), Encoding: scanner.Encoding(f.Encoding),
			Fingerprint: f.Fingerprint, PresentIn: f.PresentIn,
		}
		if t, err := time.Parse(time.RFC3339, f.Date); err == nil {
			sf.Date = t
		}
		out = append(out, sf)
	}
	return out
}

// scanResultOf wraps report findings as a scan result for the scan's
// renderers.
func scanResultOf(fs []jsonFinding) *scanner.Result {
	return &scanner.Result{Findings: toScanFindings(fs)}
}
