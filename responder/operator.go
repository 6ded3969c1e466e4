package responder

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// OperatorSource says where the SDK's default chain would find the
// operator's credentials. keyward doctor reports it without contacting AWS:
// resolving SSO, role or process credentials can itself call AWS (or a
// program), which a health check must not do unasked.
type OperatorSource struct {
	// Kind is one of the Source* constants.
	Kind string
	// Profile is the shared-config profile involved, if any.
	Profile string
	// Detail names what the source points at: a role ARN, an SSO start
	// URL, a process, a token file. Never a secret.
	Detail string
}

// Credential sources, in the order the SDK's default chain tries them.
const (
	SourceEnvironment       = "environment"
	SourceStaticProfile     = "static keys in a profile"
	SourceSSO               = "AWS IAM Identity Center (SSO)"
	SourceAssumeRole        = "assumed role"
	SourceCredentialProcess = "credential process"
	SourceWebIdentity       = "web identity token"
	SourceContainer         = "container credentials endpoint"
	SourceInstance          = "EC2 instance metadata, if this runs on EC2"
)

// DescribeOperator reads the environment and the shared config and
// credentials files, and says where the default chain would get the
// operator's credentials from. It makes no network call. An explicit profile
// that does not exist is an error; finding nothing at all is not, since the
// chain would still try instance metadata.
func DescribeOperator(ctx context.Context, profile string) (OperatorSource, error) {
	env, err := config.NewEnvConfig()
	if err != nil {
		return OperatorSource{}, fmt.Errorf("read AWS environment: %w", err)
	}
	if profile == "" && env.Credentials.HasKeys() {
		return OperatorSource{Kind: SourceEnvironment, Detail: "AWS_ACCESS_KEY_ID " + env.Credentials.AccessKeyID}, nil
	}
	explicit := profile != "" || env.SharedConfigProfile != ""
	if profile == "" {
		profile = env.SharedConfigProfile
	}
	if profile == "" {
		profile = "default"
	}
	sc, err := config.LoadSharedConfigProfile(ctx, profile)
	var missing config.SharedConfigProfileNotExistError
	switch {
	case errors.As(err, &missing) && explicit:
		return OperatorSource{}, fmt.Errorf("profile %q is not in the shared config or credentials file", profile)
	case err != nil && !errors.As(err, &missing):
		return OperatorSource{}, fmt.Errorf("read AWS profile %q: %w", profile, err)
	case err == nil:
		switch {
		case sc.RoleARN != "":
			return OperatorSource{Kind: SourceAssumeRole, Profile: profile, Detail: sc.RoleARN}, nil
		case sc.SSOSession != nil || sc.SSOStartURL != "":
			url := sc.SSOStartURL
			if sc.SSOSession != nil {
				url = sc.SSOSession.SSOStartURL
			}
			return OperatorSource{Kind: SourceSSO, Profile: profile, Detail: url}, nil
		case sc.CredentialProcess != "":
			return OperatorSource{Kind: SourceCredentialProcess, Profile: profile, Detail: sc.CredentialProcess}, nil
		case sc.WebIdentityTokenFile != "":
			return OperatorSource{Kind: SourceWebIdentity, Profile: profile, Detail: sc.WebIdentityTokenFile}, nil
		case sc.Credentials.HasKeys():
			return OperatorSource{Kind: SourceStaticProfile, Profile: profile, Detail: "aws_access_key_id " + sc.Credentials.AccessKeyID}, nil
		}
	}
	if env.WebIdentityTokenFilePath != "" {
		return OperatorSource{Kind: SourceWebIdentity, Detail: env.WebIdentityTokenFilePath}, nil
	}
	if env.ContainerCredentialsEndpoint != "" || env.ContainerCredentialsRelativePath != "" {
		return OperatorSource{Kind: SourceContainer}, nil
	}
	if os.Getenv("AWS_EC2_METADATA_DISABLED") == "true" {
		return OperatorSource{}, nil
	}
	return OperatorSource{Kind: SourceInstance}, nil
}

// OperatorIdentity asks STS who the operator's credentials belong to. It
// is the one check that contacts AWS, and keyward doctor makes it only when
// asked.
func OperatorIdentity(ctx context.Context, cfg aws.Config) (account, arn string, err error) {
	out, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return "", "", fmt.Errorf("get caller identity: %w", err)
	}
	return aws.ToString(out.Account), aws.ToString(out.Arn), nil
}
