package main

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/pflag"

	"github.com/keyward/keyward/scanner"
	"github.com/keyward/keyward/scanner/report"
)

const baselineUsage = `Usage: keyward baseline create [flags] [PATH...]
       keyward baseline update [flags] [PATH...]
       keyward baseline prune  [flags] [PATH...]

A baseline (.keyward-baseline.json at the repository root) records the
findings a project has accepted, so that scans report only new ones. It is
committed: it holds no secrets, only each credential's SHA-256, its rule and
its path, plus the commit and line where it was first seen, for people.

Findings match entries by rule, path and secret hash, never by line: moving
a line does not bring an accepted finding back, and a different secret on
an accepted line is still reported. When an entry's path no longer exists in
the working tree, its credential is accepted at any path (a rename); while
the old file exists, the same credential at a new path is a copy, and is
reported.

  create   sweep the repository's whole history (every ref, like
           'keyward scan --history') and write the baseline; refuses to
           replace an existing one without --force
  update   sweep again and add the new findings; nothing is removed
  prune    sweep again and drop the entries that no longer accept any
           finding, i.e. whose credential the sweep no longer finds (at its
           path, or anywhere if its path is gone). After a history sweep
           that means the credential was purged from every ref; after a
           PATH scan, that it is gone from those files. A baseline pruned
           against the working tree will not cover history scans.

The sweep is the history unless PATHs are given (then those files are
scanned) or --from-report names a JSON report from 'keyward scan --format
json'. Findings already suppressed by keyward:allow comments or the
config's allowlists are not recorded.

Examples:
  keyward baseline create                  accept everything in history now
  keyward baseline update                  accept what was found since
  keyward baseline prune --dry-run         show entries that are stale
  keyward baseline create --from-report report.json
  keyward scan --no-baseline               see everything again

Exit codes:
  0  done
  2  usage or runtime error
`

// baselineOptions are the flags of 'keyward baseline'.
type baselineOptions struct {
	file       string
	fromReport string
	config     string
	force      bool
	dryRun     bool
	noIgnore   bool
}

func (o *baselineOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.file, "file", "", "the baseline `FILE` (default: the config's baseline, else .keyward-baseline.json at the repository root)")
	fs.StringVar(&o.fromReport, "from-report", "", "take findings from the JSON report `FILE` instead of scanning")
	fs.StringVar(&o.config, "config", "", "read the project config from `FILE`")
	fs.BoolVar(&o.force, "force", false, "create: replace an existing baseline")
	fs.BoolVar(&o.dryRun, "dry-run", false, "show what would change; write nothing")
	fs.BoolVar(&o.noIgnore, "no-ignore", false, "with PATHs, scan files that .gitignore excludes")
}

func runBaseline(ctx context.Context, e *env, args []string) error {
	var o baselineOptions
	flags := newFlagSet("baseline")
	o.addFlags(flags)
	if err := parseFlags(flags, baselineUsage, e, args); err != nil {
		return err
	}
	rest := flags.Args()
	hint := "run 'keyward baseline --help' for usage"
	if len(rest) == 0 {
		return usagef(hint, "baseline needs a subcommand: create, update or prune")
	}
	verb, paths := rest[0], rest[1:]
	if verb != "create" && verb != "update" && verb != "prune" {
		return usagef(hint, "unknown baseline subcommand %q", verb)
	}
	if o.fromReport != "" && len(paths) > 0 {
		return usagef(hint, "--from-report takes no PATH arguments")
	}
	if o.force && verb != "create" {
		return usagef(hint, "--force is for create")
	}
	sc, err := loadScanConfig(e, o.config)
	if err != nil {
		return err
	}
	path, _ := sc.baselinePath(o.file, false)
	old, err := loadBaseline(path, false)
	if err != nil {
		return err
	}
	name := displayPath(path)
	switch {
	case verb == "create" && old != nil && !o.force:
		return usagef("'keyward baseline update' adds new findings; --force starts over",
			"%s already exists", name)
	case verb == "prune" && old == nil:
		return fmt.Errorf("prune baseline: %s: %w", name, fs.ErrNotExist)
	}

	found, err := o.sweep(ctx, e, sc, paths)
	if err != nil {
		return err
	}
	now := time.Now()
	switch verb {
	case "create":
		b := scanner.NewBaseline(now)
		b.Add(found)
		return o.write(e, path, b, fmt.Sprintf("%d %s", len(b.Entries), plural(int64(len(b.Entries)), "entry", "entries")))
	case "update":
		b := old
		if b == nil {
			b = scanner.NewBaseline(now)
		}
		n := b.Add(found)
		if n > 0 {
			b.Updated = now.UTC().Truncate(time.Second)
		}
		return o.write(e, path, b, fmt.Sprintf("%d new, %d in all", n, len(b.Entries)))
	default: // prune
		removed := old.Prune(found, scanner.BaselineMatch{Exists: sc.exists})
		for _, r := range removed {
			fmt.Fprintf(e.stdout, "pruned %s %s secret_sha256 %s\n", quotePath(r.Path), r.RuleID, r.SecretSHA256[:12])
		}
		if len(removed) > 0 {
			old.Updated = now.UTC().Truncate(time.Second)
		}
		return o.write(e, path, old, fmt.Sprintf("%d pruned, %d left", len(removed), len(old.Entries)))
	}
}

