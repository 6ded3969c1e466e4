package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/keyward/keyward/responder"
)

// doctorDeployOptions check an organisation-wide deployment (deploy/aws)
// with --aws: that the responder role of each member account can be
// assumed, and that its policy has every action this version's step table
// needs.
type doctorDeployOptions struct {
	assumeRole string
	members    []string
}

const doctorDeployUsage = `
Deployment (deploy/aws), with --aws:
  keyward doctor --aws --assume-role 'arn:aws:iam::{account}:role/KeywardResponder' --member-accounts 444455556666,...

For each member account, assumes the responder role as the Lambda would
and reads its keyward-runbook policy (iam:GetRolePolicy): FAIL if the role
cannot be assumed or lacks an action this keyward's step table needs (a
StackSet not updated after an upgrade), warn on actions beyond it. Not
checked (no emulator for them, and they need CloudFormation, Lambda and
EventBridge read access): the stack's status, the EventBridge rule, the
function's code version, the bucket's encryption and the topic's
subscriptions; 'aws cloudformation describe-stacks' shows those.
`

func (o *doctorDeployOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.assumeRole, "assume-role", "", "with --aws, the responder role `TEMPLATE` of the deployment")
	fs.StringSliceVar(&o.members, "member-accounts", nil, "with --aws, member `ACCOUNTS` whose responder role to check")
}

// checkDeployment checks each member account's responder role.
func (o *doctorDeployOptions) checkDeployment(ctx context.Context, profile string) []check {
	if o.assumeRole == "" && len(o.members) == 0 {
		return nil
	}
	tmpl := responder.RoleTemplate(o.assumeRole)
	if err := tmpl.Validate(); err != nil || len(o.members) == 0 {
		return []check{{checkFail, "deployment", "give --assume-role TEMPLATE and --member-accounts together",
			"for example --assume-role 'arn:aws:iam::{account}:role/KeywardResponder' --member-accounts 444455556666"}}
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cfg, err := loadOperatorConfig(ctx, respondOptions{profile: profile})
	if err != nil {
		return []check{{checkFail, "deployment", err.Error(), ""}}
	}
	var out []check
	for _, acct := range o.members {
		name := "responder role " + acct
		d, err := responder.CheckResponderRole(ctx, cfg, tmpl.For(strings.TrimSpace(acct)))
		switch {
		case err != nil:
			out = append(out, check{checkFail, name, err.Error(),
				"deploy deploy/aws/responder-role.template.json to this account (StackSet), trusting the function's role"})
		case len(d.Missing) > 0:
			out = append(out, check{checkFail, name, "the role lacks " + strings.Join(d.Missing, ", "),
				"update the StackSet with this keyward's deploy/aws/responder-role.template.json"})
		case len(d.Extra) > 0:
			out = append(out, check{checkWarn, name, "the role may do more than keyward needs: " + strings.Join(d.Extra, ", "),
				"update the StackSet with this keyward's deploy/aws/responder-role.template.json"})
		default:
			out = append(out, check{checkOK, name, fmt.Sprintf("%s can be assumed and allows exactly the step table's %d actions", d.RoleARN, len(responder.ResponderPolicy(responder.Options{}).Actions())), ""})
		}
	}
	return out
}
