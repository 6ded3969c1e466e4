package main

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/keyward/keyward/scanner"
	"github.com/keyward/keyward/scanner/fleet"
)

const sweepUsage = `Usage: keyward sweep --repos FILE [flags]
       keyward sweep --github-org ORG [flags]
       keyward sweep --gitlab-group GROUP [flags]

Sweeps the whole history of many repositories: each is mirrored into the
cache (git clone --mirror the first time, git remote update --prune after)
and swept like 'keyward scan --history', several at once (--jobs). Writes one
JSON report per repository into the reports directory and a merged report
(--report), in which a credential found in several repositories is one
credential with all its places.

The list is a file of clone URLs or local paths, one a line (# comments),
or an organisation's repositories through the GitHub REST API (token from
GITHUB_TOKEN or GH_TOKEN, API root from GITHUB_API_URL) or a group's
projects, subgroups included, through the GitLab REST API (token from
GITLAB_TOKEN, API root from CI_API_V4_URL). With a forge token, clones of
that forge's URLs send it as an HTTP header through the environment, never
on the command line or in the cache; --repos lists use git's own
credentials (credential helpers, SSH keys).

Resumable: the state file records, per repository, the refs it swept; each
repository is journalled (mode 0600, synced) as soon as it is done. A re-run
sweeps only repositories whose refs moved, or that failed last time, and
reuses the others' reports; a crash loses at most the repositories being
swept at that moment. Changing keyward's version, rules or config sweeps
everything again.

Sharding: --shards N --shard I sweeps the I-th of N shards (I from 0; from
JOB_COMPLETION_INDEX when --shard is not given, as Kubernetes Indexed Jobs
set it). A repository's shard is the FNV-1a hash of its normalised URL
modulo N, so it stays in its shard when the list changes; every repository
is in exactly one shard. Merge the shards' reports with 'keyward report
merge'; it checks that no shard is missing.

Examples:
  keyward sweep --repos repos.txt --report all.json
  keyward sweep --github-org acme --jobs 8 --cache-dir /var/cache/keyward
  JOB_COMPLETION_INDEX=2 keyward sweep --repos repos.txt --shards 4 --report shard-2.json
  keyward report merge shard-*.json --report all.sarif

Exit codes:
  0  every repository swept in full, nothing found
  1  findings, and every repository swept in full
  2  usage or runtime error, or some repository failed or was swept only
     in part, and nothing was found
  3  findings, and some repository failed or was swept only in part
     (1 and 2 together: neither hides the other)
`

// sweepOptions are the flags of 'keyward sweep'.
type sweepOptions struct {
	repos        string
	githubOrg    string
	gitlabGroup  string
	cacheDir     string
	reportsDir   string
	state        string
	jobs         int
	shards       int
	shard        int
	format       string
	report       string
	reportFormat string
	allObjects   bool
	maxFileSize  sizeFlag
	config       string
	git          string
}

func (o *sweepOptions) addFlags(fs *pflag.FlagSet) {
	o.maxFileSize = scanner.DefaultMaxFileSize
	fs.StringVar(&o.repos, "repos", "", "sweep the repositories listed in `FILE` (clone URLs or paths, one a line; - for stdin)")
	fs.StringVar(&o.githubOrg, "github-org", "", "sweep every repository of GitHub organisation `ORG`")
	fs.StringVar(&o.gitlabGroup, "gitlab-group", "", "sweep every project of GitLab group `GROUP` and its subgroups")
	fs.StringVar(&o.cacheDir, "cache-dir", "", "keep mirrors, reports and state in `DIR` (default: the user cache directory's keyward/sweep)")
	fs.StringVar(&o.reportsDir, "reports-dir", "", "write one JSON report per repository into `DIR` (default: CACHE/reports)")
	fs.StringVar(&o.state, "state", "", "state `FILE` (default: CACHE/state.json, or CACHE/state-shard-I-of-N.json with --shards)")
	fs.IntVarP(&o.jobs, "jobs", "j", 0, "sweep `N` repositories at once (default: the number of CPUs, at least 2)")
	fs.IntVar(&o.shards, "shards", 1, "split the list into `N` shards and sweep one")
	fs.IntVar(&o.shard, "shard", 0, "sweep shard `I` (0 to N-1; default: $JOB_COMPLETION_INDEX)")
	fs.StringVarP(&o.format, "format", "f", "text", "output format: text (a summary table), json or sarif")
	fs.StringVar(&o.report, "report", "", "also write the merged report to `FILE` (mode 0600)")
	fs.StringVar(&o.reportFormat, "report-format", "", "report format: json, sarif or text (default: from the extension, .sarif or .txt, else json)")
	fs.BoolVar(&o.allObjects, "all-objects", false, "also sweep objects no ref reaches (a mirror keeps what was force-pushed away until it is pruned)")
	fs.Var(&o.maxFileSize, "max-file-size", "skip blobs larger than `SIZE` (e.g. 500K, 100M, 1G)")
	fs.StringVar(&o.config, "config", "", "read rules and allowlists from `FILE` (default: .keyward.toml of the repository in the current directory)")
	fs.StringVar(&o.git, "git", "git", "git `BINARY` for mirroring")
}

