package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/keyward/keyward/responder"
	"github.com/keyward/keyward/scanner"
)

const verifyUsage = `Usage: keyward verify --report FILE [--repo DIR] [flags]
       keyward verify --key-id ID [flags]     (the secret on stdin, or prompted)

Checks whether leaked AWS keys are live by calling sts:GetCallerIdentity
signed with each key: the one call that needs no permission and cannot be
denied. The key is sent to STS and nowhere else. Each key is reported as:

  valid            the key works: account, ARN and user ID are shown
  invalid          InvalidClientTokenId: unknown, deleted or deactivated
  wrong-secret     SignatureDoesNotMatch: the ID exists, the secret is wrong
  expired          temporary credentials past their expiry
  canary           a canary-token account: never contacted, since any use
                   alerts whoever planted it
  not-validatable  an ASIA key without its session token, or an ID with no
                   secret
  unknown          network, throttling, 5xx or a clock more than 15 minutes
                   off; retried with backoff, never reported as invalid

--report reads 'keyward scan --format json' output. Secrets are redacted in
reports by default; verify then recovers each secret by scanning the file
at the finding's path again (relative to --repo, default the current
directory), or the blob COMMIT:PATH for findings from history.

With --key-id, the secret is read from standard input (first line; for an
ASIA key the session token on the second), or from a no-echo prompt when
standard input is a terminal. Secrets are never taken from flags, which
end up in shell history and process listings.

Endpoints follow the SDK's variables AWS_ENDPOINT_URL and
AWS_ENDPOINT_URL_STS; nothing else from the environment is mixed into the
leaked key's client. Validation is never automatic: hooks never call AWS;
use 'keyward scan --verify' to opt in on a scan.

Examples:
  keyward scan --format json --report leaks.json; keyward verify --report leaks.json
  keyward verify --key-id AKIA... < secret.txt
  pass show leaked | keyward verify --key-id AKIA... --format json

Exit codes:
  0  no valid key
  1  at least one valid key
  2  usage or runtime error, or a key whose state is unknown (and none valid)
`

// verifyOptions are the flags of 'keyward verify', and what scan --verify
// passes to verifyFindings.
type verifyOptions struct {
	report string
	repo   string
	keyID  string
	format string
	region string
	// timeout bounds the whole validation of one key, retries included.
	timeout time.Duration
	// attempts and backoff tune retries of unknown outcomes; zero means the
	// responder's defaults. Tests shorten them.
	attempts int
	backoff  time.Duration
}

func (o *verifyOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.report, "report", "", "verify the findings of a scan report `FILE` (keyward scan --format json)")
	fs.StringVar(&o.repo, "repo", ".", "the `DIR` the report's paths are relative to, for recovering redacted secrets")
	fs.StringVar(&o.keyID, "key-id", "", "verify one access key `ID`; the secret comes from stdin or a prompt")
	fs.StringVarP(&o.format, "format", "f", "text", "output format: text or json")
	fs.StringVar(&o.region, "region", responder.DefaultRegion, "the `REGION` the leaked key's STS requests are signed for")
	fs.DurationVar(&o.timeout, "timeout", 60*time.Second, "give up on one key after `DURATION` (it is then unknown)")
	fs.IntVar(&o.attempts, "retry-attempts", 0, "")
	fs.DurationVar(&o.backoff, "retry-backoff", 0, "")
	fs.MarkHidden("retry-attempts")
	fs.MarkHidden("retry-backoff")
}

// verdict is one finding's validation.
type verdict struct {
	// Finding is where the key was found; nil for --key-id.
	Finding *scanner.Finding
	responder.Verdict
}

// defaultVerifyOptions are verify's flag defaults, for scan --verify.
func defaultVerifyOptions() verifyOptions {
	return verifyOptions{region: responder.DefaultRegion, timeout: 60 * time.Second}
}

// newValidator builds the validator for the leaked keys: endpoints from
// the standard variables, and nothing else from the environment.
func newValidator(e *env, opts verifyOptions) *responder.Validator {
	return &responder.Validator{
		Endpoint: responder.EndpointFromEnv(e.getenv, "sts"),
		Region:   opts.region,
		Attempts: opts.attempts,
		Backoff:  opts.backoff,
	}
}

// verifyFindings validates every finding that carries a key ID, each
// distinct key and secret once, and returns one verdict per finding in the
// same order. Canary keys are never contacted; a lone secret or token is
// not-validatable. 'keyward scan --verify' calls it; it prints nothing.
func verifyFindings(ctx context.Context, e *env, findings []scanner.Finding, opts verifyOptions) ([]verdict, error) {
	v := newValidator(e, opts)
	done := map[string]responder.Verdict{}
	out := make([]verdict, 0, len(findings))
	for i := range findings {
		f := &findings[i]
		if err := ctx.Err(); err != nil {
			return out, err
		}
		c := responder.NewCredential(f.KeyID, f.Secret.Reveal(), f.SessionToken.Reveal())
		memo := f.KeyID + "\x00" + f.Secret.Hash() + "\x00" + f.SessionToken.Hash()
		vd, ok := done[memo]
		if !ok {
			if f.KeyID == "" {
				vd = responder.Verdict{Status: responder.StatusNotValidatable, Reason: "a secret or token without its access key ID cannot be checked"}
			} else {
				kctx, cancel := ctx, context.CancelFunc(func() {})
				if opts.timeout > 0 {
					kctx, cancel = context.WithTimeout(ctx, opts.timeout)
				}
				vd = v.Validate(kctx, c)
				cancel()
			}
			done[memo] = vd
		}
		c.Wipe()
		out = append(out, verdict{Finding: f, Verdict: vd})
	}
	return out, ctx.Err()
}

