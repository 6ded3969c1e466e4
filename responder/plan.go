package responder

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go/middleware"

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
	StepPersistence        StepID = "persistence"
	StepDelete             StepID = "delete"
	StepRotate             StepID = "rotate"
	StepReleaseQuarantine  StepID = "release-quarantine"
)

// CloudTrailDeliveryDelay is how long after the investigation a re-check
// runs: CloudTrail delivers events "within an average of about 5 minutes",
// not guaranteed, so three times that.
const CloudTrailDeliveryDelay = 15 * time.Minute

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
	// NoQuarantine skips attaching the quarantine policy. Quarantine is on by
	// default in execute mode: the key is already inactive, so the policy
	// only matters if someone re-activates it, and then it matters a lot.
	NoQuarantine bool
	// Rotate creates a replacement key for the user.
	Rotate bool
	// HandOver, if set, receives the replacement key before the rotate
	// step is journalled done, so a crash cannot lose its secret
	// unnoticed; an error fails the step.
	HandOver func(Credential) error
	// ReleaseQuarantine detaches the quarantine after a rotation, once a
	// re-check shows nothing live.
	ReleaseQuarantine bool
	// NoPersistence reports what the attacker created without containing
	// it.
	NoPersistence bool
	// Recheck runs the investigation and what depends on it again, after
	// CloudTrail's delivery delay; steps done earlier are checked, not
	// repeated.
	Recheck bool
	// Partition forces the partition (aws, aws-cn, aws-us-gov); empty
	// means the operator's.
	Partition string
	// Delete deletes the leaked key after the investigation.
	Delete bool
	// Regions to investigate; nil means every region enabled in the
	// account (account:ListRegions), else DefaultRegions.
	Regions []string
	// Lookback is how far back to search CloudTrail; 0 means 90 days.
	Lookback time.Duration
	// LookupInterval spaces LookupEvents calls per region; 0 means 500 ms.
	LookupInterval time.Duration
	// MaxKeysFollowed bounds how many keys minted or created by the
	// leaked key the investigation follows; 0 means 100. Tests lower it.
	MaxKeysFollowed int
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

// Plan works out the runbook for c without changing anything. Like a run,
// it reads the evidence with the operator's credentials before the leaked
// key signs anything, and each lookup is informational: a denied one
// becomes a note. The steps are the table's (Steps), so the plan and the
// run cannot drift apart.
func (r *Runner) Plan(ctx context.Context, c Credential) (*Plan, error) {
	p := &Plan{KeyID: c.KeyID, Kind: string(c.Kind())}
	if acct, ok := patterns.AccountID(c.KeyID); ok {
		if _, canary := patterns.CanaryAccount(acct); canary {
			// Answered offline: nothing about a canary is ever sent.
			p.Verdict = r.Validator.Validate(ctx, c)
			p.Stop = verdictStop(p.Verdict)
			return p, nil
		}
	}
	f := &Facts{}
	ctx, _ = withRecorder(ctx, &StepResult{}, nil)
	id, err := sts.NewFromConfig(r.cfg()).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return nil, fmt.Errorf("identify the operator: %w", err)
	}
	p.OperatorARN, p.OperatorAccount = aws.ToString(id.Arn), aws.ToString(id.Account)
	f.Partition = r.Partition
	if f.Partition == "" {
		f.Partition = partitionOfARN(p.OperatorARN)
	}
	info, err := sts.NewFromConfig(r.cfg()).GetAccessKeyInfo(ctx, &sts.GetAccessKeyInfoInput{AccessKeyId: aws.String(c.KeyID)})
	if err != nil {
		p.Notes = append(p.Notes, "sts:GetAccessKeyInfo failed: "+shortErr(denied(err, StepOwnership, "sts:GetAccessKeyInfo", "*")))
		f.KeyAccount, _ = patterns.AccountID(c.KeyID)
	} else {
		f.KeyAccount = aws.ToString(info.Account)
	}
	if f.KeyAccount != "" && f.KeyAccount != p.OperatorAccount {
		p.KeyAccount = f.KeyAccount
		p.Verdict = Verdict{KeyID: c.KeyID, Status: StatusUnknown, Account: f.KeyAccount, Reason: "not validated: the key is in another account"}
		p.Stop = otherAccountStop(f.KeyAccount, p.OperatorAccount)
		return p, nil
	}
	if f.KeyAccount == "" {
		f.KeyAccount = p.OperatorAccount
	}
	if c.Kind() != patterns.Temporary {
		client := iam.NewFromConfig(r.cfg())
		lu, err := client.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: aws.String(c.KeyID)})
		if isCode(err, "NoSuchEntity") {
			f.KeyStatus = KeyAbsent
			p.Notes = append(p.Notes, "IAM holds no such key (deleted)")
		} else if err != nil {
			p.Notes = append(p.Notes, "iam:GetAccessKeyLastUsed failed: "+shortErr(denied(err, StepOwner, "iam:GetAccessKeyLastUsed", "*")))
		} else {
			f.UserName = aws.ToString(lu.UserName)
			f.KeyInIAM = f.UserName != ""
			if f.UserName == "root" || f.UserName == "<root_account>" {
				p.KeyAccount = f.KeyAccount
				p.Stop = rootStop(f.KeyAccount)
				return p, nil
			}
			keys, err := client.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String(f.UserName)})
			if err != nil {
				p.Notes = append(p.Notes, "iam:ListAccessKeys failed: "+shortErr(denied(err, StepOwner, "iam:ListAccessKeys", userARN(f.partition(), f.KeyAccount, f.UserName))))
			} else {
				f.KeyStatus = KeyAbsent
				for _, k := range keys.AccessKeyMetadata {
					p.UserKeys = append(p.UserKeys, aws.ToString(k.AccessKeyId)+" ("+string(k.Status)+")")
					if aws.ToString(k.AccessKeyId) == c.KeyID {
						f.KeyStatus = string(k.Status)
					}
				}
			}
			if pols, err := client.ListAttachedUserPolicies(ctx, &iam.ListAttachedUserPoliciesInput{UserName: aws.String(f.UserName)}); err == nil {
				for _, pol := range pols.AttachedPolicies {
					if arn := aws.ToString(pol.PolicyArn); isQuarantineARN(arn) {
						f.AWSQuarantine = arn
						p.Notes = append(p.Notes, arn+" is already attached to the user, likely by AWS: a support case about this key is probably open")
					}
				}
			}
		}
	}
	// Only now may the leaked key sign: the evidence above is read.
	x := &Execution{r: r, c: c, f: f, inc: &Incident{}, own: map[string]bool{}, j: &Journal{}}
	p.Verdict = x.validateKey(ctx)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if stop := x.planVerdict(p.Verdict); stop != nil {
		p.KeyAccount = f.KeyAccount
		p.Stop = stop
		return p, nil
	}
	if f.Gone {
		p.Notes = append(p.Notes, "the key is "+string(p.Verdict.Status)+" and "+goneWhy(c.Kind() == patterns.Temporary)+", in the operator's account: "+GoneNote)
	}
	if p.Verdict.Status == StatusUnknown && !f.Gone {
		p.Notes = append(p.Notes, "validation was inconclusive ("+p.Verdict.Reason+"); the plan assumes the key is live")
	}
	if p.Verdict.Status == StatusValid {
		f.ARN = p.Verdict.ARN
		if c.Kind() == patterns.Temporary {
			f.UserName, f.RoleName = principalNames(f.ARN)
		} else if f.UserName == "" {
			f.UserName, _ = principalNames(f.ARN)
		}
	}
	p.KeyAccount = f.KeyAccount
	p.UserName = f.UserName
	if f.UserName == "" && f.RoleName != "" {
		p.UserName = "role/" + f.RoleName
	}
	rs, err := r.resolveRegions(ctx)
	if err != nil {
		return nil, err
	}
	if rs.Fallback() {
		p.Notes = append(p.Notes, rs.Describe())
	}
	p.Steps = r.steps(Situation{KeyID: c.KeyID, Kind: c.Kind(), Options: r.Options, Facts: *f}, rs)
	p.Notes = append(p.Notes, fmt.Sprintf("CloudTrail delivers events in about 5 minutes on average: %s after the response, run keyward respond --key-id %s --recheck --execute to catch what it had not yet delivered", roundDuration(CloudTrailDeliveryDelay), c.KeyID))
	return p, nil
}

