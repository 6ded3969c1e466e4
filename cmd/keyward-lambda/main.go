// Command keyward-lambda is keyward's responder as an AWS Lambda function:
// EventBridge invokes it with the AWS Health event AWS_RISK_CREDENTIALS_EXPOSED,
// and it runs the same step table as 'keyward respond --health-event',
// writes the incident report to S3 and publishes a redacted summary to SNS.
// deploy/aws holds the template that deploys it.
//
// Configuration comes from the function's environment (see configFromEnv);
// credentials from the execution role, through the SDK's default chain.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"
)

func main() {
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		fmt.Fprintf(os.Stderr, "keyward-lambda: error: load AWS configuration: %v\n", err)
		os.Exit(2)
	}
	h, err := configFromEnv(os.Getenv, cfg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "keyward-lambda: error: %v\n", err)
		os.Exit(2)
	}
	lambda.Start(h.Handle)
}
