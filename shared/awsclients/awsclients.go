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

// Service builds one SDK client into Clients from its Config. A function's main names
// the services it uses, so that only their clients are built at a cold start, and the
// constructors of the others (their endpoint rules, serializers, middleware) are not
// linked into its binary.
type Service func(*Clients)

// DynamoDB builds the DynamoDB client.
func DynamoDB(c *Clients) { c.DynamoDB = dynamodb.NewFromConfig(c.Config) }

// SecretsManager builds the Secrets Manager client.
func SecretsManager(c *Clients) { c.Secrets = secretsmanager.NewFromConfig(c.Config) }

// SESv2 builds the SES v2 client.
func SESv2(c *Clients) { c.SES = sesv2.NewFromConfig(c.Config) }

// SQS builds the SQS client.
func SQS(c *Clients) { c.SQS = sqs.NewFromConfig(c.Config) }

// KMS builds the KMS client (the callback parks, the refresh sweep unparks tokens).
func KMS(c *Clients) { c.KMS = kms.NewFromConfig(c.Config) }

// Load reads the default configuration chain (the Lambda role's credentials in AWS)
// and builds the clients of services, and only those.
func Load(ctx context.Context, services ...Service) (Clients, error) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return Clients{}, fmt.Errorf("load AWS configuration: %w", err)
	}
	c := Clients{Config: cfg}
	for _, s := range services {
		s(&c)
	}
	return c, nil
}
