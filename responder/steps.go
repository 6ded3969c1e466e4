package responder

import (
	"context"
	"fmt"
	"slices"

	"github.com/keyward/keyward/patterns"
)

// The step table is the one definition of the runbook (issue 8, item 1):
// the plan (Runner.Plan), the execution (Runner.Execute), the re-check and
// the least-privilege permission list (RequiredActions) all read it, so
// they cannot drift apart. Another runner (an AWS Health event handler, a
// Lambda) walks the same table with its own Execution.

// Signer says whose credentials sign a step's calls.
type Signer string

// The two sets of credentials (AWS-RESPONSE.md, "Two sets of credentials").
const (
	// SignerLeaked: the leaked key, only ever for sts:GetCallerIdentity,
	// which needs no permission and cannot be denied.
	SignerLeaked Signer = "leaked key"
	// SignerOperator: the operator's credentials, for everything else.
	SignerOperator Signer = "operator"
)

// Resume says how a step completed by an earlier run is treated. A
// journal is never trusted blindly (issue 8: a planted journal with every
// step done made a run print "contained" with zero AWS calls).
type Resume int

// Resume policies.
const (
	// ResumeRerun: read-only and cheap; always run again for fresh facts.
	ResumeRerun Resume = iota
	// ResumeCheck: a change to AWS; its Check reads AWS state, and the step
	// runs again unless the change is there.
	ResumeCheck
	// ResumeTrust: read-only and slow (CloudTrail); the journalled facts
	// are kept, except in a re-check, which runs it again.
	ResumeTrust
	// ResumeOnce: must never run twice (CreateAccessKey); a started but
	// unfinished record triggers orphan detection instead.
	ResumeOnce
)

// Situation is what decides whether a step applies and what it calls: the
// key, the options chosen and the facts learned so far.
type Situation struct {
	KeyID   string
	Kind    patterns.KeyKind
	Options Options
	Facts   Facts
}

// longTerm reports an AKIA-style key, which IAM knows and can deactivate.
func (s Situation) longTerm() bool { return s.Kind != patterns.Temporary }

// user is the owner's name for plan text, or a placeholder.
func (s Situation) user() string {
	if s.Facts.UserName != "" {
		return s.Facts.UserName
	}
	return "<owner>"
}

// StepDef is one row of the runbook's step table.
type StepDef struct {
	// ID names the step in the journal, the report and the terminal.
	ID StepID
	// Title is what the step does, for people.
	Title string
	// Signer is whose credentials sign its calls.
	Signer Signer
	// Actions are the IAM actions the operator's credentials may need for
	// it: the source of the least-privilege policy (RequiredActions).
	Actions []string
	// Mutating is set when the step changes AWS state; a dry run never
	// runs one.
	Mutating bool
	// Recheck is set for the steps a re-check (Options.Recheck) runs
	// again after CloudTrail's delivery delay.
	Recheck bool
	// Resume is how an earlier run's record of the step is treated.
	Resume Resume
	// Note is a remark for the plan.
	Note string
	// Applies reports whether the step runs in situation s.
	Applies func(s Situation) bool
	// Calls are the exact calls the plan shows for situation s.
	Calls func(s Situation) []string
	// Check, for ResumeCheck steps, reads AWS state and reports whether
	// the step's change is in place. Like Run, it is a method expression
	// of Execution, so the receiver comes before the context.
	Check func(x *Execution, ctx context.Context) (bool, error)
	// Run carries the step out. A returned error fails this step only
	// (the steps after it still run), except a *StopError, which ends the
	// run on purpose, and a cancelled context.
	Run func(x *Execution, ctx context.Context, res *StepResult) error
}

