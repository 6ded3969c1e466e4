package responder

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
)

// rotate creates the replacement key. CreateAccessKey is not idempotent:
// the SDK must not retry it (only a clock-skew rejection, which AWS never
// processed, is repeated), or a connection dropped after AWS created the
// key leaves a second key whose secret nobody saw. Before the call the
// user's keys are journalled; after a failed call, or on a re-run that
// finds the step started but unfinished, any key not in that list and not
// handed over is an orphan, and is deleted.
func (x *Execution) rotate(ctx context.Context, res *StepResult) error {
	client := iam.NewFromConfig(x.cfg())
	if prev, ok := x.j.Last(StepRotate); ok && prev.Status == StepStarted {
		n, err := x.deleteOrphans(ctx, client, x.f.KeysBeforeRotate)
		if err != nil {
			return fmt.Errorf("rotate: an earlier run started rotating at %s and did not finish; %w", prev.Started.Format(time.RFC3339), err)
		}
		if n > 0 {
			res.Detail = fmt.Sprintf("deleted %d orphaned key(s) of an interrupted rotation; ", n)
		}
	}
	before, err := x.listKeyIDs(ctx, client)
	if err != nil {
		return denied(err, StepRotate, "iam:ListAccessKeys", userARN(x.f.partition(), x.f.KeyAccount, x.f.UserName))
	}
	x.f.KeysBeforeRotate = before
	if err := x.j.Record(StepResult{ID: StepRotate, Status: StepStarted, Started: x.r.now()}, *x.f); err != nil {
		return err
	}
	out, err := client.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(x.f.UserName)},
		func(o *iam.Options) { o.Retryer = skewOnlyRetryer() })
	if err != nil {
		// The call may have reached AWS before the connection dropped.
		n, oerr := x.deleteOrphans(ctx, client, before)
		if oerr != nil {
			return fmt.Errorf("rotate: %v; and checking for a key created anyway failed: %w", err, oerr)
		}
		if n > 0 {
			return fmt.Errorf("rotate: the call failed after AWS created a key (%v); that key's secret was never seen, so it was deleted; re-run to rotate", errCode(err))
		}
		var le *iamtypes.LimitExceededException
		if errors.As(err, &le) {
			return &KeyLimitError{UserName: x.f.UserName, Keys: x.f.UserKeys}
		}
		return denied(err, StepRotate, "iam:CreateAccessKey", userARN(x.f.partition(), x.f.KeyAccount, x.f.UserName))
	}
	k := out.AccessKey
	nk := NewCredential(aws.ToString(k.AccessKeyId), aws.ToString(k.SecretAccessKey), "")
	// The key is handed over by the caller before the step is journalled
	// done (HandOver), so a crash in between leaves "started" and the
	// re-run deletes the key whose secret may be lost. A hand-over that
	// fails deletes the key at once: nobody would ever hold its secret.
	if x.r.HandOver != nil {
		if err := x.r.HandOver(nk); err != nil {
			nk.Wipe()
			_, derr := client.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String(x.f.UserName), AccessKeyId: aws.String(nk.KeyID)})
			if derr != nil {
				return fmt.Errorf("rotate: store the new key %s: %w; deleting it failed too (%v): delete it by hand (aws iam delete-access-key --user-name %s --access-key-id %s)", nk.KeyID, err, errCode(derr), x.f.UserName, nk.KeyID)
			}
			x.f.OrphansDeleted = append(x.f.OrphansDeleted, nk.KeyID)
			return fmt.Errorf("rotate: store the new key %s: %w; the key was deleted, fix this and re-run", nk.KeyID, err)
		}
	}
	x.newKey = &nk
	x.f.NewKeyID = nk.KeyID
	res.Detail += "new key " + nk.KeyID + " for user " + x.f.UserName
	if slices.ContainsFunc(x.f.UserPolicies, isQuarantineARN) {
		res.Detail += "; the user still carries the quarantine policy, which denies the new key S3 reads, ECR, PassRole and more: release it with --release-quarantine once a re-check shows nothing live"
	}
	return nil
}

func (x *Execution) listKeyIDs(ctx context.Context, client *iam.Client) ([]string, error) {
	keys, err := client.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String(x.f.UserName)})
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, k := range keys.AccessKeyMetadata {
		ids = append(ids, aws.ToString(k.AccessKeyId))
	}
	return ids, nil
}

// deleteOrphans deletes the user's keys that are not in before and were
// not handed over: created by a rotation whose answer was lost.
func (x *Execution) deleteOrphans(ctx context.Context, client *iam.Client, before []string) (int, error) {
	now, err := x.listKeyIDs(ctx, client)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, id := range now {
		if slices.Contains(before, id) || id == x.f.NewKeyID || id == x.c.KeyID {
			continue
		}
		if _, err := client.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String(x.f.UserName), AccessKeyId: aws.String(id)}); err != nil {
			return n, fmt.Errorf("delete orphaned key %s: %w", id, err)
		}
		x.f.OrphansDeleted = append(x.f.OrphansDeleted, id)
		n++
	}
	if n > 0 {
		x.f.UserKeys = slices.DeleteFunc(x.f.UserKeys, func(s string) bool { return slices.Contains(x.f.OrphansDeleted, strings.Fields(s)[0]) })
	}
	return n, nil
}
