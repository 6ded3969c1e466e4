package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sns"
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
	bucket     string
	topic      string
}

const doctorDeployUsage = `
Deployment (deploy/aws), with --aws:
  keyward doctor --aws --assume-role 'arn:aws:iam::{account}:role/KeywardResponder' --member-accounts 444455556666,...
  keyward doctor --aws --report-bucket NAME --topic ARN   (the stack's outputs)

--report-bucket and --topic check that the stack's bucket and topic exist
and the operator can reach them (s3:HeadBucket, sns:GetTopicAttributes).
For each member account, assumes the responder role as the Lambda would
and reads its keyward-runbook policy (iam:GetRolePolicy): FAIL if the role
cannot be assumed or lacks an action this keyward's step table needs (a
StackSet not updated after an upgrade), warn on actions beyond it. Not
checked (no emulator for them, and they need CloudFormation, Lambda and
EventBridge read access): the stack's status, the EventBridge rule, the
function's code version, the bucket's encryption and public-access block,
and the topic's subscriptions; 'aws cloudformation describe-stacks' shows
those.
`

func (o *doctorDeployOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.assumeRole, "assume-role", "", "with --aws, the responder role `TEMPLATE` of the deployment")
	fs.StringSliceVar(&o.members, "member-accounts", nil, "with --aws, member `ACCOUNTS` whose responder role to check")
	fs.StringVar(&o.bucket, "report-bucket", "", "with --aws, the deployment's report bucket `NAME` (a stack output)")
	fs.StringVar(&o.topic, "topic", "", "with --aws, the deployment's SNS topic `ARN` (a stack output)")
}

// used reports whether any deployment flag was given.
func (o *doctorDeployOptions) used() bool {
	return o.assumeRole != "" || len(o.members) > 0 || o.bucket != "" || o.topic != ""
}

// checkResources checks the stack's bucket and topic exist and can be
// reached with the operator's credentials.
func (o *doctorDeployOptions) checkResources(ctx context.Context, cfg aws.Config) []check {
	var out []check
	if o.bucket != "" {
		// A custom endpoint (an emulator, a VPC endpoint by URL) needs
		// path-style addressing: the bucket cannot be a host name there.
		pathStyle := cfg.BaseEndpoint != nil
		_, err := s3.NewFromConfig(cfg, func(so *s3.Options) { so.UsePathStyle = pathStyle }).HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(o.bucket)})
		if err != nil {
			out = append(out, check{checkFail, "report bucket", o.bucket + ": " + err.Error(), "pass the stack's ReportBucketName output; the function writes incident reports there"})
		} else {
			out = append(out, check{checkOK, "report bucket", o.bucket + " exists and can be reached", ""})
		}
	}
	if o.topic != "" {
		_, err := sns.NewFromConfig(cfg).GetTopicAttributes(ctx, &sns.GetTopicAttributesInput{TopicArn: aws.String(o.topic)})
		if err != nil {
			out = append(out, check{checkFail, "topic", o.topic + ": " + err.Error(), "pass the stack's NotificationTopic output; the function publishes its summaries there"})
		} else {
			out = append(out, check{checkOK, "topic", o.topic + " exists and can be reached", ""})
		}
	}
	return out
}

// checkDeployment checks each member account's responder role.
func (o *doctorDeployOptions) checkDeployment(ctx context.Context, profile string) []check {
	if !o.used() {
		return nil
	}
	tmpl := responder.RoleTemplate(o.assumeRole)
	if (o.assumeRole != "" || len(o.members) > 0) && (tmpl.Validate() != nil || len(o.members) == 0) {
		return []check{{checkFail, "deployment", "give --assume-role TEMPLATE and --member-accounts together",
			"for example --assume-role 'arn:aws:iam::{account}:role/KeywardResponder' --member-accounts 444455556666"}}
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cfg, err := loadOperatorConfig(ctx, respondOptions{profile: profile})
	if err != nil {
		return []check{{checkFail, "deployment", err.Error(), ""}}
	}
	out := o.checkResources(ctx, cfg)
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
		case len(d.Denied) > 0:
			out = append(out, check{checkFail, name, "the role's policy denies " + strings.Join(d.Denied, ", ") + " in a Deny statement",
				"remove the Deny from the role's " + responder.ResponderPolicyName + " policy, or update the StackSet with this keyward's deploy/aws/responder-role.template.json"})
		case len(d.Extra) > 0:
			out = append(out, check{checkWarn, name, "the role may do more than keyward needs: " + strings.Join(d.Extra, ", "),
				"update the StackSet with this keyward's deploy/aws/responder-role.template.json"})
		default:
			out = append(out, check{checkOK, name, fmt.Sprintf("%s can be assumed and allows exactly the step table's %d actions", d.RoleARN, len(responder.ResponderPolicy(responder.Options{}).Actions())), ""})
		}
	}
	return out
}
