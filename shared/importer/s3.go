package importer

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spapi-auth-keeper/keeper/shared/s3object"
)

// S3Objects is the import bucket in S3. The bucket encrypts with the stack's KMS key
// by default, so nothing here names a key.
type S3Objects struct {
	Client *s3object.Client
}

// Open streams an object, checking its ETag when one is given.
func (o S3Objects) Open(ctx context.Context, bucket, key, etag string) (io.ReadCloser, string, map[string]string, error) {
	obj, err := o.Client.GetObject(ctx, bucket, key, etag)
	if err != nil {
		var e *s3object.Error
		switch {
		case errors.As(err, &e) && (e.Code == "NoSuchKey" || e.Code == "NotFound"):
			return nil, "", nil, ErrNoObject
		case errors.As(err, &e) && e.Code == "PreconditionFailed":
			return nil, "", nil, fmt.Errorf("the file was replaced while it was being imported: %w", err)
		}
		return nil, "", nil, err
	}
	return obj.Body, obj.ETag, obj.Metadata, nil
}

// Delete removes an object.
func (o S3Objects) Delete(ctx context.Context, bucket, key string) error {
	return o.Client.DeleteObject(ctx, bucket, key)
}

// PutReport writes an import's report (JSON, no token) beside the imports.
func (o S3Objects) PutReport(ctx context.Context, bucket, key string, body []byte) error {
	return o.Client.PutObject(ctx, bucket, key, body, "application/json")
}
