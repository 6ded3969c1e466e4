package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/keyward/keyward/scanner"
)

const scanUsage = `Usage: keyward scan [flags] [PATH...]
       keyward scan -                      (standard input)
       keyward scan --staged               (what is about to be committed)
       keyward scan --commit-msg FILE      (a commit message)
       keyward scan --range A..B           (commits about to be pushed or merged)
       keyward scan --history              (every branch, tag and unique blob)
       keyward scan --patch FILE           (a unified diff; - reads stdin)

Scans for AWS access key IDs, secret access keys and session tokens (and the
credentials that travel with them: private keys, GitHub, GitLab, Slack,
Stripe, Google and other tokens; 'keyward rules' lists them), seeing through
URL encoding, JSON escapes, base64, UTF-16 and binary files. PATH
defaults to the current directory; directories are walked without following
symlinks, skipping .git and what .gitignore excludes (--no-ignore scans all).

Secrets are redacted in every output unless --show-secrets is given; key IDs
are shown in full, since AWS treats them as identifiers and responders need
them.

Findings on a line marked keyward:allow, covered by an allowlist in
.keyward.toml or recorded in the baseline are counted, not reported (see
'keyward config --help' and 'keyward baseline --help').

Examples:
  keyward scan                          scan the current directory
  keyward scan testdata/sample          scan the bundled sample
  cat creds.txt | keyward scan -        scan standard input
  keyward scan --format sarif --report keyward.sarif
  keyward scan --range origin/main...HEAD   the CI gate on a pull request
  keyward scan --history --format json  sweep a repository's whole past
  git diff main | keyward scan --patch -   the lines a change adds

Exit codes:
  0  nothing found
  1  findings
  2  usage or runtime error, or some input could not be read and nothing
     was found (the scan is incomplete, so it is not "clean")
`

// scanOptions are the flags of 'keyward scan'.
type scanOptions struct {
	format       string
	report       string
	reportFormat string
	showSecrets  bool
	redact       bool
	noIgnore     bool
	maxFileSize  sizeFlag
	staged       bool
	commitMsg    string
	rangeSpec    string
	history      bool
	patch        string
	allObjects   bool
	verify       bool
	config       string
	baseline     string
	noBaseline   bool
	quiet        bool
}

func (o *scanOptions) addFlags(fs *pflag.FlagSet) {
	o.maxFileSize = scanner.DefaultMaxFileSize
	fs.StringVarP(&o.format, "format", "f", "text", "output format: text, json, sarif or junit")
	fs.StringVar(&o.report, "report", "", "also write a report to `FILE` (mode 0600)")
	fs.StringVar(&o.reportFormat, "report-format", "", "report format: json, sarif or junit (default: from the file extension, .sarif or .xml, else json)")
	fs.BoolVar(&o.redact, "redact", true, "redact secrets in all output")
	fs.BoolVar(&o.showSecrets, "show-secrets", false, "print secrets in full (same as --redact=false)")
	fs.BoolVar(&o.noIgnore, "no-ignore", false, "scan files that .gitignore excludes")
	fs.Var(&o.maxFileSize, "max-file-size", "hold at most `SIZE` of a file or blob in memory; larger ones are scanned as a stream (e.g. 500K, 100M, 1G)")
	fs.BoolVar(&o.staged, "staged", false, "scan what is staged for commit (lines added against HEAD)")
	fs.StringVar(&o.commitMsg, "commit-msg", "", "scan the commit message in `FILE`")
	fs.StringVar(&o.rangeSpec, "range", "", "scan the commits in `RANGE` (A..B, A...B, a commit, 0000…..B)")
	fs.BoolVar(&o.history, "history", false, "scan every ref's history, each unique blob once")
	fs.BoolVar(&o.allObjects, "all-objects", false, "with --history, also scan objects no ref reaches")
	fs.StringVar(&o.patch, "patch", "", "scan the lines a unified diff in `FILE` adds (git diff, git log -p; - is standard input)")
	fs.BoolVarP(&o.quiet, "quiet", "q", false, "no summary line when nothing is found, and no hints (hooks use this)")
	fs.BoolVar(&o.verify, "verify", false, "check found keys against AWS STS (never in hooks; see 'keyward verify')")
	fs.StringVar(&o.config, "config", "", "read the project config from `FILE` (default: .keyward.toml at the repository root)")
	fs.StringVar(&o.baseline, "baseline", "", "report only findings not in the baseline `FILE` (default: .keyward-baseline.json at the repository root, if present)")
	fs.BoolVar(&o.noBaseline, "no-baseline", false, "ignore the baseline: report everything not otherwise allowed")
}