// planVerdict is validate's decision for a dry run: the same rules, with
// the facts read so far.
func (x *Execution) planVerdict(v Verdict) *StopError {
	if v.Status == StatusCanary {
		return verdictStop(v)
	}
	if v.Status == StatusValid && isRootARN(v.ARN) {
		return rootStop(v.Account)
	}
	if v.Status == StatusValid || v.Status == StatusUnknown && x.f.KeyStatus != KeyAbsent && x.f.KeyStatus != KeyInactive {
		return nil
	}
	if x.c.Kind() != patterns.Temporary && (x.f.KeyStatus == KeyActive || x.f.KeyStatus == KeyInactive || x.f.KeyStatus == "" && x.f.KeyInIAM) && x.f.UserName != "" {
		return nil
	}
	if x.goneInOwnAccount() {
		x.f.Gone = true
		return nil
	}
	return verdictStop(v)
}

// steps lists the table's steps that apply in s, as the plan shows them.
func (r *Runner) steps(s Situation, rs RegionSet) []Step {
	var out []Step
	for _, d := range Steps() {
		if !d.Applies(s) {
			continue
		}
		st := Step{ID: d.ID, Title: d.Title, Signer: string(d.Signer), Account: s.Facts.KeyAccount, Calls: d.Calls(s),
			Permissions: d.Actions, Destructive: d.Mutating, Note: d.Note}
		if len(st.Calls) == 1 && st.Calls[0] == goneSkip {
			// Skipped for a gone key: it changes nothing.
			st.Destructive, st.Permissions = false, nil
		}
		if d.Signer == SignerOperator && d.ID != StepOwnership && d.ID != StepInvestigate {
			st.User = s.user()
		}
		if d.ID == StepInvestigate {
			st.Note = rs.Describe() + "; " + d.Note
			if rs.Source == RegionsFromFlag {
				st.Calls = st.Calls[1:]
				st.Permissions = []string{"cloudtrail:LookupEvents"}
			}
			st.Calls[len(st.Calls)-1] = strings.Replace(st.Calls[len(st.Calls)-1], "in every region", fmt.Sprintf("in %d regions", len(rs.Regions)), 1)
		}
		out = append(out, st)
	}
	return out
}

func (o *Options) lookback() time.Duration {
	if o.Lookback > 0 {
		return o.Lookback
	}
	return DefaultLookback
}

// RequiredPermissions lists every IAM action the operator's credentials need
// for the steps of p, for the plan's policy snippet; RequiredActions is the
// same for any run.
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

func shortErr(err error) string {
	if pe, ok := err.(*PermissionError); ok {
		return "AccessDenied for " + pe.Action
	}
	return err.Error()
}

// cfg is the operator's configuration with keyward's application ID (for
// people reading CloudTrail) and every call recorded (RecordCalls).
func (r *Runner) cfg() aws.Config {
	c := r.Config.Copy()
	if c.AppID == "" {
		c.AppID = UserAgentMarker
	}
	c.APIOptions = append(append([]func(*middleware.Stack) error{}, c.APIOptions...), RecordCalls)
	return c
}
