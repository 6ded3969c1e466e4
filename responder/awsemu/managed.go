package awsemu

import "strings"

// quarantineV3Actions are the actions AWSCompromisedKeyQuarantineV3 denies,
// as its default version v2 (2024-10-02) lists them in the AWS Managed
// Policy Reference
// (https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AWSCompromisedKeyQuarantineV3.html).
// AWSCompromisedKeyQuarantineV2's default version v5 of the same day lists
// the same actions in the same order. The full lists were read from a public
// mirror of AWS's managed policies (zoph-io/IAMTrail, policies/…V2 and …V3);
// AWS's reference pages agree as far as could be read.
var quarantineV3Actions = []string{
	"cloudtrail:LookupEvents",
	"ec2:RequestSpotInstances", "ec2:RunInstances", "ec2:StartInstances",
	"iam:AddUserToGroup", "iam:AttachGroupPolicy", "iam:AttachRolePolicy", "iam:AttachUserPolicy",
	"iam:ChangePassword", "iam:CreateAccessKey", "iam:CreateInstanceProfile", "iam:CreateLoginProfile",
	"iam:CreatePolicyVersion", "iam:CreateRole", "iam:CreateUser", "iam:DetachUserPolicy",
	"iam:PassRole", "iam:PutGroupPolicy", "iam:PutRolePolicy", "iam:PutUserPermissionsBoundary",
	"iam:PutUserPolicy", "iam:SetDefaultPolicyVersion", "iam:UpdateAccessKey",
	"iam:UpdateAccountPasswordPolicy", "iam:UpdateAssumeRolePolicy", "iam:UpdateLoginProfile",
	"iam:UpdateUser",
	"lambda:AddLayerVersionPermission", "lambda:AddPermission", "lambda:CreateFunction",
	"lambda:GetPolicy", "lambda:ListTags", "lambda:PutProvisionedConcurrencyConfig",
	"lambda:TagResource", "lambda:UntagResource", "lambda:UpdateFunctionCode",
	"lightsail:Create*", "lightsail:Delete*", "lightsail:DownloadDefaultKeyPair",
	"lightsail:GetInstanceAccessDetails", "lightsail:Start*", "lightsail:Update*",
	"organizations:CreateAccount", "organizations:CreateOrganization",
	"organizations:InviteAccountToOrganization",
	"s3:DeleteBucket", "s3:DeleteObject", "s3:DeleteObjectVersion", "s3:PutLifecycleConfiguration",
	"s3:PutBucketAcl", "s3:PutBucketOwnershipControls", "s3:DeleteBucketPolicy",
	"s3:ObjectOwnerOverrideToBucketOwner", "s3:PutAccountPublicAccessBlock", "s3:PutBucketPolicy",
	"s3:ListAllMyBuckets",
	"ec2:PurchaseReservedInstancesOffering", "ec2:AcceptReservedInstancesExchangeQuote",
	"ec2:CreateReservedInstancesListing",
	"savingsplans:CreateSavingsPlan",
	"ecs:CreateService", "ecs:CreateCluster", "ecs:RegisterTaskDefinition",
	"ecr:GetAuthorizationToken",
	"bedrock:CreateModelInvocationJob", "bedrock:InvokeModelWithResponseStream",
	"bedrock:CreateFoundationModelAgreement", "bedrock:PutFoundationModelEntitlement",
	"bedrock:InvokeModel",
	"s3:CreateBucket", "s3:PutBucketCors", "s3:GetObject", "s3:ListBucket",
	"sagemaker:CreateEndpointConfig", "sagemaker:CreateProcessingJob",
	"ses:GetSendQuota", "ses:ListIdentities",
	"sts:GetSessionToken", "sts:GetFederationToken",
	"amplify:CreateDeployment", "amplify:CreateBackendEnvironment",
	"codebuild:CreateProject", "glue:CreateJob",
	"iam:DeleteRole", "iam:DeleteAccessKey", "iam:ListUsers",
	"lambda:GetEventSourceMapping", "sns:GetSMSAttributes", "mediapackagev2:CreateChannel",
}

