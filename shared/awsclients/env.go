package awsclients

import (
	"context"
	"errors"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/smithy-go/logging"
)

// FromEnv is the SDK configuration from the variables Lambda sets for a function:
// the region (AWS_REGION, else AWS_DEFAULT_REGION), the execution role's credentials
// (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN), and the endpoint
// overrides AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE> (unless
// AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true), read as the SDK's config.LoadDefaultConfig
// reads them. `sam local invoke` and the local stack set the same variables.
//
// It is not config.LoadDefaultConfig because a function needs none of the rest of
// that chain (shared config files and profiles, SSO, STS web identity, instance
// metadata), and linking it adds STS, SSO, SSO OIDC and sign-in clients to every
// bootstrap and their initialisation to every cold start. Retries and the HTTP
// client are the SDK clients' own defaults, as they are under LoadDefaultConfig.
func FromEnv(context.Context) (aws.Config, error) {
	region := os.Getenv("AWS_REGION")
	if region == "" {
		region = os.Getenv("AWS_DEFAULT_REGION")
	}
	if region == "" {
		return aws.Config{}, errors.New("AWS_REGION is not set")
	}
	id, key := os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY")
	if id == "" || key == "" {
		return aws.Config{}, errors.New("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set: a function takes its role's credentials from the environment Lambda gives it")
	}
	cfg := aws.Config{
		Region:        region,
		Credentials:   credentials.NewStaticCredentialsProvider(id, key, os.Getenv("AWS_SESSION_TOKEN")), // fixed for the process: nothing to cache
		Logger:        logging.NewStandardLogger(os.Stderr),
		ConfigSources: []any{endpointsFromEnv{}},
	}
	if (endpointsFromEnv{}).ignored() {
		return cfg, nil
	}
	if v := os.Getenv("AWS_ENDPOINT_URL"); v != "" {
		cfg.BaseEndpoint = aws.String(v)
	}
	return cfg, nil
}

// endpointsFromEnv answers each SDK client's question for its endpoint override:
// every generated client asks the ConfigSources of its aws.Config through
// GetServiceBaseEndpoint(ctx, sdkID), where sdkID is the service's SDK id ("DynamoDB",
// "Secrets Manager", "SESv2"), and through GetIgnoreConfiguredEndpoints first.
type endpointsFromEnv struct{}

func (endpointsFromEnv) ignored() bool {
	return strings.EqualFold(os.Getenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"), "true")
}

// GetIgnoreConfiguredEndpoints reads AWS_IGNORE_CONFIGURED_ENDPOINT_URLS.
func (e endpointsFromEnv) GetIgnoreConfiguredEndpoints(context.Context) (bool, bool, error) {
	if os.Getenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS") == "" {
		return false, false, nil
	}
	return e.ignored(), true, nil
}

// GetServiceBaseEndpoint reads AWS_ENDPOINT_URL_<SDK ID in upper case, spaces as
// underscores>: AWS_ENDPOINT_URL_SECRETS_MANAGER for "Secrets Manager".
func (endpointsFromEnv) GetServiceBaseEndpoint(_ context.Context, sdkID string) (string, bool, error) {
	name := "AWS_ENDPOINT_URL_" + strings.ReplaceAll(strings.ToUpper(sdkID), " ", "_")
	if v := os.Getenv(name); v != "" {
		return v, true, nil
	}
	return "", false, nil
}
