package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/keyward/keyward/hooks"
	"github.com/keyward/keyward/scanner"
)

// Server-side settings, read with 'git config' in the receiving repository
// (so they can be set per repository or in the server's system config),
// each overridable by an environment variable for hosts whose hook
// environment is easier to set than git config (GitHub Enterprise Server).
const (
	// defaultReceiveTimeout bounds a pre-receive check. Pushers wait for
	// it, and a server runs many; a minute scans thousands of commits on
	// a shared two-core machine. On expiry the push is rejected: an
	// unchecked push is the failure this hook exists to prevent.
	defaultReceiveTimeout = 60 * time.Second
	// skipOption is the push option that asks to bypass the check:
	// git push -o keyward.skip="reason".
	skipOption = "keyward.skip"
	// auditFile is where accepted bypasses are recorded, in the git
	// directory, unless keyward.auditLog names another file.
	auditFile = "keyward-audit.log"
)

// receiveSettings is the server's configuration of the pre-receive gate.
type receiveSettings struct {
	timeout time.Duration
	// failOpen accepts a push whose check ran out of time.
	failOpen  bool
	allowSkip bool
	auditLog  string
}

func readReceiveSettings(ctx context.Context, g hooks.Git, getenv func(string) string, gitDir string) (receiveSettings, error) {
	rs := receiveSettings{timeout: defaultReceiveTimeout, auditLog: filepath.Join(gitDir, auditFile)}
	get := func(key, envName string, typ string) (string, error) {
		if v := getenv(envName); v != "" {
			return v, nil
		}
		args := []string{"--get", key}
		if typ != "" {
			args = append([]string{"--type=" + typ}, args...)
		}
		v, _, err := g.ConfigValue(ctx, args...)
		return v, err
	}
	v, err := get("keyward.timeout", "KEYWARD_TIMEOUT", "")
	if err != nil {
		return rs, fmt.Errorf("read keyward.timeout: %w", err)
	}
	if v != "" {
		// Seconds, or a Go duration ("90s", "2m").
		d, err := time.ParseDuration(v)
		if n, nerr := strconv.Atoi(v); nerr == nil {
			d, err = time.Duration(n)*time.Second, nil
		}
		if err != nil || d <= 0 {
			return rs, fmt.Errorf("keyward.timeout %q: want a number of seconds, or a duration such as 90s", v)
		}
		rs.timeout = d
	}
	for _, b := range []struct {
		key, env string
		dst      *bool
	}{{"keyward.failOpen", "KEYWARD_FAIL_OPEN", &rs.failOpen}, {"keyward.allowSkip", "KEYWARD_ALLOW_SKIP", &rs.allowSkip}} {
		v, err := get(b.key, b.env, "bool")
		if err != nil {
			return rs, fmt.Errorf("read %s: %w", b.key, err)
		}
		*b.dst = v == "true" || v == "1" || v == "yes" || v == "on"
	}
	if v, err := get("keyward.auditLog", "KEYWARD_AUDIT_LOG", "path"); err != nil {
		return rs, fmt.Errorf("read keyward.auditLog: %w", err)
	} else if v != "" {
		rs.auditLog = v
	}
	return rs, nil
}

// pusher names who pushed, from what each hosting system sets.
func pusher(getenv func(string) string) string {
	for _, k := range []string{"GL_USERNAME", "GITEA_PUSHER_NAME", "GITHUB_USER_LOGIN", "REMOTE_USER", "USER"} {
		if v := getenv(k); v != "" {
			return v + " (" + k + ")"
		}
	}
	return "unknown"
}

// runPreReceive is 'keyward hook run pre-receive': it checks the commits
// a push brings that no ref of the repository already has, with the
// configuration of the receiving refs, and rejects the whole push on a
// finding, an error or a timeout.
func runPreReceive(ctx context.Context, e *env, g hooks.Git, shim string) error {
	raw, err := hooks.ReadPrePush(e.stdin)
	if err != nil {
		return err
	}
	updates, err := hooks.ParsePreReceive(raw)
	if err != nil {
		return err
	}
	gitDir, err := hooks.GitDir(ctx, g)
	if err != nil {
		return err
	}
	set, err := readReceiveSettings(ctx, g, e.getenv, gitDir)
	if err != nil {
		return err
	}
	var include []string
	for _, u := range updates {
		if !u.IsDelete() {
			include = append(include, u.New)
		}
	}

	if skip, asked := skipReason(e.getenv); asked {
		switch {
		case !set.allowSkip:
			errorf(e.stderr, "%s was asked for, but this server does not allow skipping the check; checking the push as usual", skipOption)
			hintf(e.stderr, "a server administrator can allow it: git config keyward.allowSkip true (each skip is logged)")
		case strings.TrimSpace(skip) == "":
			errorf(e.stderr, "%s needs a reason: git push -o %s=\"why this push is safe\"", skipOption, skipOption)
			return errSilent
		default:
			if err := auditSkip(set.auditLog, e.getenv, skip, updates); err != nil {
				return fmt.Errorf("record the skip (so it was refused): %w", err)
			}
			fmt.Fprintf(e.stderr, "keyward: check skipped at the pusher's request (%q); recorded in the audit log\n", skip)
			return chainReceive(ctx, e, g, shim, raw)
		}
	}
	if len(include) == 0 {
		return chainReceive(ctx, e, g, shim, raw) // deletions only: nothing arrives
	}

	tctx, cancel := context.WithTimeout(ctx, set.timeout)
	defer cancel()
	exclude, err := existingCommits(tctx, g)
	if err != nil {
		return receiveFailed(ctx, tctx, e, set, err)
	}
	base, heads := receiveBase(tctx, g, updates)
	gc, err := loadGateConfig(tctx, g.Dir, base, heads)
	if err != nil {
		return receiveFailed(ctx, tctx, e, set, err)
	}
	defer gc.cleanup()
	gc.explain(e)

	se := *e
	se.stdout = e.stderr // git relays the hook's stderr as "remote:" lines
	var res *scanner.Result
	var walked int
	src := func(ctx context.Context, eng *scanner.Engine) (*scanner.Result, error) {
		if needsGitPlumbing() {
			cs, err := revList(ctx, include, exclude)
			if err != nil {
				return nil, err
			}
			r, err := patchCommits(include, exclude)(ctx, eng)
			res, walked = r, len(cs)
			return r, err
		}
		r, n, err := eng.ScanCommits(ctx, ".", include, exclude, scanner.CommitsOptions{ViaGit: true})
		res, walked = r, n
		return r, err
	}
	args, err := hookScanArgs(tctx, g)
	if err != nil {
		return receiveFailed(ctx, tctx, e, set, err)
	}
	err = runScanFrom(tctx, &se, append(args, gc.args...), src)
	switch {
	case errors.Is(err, errFindings):
		blockedPush(e, res, "pre-receive", set.allowSkip)
		return errFindings
	case err != nil:
		return receiveFailed(ctx, tctx, e, set, err)
	}
	fmt.Fprintf(e.stderr, "keyward: checked %d new %s: no credentials\n", walked, plural(int64(walked), "commit", "commits"))
	return chainReceive(ctx, e, g, shim, raw)
}