func runSweep(ctx context.Context, e *env, args []string) error {
	var o sweepOptions
	fs := newFlagSet("sweep")
	o.addFlags(fs)
	if err := parseFlags(fs, sweepUsage, e, args); err != nil {
		return err
	}
	if err := o.check(e, fs); err != nil {
		return err
	}
	outFormat, repFormat, err := sweepFormats(o.format, o.reportFormat, o.report)
	if err != nil {
		return err
	}
	sc, err := loadScanConfig(e, o.config)
	if err != nil {
		return err
	}
	all, gitEnv, err := o.list(ctx, e)
	if err != nil {
		return err
	}
	if len(all) == 0 {
		return errors.New("no repositories to sweep: the list is empty")
	}
	repos, err := fleet.Shard(all, o.shards, o.shard)
	if err != nil {
		return usagef("", "%v", err)
	}
	var shards []sweepShard
	if o.shards > 1 {
		shards = []sweepShard{{Index: o.shard, Count: o.shards, List: listDigest(all), Repositories: len(repos)}}
	}
	if err := o.defaults(); err != nil {
		return err
	}
	st, err := fleet.LoadState(o.state)
	if err != nil {
		return err
	}

	workers := runtime.GOMAXPROCS(0) / o.jobs
	eng := scanner.New(sc.options(scanner.Options{MaxFileSize: int64(o.maxFileSize), Workers: max(1, workers)}))
	pr := newSweepProgress(e)
	sw := &fleet.Sweeper{
		Engine: eng, Git: &fleet.Git{Path: o.git, Env: gitEnv},
		CacheDir: o.cacheDir, Jobs: o.jobs, AllObjects: o.allObjects,
		State: st, StatePath: o.state, Config: o.configDigest(sc),
		Progress: pr.update,
	}
	sw.Report = func(out fleet.Outcome) (string, error) {
		rep := repoReport(out)
		path := filepath.Join(o.reportsDir, out.Repo.ID()+".json")
		if err := writeSweepReport(path, rep, "json"); err != nil {
			return "", err
		}
		pr.line(out, rep)
		return path, nil
	}
	if len(repos) == 0 {
		fmt.Fprintf(e.stderr, "keyward: shard %d of %d has no repositories (of %d)\n", o.shard, o.shards, len(all))
	}
	start := time.Now()
	outcomes, runErr := sw.Run(ctx, repos)
	pr.done()
	if runErr != nil {
		return runErr
	}
	var parts []*sweepReport
	for _, out := range outcomes {
		rep, err := outcomeReport(out)
		if err != nil {
			return err
		}
		parts = append(parts, rep)
	}
	merged := mergeSweepReports(parts)
	merged.Shards = shards
	merged.Stats.DurationMS = time.Since(start).Milliseconds()
	return finishSweep(e, merged, outFormat, o.report, repFormat, sc.style(e, e.stdout))
}

// outcomeReport is a repository's report for the merged one: the one just
// written, or for an unchanged repository the one its last sweep wrote,
// marked unchanged. An earlier report that cannot be read makes the
// repository incomplete rather than silently clean.
func outcomeReport(out fleet.Outcome) (*sweepReport, error) {
	if out.Status != fleet.StatusUnchanged {
		if out.ReportPath == "" {
			return repoReport(out), nil
		}
		return readSweepReport(out.ReportPath)
	}
	rep, err := readSweepReport(out.ReportPath)
	if err == nil && len(rep.Repositories) == 1 {
		rep.Repositories[0].Status = fleet.StatusUnchanged
		return rep, nil
	}
	if err == nil {
		err = errors.New("not a one-repository report")
	}
	out.Status, out.Err, out.Result = fleet.StatusIncomplete, fmt.Errorf("unchanged, but its earlier report is unusable: %v", err), nil
	return repoReport(out), nil
}

