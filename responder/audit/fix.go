package audit

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
)

// FixAction is one change --fix would make. Only reversible changes are
// ever planned: deactivating a key that has not been used within the limit
// (re-activate it with iam:UpdateAccessKey Status=Active). Deleting keys,
// root keys and MFA are left to a human.
type FixAction struct {
	User   string `json:"user"`
	KeyID  string `json:"access_key_id"`
	Reason string `json:"reason"`
	// Undo is the command that reverses the action.
	Undo string `json:"undo"`
	// Done and Error are filled by Fix.
	Done  bool   `json:"done"`
	Error string `json:"error,omitempty"`
}

// FixPlan lists the fixes for rep's findings: one deactivation per key
// that has not been used within the limit.
func FixPlan(rep *Report) []FixAction {
	var out []FixAction
	seen := map[string]bool{}
	for _, f := range rep.Findings {
		if f.Check != CheckKeyUnused || f.KeyID == "" || seen[f.KeyID] || f.User == RootUser {
			continue
		}
		seen[f.KeyID] = true
		out = append(out, FixAction{User: f.User, KeyID: f.KeyID, Reason: f.Message,
			Undo: fmt.Sprintf("aws iam update-access-key --user-name %s --access-key-id %s --status Active", f.User, f.KeyID)})
	}
	return out
}

// Fix carries out plan, each action independently: one failure does not
// stop the others. It returns the plan with Done and Error filled.
func (a *Auditor) Fix(ctx context.Context, plan []FixAction) []FixAction {
	client := iam.NewFromConfig(a.Config)
	out := append([]FixAction(nil), plan...)
	for i := range out {
		if ctx.Err() != nil {
			out[i].Error = ctx.Err().Error()
			continue
		}
		_, err := client.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String(out[i].User),
			AccessKeyId: aws.String(out[i].KeyID), Status: iamtypes.StatusTypeInactive})
		if err != nil {
			out[i].Error = oneLine(err)
			continue
		}
		out[i].Done = true
	}
	return out
}