// Steps returns the runbook's step table, in order. The order is
// evidence first (nothing the leaked key signs may overwrite last-used
// before it is read), then containment, verification, the session deny
// (whose cutoff must come from AWS's clock after the key is dead), the
// investigation and what it finds, and the optional steps.
func Steps() []StepDef {
	always := func(Situation) bool { return true }
	longTerm := func(s Situation) bool { return s.longTerm() }
	return []StepDef{
		{
			ID: StepOwnership, Title: "Check the key belongs to the operator's account", Signer: SignerOperator,
			Actions: []string{"sts:GetAccessKeyInfo"}, Resume: ResumeRerun, Applies: always,
			Calls: func(s Situation) []string {
				return []string{"sts:GetCallerIdentity()", "sts:GetAccessKeyInfo(AccessKeyId=" + s.KeyID + ")"}
			},
			Note: "informational: if denied, the account is taken from the key's ID and the run goes on",
			Run:  (*Execution).ownership,
		},
		{
			ID: StepOwner, Title: "Read the key's owner, status, last use and the user's policies (before the leaked key signs anything)", Signer: SignerOperator,
			Actions: []string{"iam:GetAccessKeyLastUsed", "iam:ListAccessKeys", "iam:ListAttachedUserPolicies"}, Resume: ResumeRerun, Applies: longTerm,
			Calls: func(s Situation) []string {
				return []string{"iam:GetAccessKeyLastUsed(AccessKeyId=" + s.KeyID + ")", "iam:ListAccessKeys(UserName=" + s.user() + ")",
					"iam:ListAttachedUserPolicies(UserName=" + s.user() + ")"}
			},
			Note: "informational: a denied call is reported and the run goes on",
			Run:  (*Execution).owner,
		},
		{
			ID: StepValidate, Title: "Validate the leaked key", Signer: SignerLeaked, Resume: ResumeRerun, Applies: always,
			Calls: func(Situation) []string { return []string{"sts:GetCallerIdentity()"} },
			Note:  "needs no permission and cannot be denied; an unknown answer is treated as live",
			Run:   (*Execution).validate,
		},
		{
			ID: StepDeactivate, Title: "Deactivate the key (reversible, unlike deleting it)", Signer: SignerOperator,
			Actions: []string{"iam:UpdateAccessKey"}, Mutating: true, Resume: ResumeCheck, Applies: longTerm,
			Calls: func(s Situation) []string {
				if s.Facts.Gone {
					return []string{goneSkip}
				}
				return []string{"iam:UpdateAccessKey(UserName=" + s.user() + ", AccessKeyId=" + s.KeyID + ", Status=Inactive)"}
			},
			Check: (*Execution).checkDeactivated,
			Run:   (*Execution).deactivate,
		},
		{
			ID: StepQuarantine, Title: "Attach AWS's quarantine policy to the user", Signer: SignerOperator,
			Actions: []string{"iam:AttachUserPolicy"}, Mutating: true, Resume: ResumeCheck,
			Applies: func(s Situation) bool { return s.longTerm() && !s.Options.NoQuarantine },
			Calls: func(s Situation) []string {
				if s.Facts.Gone {
					return []string{goneSkip}
				}
				return []string{"iam:AttachUserPolicy(UserName=" + s.user() + ", PolicyArn=" + QuarantineARN(s.Facts.partition(), QuarantineVersions[0]) + ")"}
			},
			Note:  "on by default (--no-quarantine skips it); restricts every key of the user, the replacement too; a failure (10-policy quota, policy missing) is reported and the run goes on",
			Check: (*Execution).checkQuarantined,
			Run:   (*Execution).quarantine,
		},
		{
			ID: StepVerifyDead, Title: "Verify the key no longer works (IAM is eventually consistent)", Signer: SignerLeaked,
			Resume: ResumeCheck, Applies: longTerm, Check: (*Execution).checkDead,
			Calls: func(s Situation) []string {
				if s.Facts.Gone {
					return []string{"none: STS already refused the key and IAM holds no such key"}
				}
				return []string{"sts:GetCallerIdentity() until InvalidClientTokenId"}
			},
			Run: (*Execution).verifyDead,
		},
		{
			ID: StepRevokeSessions, Title: "End sessions derived from the key", Signer: SignerOperator,
			Actions: []string{"iam:PutUserPolicy", "iam:PutRolePolicy", "iam:GetUserPolicy", "iam:GetRolePolicy"}, Mutating: true, Resume: ResumeCheck, Applies: always,
			Calls: func(s Situation) []string {
				if s.Facts.Gone && s.Facts.UserName == "" && s.Facts.RoleName == "" {
					return []string{"cloudtrail:LookupEvents(LookupAttributes=[AccessKeyId=" + s.KeyID + "]) for the user or role the gone key belonged to; if named: iam:PutUserPolicy/PutRolePolicy(" + RevokePolicyName + ", Deny * when aws:TokenIssueTime < AWS's time now); if not, skipped"}
				}
				if s.Facts.RoleName != "" {
					return []string{"iam:PutRolePolicy(RoleName=" + s.Facts.RoleName + ", PolicyName=" + RevokePolicyName + ", Deny * when aws:TokenIssueTime < AWS's time after the key is dead)"}
				}
				return []string{"iam:PutUserPolicy(UserName=" + s.user() + ", PolicyName=" + RevokePolicyName + ", Deny * when aws:TokenIssueTime < AWS's time after the key is dead)"}
			},
			Note:  "temporary credentials cannot be deleted, only denied; removing the deny after 36 h (--cleanup) is optional hygiene",
			Check: (*Execution).checkSessionDeny,
			Run:   (*Execution).revokeSessions,
		},
		{
			ID: StepInvestigate, Title: "Investigate the key's use in CloudTrail, and of every credential derived from it", Signer: SignerOperator,
			Actions: []string{"account:ListRegions", "cloudtrail:LookupEvents"}, Recheck: true, Resume: ResumeTrust, Applies: always,
			Calls: func(s Situation) []string {
				return []string{"account:ListRegions(RegionOptStatusContains=[ENABLED, ENABLED_BY_DEFAULT])",
					fmt.Sprintf("cloudtrail:LookupEvents(LookupAttributes=[AccessKeyId=%s], last %d days, MaxResults=50) in every region, then for each key it minted or created",
						s.KeyID, int(s.Options.lookback().Hours()/24))}
			},
			Note: "CloudTrail delivers events in about 5 minutes on average: re-check later (--recheck)",
			Run:  (*Execution).investigate,
		},
		{
			ID: StepPersistence, Title: "Contain what the attacker created (keys, users, roles, login profiles); list changes to existing principals", Signer: SignerOperator,
			Actions:  []string{"iam:ListAccessKeys", "iam:UpdateAccessKey", "iam:PutUserPolicy", "iam:PutRolePolicy", "iam:DeleteLoginProfile"},
			Mutating: true, Recheck: true, Resume: ResumeRerun, Applies: always,
			Calls: func(s Situation) []string {
				if s.Options.NoPersistence {
					return []string{"none: --no-persistence reports only"}
				}
				return []string{"iam:UpdateAccessKey(Status=Inactive) for each key created", "iam:PutUserPolicy/PutRolePolicy(" + DenyAllPolicyName + ") for each user and role created", "iam:DeleteLoginProfile for each login profile created"}
			},
			Run: (*Execution).persistence,
		},
		{
			ID: StepRevokeRoleSessions, Title: "End sessions of roles the key assumed (roles of the operator's account only)", Signer: SignerOperator,
			Actions: []string{"iam:PutRolePolicy", "iam:GetRolePolicy"}, Mutating: true, Recheck: true, Resume: ResumeCheck, Applies: always,
			Calls: func(s Situation) []string {
				return []string{"iam:PutRolePolicy(RoleName=<each role of account " + s.Facts.KeyAccount + " assumed>, PolicyName=" + RevokePolicyName + ")"}
			},
			Note:  "matched by full role ARN: a role in another account or of IAM Identity Center is left for a human, with the command",
			Check: (*Execution).checkRoleDenies,
			Run:   (*Execution).revokeRoles,
		},
		{
			ID: StepDelete, Title: "Delete the leaked key (after the investigation)", Signer: SignerOperator,
			Actions: []string{"iam:DeleteAccessKey"}, Mutating: true, Resume: ResumeCheck,
			Applies: func(s Situation) bool { return s.longTerm() && s.Options.Delete },
			Calls: func(s Situation) []string {
				if s.Facts.Gone {
					return []string{goneSkip}
				}
				return []string{"iam:DeleteAccessKey(UserName=" + s.user() + ", AccessKeyId=" + s.KeyID + ")"}
			},
			Note:  "irreversible",
			Check: (*Execution).checkDeleted,
			Run:   (*Execution).delete,
		},
		{
			ID: StepRotate, Title: "Create a replacement key", Signer: SignerOperator,
			Actions: []string{"iam:CreateAccessKey", "iam:ListAccessKeys", "iam:DeleteAccessKey"}, Mutating: true, Resume: ResumeOnce,
			Applies: func(s Situation) bool { return s.longTerm() && s.Options.Rotate },
			Calls:   func(s Situation) []string { return []string{"iam:CreateAccessKey(UserName=" + s.user() + ")"} },
			Note:    "AWS allows 2 keys per user, inactive ones included; never retried, and a key created by a dropped call is found and deleted",
			Run:     (*Execution).rotate,
		},
		{
			ID: StepReleaseQuarantine, Title: "Release the quarantine so the replacement key works", Signer: SignerOperator,
			Actions: []string{"iam:DetachUserPolicy"}, Mutating: true, Resume: ResumeCheck,
			Applies: func(s Situation) bool { return s.longTerm() && s.Options.ReleaseQuarantine },
			Calls: func(s Situation) []string {
				return []string{"iam:DetachUserPolicy(UserName=" + s.user() + ", PolicyArn=<each AWSCompromisedKeyQuarantine policy>)"}
			},
			Note:  "only after --rotate, and only once the investigation and a re-check after CloudTrail's delay show nothing live",
			Check: (*Execution).checkReleased,
			Run:   (*Execution).releaseQuarantine,
		},
	}
}

// goneSkip is the plan's call list for a step that needs the key to be in
// IAM, when it is gone (Facts.Gone).
const goneSkip = "none: skipped, the key is not in IAM (deleted, or a temporary key)"

// StepByID returns the table's row for id.
func StepByID(id StepID) (StepDef, bool) {
	for _, d := range Steps() {
		if d.ID == id {
			return d, true
		}
	}
	return StepDef{}, false
}

// RequiredActions lists every IAM action the operator's credentials may
// need for a run with options o, sorted and without duplicates: the
// least-privilege policy for the responder. Steps that o turns off are
// left out; the --cleanup step's actions are added, since a response is
// followed by one.
func RequiredActions(o Options) []string {
	s := Situation{Kind: patterns.LongTerm, Options: o}
	seen := map[string]bool{}
	var out []string
	add := func(a string) {
		if !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	for _, d := range Steps() {
		if d.Applies(s) {
			for _, a := range d.Actions {
				add(a)
			}
		}
	}
	for _, a := range (&CleanupPlan{Targets: []DenyTarget{{Kind: "user"}, {Kind: "role"}}}).Permissions() {
		add(a)
	}
	slices.Sort(out)
	return out
}
