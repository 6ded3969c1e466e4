package responder

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/keyward/keyward/patterns"
)

// StepID names a runbook step; the journal is keyed on it.
type StepID string

// The runbook's steps, in order (AWS-RESPONSE.md). Validate is done with
// the leaked key; every other call is the operator's.
const (
	StepValidate           StepID = "validate"
	StepOwnership          StepID = "ownership"
	StepOwner              StepID = "owner"
	StepDeactivate         StepID = "deactivate"
	StepQuarantine         StepID = "quarantine"
	StepRevokeSessions     StepID = "revoke-sessions"
	StepVerifyDead         StepID = "verify-dead"
	StepInvestigate        StepID = "investigate"
	StepRevokeRoleSessions StepID = "revoke-role-sessions"
	StepDelete             StepID = "delete"
	StepRotate             StepID = "rotate"
)

// QuarantinePolicyARN is the AWS managed policy attached in the quarantine
// step. V3 is AWS's current version; it denies the leaked identity the calls
// a thief uses to persist, including the ones that would revoke the key.
const QuarantinePolicyARN = "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV3"

// RevokePolicyName is the inline policy that ends sessions issued before the
// response, named as the IAM console names its "Revoke active sessions".
const RevokePolicyName = "AWSRevokeOlderSessions"

// SessionDenyHold is how long the revocation deny must stay: the longest
// life of temporary credentials (36 h).
const SessionDenyHold = 36 * time.Hour

// Runbook defaults.
const (
	// DefaultLookback is CloudTrail event history's retention.
	DefaultLookback = 90 * 24 * time.Hour
	// defaultLookupInterval keeps LookupEvents at 2 requests per second
	// per region, CloudTrail's documented limit.
	defaultLookupInterval = 500 * time.Millisecond
	defaultLookupAttempts = 6
	// IAM is eventually consistent: a deactivated key can keep working for
	// seconds to minutes, so the verify step polls for this long.
	defaultPollInterval = 5 * time.Second
	defaultPollTimeout  = 3 * time.Minute
	// maxTrailEvents bounds the events kept for the report.
	maxTrailEvents = 1000
)

// DefaultRegions are the regions enabled by default in every commercial
// account. The investigation searches every region the account has
// enabled, asked of account:ListRegions; this list stands in only when that
// call is denied or fails, and then opt-in regions go unsearched (the step
// and the report say so). IAM and STS events land in us-east-1.
var DefaultRegions = []string{
	"us-east-1", "us-east-2", "us-west-1", "us-west-2",
	"ca-central-1", "sa-east-1",
	"eu-west-1", "eu-west-2", "eu-west-3", "eu-central-1", "eu-north-1",
	"ap-south-1", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3",
	"ap-southeast-1", "ap-southeast-2",
}

