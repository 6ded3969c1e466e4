package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/spf13/pflag"

	"github.com/keyward/keyward/patterns"
	"github.com/keyward/keyward/responder"
	"github.com/keyward/keyward/scanner"
)

const respondUsage = `Usage: keyward respond --key-id ID [flags]       (the secret on stdin, or prompted)
       keyward respond --report FILE [--repo DIR] [flags]
       keyward respond --key-id ID --recheck --execute      (15 min later; no secret)
       keyward respond --key-id ID --cleanup [--execute]    (optional, 36 h later; no secret)

Runs AWS's runbook for an exposed access key. Without --execute it prints
the plan and changes nothing: each step, the exact API call, the account
and user it would touch, and the permissions the operator's credentials
need. With --execute it carries the plan out. Every step runs even when
one before it failed; the failure is reported with its fix.

  1. ownership     sts:GetAccessKeyInfo; stop, and say whose it is, if the key
                   is in another account
  2. owner         iam:GetAccessKeyLastUsed, ListAccessKeys,
                   ListAttachedUserPolicies: the evidence, read before the
                   leaked key signs anything; a root key is handed to a human
  3. validate      sts:GetCallerIdentity signed by the leaked key (the only
                   call it ever makes), in the key's partition; an unknown
                   answer is treated as live, and an already inactive key
                   still gets steps 6 to 9
  4. deactivate    iam:UpdateAccessKey Status=Inactive (reversible)
  5. quarantine    iam:AttachUserPolicy AWSCompromisedKeyQuarantineV4 (else
                   V3, V2); skipped when AWS already attached one (a support
                   case is then likely open); --no-quarantine skips it
  6. verify        poll sts:GetCallerIdentity until InvalidClientTokenId
  7. end sessions  iam:PutUserPolicy AWSRevokeOlderSessions: deny everything
                   to sessions issued before AWS's time (its Date header)
                   after the key is dead
  8. investigate   cloudtrail:LookupEvents for the key, 90 days, in every
                   region the account has enabled (or --regions), then for
                   every key it minted or created, recursively
  9. persistence   contain what the attacker created: keys deactivated,
                   users and roles given an inline deny-all (KeywardDenyAll),
                   login profiles deleted; changes to existing principals
                   listed with the command that reverts each
                   (--no-persistence: report only)
 10. role sessions the session deny on each role of this account it assumed;
                   a role in another account or of IAM Identity Center is
                   left for a human, with the command
 11. delete        iam:DeleteAccessKey, only with --delete, after step 8
 12. rotate        iam:CreateAccessKey, only with --rotate, never retried; the
                   new key goes to the --rotate-profile in the credentials
                   file (0600) or is printed once to a terminal, before the
                   step is journalled; a key created by a lost answer is found
                   and deleted
 13. release       --release-quarantine: detach the quarantine so the new
                   key works, only after a re-check found nothing live

"contained" means every credential the attacker is known to hold is dead
and nothing is left for a human; otherwise the outcome is "partially
contained", with the list, and the exit code is not 0.

A key that no longer works but was the operator's account's (deleted by
someone, an expired or invalid session) is not "nothing to contain": while
live it may have made keys, users, roles and sessions that outlive it. The
steps that need the key in IAM are skipped with the reason; the session
deny goes on the user or role CloudTrail names for it; the investigation
and the persistence sweep run. "nothing to contain" (exit 0) needs that
search, re-checked after the delivery delay, to find no activity; a search
that could not run is never an all-clear.

CloudTrail delivers events in about 5 minutes on average, so the
investigation right after containment is incomplete by construction: the
report says when its view ends, and --recheck (15 minutes later) searches
again and contains anything new. --cleanup re-checks too, then removes the
session deny once 36 h have passed; that removal is optional hygiene (every
session it matches has expired by then).

Every run writes an incident report, Markdown and JSON (0600), into --dir.
Its journal of completed steps lives under the user's state directory
(--journal-dir), not in the repository; a re-run continues where the last
stopped, checks each completed change against AWS before trusting it, and
never repeats a step blindly. A lock keeps two runs for one key apart
(--new-incident starts over, for a key that leaked again). The leaked
secret is sent to STS only and is never written anywhere. It is read from
standard input (first line; an ASIA key's session token on the second), or
from a no-echo prompt on a terminal; keyward never prompts when standard
input is not a terminal.

The operator's credentials come from the SDK's default chain (environment,
--profile, SSO, instance role); --region sets their region; the partition
is the operator's unless --partition says otherwise. Endpoints follow
AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_STS/IAM/CLOUDTRAIL/ACCOUNT.

Examples:
  keyward respond --key-id AKIA... < secret.txt              print the plan
  keyward respond --key-id AKIA... --execute < secret.txt    contain the key
  keyward respond --key-id AKIA... --recheck --execute       15 minutes later
  keyward respond --report leaks.json --execute --profile security
  keyward respond --key-id AKIA... --execute --rotate --rotate-profile app --delete < secret.txt
  keyward respond --key-id AKIA... --execute --release-quarantine   after the re-check
  keyward respond --key-id AKIA... --cleanup --execute       36 h later, optional

Exit codes:
  0  plan printed, key contained, or nothing to contain: a canary that
     must not be touched, or a dead key of the operator's account (deleted, an expired session) whose CloudTrail
     search, re-checked after the delivery delay, found no activity by it
     or anything derived from it (90 days of management events)
  1  a human must act: partially contained (the output and report list
     what remains, with commands), the key belongs to another account, is
     a root key, or a finding's secret could not be recovered
  2  error: usage, a missing permission (the hint names the IAM action and
     a policy to grant it), the 2-key limit on --rotate, --cleanup before
     36 h have passed, another run holding the lock, or a step that
     failed; re-run to continue
`

