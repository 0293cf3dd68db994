// Package awsclients builds the AWS SDK clients once per process. Endpoints come from
// the SDK's own AWS_ENDPOINT_URL_<SERVICE> variables, so the same binary talks to AWS
// in a Lambda and to the emulators in a local run.
package awsclients

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// Clients are the SDK clients the functions use.
type Clients struct {
	Config   aws.Config
	DynamoDB *dynamodb.Client
	Secrets  *secretsmanager.Client
	SES      *sesv2.Client
	SQS      *sqs.Client
	KMS      *kms.Client // seals a refresh token that must wait outside Secrets Manager
}

// FromConfig builds every client from cfg (tests pass an emulator config).
func FromConfig(cfg aws.Config) Clients {
	return Clients{
		Config:   cfg,
		DynamoDB: dynamodb.NewFromConfig(cfg),
		Secrets:  secretsmanager.NewFromConfig(cfg),
		SES:      sesv2.NewFromConfig(cfg),
		SQS:      sqs.NewFromConfig(cfg),
		KMS:      kms.NewFromConfig(cfg),
	}
}

// Load reads the default configuration chain (the Lambda role's credentials in AWS).
func Load(ctx context.Context) (Clients, error) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return Clients{}, fmt.Errorf("load AWS configuration: %w", err)
	}
	return FromConfig(cfg), nil
}
