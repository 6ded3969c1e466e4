package responder

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/keyward/keyward/patterns"
)

// Responding to an AWS Health event (issue 11). AWS has found the key in
// public and confirmed it, and the event carries only its ID: the runbook
// runs without the secret. The step table is walked as Execute walks it,
// with one difference forced by the missing secret: the leaked key cannot
// sign GetCallerIdentity, so "verify dead" reads the key's status in IAM
// and then waits for IAM to propagate it (AWS-RESPONSE.md: seconds to
// minutes) before the session cutoff is taken. The report says so.

// DefaultPropagationWait is how long a secret-less run waits after IAM
// shows the key Inactive, before the session cutoff: IAM is eventually
// consistent, and a session minted while the deactivation propagated must
// fall under the cutoff.
const DefaultPropagationWait = time.Minute

// StepLateralRoles is the step that follows AssumeRole into other accounts
// through the responder role template (organization-wide response).
const StepLateralRoles StepID = "lateral-roles"

// RoleTemplate is an IAM role ARN with "{account}" where the account ID
// goes, e.g. arn:aws:iam::{account}:role/KeywardResponder.
type RoleTemplate string

// roleTemplateRE is compiled on first use: the {1,512} makes a large
// program, which every keyward command, a pre-commit hook's included,
// would otherwise build as it starts (0.9 ms of its start-up).
var roleTemplateRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^arn:aws(-cn|-us-gov)?:iam::\{account\}:role/[\w+=,.@/-]{1,512}$`)
})

// ErrBadRoleTemplate is returned for a template that is not a role ARN
// with an {account} placeholder.
var ErrBadRoleTemplate = errors.New("the role template must look like arn:aws:iam::{account}:role/NAME")

// Validate checks the template's shape.
func (t RoleTemplate) Validate() error {
	if !roleTemplateRE().MatchString(string(t)) {
		return ErrBadRoleTemplate
	}
	return nil
}

// For returns the role ARN in account.
func (t RoleTemplate) For(account string) string {
	return strings.ReplaceAll(string(t), "{account}", account)
}

// roleSessionName names keyward's sessions in the member accounts'
// CloudTrail.
const roleSessionName = "keyward-responder"

// AssumeRoleConfig returns base's configuration acting as roleARN. It
// assumes the role once right away, so a role that cannot be assumed fails
// here, with its cause, rather than in the middle of a step.
func AssumeRoleConfig(ctx context.Context, base aws.Config, roleARN string) (aws.Config, error) {
	cfg := base.Copy()
	prov := stscreds.NewAssumeRoleProvider(sts.NewFromConfig(base), roleARN, func(o *stscreds.AssumeRoleOptions) {
		o.RoleSessionName = roleSessionName
	})
	cfg.Credentials = aws.NewCredentialsCache(prov)
	if _, err := cfg.Credentials.Retrieve(ctx); err != nil {
		return aws.Config{}, fmt.Errorf("assume role %s: %w", roleARN, err)
	}
	return cfg, nil
}

// HealthResponder runs the runbook for the keys of AWS Health events.
type HealthResponder struct {
	// Config is the operator's configuration (in an organization, the
	// security account's).
	Config aws.Config
	// Validator is the leaked-key validator (used only for the offline
	// canary check: there is no secret to sign with).
	Validator *Validator
	// Options are the runbook's options.
	Options Options
	// AssumeRole, if set, is assumed in the account that owns the key when
	// that is not the operator's, and in every other account the key's
	// sessions reached with AssumeRole.
	AssumeRole RoleTemplate
	// PropagationWait is the wait after IAM shows the key Inactive; 0
	// means DefaultPropagationWait.
	PropagationWait time.Duration
	// Journal, if set, opens the journal for a key.
	Journal func(keyID string) (*Journal, error)
}

// HealthTarget is where a key's response acts: the account owning it, and
// the role assumed there, if any.
type HealthTarget struct {
	KeyID           string `json:"key_id"`
	OperatorAccount string `json:"operator_account"`
	KeyAccount      string `json:"key_account"`
	// Role is the role assumed in KeyAccount, or "" to act as the operator.
	Role string `json:"role,omitempty"`
	// Note says how the account was found.
	Note string `json:"note,omitempty"`
}

// Target works out, with read-only calls, which account owns keyID and
// whether the run will act there through AssumeRole.
func (h *HealthResponder) Target(ctx context.Context, keyID string) (HealthTarget, error) {
	t := HealthTarget{KeyID: keyID}
	client := sts.NewFromConfig(h.Config)
	id, err := client.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return t, fmt.Errorf("identify the operator: %w", err)
	}
	t.OperatorAccount = aws.ToString(id.Account)
	info, err := client.GetAccessKeyInfo(ctx, &sts.GetAccessKeyInfoInput{AccessKeyId: aws.String(keyID)})
	if err != nil {
		acct, ok := patterns.AccountID(keyID)
		if !ok {
			return t, fmt.Errorf("find the key's account: %w", denied(err, StepOwnership, "sts:GetAccessKeyInfo", "*"))
		}
		t.KeyAccount, t.Note = acct, "account decoded from the key ID (sts:GetAccessKeyInfo failed: "+shortErr(denied(err, StepOwnership, "sts:GetAccessKeyInfo", "*"))+")"
	} else {
		t.KeyAccount, t.Note = aws.ToString(info.Account), "account from sts:GetAccessKeyInfo"
	}
	if t.KeyAccount != t.OperatorAccount && h.AssumeRole != "" {
		t.Role = h.AssumeRole.For(t.KeyAccount)
	}
	return t, nil
}

// PlanSteps lists the step table's rows that apply to a secret-less run
// for t, for the dry run: the same table Respond walks.
func (h *HealthResponder) PlanSteps(t HealthTarget) []Step {
	s := Situation{KeyID: t.KeyID, Kind: patterns.KindOf(t.KeyID), Options: h.Options, Facts: Facts{KeyAccount: t.KeyAccount}}
	var out []Step
	for _, d := range Steps() {
		if !d.Applies(s) {
			continue
		}
		st := Step{ID: d.ID, Title: d.Title, Calls: d.Calls(s), Signer: string(d.Signer), Account: t.KeyAccount,
			Permissions: d.Actions, Destructive: d.Mutating, Note: d.Note}
		if d.ID == StepValidate {
			st.Calls, st.Note = []string{"none: the event carries no secret; IAM's view of the key decides"}, "AWS has already confirmed the exposure"
		}
		if d.ID == StepVerifyDead {
			st.Signer = string(SignerOperator)
			st.Calls = []string{"none: the key's status in IAM (read by the owner step) decides, then a wait for IAM to propagate it"}
			st.Note = "without the secret STS cannot be asked"
		}
		out = append(out, st)
	}
	if h.AssumeRole != "" {
		out = append(out, Step{ID: StepLateralRoles, Title: "Deny older sessions of roles the key assumed in other accounts, through the responder role there",
			Signer: string(SignerOperator), Calls: []string{"sts:AssumeRole(" + string(h.AssumeRole) + ")", "iam:PutRolePolicy(RoleName=<role>, PolicyName=" + RevokePolicyName + ")"},
			Permissions: []string{"sts:AssumeRole"}, Destructive: true})
	}
	return out
}

// HealthActions lists every IAM action a secret-less response needs, from
// the step table: the responder's least-privilege policy in the account
// that acts (the member account's role, or the operator), and the
// actions the operator itself needs to reach member accounts.
func HealthActions(o Options) (member, operator []string) {
	member = RequiredActions(o)
	operator = []string{"sts:AssumeRole", "sts:GetAccessKeyInfo", "sts:GetCallerIdentity"}
	return member, operator
}

// Respond runs the runbook for keyID in the account of t, without its
// secret: the step table through Execution.Run, as Execute runs it, with
// two additions hooked in after steps (Options.AfterStep): after verify, the
// wait for IAM to propagate the deactivation; after the role-session step,
// with a role template, the lateral step. It returns the incident even with
// an error.
func (h *HealthResponder) Respond(ctx context.Context, t HealthTarget) (*Result, error) {
	cfg := h.Config
	if t.Role != "" {
		var err error
		if cfg, err = AssumeRoleConfig(ctx, h.Config, t.Role); err != nil {
			inc := &Incident{KeyID: t.KeyID, Kind: string(patterns.KindOf(t.KeyID)), Started: time.Now().UTC(), Finished: time.Now().UTC(),
				Mode: "execute", Outcome: OutcomeIncomplete, Error: err.Error(), ManualChecks: ManualChecks}
			return &Result{Incident: inc}, err
		}
	}
	r := &Runner{Config: cfg, Validator: h.Validator, Options: h.Options}
	if h.Journal != nil {
		j, err := h.Journal(t.KeyID)
		if err != nil {
			return &Result{Incident: &Incident{KeyID: t.KeyID, Outcome: OutcomeIncomplete, Error: err.Error()}}, err
		}
		r.Journal = j
	}
	wait := h.PropagationWait
	if wait <= 0 {
		wait = DefaultPropagationWait
	}
	x := r.NewExecution(NewCredential(t.KeyID, "", ""))
	x.inc.Mode += " (AWS Health event, no secret)"
	outer := h.Options.AfterStep
	r.AfterStep = func(id StepID) error {
		switch {
		case id == StepVerifyDead && x.succeeded(StepVerifyDead):
			// IAM shows the key inactive; the session cutoff comes next
			// and must be later than any session minted meanwhile.
			if err := sleep(ctx, wait); err != nil {
				return err
			}
			for i := len(x.inc.Steps) - 1; i >= 0; i-- {
				if x.inc.Steps[i].ID == StepVerifyDead {
					x.inc.Steps[i].Detail += fmt.Sprintf("; waited %s for IAM to propagate it (no secret, so STS could not be asked)", wait)
					break
				}
			}
		case id == StepRevokeRoleSessions && h.AssumeRole != "":
			if err := x.step(ctx, StepDef{ID: StepLateralRoles, Title: "Deny older sessions of roles assumed in other accounts",
				Signer: SignerOperator, Mutating: true, Resume: ResumeRerun, Applies: func(Situation) bool { return true },
				Run: func(x *Execution, ctx context.Context, res *StepResult) error { return x.lateralRoles(ctx, res, h) }}); err != nil {
				return err
			}
		}
		if outer != nil {
			return outer(id)
		}
		return nil
	}
	err := x.Run(ctx)
	return &Result{Incident: x.inc}, err
}

// lateralRoles denies older sessions of each role in another account the
// key's sessions assumed, through the responder role of that account, and
// takes the matching item off the human's list.
func (x *Execution) lateralRoles(ctx context.Context, res *StepResult, h *HealthResponder) error {
	if x.f.Trail == nil {
		res.Status, res.Detail = StepSkipped, "the investigation found no roles"
		return nil
	}
	var done []string
	var errs []error
	for _, arn := range x.f.Trail.RolesAssumed {
		_, acct, name := splitRoleARN(arn)
		if name == "" || acct == x.f.KeyAccount || strings.HasPrefix(name, "AWSReservedSSO_") {
			continue
		}
		cfg, err := AssumeRoleConfig(ctx, h.Config, h.AssumeRole.For(acct))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		raw := cfg
		cfg = (&Runner{Config: cfg}).cfg() // record its calls, as every step's
		// The member account's clock, via its STS Date header, is AWS's;
		// the local clock stands in only if that fails.
		now := x.r.now()
		if d, ok := serverDate(ctx, cfg); ok {
			now = d
		}
		_, err = iam.NewFromConfig(cfg).PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String(name),
			PolicyName: aws.String(RevokePolicyName), PolicyDocument: aws.String(RevokeSessionsPolicy(cutoffAfter(now)))})
		if err != nil {
			errs = append(errs, fmt.Errorf("deny sessions of %s: %w", arn, denied(err, StepLateralRoles, "iam:PutRolePolicy", arn)))
			continue
		}
		done = append(done, arn)
		x.f.Roles = appendNew(x.f.Roles, arn)
		kept := x.f.HumanActions[:0]
		for _, ha := range x.f.HumanActions {
			if ha.Subject != "role "+arn {
				kept = append(kept, ha)
			}
		}
		x.f.HumanActions = kept
		if err := x.followSessions(ctx, res, raw, acct); err != nil {
			errs = append(errs, err)
		}
	}
	if len(done) == 0 && len(errs) == 0 {
		res.Status, res.Detail = StepSkipped, "no role of another account was assumed"
		return nil
	}
	res.Detail = "sessions denied, through " + string(h.AssumeRole) + ", for " + strings.Join(done, ", ") + res.Detail
	return errors.Join(errs...)
}

// followSessions searches the CloudTrail of account acct, through its
// responder role, for what the sessions the key minted there did: their
// events are recorded in that account, not in the key's. The sessions are
// already denied (their role's older sessions are); anything they created
// there is named for a human, with the command that contains it.
func (x *Execution) followSessions(ctx context.Context, res *StepResult, cfg aws.Config, acct string) error {
	if x.f.Trail == nil {
		return nil
	}
	member := &Runner{Config: cfg, Options: x.r.Options}
	for _, id := range x.f.Trail.DerivedKeys {
		if a, ok := patterns.AccountID(id); !ok || a != acct {
			continue
		}
		t, err := member.investigate(ctx, nil, id, res)
		if err != nil {
			return fmt.Errorf("investigate session %s in account %s: %w", id, acct, err)
		}
		res.Detail += fmt.Sprintf("; session %s: %d events in account %s", id, len(t.Events), acct)
		if t.Unfollowed > 0 {
			x.addHuman(HumanAction{Subject: "session " + id + " in account " + acct,
				What:     fmt.Sprintf("%d key(s) it minted or created there were not investigated (past the limit of keys followed): what they did is unknown", t.Unfollowed),
				Commands: []string{"aws cloudtrail lookup-events --lookup-attributes AttributeKey=AccessKeyId,AttributeValue=" + id + "   # with credentials of account " + acct}})
		}
		if len(t.Changes) == 0 {
			continue
		}
		var names []string
		for _, c := range t.Changes {
			names = appendNew(names, c.Name)
		}
		x.addHuman(HumanAction{Subject: "session " + id + " in account " + acct,
			What: "it changed IAM there (" + strings.Join(names, ", ") + "); its sessions are denied, but what it created lives on: contain it in that account",
			Commands: []string{"aws cloudtrail lookup-events --lookup-attributes AttributeKey=AccessKeyId,AttributeValue=" + id + "   # with credentials of account " + acct,
				"keyward respond --key-id <each access key it created> --execute   # with credentials of account " + acct}})
	}
	return nil
}

// serverDate is AWS's time from the Date header of an STS answer.
func serverDate(ctx context.Context, cfg aws.Config) (time.Time, bool) {
	var res StepResult
	rctx, rec := withRecorder(ctx, &res, nil)
	if _, err := sts.NewFromConfig(cfg).GetCallerIdentity(rctx, &sts.GetCallerIdentityInput{}); err != nil {
		return time.Time{}, false
	}
	t := rec.serverTime()
	return t, !t.IsZero()
}