// defaultIncidentDir is where respond writes reports and journals.
const defaultIncidentDir = "keyward-incidents"

// respondOptions are the flags of 'keyward respond'.
type respondOptions struct {
	keyID, report, repo string
	execute             bool
	profile, region     string
	regions             []string
	dir                 string
	noQuarantine        bool
	newIncident         bool
	rotate, delete      bool
	rotateProfile       string
	credentialsFile     string
	pollTimeout         time.Duration
	cleanup             bool
	journalDir          string
	partition           string
	noPersistence       bool
	recheck             bool
	releaseQuarantine   bool
	// Hidden: tests shorten the waits, and move the clock on to reach the
	// end of the 36 h hold.
	pollInterval, lookupInterval time.Duration
	clockOffset                  time.Duration
	// health: --health-event, --assume-role, --print-policy (issue 11).
	health healthOptions
}

func (o *respondOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.keyID, "key-id", "", "respond for one access key `ID`; the secret comes from stdin or a prompt")
	fs.StringVar(&o.report, "report", "", "respond for every valid finding of a scan report `FILE`")
	fs.StringVar(&o.repo, "repo", ".", "the `DIR` the report's paths are relative to")
	fs.BoolVar(&o.execute, "execute", false, "carry out the plan (without it, nothing is changed)")
	fs.StringVar(&o.profile, "profile", "", "the operator's AWS `PROFILE`")
	fs.StringVar(&o.region, "region", "", "the operator's AWS `REGION` (default from the environment, else us-east-1)")
	fs.StringSliceVar(&o.regions, "regions", nil, "`REGIONS` to search CloudTrail in, comma-separated (default: every region enabled in the account)")
	fs.StringVar(&o.dir, "dir", defaultIncidentDir, "write incident reports to `DIR`")
	fs.StringVar(&o.journalDir, "journal-dir", "", "keep journals in `DIR` (default $XDG_STATE_HOME/keyward/journals, else ~/.local/state/keyward/journals)")
	fs.StringVar(&o.partition, "partition", "", "the key's `PARTITION`: aws, aws-cn or aws-us-gov (default: the operator's)")
	fs.BoolVar(&o.noPersistence, "no-persistence", false, "report what the attacker created without containing it")
	fs.BoolVar(&o.recheck, "recheck", false, "search CloudTrail again after its delivery delay and contain anything new (with --execute)")
	fs.BoolVar(&o.releaseQuarantine, "release-quarantine", false, "after --rotate and a re-check that found nothing live, detach the quarantine so the new key works")
	fs.BoolVar(&o.noQuarantine, "no-quarantine", false, "do not attach AWS's quarantine policy (AWSCompromisedKeyQuarantineV4, else V3)")
	fs.BoolVar(&o.newIncident, "new-incident", false, "start over: set the journal of an earlier response to this key aside")
	fs.BoolVar(&o.rotate, "rotate", false, "create a replacement key for the user")
	fs.StringVar(&o.rotateProfile, "rotate-profile", "", "write the replacement key to `PROFILE` in the credentials file")
	fs.StringVar(&o.credentialsFile, "credentials-file", "", "the credentials `FILE` for --rotate-profile (default $AWS_SHARED_CREDENTIALS_FILE, else ~/.aws/credentials)")
	fs.BoolVar(&o.delete, "delete", false, "delete the leaked key after the investigation")
	fs.DurationVar(&o.pollTimeout, "verify-timeout", 3*time.Minute, "wait up to `DURATION` for the key to stop working")
	fs.BoolVar(&o.cleanup, "cleanup", false, "36 h after a response, remove its session deny (with --execute)")
	fs.DurationVar(&o.pollInterval, "poll-interval", 5*time.Second, "")
	fs.DurationVar(&o.lookupInterval, "lookup-interval", 500*time.Millisecond, "")
	fs.DurationVar(&o.clockOffset, "clock-offset", 0, "")
	fs.MarkHidden("poll-interval")
	fs.MarkHidden("lookup-interval")
	fs.MarkHidden("clock-offset")
	o.health.addFlags(fs)
}

