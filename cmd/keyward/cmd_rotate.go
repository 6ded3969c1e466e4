package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/spf13/pflag"

	"github.com/keyward/keyward/responder"
)

const rotateUsage = `Usage: keyward rotate --profile NAME [flags]
       keyward rotate --profile NAME --finish [--grace DURATION]

Rotates your own long-term access key, kept in a profile of the shared
credentials file ($AWS_SHARED_CREDENTIALS_FILE, else ~/.aws/credentials), the
way the IAM User Guide ("Update access keys") describes. The key signs every
call itself; nothing else is needed:

  1. identify    sts:GetCallerIdentity, iam:ListAccessKeys: whose key it is,
                 and whether the user has room for a second key (AWS allows
                 2, inactive ones included; with 2, nothing is created and
                 the other key is named so you can delete it first)
  2. create      iam:CreateAccessKey (never retried: a retry could make a key
                 whose secret nobody sees)
  3. verify      sts:GetCallerIdentity with the new key, polled up to
                 --verify-timeout while IAM propagates it
  4. store       the profile's key ID and secret are replaced in place,
                 atomically, mode 0600; other profiles and comments are kept,
                 and a comment in the profile records the old key
  5. deactivate  iam:UpdateAccessKey Status=Inactive on the old key, signed by
                 the new one (reversible: re-activate it if something breaks)

If any of 1-4 fails, the new key is deleted again: the old key keeps working
and the credentials file is unchanged. The old key is deleted only by a later
'keyward rotate --profile NAME --finish', once the grace period (--grace,
default 7 days) has passed since the rotation, so a forgotten copy of the old
key fails loudly while it can still be re-activated. --finish re-deactivates
the old key if it is Active again and then restarts the grace period.

Examples:
  keyward rotate --profile default
  keyward rotate --profile ci --verify-timeout 5m
  keyward rotate --profile default --finish            (7 days later)
  keyward rotate --profile default --finish --grace 0s (delete now)

--print-policy prints the IAM policy the user needs (its own keys only).

Exit codes:
  0  rotated (or, with --finish, the old key deleted)
  2  error: usage, a profile without a static key, the 2-key limit, a
     failed step (the message says whether the new key was rolled back), or
     --finish before the grace period is over
`

// rotateOptions are the flags of 'keyward rotate'.
type rotateOptions struct {
	profile         string
	credentialsFile string
	region          string
	finish          bool
	printPolicy     bool
	grace           time.Duration
	verifyTimeout   time.Duration
	// Hidden: tests shorten the poll.
	pollInterval time.Duration
}

func (o *rotateOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.profile, "profile", "", "the `NAME` of the profile whose key to rotate")
	fs.StringVar(&o.credentialsFile, "credentials-file", "", "the credentials `FILE` (default $AWS_SHARED_CREDENTIALS_FILE, else ~/.aws/credentials)")
	fs.StringVar(&o.region, "region", "", "the `REGION` to sign for (default from the profile, else us-east-1)")
	fs.BoolVar(&o.printPolicy, "print-policy", false, "print the least-privilege IAM policy for rotating one's own key, and exit")
	fs.BoolVar(&o.finish, "finish", false, "delete the old key of an earlier rotation once the grace period is over")
	fs.DurationVar(&o.grace, "grace", responder.DefaultRotateGrace, "how long the old key stays inactive before --finish deletes it")
	fs.DurationVar(&o.verifyTimeout, "verify-timeout", 2*time.Minute, "wait up to `DURATION` for the new key to work")
	fs.DurationVar(&o.pollInterval, "poll-interval", 2*time.Second, "")
	fs.MarkHidden("poll-interval")
}