// sweep gathers the findings to record, as baseline entries.
func (o *baselineOptions) sweep(ctx context.Context, e *env, sc *scanConfig, paths []string) ([]scanner.BaselineEntry, error) {
	if o.fromReport != "" {
		return entriesFromReport(sc, o.fromReport)
	}
	eng := scanner.New(sc.options(scanner.Options{NoIgnore: o.noIgnore}))
	var res *scanner.Result
	var err error
	src := "paths"
	if len(paths) > 0 {
		res, err = eng.Run(ctx, scanner.Paths(paths))
	} else {
		if !sc.inRepo {
			return nil, usagef("run it inside a git repository, or name PATHs or --from-report",
				"the baseline sweeps a repository's history, and this is not in one")
		}
		src = "--history"
		p := newProgress(e)
		res, err = eng.Run(ctx, scanner.History{Dir: sc.root, Opts: scanner.HistoryOptions{Progress: p.update}})
		p.done()
	}
	if err != nil {
		return nil, err
	}
	for _, w := range res.Warnings {
		warnf(e.stderr, "%s", w)
	}
	if len(res.Errors) > 0 {
		// A baseline from an incomplete sweep would leave findings out
		// that later scans then report as new: stop instead.
		for _, fe := range res.Errors {
			warnf(e.stderr, "cannot read %s: %v", quotePath(fe.Path), fe.Err)
		}
		return nil, fmt.Errorf("sweep for baseline: %d %s could not be read", len(res.Errors), plural(int64(len(res.Errors)), "input", "inputs"))
	}
	// Run applied the config's suppressions (there is no baseline in
	// the options: this builds it).
	rel := sc.rel(src)
	out := make([]scanner.BaselineEntry, 0, len(res.Findings))
	for i := range res.Findings {
		out = append(out, scanner.EntryFor(&res.Findings[i], rel))
	}
	return out, nil
}

// entriesFromReport reads the findings of a 'keyward scan --format json'
// report (scanner/report, its one reader and size limit). Its paths are
// taken as the scan gave them: relative to the repository root for git
// sources, else relative to the working directory.
func entriesFromReport(sc *scanConfig, path string) ([]scanner.BaselineEntry, error) {
	rep, err := report.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read report %s: %w", path, err)
	}
	rel := sc.rel("paths")
	var out []scanner.BaselineEntry
	for i, f := range rep.Findings {
		if f.RuleID == "" || f.Path == "" || len(f.SecretSHA256) != 64 {
			return nil, fmt.Errorf("read report %s: findings[%d]: no rule_id, path or secret_sha256", path, i)
		}
		p := f.RawPath()
		if _, err := os.Lstat(p); err == nil {
			p = rel(p)
		}
		kind := scanner.Kind(f.Kind)
		if kind == scanner.KindFile || f.Message && kind == "" {
			kind = "" // a file, or a report from before kinds (the path says)
		}
		out = append(out, scanner.BaselineEntry{
			Fingerprint: f.Fingerprint, RuleID: f.RuleID, Path: filepath.ToSlash(p),
			SecretSHA256: f.SecretSHA256, Commit: f.Commit, Line: f.Line, Kind: kind,
		})
	}
	return out, nil
}

// write saves the baseline atomically: a new file beside the target,
// renamed over it, so a hook never reads half a baseline. Mode 0644: the
// file holds hashes, rule IDs and paths, no secret, and is meant to be
// committed.
func (o *baselineOptions) write(e *env, path string, b *scanner.Baseline, summary string) error {
	data, err := b.Marshal()
	if err != nil {
		return err
	}
	name := displayPath(path)
	if o.dryRun {
		fmt.Fprintf(e.stderr, "keyward: %s: %s (dry run: not written)\n", name, summary)
		return nil
	}
	err = scanner.WriteFileAtomic(path, 0o644, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
	if err != nil {
		return fmt.Errorf("write baseline %s: %w", name, err)
	}
	fmt.Fprintf(e.stderr, "keyward: wrote %s: %s\n", name, summary)
	return nil
}
