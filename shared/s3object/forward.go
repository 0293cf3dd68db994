// Package s3object only forwards to the import bucket's client, the SDK's S3 client
// as shared/importer builds it, for the import function's wiring until that calls
// importer.NewS3FromConfig itself; it then goes.
package s3object

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/spapi-auth-keeper/keeper/shared/importer"
)

// Client is the SDK's S3 client.
type Client = s3.Client

// NewFromConfig is importer.NewS3FromConfig.
func NewFromConfig(ctx context.Context, cfg aws.Config) (*Client, error) {
	return importer.NewS3FromConfig(ctx, cfg)
}