// Options choose what a run does and how patiently.
type Options struct {
	// NoQuarantine skips attaching QuarantinePolicyARN. Quarantine is on by
	// default in execute mode: the key is already inactive, so the policy
	// only matters if someone re-activates it, and then it matters a lot.
	NoQuarantine bool
	// Rotate creates a replacement key for the user.
	Rotate bool
	// Delete deletes the leaked key after the investigation.
	Delete bool
	// Regions to investigate; nil means every region enabled in the
	// account (account:ListRegions), else DefaultRegions.
	Regions []string
	// Lookback is how far back to search CloudTrail; 0 means 90 days.
	Lookback time.Duration
	// LookupInterval spaces LookupEvents calls per region; 0 means 500 ms.
	LookupInterval time.Duration
	// LookupAttempts bounds retries of a throttled LookupEvents on top of
	// the SDK's own; 0 means 6.
	LookupAttempts int
	// PollInterval and PollTimeout bound the verify step.
	PollInterval, PollTimeout time.Duration
	// AfterStep, if set, runs after each completed step; an error stops the
	// run as a crash would. Tests inject crashes with it.
	AfterStep func(StepID) error
	// OnStep, if set, is told each step's result as it happens, so a long
	// investigation shows progress.
	OnStep func(StepResult)
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Runner carries out the runbook for one key.
type Runner struct {
	// Config is the operator's SDK configuration (config.LoadDefaultConfig).
	Config aws.Config
	// Validator checks the leaked key itself.
	Validator *Validator
	// Journal records completed steps; nil keeps them in memory only.
	Journal *Journal
	Options
}

// Step is one planned action: what it calls, with which credentials, on
// which account and user, and what the operator needs to be allowed.
type Step struct {
	ID          StepID   `json:"id"`
	Title       string   `json:"title"`
	Calls       []string `json:"calls"`
	Signer      string   `json:"signer"` // "leaked key" or "operator"
	Account     string   `json:"account,omitempty"`
	User        string   `json:"user,omitempty"`
	Permissions []string `json:"permissions,omitempty"`
	Destructive bool     `json:"destructive"`
	Note        string   `json:"note,omitempty"`
}

// Plan is what a run would do, worked out with read-only calls.
type Plan struct {
	KeyID           string   `json:"key_id"`
	Kind            string   `json:"key_kind"`
	Verdict         Verdict  `json:"verdict"`
	OperatorARN     string   `json:"operator_arn,omitempty"`
	OperatorAccount string   `json:"operator_account,omitempty"`
	KeyAccount      string   `json:"key_account,omitempty"`
	UserName        string   `json:"user_name,omitempty"`
	UserKeys        []string `json:"user_keys,omitempty"`
	Steps           []Step   `json:"steps"`
	// Stop is set when the run would stop before containing the key.
	Stop *StopError `json:"stop,omitempty"`
	// Notes are lookups that failed (a missing permission, say), which the
	// plan could not fill in.
	Notes []string `json:"notes,omitempty"`
}

func (o *Options) now() time.Time {
	if o.Now != nil {
		return o.Now().UTC()
	}
	return time.Now().UTC()
}

// Plan works out the runbook for c without changing anything: it validates
// the key, identifies the operator and the key's account, owner and other
// keys, all with read-only calls.
func (r *Runner) Plan(ctx context.Context, c Credential) (*Plan, error) {
	p := &Plan{KeyID: c.KeyID, Kind: string(c.Kind())}
	p.Verdict = r.Validator.Validate(ctx, c)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if stop := verdictStop(p.Verdict); stop != nil {
		p.Stop = stop
		return p, nil
	}
	if p.Verdict.Status == StatusUnknown {
		p.Notes = append(p.Notes, "validation was inconclusive ("+p.Verdict.Reason+"); the plan assumes the key is live")
	}
	f := &Facts{KeyAccount: p.Verdict.Account, ARN: p.Verdict.ARN}
	id, err := sts.NewFromConfig(r.cfg()).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return nil, fmt.Errorf("identify the operator: %w", err)
	}
	p.OperatorARN, p.OperatorAccount = aws.ToString(id.Arn), aws.ToString(id.Account)
	info, err := sts.NewFromConfig(r.cfg()).GetAccessKeyInfo(ctx, &sts.GetAccessKeyInfoInput{AccessKeyId: aws.String(c.KeyID)})
	if err != nil {
		p.Notes = append(p.Notes, "sts:GetAccessKeyInfo failed: "+shortErr(denied(err, StepOwnership, "sts:GetAccessKeyInfo", "*")))
	} else {
		f.KeyAccount = aws.ToString(info.Account)
	}
	p.KeyAccount = f.KeyAccount
	if f.KeyAccount != "" && f.KeyAccount != p.OperatorAccount {
		p.Stop = otherAccountStop(f.KeyAccount, p.OperatorAccount)
		return p, nil
	}
	if isRootARN(f.ARN) {
		p.Stop = rootStop(f.KeyAccount)
		return p, nil
	}
	if c.Kind() == patterns.LongTerm {
		lu, err := iam.NewFromConfig(r.cfg()).GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: aws.String(c.KeyID)})
		if err != nil {
			p.Notes = append(p.Notes, "iam:GetAccessKeyLastUsed failed: "+shortErr(denied(err, StepOwner, "iam:GetAccessKeyLastUsed", "*")))
		} else {
			f.UserName = aws.ToString(lu.UserName)
			if f.UserName == "root" || f.UserName == "<root_account>" {
				p.Stop = rootStop(f.KeyAccount)
				return p, nil
			}
			keys, err := iam.NewFromConfig(r.cfg()).ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String(f.UserName)})
			if err != nil {
				p.Notes = append(p.Notes, "iam:ListAccessKeys failed: "+shortErr(denied(err, StepOwner, "iam:ListAccessKeys", userARN(f.KeyAccount, f.UserName))))
			} else {
				for _, k := range keys.AccessKeyMetadata {
					p.UserKeys = append(p.UserKeys, aws.ToString(k.AccessKeyId)+" ("+string(k.Status)+")")
				}
			}
		}
	} else {
		f.UserName, f.RoleName = principalNames(f.ARN)
	}
	p.UserName = f.UserName
	if f.UserName == "" && f.RoleName != "" {
		p.UserName = "role/" + f.RoleName
	}
	rs, err := r.resolveRegions(ctx, nil)
	if err != nil {
		return nil, err
	}
	if rs.Fallback() {
		p.Notes = append(p.Notes, rs.Describe())
	}
	p.Steps = r.steps(c, f, rs)
	return p, nil
}

