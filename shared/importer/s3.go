package importer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// S3Objects is the import bucket in S3. The bucket encrypts with the stack's KMS key
// by default, so nothing here names a key.
type S3Objects struct {
	Client *s3.Client
}

// Open streams an object, checking its ETag when one is given.
func (o S3Objects) Open(ctx context.Context, bucket, key, etag string) (io.ReadCloser, string, map[string]string, error) {
	in := &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}
	if etag != "" {
		in.IfMatch = aws.String(`"` + strings.Trim(etag, `"`) + `"`)
	}
	out, err := o.Client.GetObject(ctx, in)
	if err != nil {
		var nsk *types.NoSuchKey
		var api smithy.APIError
		switch {
		case errors.As(err, &nsk), errors.As(err, &api) && api.ErrorCode() == "NotFound":
			return nil, "", nil, ErrNoObject
		case errors.As(err, &api) && api.ErrorCode() == "PreconditionFailed":
			return nil, "", nil, fmt.Errorf("the file was replaced while it was being imported: %w", err)
		}
		return nil, "", nil, err
	}
	meta := map[string]string{}
	for k, v := range out.Metadata {
		meta[strings.ToLower(k)] = v
	}
	return out.Body, strings.Trim(aws.ToString(out.ETag), `"`), meta, nil
}

// Delete removes an object.
func (o S3Objects) Delete(ctx context.Context, bucket, key string) error {
	_, err := o.Client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	return err
}

// PutReport writes an import's report (JSON, no token) beside the imports.
func (o S3Objects) PutReport(ctx context.Context, bucket, key string, body []byte) error {
	_, err := o.Client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key),
		Body: bytes.NewReader(body), ContentType: aws.String("application/json")})
	return err
}