// skipReason returns the reason given with -o keyward.skip=REASON, and
// whether the option was given at all.
func skipReason(getenv func(string) string) (string, bool) {
	for _, o := range hooks.PushOptions(getenv) {
		if o == skipOption {
			return "", true
		}
		if r, ok := strings.CutPrefix(o, skipOption+"="); ok {
			return r, true
		}
	}
	return "", false
}

// auditSkip appends one line per skipped push to the audit log: when, who,
// why and which refs, so a bypass is never silent.
func auditSkip(path string, getenv func(string) string, reason string, updates []hooks.ReceiveUpdate) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	var refs []string
	for _, u := range updates {
		refs = append(refs, u.Ref+" "+shortCommit(u.Old)+".."+shortCommit(u.New))
	}
	_, err = fmt.Fprintf(f, "%s keyward.skip by %s reason=%q refs=%s\n", time.Now().UTC().Format(time.RFC3339), pusher(getenv), reason, strings.Join(refs, ","))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// existingCommits lists the commits the repository's refs point at before
// the push (tags peeled), which the push is compared with: what a ref
// already has was checked when it arrived.
func existingCommits(ctx context.Context, g hooks.Git) ([]string, error) {
	out, err := g.Run(ctx, "for-each-ref", "--format=%(objecttype) %(objectname) %(*objecttype) %(*objectname)")
	if err != nil {
		return nil, fmt.Errorf("list refs: %w", err)
	}
	seen := map[string]bool{}
	var tips []string
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		var oid string
		switch {
		case len(f) >= 2 && f[0] == "commit":
			oid = f[1]
		case len(f) == 4 && f[2] == "commit":
			oid = f[3]
		}
		if oid != "" && !seen[oid] {
			seen[oid] = true
			tips = append(tips, oid)
		}
	}
	return tips, nil
}

// receiveBase picks the revision whose configuration checks the push: the
// receiving ref's current value when the push updates one existing branch,
// else the repository's HEAD (its default branch), else none (an empty
// repository).
func receiveBase(ctx context.Context, g hooks.Git, updates []hooks.ReceiveUpdate) (string, []string) {
	var heads []string
	base := ""
	for _, u := range updates {
		if u.IsDelete() {
			continue
		}
		heads = append(heads, u.New)
		if !u.IsNew() && strings.HasPrefix(u.Ref, "refs/heads/") && base == "" {
			base = u.Old
		}
	}
	if base == "" {
		if h, err := g.Run(ctx, "rev-parse", "--verify", "--quiet", "HEAD^{commit}"); err == nil {
			base = h
		}
	}
	return base, heads
}

// receiveFailed reports a check that could not finish. The push is
// rejected (fail closed), unless it timed out and the server chose to
// accept pushes it had no time to check.
func receiveFailed(ctx, tctx context.Context, e *env, set receiveSettings, err error) error {
	if ctx.Err() == nil && tctx.Err() != nil {
		if set.failOpen {
			warnf(e.stderr, "the check did not finish within %s; the push was accepted UNCHECKED because this server sets keyward.failOpen", set.timeout)
			return nil
		}
		errorf(e.stderr, "push rejected: the check did not finish within %s (keyward.timeout)", set.timeout)
		hintf(e.stderr, "push fewer commits at a time, or ask the server administrator to raise it: git config keyward.timeout SECONDS")
		return errSilent
	}
	if !errors.Is(err, errSilent) {
		var ue *usageError
		if errors.As(err, &ue) {
			errorf(e.stderr, "%s", ue.msg)
		} else {
			errorf(e.stderr, "%v", err)
		}
	}
	errorf(e.stderr, "push rejected: the check could not finish, so nothing was accepted")
	return errSilent
}

// chainReceive runs the pre-receive hook keyward chained to, if any.
func chainReceive(ctx context.Context, e *env, g hooks.Git, shim string, raw []byte) error {
	if shim == "" {
		return nil
	}
	return runChain(ctx, e, g, shim, hooks.PreReceive, nil, strings.NewReader(string(raw)))
}
