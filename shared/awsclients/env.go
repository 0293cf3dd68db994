package awsclients

import (
	"context"
	"errors"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
)

// FromEnv is the SDK's default configuration (config.LoadDefaultConfig): in Lambda,
// the region (AWS_REGION) and the execution role's credentials from the variables
// Lambda sets; on a workstation, a profile or SSO as well. Endpoints come from the
// SDK's own AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE> (unless
// AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true), which `sam local invoke`, the tests and
// the local stack set to reach the emulators.
//
// A configuration without a region fails here, at the function's start, rather than
// at its first call.
func FromEnv(ctx context.Context) (aws.Config, error) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return aws.Config{}, err
	}
	if cfg.Region == "" {
		return aws.Config{}, errors.New("AWS_REGION is not set")
	}
	return cfg, nil
}