// target is one key to respond for, with where it was found.
type target struct {
	cred      responder.Credential
	locations []responder.Location
	// dead: the finding's key does not work (invalid, expired, wrong
	// secret). It is still responded for when it is the operator's
	// account's (or its account cannot be told): while live it may have
	// made persistence and minted sessions that outlive it (issue 8).
	dead   bool
	status responder.Status
	where  string
}

func runRespond(ctx context.Context, e *env, args []string) error {
	var o respondOptions
	fs := newFlagSet("respond")
	o.addFlags(fs)
	if err := parseFlags(fs, respondUsage+healthUsage, e, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		// The argument is not echoed: it may well be a secret pasted in the
		// wrong place.
		return usagef("secrets are never taken as arguments; pipe them on stdin", "respond takes no arguments (got %d)", fs.NArg())
	}
	if o.health.event != "" || o.health.printPolicy != "" {
		return o.runHealth(ctx, e)
	}
	if (o.report == "") == (o.keyID == "") {
		return usagef("run 'keyward respond --help' for usage", "give exactly one of --report or --key-id")
	}
	if o.partition != "" {
		if err := responder.CheckPartition(o.partition); err != nil {
			return usagef("use aws, aws-cn or aws-us-gov", "%v", err)
		}
	}
	if o.clockOffset != 0 && !loopbackEndpoint(responder.EndpointFromEnv(e.getenv, "iam")) {
		// The hidden test flag moves keyward's clock; against real AWS it
		// would let a re-check or the 36-hour deny come early.
		return usagef("--clock-offset exists for tests against 'keyward emulator'", "--clock-offset works only with a loopback AWS_ENDPOINT_URL")
	}
	if o.cleanup {
		if o.rotate || o.delete || o.newIncident {
			return usagef("run the cleanup on its own, 36 h after the response", "--cleanup cannot be combined with --rotate, --delete or --new-incident")
		}
		return o.runCleanup(ctx, e)
	}
	credFile := o.credentialsPath(e)
	if o.rotate && o.execute {
		if o.rotateProfile == "" && !isTerminal(e.stdout) {
			return usagef("pass --rotate-profile NAME to store the new key in "+credFile+" (0600)",
				"--rotate would print the new secret, but standard output is not a terminal")
		}
		if o.rotateProfile != "" {
			if err := checkProfileFree(credFile, o.rotateProfile); err != nil {
				return err
			}
		}
	}

	targets, unresolved, err := o.targets(ctx, e)
	if err != nil {
		return err
	}
	var cfg aws.Config
	if slices.ContainsFunc(targets, func(t target) bool { return t.dead }) {
		if cfg, err = loadOperatorConfig(ctx, o); err != nil {
			return err
		}
		if targets, err = ownDeadKeys(ctx, e, cfg, targets); err != nil {
			return err
		}
	}
	if len(targets) == 0 {
		if unresolved > 0 {
			fmt.Fprintf(e.stdout, "No key to respond for, but %d finding(s) could not be checked (see above): they may be live.\n", unresolved)
			return errFindings
		}
		fmt.Fprintln(e.stdout, "No valid key to respond for.")
		return nil
	}
	if cfg.Credentials == nil {
		if cfg, err = loadOperatorConfig(ctx, o); err != nil {
			return err
		}
	}
	stopped, failed := unresolved > 0, false
	for _, t := range targets {
		err := o.respondOne(ctx, e, cfg, t, credFile)
		t.cred.Wipe()
		var se *responder.StopError
		switch {
		case err == nil:
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, errFindings):
			stopped = true
		case errors.As(err, &se):
			if se.Kind == responder.StopOtherAccount || se.Kind == responder.StopRoot {
				stopped = true
			}
		default:
			failed = true
		}
	}
	switch {
	case failed:
		return errSilent
	case stopped:
		return errFindings
	}
	return nil
}