// source picks the one source the flags name.
func (o *scanOptions) source(args []string) (string, error) {
	var named []string
	for _, s := range []struct {
		on   bool
		name string
	}{
		{o.staged, "--staged"}, {o.commitMsg != "", "--commit-msg"},
		{o.rangeSpec != "", "--range"}, {o.history, "--history"},
		{o.patch != "", "--patch"},
	} {
		if s.on {
			named = append(named, s.name)
		}
	}
	if len(named) > 1 {
		return "", usagef("choose one source per scan", "%s cannot be combined", strings.Join(named, " and "))
	}
	if len(named) == 1 && len(args) > 0 {
		if named[0] == "--patch" {
			return "", usagef("give the patch as --patch FILE, or --patch - for standard input", "--patch takes no PATH arguments")
		}
		return "", usagef("paths are for scanning files; git sources scan the repository in the current directory",
			"%s takes no PATH arguments", named[0])
	}
	if o.allObjects && !o.history {
		return "", usagef("use --history --all-objects", "--all-objects needs --history")
	}
	if len(named) == 1 {
		return named[0], nil
	}
	if len(args) == 1 && args[0] == "-" {
		return "-", nil
	}
	for _, a := range args {
		if a == "-" {
			return "", usagef("scan standard input on its own: keyward scan -", "'-' cannot be mixed with paths")
		}
	}
	return "paths", nil
}

func runScan(ctx context.Context, e *env, args []string) error {
	return runScanFrom(ctx, e, args, nil)
}

// gateSourceFunc is a source a gate chose itself (the commits of a push,
// say), used instead of the ones scan's flags name; see gate.go.
type gateSourceFunc func(ctx context.Context, eng *scanner.Engine) (*scanner.Result, error)

// runScanFrom is runScan with an optional source chosen by a gate: the
// flags, configuration, output and exit codes stay scan's.
func runScanFrom(ctx context.Context, e *env, args []string, gate gateSourceFunc) error {
	var o scanOptions
	fs := newFlagSet("scan")
	o.addFlags(fs)
	if err := parseFlags(fs, scanUsage, e, args); err != nil {
		return err
	}
	if o.showSecrets {
		o.redact = false
	}
	sc, err := loadScanConfig(e, o.config)
	if err != nil {
		return err
	}
	if !fs.Changed("format") {
		o.format = sc.format()
	}
	out, err := newRenderer(o.format)
	if err != nil {
		return err
	}
	var rep renderer
	if o.report != "" {
		if rep, err = reportRenderer(o.report, o.reportFormat); err != nil {
			return err
		}
	}
	src, err := o.source(fs.Args())
	if err != nil {
		return err
	}
	if gate != nil {
		if src != "paths" || fs.NArg() > 0 {
			return usagef("the gate chooses what to scan", "%s cannot be combined with a gate", src)
		}
		src = gateSource
	}

	opts, err := sc.withBaseline(sc.options(scanner.Options{MaxFileSize: int64(o.maxFileSize), NoIgnore: o.noIgnore}), o.baseline, o.noBaseline)
	if err != nil {
		return err
	}
	// Engine.Run applies every suppression (inline comments, allowlists,
	// custom rules' path scopes, the baseline) whatever the source.
	eng := scanner.New(opts)
	start := time.Now()
	var res *scanner.Result
	if gate != nil {
		res, err = eng.Run(ctx, scanner.SourceFunc(gate))
	} else {
		res, err = o.scan(ctx, e, eng, src, fs.Args())
	}
	if errors.Is(err, scanner.ErrNotRepository) {
		return usagef("run it inside a git repository, or scan files with 'keyward scan PATH'", "%v", err)
	}
	if err != nil {
		return err
	}
	rr := &runResult{Result: res, Duration: time.Since(start), Redact: o.redact, Source: src}
	if o.verify {
		if rr.Verdicts, err = verifyFindings(ctx, e, res.Findings, defaultVerifyOptions()); err != nil {
			return err
		}
	}
	if rep != nil {
		if err := writeReport(o.report, rep, rr); err != nil {
			return err
		}
	}
	if err := out.render(e.stdout, rr, sc.style(e, e.stdout)); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	if len(rr.Verdicts) > 0 && o.format == "text" {
		// JSON carries each verdict inside its finding; text lists them
		// after the findings, in verify's own words.
		if err := writeVerdicts(e, e.stdout, rr.Verdicts, "text"); err != nil {
			return fmt.Errorf("write output: %w", err)
		}
	}
	summarize(e, rr, o.format, o.quiet)
	incomplete := gateIncomplete(e, res, src, int64(o.maxFileSize))
	switch {
	case len(res.Findings) > 0:
		return errFindings
	case len(res.Errors) > 0 || incomplete || incompleteSkips(res.Skipped) > 0:
		return errSilent
	}
	return nil
}