// steps lists the runbook's steps for the facts known.
func (r *Runner) steps(c Credential, f *Facts, rs RegionSet) []Step {
	id, acct := c.KeyID, f.KeyAccount
	user := f.UserName
	if user == "" {
		user = "<owner>"
	}
	var s []Step
	add := func(st Step) { s = append(s, st) }
	add(Step{ID: StepValidate, Title: "Validate the leaked key", Signer: "leaked key", Account: acct,
		Calls: []string{"sts:GetCallerIdentity()"}, Note: "needs no permission and cannot be denied"})
	add(Step{ID: StepOwnership, Title: "Check the key belongs to the operator's account", Signer: "operator", Account: acct,
		Calls:       []string{"sts:GetCallerIdentity()", "sts:GetAccessKeyInfo(AccessKeyId=" + id + ")"},
		Permissions: []string{"sts:GetAccessKeyInfo"}})
	temporary := c.Kind() == patterns.Temporary
	if !temporary {
		add(Step{ID: StepOwner, Title: "Find the key's owner and other keys", Signer: "operator", Account: acct, User: f.UserName,
			Calls:       []string{"iam:GetAccessKeyLastUsed(AccessKeyId=" + id + ")", "iam:ListAccessKeys(UserName=" + user + ")"},
			Permissions: []string{"iam:GetAccessKeyLastUsed", "iam:ListAccessKeys"}})
		add(Step{ID: StepDeactivate, Title: "Deactivate the key (reversible, unlike deleting it)", Signer: "operator", Account: acct, User: user,
			Calls:       []string{"iam:UpdateAccessKey(UserName=" + user + ", AccessKeyId=" + id + ", Status=Inactive)"},
			Permissions: []string{"iam:UpdateAccessKey"}, Destructive: true})
		if !r.NoQuarantine {
			add(Step{ID: StepQuarantine, Title: "Attach AWS's quarantine policy to the user", Signer: "operator", Account: acct, User: user,
				Calls:       []string{"iam:AttachUserPolicy(UserName=" + user + ", PolicyArn=" + QuarantinePolicyARN + ")"},
				Permissions: []string{"iam:AttachUserPolicy"}, Destructive: true,
				Note: "on by default; --no-quarantine skips it"})
		}
	}
	target, call, perm := "UserName="+user, "iam:PutUserPolicy", "iam:PutUserPolicy"
	if f.RoleName != "" {
		target, call, perm = "RoleName="+f.RoleName, "iam:PutRolePolicy", "iam:PutRolePolicy"
	}
	add(Step{ID: StepRevokeSessions, Title: "End sessions derived from the key", Signer: "operator", Account: acct, User: user,
		Calls:       []string{call + "(" + target + ", PolicyName=" + RevokePolicyName + ", Deny * when aws:TokenIssueTime < now)"},
		Permissions: []string{perm}, Destructive: true,
		Note: "temporary credentials cannot be deleted, only denied; remove the policy after 36 h with keyward respond --cleanup"})
	if !temporary {
		add(Step{ID: StepVerifyDead, Title: "Verify the key no longer works (IAM is eventually consistent)", Signer: "leaked key", Account: acct,
			Calls: []string{"sts:GetCallerIdentity() until InvalidClientTokenId"}})
	}
	inv := Step{ID: StepInvestigate, Title: "Investigate the key's use in CloudTrail", Signer: "operator", Account: acct,
		Calls: []string{fmt.Sprintf("cloudtrail:LookupEvents(LookupAttributes=[AccessKeyId=%s], last %d days, MaxResults=50) in %d regions, then for each ASIA key it minted",
			id, int(r.lookback().Hours()/24), len(rs.Regions))},
		Permissions: []string{"cloudtrail:LookupEvents"}, Note: rs.Describe()}
	if rs.Source != RegionsFromFlag {
		// The regions are asked of the account again when the step runs.
		inv.Calls = append([]string{"account:ListRegions(RegionOptStatusContains=[ENABLED, ENABLED_BY_DEFAULT])"}, inv.Calls...)
		inv.Permissions = append([]string{"account:ListRegions"}, inv.Permissions...)
	}
	add(inv)
	add(Step{ID: StepRevokeRoleSessions, Title: "End sessions of roles the key assumed", Signer: "operator", Account: acct,
		Calls:       []string{"iam:PutRolePolicy(RoleName=<each role assumed>, PolicyName=" + RevokePolicyName + ")"},
		Permissions: []string{"iam:PutRolePolicy"}, Destructive: true, Note: "only for roles found in CloudTrail"})
	if r.Delete && !temporary {
		add(Step{ID: StepDelete, Title: "Delete the leaked key (after the investigation)", Signer: "operator", Account: acct, User: user,
			Calls:       []string{"iam:DeleteAccessKey(UserName=" + user + ", AccessKeyId=" + id + ")"},
			Permissions: []string{"iam:DeleteAccessKey"}, Destructive: true, Note: "irreversible"})
	}
	if r.Rotate && !temporary {
		add(Step{ID: StepRotate, Title: "Create a replacement key", Signer: "operator", Account: acct, User: user,
			Calls:       []string{"iam:CreateAccessKey(UserName=" + user + ")"},
			Permissions: []string{"iam:CreateAccessKey", "iam:ListAccessKeys"}, Destructive: true,
			Note: "AWS allows 2 keys per user, inactive ones included"})
	}
	return s
}