// finishSweep writes the report and the output, the summary line, and
// picks the exit code; merge ends the same way.
func finishSweep(e *env, rep *sweepReport, outFormat, reportPath, repFormat string, st style) error {
	if reportPath != "" {
		if err := writeSweepReport(reportPath, rep, repFormat); err != nil {
			return err
		}
	}
	if err := renderSweep(e.stdout, rep, outFormat, st); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	s := rep.Stats
	fmt.Fprintf(e.stderr, "keyward: %d %s: %d swept, %d unchanged, %d incomplete, %d failed; %d %s in %d %s (%s of history)\n",
		s.Repositories, plural(int64(s.Repositories), "repository", "repositories"), s.Swept, s.Unchanged, s.Incomplete, s.Failed,
		s.Credentials, plural(int64(s.Credentials), "credential", "credentials"), s.Places, plural(int64(s.Places), "place", "places"),
		humanBytes(s.Bytes))
	for _, m := range rep.Incomplete {
		errorf(e.stderr, "not swept in full: %s", m)
	}
	switch {
	case s.Places > 0 && !rep.Complete:
		return errFindingsIncomplete
	case s.Places > 0:
		return errFindings
	case !rep.Complete:
		return errSilent
	}
	return nil
}

// writeSweepReport writes a report atomically with mode 0600.
func writeSweepReport(path string, rep *sweepReport, format string) error {
	var b strings.Builder
	if err := renderSweep(&b, rep, format, plainStyle()); err != nil {
		return err
	}
	return fleet.WriteFileAtomic(path, []byte(b.String()))
}

// check validates the flags that need no I/O.
func (o *sweepOptions) check(e *env, fs *pflag.FlagSet) error {
	n := 0
	for _, s := range []string{o.repos, o.githubOrg, o.gitlabGroup} {
		if s != "" {
			n++
		}
	}
	if n != 1 {
		return usagef("name the repositories with one of --repos FILE, --github-org ORG or --gitlab-group GROUP",
			"sweep needs exactly one list of repositories")
	}
	if len(fs.Args()) > 0 {
		return usagef("list repositories in a file and pass --repos FILE", "sweep takes no arguments")
	}
	if o.jobs == 0 {
		o.jobs = max(2, runtime.NumCPU())
	}
	if o.jobs < 1 || o.jobs > fleet.MaxJobs {
		return usagef("", "--jobs %d: want 1 to %d", o.jobs, fleet.MaxJobs)
	}
	if o.shards < 1 || o.shards > fleet.MaxShards {
		return usagef("", "--shards %d: want 1 to %d", o.shards, fleet.MaxShards)
	}
	if !fs.Changed("shard") && o.shards > 1 {
		if v := e.getenv("JOB_COMPLETION_INDEX"); v != "" {
			i, err := strconv.Atoi(v)
			if err != nil {
				return usagef("Kubernetes sets it to the pod's index in an Indexed Job", "JOB_COMPLETION_INDEX=%q is not a number", v)
			}
			o.shard = i
		} else {
			return usagef("pass --shard I, or run as a Kubernetes Indexed Job (which sets JOB_COMPLETION_INDEX)",
				"--shards %d needs the shard to sweep", o.shards)
		}
	}
	if o.shard < 0 || o.shard >= o.shards {
		return usagef("shards are numbered from 0", "shard %d of %d does not exist", o.shard, o.shards)
	}
	return nil
}

// defaults fills in the cache, reports and state paths.
func (o *sweepOptions) defaults() error {
	if o.cacheDir == "" {
		d, err := os.UserCacheDir()
		if err != nil {
			return usagef("pass --cache-dir DIR", "no cache directory: %v", err)
		}
		o.cacheDir = filepath.Join(d, "keyward", "sweep")
	}
	// The state records report paths: absolute, so a re-run from another
	// directory finds them.
	for _, p := range []*string{&o.cacheDir, &o.reportsDir, &o.state} {
		if *p != "" {
			abs, err := filepath.Abs(*p)
			if err != nil {
				return fmt.Errorf("resolve %s: %w", *p, err)
			}
			*p = abs
		}
	}
	if o.reportsDir == "" {
		o.reportsDir = filepath.Join(o.cacheDir, "reports")
	}
	if o.state == "" {
		o.state = filepath.Join(o.cacheDir, "state.json")
		if o.shards > 1 {
			// Shards may share a cache (one volume): each keeps its own
			// state, so no two processes rewrite one file.
			o.state = filepath.Join(o.cacheDir, fmt.Sprintf("state-shard-%d-of-%d.json", o.shard, o.shards))
		}
	}
	for _, d := range []string{o.cacheDir, o.reportsDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("create %s: %w", d, err)
		}
	}
	return nil
}

