package main

import (
	"context"

	"github.com/spf13/pflag"
)

const reportUsage = `Usage: keyward report merge [flags] FILE...

Merges JSON reports into one: per-repository and per-shard reports of
'keyward sweep', earlier merged reports, and 'keyward scan --format json'
reports (each counted as one repository named by its file). Findings are
de-duplicated, and grouped by credential (rule and secret_sha256): the same
key leaked in five repositories is one credential with five places, which
is what a responder works from. Key IDs found with their secret come first.

A repository that failed or was swept only in part, in any input, keeps
the merged report incomplete, and so does a missing shard (inputs from
'keyward sweep --shards N' record their shard, and all N must be given) or
a FILE that cannot be read: the other inputs are still merged, so their
findings are reported either way.

Examples:
  keyward report merge shard-*.json --report all.json
  keyward report merge ~/.cache/keyward/sweep/reports/*.json --format sarif > all.sarif

Exit codes:
  0  every repository swept in full, nothing found
  1  findings, and every repository swept in full
  2  usage or runtime error, or something incomplete and nothing found
  3  findings, and something incomplete
`

// reportOptions are the flags of 'keyward report merge'.
type reportOptions struct {
	format       string
	report       string
	reportFormat string
}

func (o *reportOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringVarP(&o.format, "format", "f", "text", "output format: text (a summary table), json or sarif")
	fs.StringVar(&o.report, "report", "", "write the merged report to `FILE` (mode 0600)")
	fs.StringVar(&o.reportFormat, "report-format", "", "report format: json, sarif or text (default: from the extension, .sarif or .txt, else json)")
}

func runReport(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 || (args[0] != "merge" && args[0] != "-h" && args[0] != "--help") {
		return usagef("run 'keyward report merge --help'", "report needs a subcommand: merge")
	}
	if args[0] == "merge" {
		args = args[1:]
	}
	var o reportOptions
	fs := newFlagSet("report merge")
	o.addFlags(fs)
	if err := parseFlags(fs, reportUsage, e, args); err != nil {
		return err
	}
	outFormat, repFormat, err := sweepFormats(o.format, o.reportFormat, o.report)
	if err != nil {
		return err
	}
	if len(fs.Args()) == 0 {
		return usagef("name the reports to merge", "report merge needs at least one FILE")
	}
	var reps []*sweepReport
	var unread []string
	for _, p := range fs.Args() {
		if err := ctx.Err(); err != nil {
			return err
		}
		rep, err := readSweepReport(p)
		if err != nil {
			// A shard whose job died leaves no report: the others'
			// findings are still reported, and the merge is incomplete.
			unread = append(unread, err.Error())
			continue
		}
		reps = append(reps, rep)
	}
	merged := mergeSweepReports(reps)
	merged.Incomplete = append(merged.Incomplete, unread...)
	if merged.Stats.Repositories == 0 {
		merged.Incomplete = append(merged.Incomplete, "no repositories in the reports")
	}
	for _, rep := range reps {
		// An input already marked incomplete stays so (e.g. a merged
		// report that lacked a shard); its repository-level reasons are
		// found again from its repositories.
		for _, m := range rep.Incomplete {
			if !contains(merged.Incomplete, m) && !repoReason(rep, m) {
				merged.Incomplete = append(merged.Incomplete, m)
			}
		}
	}
	merged.Complete = len(merged.Incomplete) == 0
	return finishSweep(e, merged, outFormat, o.report, repFormat, styleFor(e, e.stdout))
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// repoReason reports whether m is the incompleteness of one of rep's own
// repositories, which the merge re-derives (and which a better copy of
// the repository in another input may have cured).
func repoReason(rep *sweepReport, m string) bool {
	for _, r := range rep.Repositories {
		if len(m) > len(r.URL) && m[:len(r.URL)+1] == r.URL+":" {
			return true
		}
	}
	return false
}
