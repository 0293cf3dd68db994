// Package testenv gives tests the project's real parts: the emulators the production
// clients talk to over HTTP (DynamoDB Local, aws-ses-v2-local, the SQS emulator, the
// project's Secrets Manager emulator). Emulators named by the SDK's own
// AWS_ENDPOINT_URL_<SERVICE> variables are used as they are (make test starts one set
// for the whole run); otherwise a test binary starts its own.
package testenv

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// Region is the AWS region every emulator is addressed in.
const Region = "us-east-1"

// Config is an SDK config with static credentials for emulators: no credential chain,
// no shared config files, so a developer's own AWS profile is never touched.
func Config() aws.Config {
	return aws.Config{
		Region:      Region,
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""),
	}
}

// Context is a context for setup calls outside a test's own.
func Context() context.Context { return context.Background() }