// quarantineV4Actions: AWSCompromisedKeyQuarantineV4 (created 2026-11-06,
// default version v2) is published, but only the head of its document
// could be read here: it opens with cloudtrail:LookupEvents, the three EC2
// launch actions and then the reserved-instance purchases, i.e. V3's list
// regrouped. The rest is taken from V3 unchanged, so V4 denies at least
// what V3 denies; anything V4 added is missing. Replace this with the
// published text when it can be read in full.
var quarantineV4Actions = func() []string {
	head := []string{"cloudtrail:LookupEvents", "ec2:RequestSpotInstances", "ec2:RunInstances",
		"ec2:StartInstances", "ec2:PurchaseReservedInstancesOffering",
		"ec2:AcceptReservedInstancesExchangeQuote", "ec2:CreateReservedInstancesListing"}
	out := append([]string(nil), head...)
	for _, a := range quarantineV3Actions {
		dup := false
		for _, h := range head {
			dup = dup || h == a
		}
		if !dup {
			out = append(out, a)
		}
	}
	return out
}()

// denyDoc is a policy denying actions on every resource.
func denyDoc(actions []string) string {
	return `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":["` +
		strings.Join(actions, `","`) + `"],"Resource":["*"]}]}`
}

func allowDoc(actions ...string) string {
	return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["` +
		strings.Join(actions, `","`) + `"],"Resource":"*"}]}`
}

// managedPolicies are the AWS managed policies the emulator knows, keyed by
// ARN in partition. The quarantine policies carry their published action
// lists; the others are abridged to what their names promise, enough for a
// test to fill a user's managed-policy quota with real names.
func managedPolicies(partition string, quarantine bool) map[string]string {
	docs := map[string]string{
		"AdministratorAccess":          `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`,
		"PowerUserAccess":              `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotAction":["iam:*","organizations:*","account:*"],"Resource":"*"}]}`,
		"ReadOnlyAccess":               allowDoc("*:Get*", "*:List*", "*:Describe*", "cloudtrail:LookupEvents"),
		"ViewOnlyAccess":               allowDoc("*:List*", "*:Describe*"),
		"SecurityAudit":                allowDoc("*:Get*", "*:List*", "*:Describe*"),
		"IAMFullAccess":                allowDoc("iam:*"),
		"IAMReadOnlyAccess":            allowDoc("iam:Get*", "iam:List*", "iam:GenerateCredentialReport", "iam:GenerateServiceLastAccessedDetails"),
		"IAMUserChangePassword":        allowDoc("iam:ChangePassword", "iam:GetAccountPasswordPolicy"),
		"AmazonS3FullAccess":           allowDoc("s3:*"),
		"AmazonS3ReadOnlyAccess":       allowDoc("s3:Get*", "s3:List*"),
		"AmazonEC2FullAccess":          allowDoc("ec2:*"),
		"AmazonEC2ReadOnlyAccess":      allowDoc("ec2:Describe*"),
		"AmazonSNSFullAccess":          allowDoc("sns:*"),
		"AWSCloudTrail_ReadOnlyAccess": allowDoc("cloudtrail:Get*", "cloudtrail:Describe*", "cloudtrail:List*", "cloudtrail:LookupEvents"),
		"AWSLambda_FullAccess":         allowDoc("lambda:*"),
	}
	if quarantine {
		docs["AWSCompromisedKeyQuarantineV2"] = denyDoc(quarantineV3Actions)
		docs["AWSCompromisedKeyQuarantineV3"] = denyDoc(quarantineV3Actions)
		docs["AWSCompromisedKeyQuarantineV4"] = denyDoc(quarantineV4Actions)
	}
	out := make(map[string]string, len(docs))
	for name, d := range docs {
		out["arn:"+partition+":iam::aws:policy/"+name] = d
	}
	return out
}

// ManagedPolicyARN returns the ARN of the AWS managed policy name in the
// emulator's partition, e.g. arn:aws-us-gov:iam::aws:policy/ReadOnlyAccess.
func (s *Server) ManagedPolicyARN(name string) string {
	return "arn:" + s.partition + ":iam::aws:policy/" + name
}

// policyDoc returns the default version of a managed policy, AWS's or the
// account's, or "" when there is none. The caller holds s.mu.
func (s *Server) policyDoc(arn string) string {
	if d, ok := s.managed[arn]; ok {
		return d
	}
	if p, ok := s.policies[arn]; ok {
		return p.versions[p.defaultV]
	}
	return ""
}

// policyName is the last segment of a policy ARN.
func policyName(arn string) string {
	return arn[strings.LastIndex(arn, "/")+1:]
}

// inlineChars is the size IAM counts against the inline-policy quota: all
// of a principal's inline documents, with name's replaced by doc, white
// space not counted.
func inlineChars(inline map[string]string, name, doc string) int {
	n := 0
	count := func(d string) {
		for _, r := range d {
			if r != ' ' && r != '\t' && r != '\n' && r != '\r' {
				n++
			}
		}
	}
	for k, d := range inline {
		if k != name {
			count(d)
		}
	}
	count(doc)
	return n
}
