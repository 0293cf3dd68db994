// Package awsclients builds the AWS SDK configuration and the clients nearly every
// function uses, once per process. Endpoints come from the SDK's own
// AWS_ENDPOINT_URL_<SERVICE> variables, so the same binary talks to AWS in a Lambda
// and to the emulators in a local run.
//
// It holds only the DynamoDB and Secrets Manager clients: a function that also uses
// SQS, SES, KMS, S3 or EventBridge builds that client from Clients.Config in its own
// main.
package awsclients

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// Clients are the configuration and the SDK clients most functions use.
type Clients struct {
	Config   aws.Config
	DynamoDB *dynamodb.Client
	Secrets  *secretsmanager.Client
}

// Service builds one SDK client into Clients from its Config. A function's main names
// the services it uses, so that only their clients are built at a cold start.
type Service func(*Clients)

// DynamoDB builds the DynamoDB client.
func DynamoDB(c *Clients) { c.DynamoDB = dynamodb.NewFromConfig(c.Config) }

// SecretsManager builds the Secrets Manager client.
func SecretsManager(c *Clients) { c.Secrets = secretsmanager.NewFromConfig(c.Config) }

// Load reads the SDK's default configuration (FromEnv) and builds the clients of
// services, and only those.
func Load(ctx context.Context, services ...Service) (Clients, error) {
	cfg, err := FromEnv(ctx)
	if err != nil {
		return Clients{}, fmt.Errorf("load AWS configuration: %w", err)
	}
	c := Clients{Config: cfg}
	for _, s := range services {
		s(&c)
	}
	return c, nil
}