func (o *respondOptions) credentialsPath(e *env) string {
	if o.credentialsFile != "" {
		return o.credentialsFile
	}
	if p := e.getenv("AWS_SHARED_CREDENTIALS_FILE"); p != "" {
		return p
	}
	home, err := os.UserHomeDir()
	if err != nil {
		home = "."
	}
	return filepath.Join(home, ".aws", "credentials")
}

// targets reads the keys to respond for: one from --key-id, or every
// finding of a report that may be live, each key once. A finding whose
// key is dead is still a target when a journal of an earlier response to
// it exists, so that re-running the same command resumes (issue 8). The
// count of findings that could not be checked (no secret recovered) is
// returned: they are never a clean exit.
func (o *respondOptions) targets(ctx context.Context, e *env) ([]target, int, error) {
	if o.keyID != "" {
		c, err := readKeyCredential(e, o.keyID)
		var ue *usageError
		if err != nil && o.recheck && errors.As(err, &ue) && patterns.IsKeyIDShape([]byte(o.keyID)) && patternsLongTerm(o.keyID) {
			// A re-check needs no secret: the key is dead by now, and IAM
			// and the journal say what it was.
			c, err = responder.NewCredential(o.keyID, "", ""), nil
		}
		if err != nil {
			return nil, 0, err
		}
		return []target{{cred: c}}, 0, nil
	}
	in, err := loadReport(ctx, o.report, o.repo)
	if err != nil {
		return nil, 0, err
	}
	for _, w := range in.warnings {
		warnf(e.stderr, "%s", w)
	}
	verdicts, err := verifyFindings(ctx, e, in.findings, defaultVerifyOptions())
	if err != nil {
		return nil, 0, err
	}
	index := map[string]int{}
	var out []target
	unresolved := in.unrecovered
	for _, v := range verdicts {
		f := v.Finding
		live := v.Status == responder.StatusValid || v.Status == responder.StatusUnknown
		resume := o.execute && f.KeyID != "" && o.journalExists(e, f.KeyID)
		dead := f.KeyID != "" && (v.Status == responder.StatusInvalid || v.Status == responder.StatusExpired || v.Status == responder.StatusWrongSecret)
		if !live && !resume && !dead {
			if f.KeyID != "" {
				fmt.Fprintf(e.stdout, "skip %s  %s:%d  %s\n", f.KeyID, f.Path, f.Line, v.Status)
			}
			continue
		}
		loc := locationOf(f)
		if i, ok := index[f.KeyID]; ok {
			out[i].locations = append(out[i].locations, loc)
			continue
		}
		index[f.KeyID] = len(out)
		out = append(out, target{
			cred:      responder.NewCredential(f.KeyID, f.Secret.Reveal(), f.SessionToken.Reveal()),
			locations: []responder.Location{loc},
			dead:      dead && !live && !resume, status: v.Status, where: fmt.Sprintf("%s:%d", f.Path, f.Line),
		})
	}
	return out, unresolved, nil
}