func runRotate(ctx context.Context, e *env, args []string) error {
	var o rotateOptions
	flags := newFlagSet("rotate")
	o.addFlags(flags)
	if err := parseFlags(flags, rotateUsage, e, args); err != nil {
		return err
	}
	if flags.NArg() > 0 {
		return usagef("secrets are never taken as arguments", "rotate takes no arguments (got %d)", flags.NArg())
	}
	if o.printPolicy {
		fmt.Fprintln(e.stdout, responder.RotatePolicy().JSON())
		return nil
	}
	if o.profile == "" || strings.ContainsAny(o.profile, "[]\n\r") {
		return usagef("name the profile of ~/.aws/credentials to rotate, e.g. --profile default", "give --profile NAME")
	}
	if o.grace < 0 {
		return usagef("use a duration such as 168h", "--grace must not be negative")
	}
	path := (&respondOptions{credentialsFile: o.credentialsFile}).credentialsPath(e)
	data, err := readCredentialsFile(path)
	if err != nil {
		return err
	}
	pk, err := readProfileKey(data, o.profile)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return usagef("rotate works on static keys in "+path, "profile %q is not in %s", o.profile, path)
	case err != nil:
		return err
	case pk.keyID == "" || pk.secret == "":
		return usagef("SSO, role and process profiles have no long-term key to rotate",
			"profile %q in %s has no aws_access_key_id and aws_secret_access_key", o.profile, path)
	case pk.hasToken:
		return usagef("temporary credentials expire on their own; rotate the long-term key they came from",
			"profile %q holds a session token: it is not a long-term key", o.profile)
	}
	cfgFor := func(c responder.Credential) aws.Config { return o.config(ctx, path, c) }
	old := responder.NewCredential(pk.keyID, pk.secret, "")
	defer old.Wipe()
	base := cfgFor(old)
	if err := ctx.Err(); err != nil {
		return err
	}
	r := &responder.Rotator{Config: base, ConfigFor: cfgFor, PollInterval: o.pollInterval, PollTimeout: o.verifyTimeout,
		OnStage: func(s responder.RotateStage, d string) { fmt.Fprintf(e.stdout, "%-10s %s\n", s, d) }}
	if o.finish {
		return o.runFinish(ctx, e, r, path, data, pk)
	}
	if pk.pending != nil {
		return usagef(fmt.Sprintf("run 'keyward rotate --profile %s --finish' first (after the grace period, or with --grace 0s)", o.profile),
			"an earlier rotation of profile %q is not finished: the old key %s is not deleted yet", o.profile, pk.pending.oldKeyID)
	}
	var user string
	r.AfterStage = rotateFault
	r.OnStage = func(s responder.RotateStage, d string) {
		if s == responder.RotateIdentify {
			user = strings.TrimPrefix(d, "IAM user ")
		}
		fmt.Fprintf(e.stdout, "%-10s %s\n", s, d)
	}
	r.Store = func(nk responder.Credential) error {
		if err := credentialsUnchanged(path, data); err != nil {
			return err
		}
		marker := rotationMarker{oldKeyID: pk.keyID, user: user, replacedAt: time.Now().UTC()}
		secret, _ := nk.Reveal()
		out, err := replaceProfileKey(data, o.profile, pk.keyID, nk.KeyID, secret, marker.line(o.profile, o.grace))
		if err != nil {
			return err
		}
		return responder.WriteFileAtomic(path, out)
	}
	rot, err := r.Rotate(ctx, pk.keyID)
	var (
		ke *responder.KeyLimitError
		re *responder.RotateError
	)
	switch {
	case err == nil:
		fmt.Fprintf(e.stdout, "Rotated: profile %s now holds %s; the old key %s is Inactive.\n", o.profile, rot.NewKeyID, rot.OldKeyID)
		fmt.Fprintf(e.stdout, "Delete it after %s with: keyward rotate --profile %s --finish\n",
			time.Now().Add(o.grace).UTC().Format(time.RFC3339), o.profile)
		return nil
	case errors.As(err, &ke):
		errorf(e.stderr, "%v", ke)
		hintf(e.stderr, "nothing was created; delete the user's other key first if it is unused (keys: %s): aws iam delete-access-key --user-name %s --access-key-id ID",
			strings.Join(ke.Keys, ", "), ke.UserName)
		return errSilent
	case errors.As(err, &re) && (re.Stage == responder.RotateDeactivate || (re.Stage == responder.RotateStore && re.NewKeyID == "" && rot.NewKeyID != "")):
		errorf(e.stderr, "%v", err)
		hintf(e.stderr, "profile %s already holds the new key %s; run 'keyward rotate --profile %s --finish' to deactivate the old key %s", o.profile, rot.NewKeyID, o.profile, rot.OldKeyID)
		return errSilent
	}
	return err
}