func runVerify(ctx context.Context, e *env, args []string) error {
	var o verifyOptions
	fs := newFlagSet("verify")
	o.addFlags(fs)
	if err := parseFlags(fs, verifyUsage, e, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		// The argument is not echoed: it may well be a secret pasted in the
		// wrong place.
		return usagef("secrets are never taken as arguments; pipe them on stdin", "verify takes no arguments (got %d)", fs.NArg())
	}
	if (o.report == "") == (o.keyID == "") {
		return usagef("run 'keyward verify --help' for usage", "give exactly one of --report or --key-id")
	}
	if o.format != "text" && o.format != "json" {
		return usagef("use --format text or json", "unknown format %q", o.format)
	}
	var verdicts []verdict
	unrecovered := 0
	if o.keyID != "" {
		c, err := readKeyCredential(e, o.keyID)
		if err != nil {
			return err
		}
		kctx, cancel := context.WithTimeout(ctx, o.timeout)
		vd := newValidator(e, o).Validate(kctx, c)
		cancel()
		c.Wipe()
		if err := ctx.Err(); err != nil {
			return err
		}
		verdicts = []verdict{{Verdict: vd}}
	} else {
		in, err := loadReport(ctx, o.report, o.repo)
		if err != nil {
			return err
		}
		for _, w := range in.warnings {
			warnf(e.stderr, "%s", w)
		}
		if verdicts, err = verifyFindings(ctx, e, in.findings, o); err != nil {
			return err
		}
		unrecovered = in.unrecovered
	}
	if err := writeVerdicts(e, e.stdout, verdicts, o.format); err != nil {
		return err
	}
	next := "keyward respond --key-id ID"
	if o.report != "" {
		next = "keyward respond --report " + o.report
	}
	err := verdictsExit(e, verdicts, next)
	if unrecovered > 0 && err == nil {
		// A redacted secret that could not be recovered may belong to a
		// live key: never a clean exit (issue 8).
		errorf(e.stderr, "%d finding(s) had a secret that could not be recovered, so their keys could not be checked; treat them as live", unrecovered)
		hintf(e.stderr, "run verify from the repository the report was made in (--repo DIR), or scan again without redaction")
		return errSilent
	}
	return err
}

// verdictsExit maps verdicts to verify's exit code: 1 if any key is valid,
// 2 if any is unknown, else 0.
func verdictsExit(e *env, verdicts []verdict, next string) error {
	valid, unknown := 0, 0
	for _, v := range verdicts {
		switch v.Status {
		case responder.StatusValid:
			valid++
		case responder.StatusUnknown:
			unknown++
		}
	}
	switch {
	case valid > 0:
		hintf(e.stderr, "contain it now: %s (prints the plan; add --execute to act)", next)
		return errFindings
	case unknown > 0:
		errorf(e.stderr, "%d key(s) could not be checked; treat them as live", unknown)
		return errSilent
	}
	return nil
}

type jsonVerdict struct {
	responder.Verdict
	Path   string `json:"path,omitempty"`
	Line   int    `json:"line,omitempty"`
	Commit string `json:"commit,omitempty"`
}

// writeVerdicts renders verdicts as text lines or a JSON document to w
// (stdout for verify; scan --verify may send them to stderr so its own
// output format stays intact).
func writeVerdicts(e *env, w io.Writer, verdicts []verdict, format string) error {
	if format == "json" {
		list := make([]jsonVerdict, 0, len(verdicts))
		for _, v := range verdicts {
			jv := jsonVerdict{Verdict: v.Verdict}
			if v.Finding != nil {
				jv.Path, jv.Line, jv.Commit = v.Finding.Path, v.Finding.Line, v.Finding.Commit
			}
			list = append(list, jv)
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"schema_version": 1, "verdicts": list})
	}
	st := styleFor(e, w)
	for _, v := range verdicts {
		status := fmt.Sprintf("%-15s", v.Status)
		if v.Status == responder.StatusValid {
			status = st.bad.Render(status)
		}
		var b strings.Builder
		fmt.Fprintf(&b, "%s %s", status, st.key.Render(v.KeyID))
		if v.KeyID == "" {
			b.WriteString("(no key ID)")
		}
		if v.Finding != nil {
			fmt.Fprintf(&b, "  %s:%d", v.Finding.Path, v.Finding.Line)
			if v.Finding.Commit != "" {
				fmt.Fprintf(&b, " @%s", shortCommit(v.Finding.Commit))
			}
		}
		switch {
		case v.Status == responder.StatusValid:
			fmt.Fprintf(&b, "  account %s  %s  user-id %s", v.Account, v.ARN, v.UserID)
		case v.Reason != "":
			b.WriteString("  " + st.dim.Render(v.Reason))
			if v.Code != "" {
				b.WriteString(st.dim.Render(" (" + v.Code + ")"))
			}
		}
		if _, err := fmt.Fprintln(w, b.String()); err != nil {
			return err
		}
	}
	return nil
}