// scan reads the chosen source (a scanner.Source).
func (o *scanOptions) scan(ctx context.Context, e *env, eng *scanner.Engine, src string, args []string) (*scanner.Result, error) {
	switch src {
	case "-":
		return eng.Run(ctx, scanner.Reader{R: e.stdin, Prov: scanner.Provenance{Path: "-", Kind: scanner.KindStdin}})
	case "--staged":
		return eng.Run(ctx, scanner.SourceFunc(stagedSource(ctx)))
	case "--commit-msg":
		f, err := os.Open(o.commitMsg)
		if err != nil {
			return nil, fmt.Errorf("read commit message: %w", err)
		}
		defer f.Close()
		return eng.Run(ctx, scanner.Reader{R: f, Prov: scanner.Provenance{Path: o.commitMsg, Kind: scanner.KindCommitMessage}})
	case "--range":
		if needsGitPlumbing() {
			scan, err := patchRange(ctx, o.rangeSpec)
			if err != nil {
				return nil, err
			}
			return eng.Run(ctx, scanner.SourceFunc(scan))
		}
		p := newProgress(e)
		res, err := eng.Run(ctx, scanner.Range{Dir: ".", Spec: o.rangeSpec, Progress: p.updateRange})
		p.done()
		return res, err
	case "--patch":
		return scanPatchFile(ctx, e, eng, o.patch)
	case "--history":
		if needsGitPlumbing() {
			if o.allObjects {
				return nil, errors.New("--all-objects cannot read a SHA-256 repository (go-git v5 reads SHA-1 only); --history without it reads every commit through git")
			}
			res, err := eng.Run(ctx, scanner.SourceFunc(patchHistory()))
			if res != nil {
				res.Warnings = append(res.Warnings, "SHA-256 repository: history read through git (the added lines and message of every commit a ref or reflog entry reaches, and annotated tag messages)")
			}
			return res, err
		}
		p := newProgress(e)
		res, err := eng.Run(ctx, scanner.History{Dir: ".", Opts: scanner.HistoryOptions{AllObjects: o.allObjects, Progress: p.update}})
		p.done()
		return res, err
	}
	if len(args) == 0 {
		args = []string{"."}
	}
	return eng.Run(ctx, scanner.Paths(args))
}

// scanPatchFile scans the patch in path ("-" for standard input). Input
// of no bytes at all is an error, not a clean scan: in `git diff base |
// keyward scan --patch -` it is what a git that failed (a base not
// fetched) writes, and keyward cannot tell that from an empty change. A
// diff that only removes lines has headers and is read as usual.
func scanPatchFile(ctx context.Context, e *env, eng *scanner.Engine, path string) (*scanner.Result, error) {
	var r io.Reader = e.stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("read patch: %w", err)
		}
		defer f.Close()
		r = f
	}
	n := &countingReader{r: r}
	res, err := eng.Run(ctx, scanner.Patch{R: n, Name: path})
	if err == nil && n.n == 0 {
		err = fmt.Errorf("read patch %s: the input is empty, so nothing was checked (keyward cannot tell an empty diff from a command that failed before writing one; skip the scan when the diff is empty)", path)
	}
	return res, err
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	k, err := c.r.Read(p)
	c.n += int64(k)
	return k, err
}