// list reads the repository list, and for a forge the git environment
// that authenticates clones from it.
func (o *sweepOptions) list(ctx context.Context, e *env) ([]fleet.Repo, []string, error) {
	switch {
	case o.repos != "":
		var r io.Reader = e.stdin
		if o.repos != "-" {
			f, err := os.Open(o.repos)
			if err != nil {
				return nil, nil, fmt.Errorf("read repository list: %w", err)
			}
			defer f.Close()
			r = f
		}
		repos, err := fleet.ParseList(r)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", o.repos, err)
		}
		return repos, nil, nil
	case o.githubOrg != "":
		c := &fleet.ForgeClient{HTTP: &http.Client{Timeout: forgeTimeout}, BaseURL: envOr(e, "GITHUB_API_URL", fleet.DefaultGitHubAPI),
			Token: envOr(e, "GITHUB_TOKEN", e.getenv("GH_TOKEN"))}
		repos, err := c.GitHubOrg(ctx, o.githubOrg)
		return repos, cloneAuthEnv(repos, c.Token, "x-access-token"), err
	default:
		c := &fleet.ForgeClient{HTTP: &http.Client{Timeout: forgeTimeout}, BaseURL: envOr(e, "CI_API_V4_URL", fleet.DefaultGitLabAPI),
			Token: e.getenv("GITLAB_TOKEN")}
		repos, err := c.GitLabGroup(ctx, o.gitlabGroup)
		return repos, cloneAuthEnv(repos, c.Token, "oauth2"), err
	}
}

// forgeTimeout bounds one page of a forge listing.
const forgeTimeout = 60 * time.Second

func envOr(e *env, name, def string) string {
	if v := e.getenv(name); v != "" {
		return v
	}
	return def
}

// cloneAuthEnv makes git send the forge token as basic auth to the origins
// of the listed clone URLs only, through GIT_CONFIG_* variables: they
// reach git without appearing in ps or being written to the mirror's
// config.
func cloneAuthEnv(repos []fleet.Repo, token, user string) []string {
	if token == "" {
		return nil
	}
	var origins []string
	for _, r := range repos {
		u, err := url.Parse(r.URL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") {
			continue
		}
		o := u.Scheme + "://" + u.Host + "/"
		if !slices.Contains(origins, o) {
			origins = append(origins, o)
		}
	}
	header := "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+token))
	env := []string{"GIT_CONFIG_COUNT=" + strconv.Itoa(len(origins))}
	for i, o := range origins {
		env = append(env, fmt.Sprintf("GIT_CONFIG_KEY_%d=http.%s.extraheader", i, o), fmt.Sprintf("GIT_CONFIG_VALUE_%d=%s", i, header))
	}
	return env
}

// listDigest identifies the whole list (before sharding), so merge can
// tell shards of one sweep from shards of another.
func listDigest(repos []fleet.Repo) string {
	keys := make([]string, len(repos))
	for i, r := range repos {
		keys[i] = r.Key
	}
	slices.Sort(keys)
	h := sha256.Sum256([]byte(strings.Join(keys, "\n")))
	return hex.EncodeToString(h[:])
}

// configDigest identifies what a sweep looks for: keyward's version, the
// rules, the configs read and the flags that change results. A state
// recorded under another digest is swept again in full.
func (o *sweepOptions) configDigest(sc *scanConfig) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%v\x00%d\x00", keywardVersion(), o.allObjects, int64(o.maxFileSize))
	for _, r := range sc.rules() {
		fmt.Fprintf(h, "%s\x00", r.ID)
	}
	for _, p := range []string{sc.configPath, sc.userPath} {
		if p != "" {
			data, _ := os.ReadFile(p)
			h.Write(data)
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}