// ownDeadKeys keeps the dead targets of the operator's account, or whose
// account the key ID does not tell: "not live" is not "nothing to
// contain" for them. A dead key of another account is skipped, as before.
func ownDeadKeys(ctx context.Context, e *env, cfg aws.Config, targets []target) ([]target, error) {
	id, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return nil, fmt.Errorf("identify the operator: %w", err)
	}
	out := targets[:0]
	for _, t := range targets {
		if acct, ok := patterns.AccountID(t.cred.KeyID); t.dead && ok && acct != aws.ToString(id.Account) {
			fmt.Fprintf(e.stdout, "skip %s  %s  %s\n", t.cred.KeyID, t.where, t.status)
			t.cred.Wipe()
			continue
		}
		out = append(out, t)
	}
	return out, nil
}

// patternsLongTerm reports a key whose unrecoverable secret matters: a
// long-term key ID can still be live without its secret being found.
func patternsLongTerm(id string) bool { return !strings.HasPrefix(id, "ASIA") }

// journalPath is where the journal for keyID lives: under the user's state
// directory, not the repository, where a committed journal could be
// planted (issue 8).
func (o *respondOptions) journalPath(e *env, keyID string) string {
	return filepath.Join(o.journalDirectory(e), "journal-"+keyID+".json")
}

func (o *respondOptions) journalDirectory(e *env) string {
	if o.journalDir != "" {
		return o.journalDir
	}
	if d := e.getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "keyward", "journals")
	}
	home, err := os.UserHomeDir()
	if h := e.getenv("HOME"); h != "" {
		home, err = h, nil
	}
	if err != nil || home == "" {
		return filepath.Join(o.dir, "journals")
	}
	return filepath.Join(home, ".local", "state", "keyward", "journals")
}

func (o *respondOptions) journalExists(e *env, keyID string) bool {
	_, err := os.Stat(o.journalPath(e, keyID))
	return err == nil
}

func locationOf(f *scanner.Finding) responder.Location {
	l := responder.Location{Path: f.Path, Line: f.Line, Commit: f.Commit, Author: f.Author}
	if !f.Date.IsZero() {
		l.Date = f.Date.UTC().Format(time.RFC3339)
	}
	return l
}

