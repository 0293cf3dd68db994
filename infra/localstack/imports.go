package localstack

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// The import bucket of the local stack: an S3 emulator (gofakes3, in this process)
// that the import function reaches through AWS_ENDPOINT_URL_S3 with path-style
// addressing. It does not send S3 event notifications: a file put there is imported
// by invoking ImporterFunction with an S3 event (events/import-object-created.json),
// or with keeperctl import against the stack directly.

// EnvS3 is the SDK's S3 endpoint variable.
const EnvS3 = "AWS_ENDPOINT_URL_S3"

// SampleImportBucket and SampleImportKey are what events/import-object-created.json
// names; SampleImportConnection is the authorization its file imports.
const (
	SampleImportBucket     = "spapi-keeper-imports-example"
	SampleImportKey        = "imports/sellers.csv"
	SampleImportConnection = "sample-import"
	sampleImportSeller     = "A2SAMPLEIMPORT"
)

func (s *Stack) startS3() error {
	ln, err := listenLocal(&s.S3URL)
	if err != nil {
		return err
	}
	s.serve(ln, gofakes3.New(s3mem.New()).Server())
	return nil
}

// S3Client is a client of the stack's S3 emulator.
func (s *Stack) S3Client() *s3.Client {
	return s3.NewFromConfig(StaticConfig(), func(o *s3.Options) {
		o.BaseEndpoint = aws.String(s.S3URL)
		o.UsePathStyle = true
	})
}

// seedImport creates the sample's bucket and puts the file it names: one seller the
// simulator knows, without a grant date (so it is imported with an unknown expiry).
func (s *Stack) seedImport(ctx context.Context) error {
	return putSampleImport(ctx, s.S3Client(), s.sim.IssueRefreshToken(sampleImportSeller))
}

// putSampleImport creates the sample's bucket if it is missing and puts the file,
// whose one row carries token.
func putSampleImport(ctx context.Context, c *s3.Client, token string) error {
	if _, err := c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(SampleImportBucket)}); err != nil {
		if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(SampleImportBucket)}); err != nil {
			return fmt.Errorf("seed the import bucket: %w", err)
		}
	}
	file := "connectionId,region,refreshToken,contactEmail\n" + SampleImportConnection + ",eu," + token + ",imported@demo-acme.example\n"
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(SampleImportBucket), Key: aws.String(SampleImportKey),
		Body: strings.NewReader(file)}); err != nil {
		return fmt.Errorf("seed the sample import file: %w", err)
	}
	return nil
}