// config is an SDK configuration signed by c, with the profile's region
// and the standard endpoint variables.
func (o *rotateOptions) config(ctx context.Context, path string, c responder.Credential) aws.Config {
	secret, _ := c.Reveal()
	opts := []func(*config.LoadOptions) error{
		config.WithSharedConfigProfile(o.profile),
		config.WithSharedCredentialsFiles([]string{path}),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(c.KeyID, secret, "")),
		config.WithAppID(responder.UserAgentMarker),
	}
	if o.region != "" {
		opts = append(opts, config.WithRegion(o.region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		// The profile was found in the credentials file, so this is a
		// broken config file; static credentials and a region suffice.
		cfg = aws.Config{Credentials: credentials.NewStaticCredentialsProvider(c.KeyID, secret, ""), AppID: responder.UserAgentMarker}
	}
	if cfg.Region == "" {
		cfg.Region = responder.DefaultRegion
	}
	return cfg
}

func (o *rotateOptions) runFinish(ctx context.Context, e *env, r *responder.Rotator, path string, data []byte, pk profileKey) error {
	if pk.pending == nil {
		return usagef("'keyward rotate --profile "+o.profile+"' records the old key in the profile; there is none",
			"profile %q has no unfinished rotation", o.profile)
	}
	m := pk.pending
	res, err := r.Finish(ctx, m.user, m.oldKeyID, m.replacedAt, o.grace, time.Now().UTC())
	if res != nil && res.ReDeactivated {
		warnf(e.stderr, "the old key %s was Active again; it is Inactive now and the grace period restarts", m.oldKeyID)
	}
	if res != nil && !res.LastUsed.IsZero() {
		fmt.Fprintf(e.stdout, "The old key %s was last used %s.\n", m.oldKeyID, res.LastUsed.Format(time.RFC3339))
	}
	if errors.Is(err, responder.ErrGraceNotOver) {
		errorf(e.stderr, "the grace period of the old key %s ends %s", m.oldKeyID, res.DeleteAfter.Format(time.RFC3339))
		hintf(e.stderr, "run again after then, or pass --grace 0s to delete it now")
		if res.ReDeactivated {
			marker := rotationMarker{oldKeyID: m.oldKeyID, user: m.user, replacedAt: time.Now().UTC()}
			if out, rerr := replaceProfileKey(data, o.profile, "", "", "", marker.line(o.profile, o.grace)); rerr == nil {
				if werr := responder.WriteFileAtomic(path, out); werr != nil {
					errorf(e.stderr, "%v", werr)
				}
			}
		}
		return errSilent
	}
	if err != nil {
		return err
	}
	if err := credentialsUnchanged(path, data); err != nil {
		return err
	}
	out, err := replaceProfileKey(data, o.profile, "", "", "", "")
	if err != nil {
		return err
	}
	if err := responder.WriteFileAtomic(path, out); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "Finished: the old key %s is %s; profile %s keeps %s.\n", m.oldKeyID, res.Action, o.profile, pk.keyID)
	return nil
}

// rotateFaultHook is nil in keyward; in-process tests set it to fail a
// rotation at a chosen stage and check what is left behind.
var rotateFaultHook func(responder.RotateStage) error

func rotateFault(s responder.RotateStage) error {
	if rotateFaultHook != nil {
		return rotateFaultHook(s)
	}
	return nil
}