func (o *Options) lookback() time.Duration {
	if o.Lookback > 0 {
		return o.Lookback
	}
	return DefaultLookback
}

// RequiredPermissions lists every IAM action the operator's credentials need
// for the steps of p, for the plan's policy snippet.
func (p *Plan) RequiredPermissions() []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range p.Steps {
		for _, a := range s.Permissions {
			if !seen[a] {
				seen[a] = true
				out = append(out, a)
			}
		}
	}
	return out
}

func verdictStop(v Verdict) *StopError {
	switch v.Status {
	case StatusCanary:
		return &StopError{Kind: StopCanary, Account: v.Account, Reason: v.Reason,
			Instructions: []string{"Remove the key from where it was found; do not use it.", "If you planted this canary, check its alert."}}
	case StatusInvalid, StatusWrongSecret, StatusExpired, StatusNotValidatable:
		return &StopError{Kind: StopNotLive, Account: v.Account, Reason: "the key is " + string(v.Status) + ": " + v.Reason,
			Instructions: []string{"Nothing to contain; still remove the key from the repository and its history."}}
	}
	return nil
}

func otherAccountStop(keyAcct, opAcct string) *StopError {
	return &StopError{Kind: StopOtherAccount, Account: keyAcct,
		Reason: "the key belongs to account " + keyAcct + ", not to the operator's account " + opAcct,
		Instructions: []string{
			"Run keyward respond with credentials from account " + keyAcct + ", or tell that account's owner.",
			"If you do not know the owner, report the exposure to AWS: https://aws.amazon.com/forms/report-abuse",
		}}
}

func rootStop(acct string) *StopError {
	return &StopError{Kind: StopRoot, Account: acct,
		Reason: "the key is account " + acct + "'s root user key; keyward does not touch root keys",
		Instructions: []string{
			"Sign in as the root user (IAM console, My security credentials) and deactivate, then delete, the root access key.",
			"Make sure root MFA is on and change the root password.",
			"Then run keyward respond again for the CloudTrail investigation, or follow the manual checks in the report.",
		}}
}

func isRootARN(arn string) bool { return strings.HasSuffix(arn, ":root") }

// principalNames extracts a user or role name from a caller ARN.
func principalNames(arn string) (userName, roleName string) {
	_, res, ok := strings.Cut(arn, ":user/")
	if ok {
		return res[strings.LastIndex(res, "/")+1:], ""
	}
	if _, res, ok := strings.Cut(arn, ":assumed-role/"); ok {
		role, _, _ := strings.Cut(res, "/")
		return "", role
	}
	return "", ""
}

func userARN(acct, name string) string { return "arn:aws:iam::" + acct + ":user/" + name }
func roleARN(acct, name string) string { return "arn:aws:iam::" + acct + ":role/" + name }

func shortErr(err error) string {
	if pe, ok := err.(*PermissionError); ok {
		return "AccessDenied for " + pe.Action
	}
	return err.Error()
}

// cfg is the operator's configuration with keyward's application ID, so the
// responder's own calls are recognisable in CloudTrail.
func (r *Runner) cfg() aws.Config {
	c := r.Config.Copy()
	if c.AppID == "" {
		c.AppID = UserAgentMarker
	}
	return c
}