// loadOperatorConfig loads the operator's credentials through the SDK's
// default chain. IAM and STS are global, so a missing region is not an
// error: us-east-1 is where their events land.
func loadOperatorConfig(ctx context.Context, o respondOptions) (aws.Config, error) {
	var opts []func(*config.LoadOptions) error
	if o.profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(o.profile))
	}
	if o.region != "" {
		opts = append(opts, config.WithRegion(o.region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, &usageError{msg: fmt.Sprintf("load the operator's AWS configuration: %v", err),
			hint: "set AWS_PROFILE or pass --profile NAME for credentials allowed to run the runbook"}
	}
	if cfg.Region == "" {
		cfg.Region = responder.DefaultRegion
	}
	cfg.AppID = responder.UserAgentMarker
	return cfg, nil
}

func (o *respondOptions) runner(e *env, cfg aws.Config) *responder.Runner {
	v := newValidator(e, verifyOptions{region: responder.DefaultRegion})
	var now func() time.Time
	if o.clockOffset != 0 {
		now = func() time.Time { return time.Now().Add(o.clockOffset) }
	}
	return &responder.Runner{Config: cfg, Validator: v, Options: responder.Options{
		NoQuarantine: o.noQuarantine, Rotate: o.rotate, Delete: o.delete, Regions: o.regions,
		PollInterval: o.pollInterval, PollTimeout: o.pollTimeout, LookupInterval: o.lookupInterval,
		Partition: o.partition, NoPersistence: o.noPersistence, Recheck: o.recheck, ReleaseQuarantine: o.releaseQuarantine,
		Now: now,
	}}
}

// respondOne plans or executes the runbook for one key and writes its
// report. Errors it has already explained are returned as errSilent, stops
// as *responder.StopError.
func (o *respondOptions) respondOne(ctx context.Context, e *env, cfg aws.Config, t target, credFile string) error {
	r := o.runner(e, cfg)
	started := time.Now().UTC()
	if !o.execute {
		p, err := r.Plan(ctx, t.cred)
		if err != nil {
			return o.explain(e, err)
		}
		inc := responder.PlanIncident(p, started)
		inc.Locations = t.locations
		printPlan(e, p)
		if err := o.writeReport(e, inc); err != nil {
			return err
		}
		if p.Stop != nil {
			return o.explain(e, p.Stop)
		}
		fmt.Fprintln(e.stdout, "Run again with --execute to carry out this plan.")
		return nil
	}
	jpath := o.journalPath(e, t.cred.KeyID)
	unlock, err := responder.LockJournal(jpath)
	if err != nil {
		if errors.Is(err, responder.ErrLocked) {
			errorf(e.stderr, "%v", err)
			hintf(e.stderr, "wait for it to finish, then re-run: it continues where the other stopped")
			return errSilent
		}
		return err
	}
	defer unlock()
	if o.newIncident {
		old := strings.TrimSuffix(jpath, ".json") + "-" + started.Format("20060102T150405Z") + ".json"
		if err := os.Rename(jpath, old); err == nil {
			fmt.Fprintf(e.stdout, "Earlier journal kept as %s\n", old)
		} else if !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("set the journal aside: %w", err)
		}
	}
	j, err := responder.OpenJournal(jpath, t.cred.KeyID)
	if err != nil {
		return err
	}
	r.Journal = j
	r.OnStep = func(s responder.StepResult) { printStep(e, s) }
	// The new key is stored before the rotate step is journalled done.
	r.HandOver = func(k responder.Credential) error { return o.deliverKey(e, &k, credFile) }
	res, err := r.Execute(ctx, t.cred)
	inc := res.Incident
	inc.Locations = t.locations
	if res.NewKey != nil {
		res.NewKey.Wipe()
	}
	if werr := o.writeReport(e, inc); werr != nil {
		return werr
	}
	printHumanActions(e, inc)
	switch inc.Outcome {
	case responder.OutcomeContained, responder.OutcomePartial, responder.OutcomeAwaitingRecheck:
		fmt.Fprintf(e.stdout, "%s: %s\n", t.cred.KeyID, inc.Outcome)
		if f := inc.Facts; f.Trail != nil && f.Rechecked.IsZero() {
			fmt.Fprintf(e.stdout, "CloudTrail's view ends %s and it delivers events late: after %s run keyward respond --key-id %s --recheck --execute\n",
				f.Trail.Until.Format(time.RFC3339), f.RecheckAfter.Format(time.RFC3339), t.cred.KeyID)
		}
	case responder.OutcomeNothingToContain:
		fmt.Fprintf(e.stdout, "%s: %s: the key is gone, and CloudTrail shows no activity by it or by anything derived from it since %s (event history holds 90 days of management events, not data events)\n",
			t.cred.KeyID, inc.Outcome, inc.Facts.Trail.Since.Format(time.RFC3339))
	}
	if err != nil {
		return o.explain(e, err)
	}
	return nil
}

func (o *respondOptions) writeReport(e *env, inc *responder.Incident) error {
	md, js, err := responder.WriteReport(o.dir, inc)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "Report: %s (and %s)\n", md, filepath.Base(js))
	return nil
}

// deliverKey hands the replacement key over once: into a profile of the
// credentials file, or printed to the terminal. It is never logged.
func (o *respondOptions) deliverKey(e *env, k *responder.Credential, credFile string) error {
	if o.rotateProfile == "" {
		fmt.Fprintf(e.stdout, "New access key for the user (shown once; store it now):\n  aws_access_key_id = %s\n  aws_secret_access_key = %s\n", k.KeyID, revealCredential(k))
		return nil
	}
	if err := addProfile(credFile, o.rotateProfile, k.KeyID, revealCredential(k)); err != nil {
		return fmt.Errorf("store the new key %s: %w (the key exists in IAM; delete it and re-run)", k.KeyID, err)
	}
	fmt.Fprintf(e.stdout, "New access key %s stored in %s, profile %s\n", k.KeyID, credFile, o.rotateProfile)
	return nil
}