// summarize writes warnings and the one-line summary to stderr, so stdout
// stays machine-readable in every format.
func summarize(e *env, rr *runResult, format string, quiet bool) {
	res := rr.Result
	for _, w := range res.Warnings {
		warnf(e.stderr, "%s", w)
	}
	for _, fe := range res.Errors {
		warnf(e.stderr, "cannot read %s: %v", quotePath(fe.Path), fe.Err)
	}
	if n := len(res.Skipped); n > 0 {
		counts := map[scanner.SkipReason]int{}
		for _, s := range res.Skipped {
			counts[s.Reason]++
			switch {
			case s.Reason == scanner.SkipTooLarge:
				warnf(e.stderr, "skipped %s: %s is over the size limit", quotePath(s.Path), humanBytes(s.Size))
			case s.Incomplete() || s.Reason == scanner.SkipFindingsCap:
				warnf(e.stderr, "skipped %s: %s", quotePath(s.Path), skipDetail(s))
			}
		}
		var parts []string
		for _, r := range scanner.SkipReasons {
			if counts[r] > 0 {
				parts = append(parts, fmt.Sprintf("%d %s", counts[r], r))
				delete(counts, r)
			}
		}
		// Reasons a source defines itself (a patch's binary changes),
		// after the common ones, so a new source's skips are never left
		// out of the count.
		var other []string
		for r, c := range counts {
			other = append(other, fmt.Sprintf("%d %s", c, r))
		}
		sort.Strings(other)
		parts = append(parts, other...)
		fmt.Fprintf(e.stderr, "keyward: skipped %d (%s)\n", n, strings.Join(parts, ", "))
	}
	n := len(res.Findings)
	if format != "text" || (quiet && n == 0) {
		return
	}
	noun := "findings"
	if n == 1 {
		noun = "finding"
	}
	what := fmt.Sprintf("%d %s", res.Files, plural(res.Files, "file", "files"))
	if rr.Source == "--range" || rr.Source == "--history" || rr.Source == "--patch" && res.Commits > 0 {
		// Git sources read commits and the blobs they hold, not files.
		blob, blobs := "blob", "blobs"
		if rr.Source == "--patch" {
			blob, blobs = "file", "files" // a file's hunks in one commit
		}
		what = fmt.Sprintf("%d %s and %d %s", res.Commits, plural(res.Commits, "commit", "commits"),
			res.Files, plural(res.Files, blob, blobs))
	}
	fmt.Fprintf(e.stderr, "keyward: %d %s in %s (%s scanned in %s)\n", n, noun, what,
		humanBytes(res.Bytes), rr.Duration.Round(time.Millisecond))
	if res.IgnoredFiles+res.IgnoredDirs > 0 {
		fmt.Fprintf(e.stderr, "keyward: .gitignore excluded %d %s and %d %s (--no-ignore scans them)\n",
			res.IgnoredFiles, plural(res.IgnoredFiles, "file", "files"), res.IgnoredDirs, plural(res.IgnoredDirs, "directory", "directories"))
	}
	summarizeSuppressed(e, rr)
	if n > 0 && !quiet {
		if rr.Redact {
			hintf(e.stderr, "secrets are redacted; --show-secrets prints them")
		}
		if id := firstAWSKey(res.Findings); id != "" {
			hintf(e.stderr, "remove the key and rotate it; if it already left this machine, run 'keyward respond --key-id %s'", id)
		} else {
			hintf(e.stderr, "remove the credential and revoke it with its provider: anyone who read it can use it")
		}
	}
	if len(res.Errors) > 0 && n == 0 {
		errorf(e.stderr, "scan incomplete: %d %s could not be read", len(res.Errors), plural(int64(len(res.Errors)), "input", "inputs"))
	} else if k := incompleteSkips(res.Skipped) - gateSkips(rr); k > 0 && n == 0 {
		errorf(e.stderr, "scan incomplete: %d %s not read (see the warnings above)", k, plural(int64(k), "input was", "inputs were"))
	}
}

// incompleteSkips counts the skips that leave content unread (archive
// members kept out by a limit, content that could not be streamed), which
// make a scan with no findings exit 2: an incomplete scan is not a clean
// one. Files over --max-file-size are streamed, not skipped.
func incompleteSkips(ss []scanner.Skip) int {
	n := 0
	for _, s := range ss {
		if s.Incomplete() {
			n++
		}
	}
	return n
}

// gateSkips counts the skips a gate reports itself, with its own hint
// (gateIncomplete: content over the size limit that could not be read).
func gateSkips(rr *runResult) int {
	if !gateSources[rr.Source] {
		return 0
	}
	n := 0
	for _, s := range rr.Skipped {
		if s.Reason == scanner.SkipTooLarge {
			n++
		}
	}
	return n
}

// skipDetail says why content was skipped, for people.
func skipDetail(s scanner.Skip) string {
	switch {
	case s.Detail != "":
		return s.Detail
	case s.Reason == scanner.SkipArchiveCorrupt:
		return "the archive could not be read"
	}
	return string(s.Reason)
}

// firstAWSKey is the first key ID among findings, for a hint the user can
// copy; only AWS keys can be responded to.
func firstAWSKey(fs []scanner.Finding) string {
	for _, f := range fs {
		if f.KeyID != "" {
			return f.KeyID
		}
	}
	return ""
}

func plural(n int64, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// quotePath makes a path safe to print: a name with a newline, control
// bytes or invalid UTF-8 is shown quoted, like git does.
func quotePath(p string) string {
	for _, r := range p {
		if r < 0x20 || r == 0x7f || r == '\uFFFD' || r == '"' || r == '\\' {
			return fmt.Sprintf("%q", p)
		}
	}
	return p
}

// errUnknownFormat is a bad --format or --report-format value.
var errUnknownFormat = errors.New("unknown format")
