// Package importbucket is the import bucket in S3, through the SDK's S3 client: the
// importer's object source (importer.Objects), beneath the use case.
package importbucket

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/spapi-auth-keeper/keeper/shared/importer"
	"io"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

// NewClient builds the import bucket's client, the SDK's S3 client, from cfg's
// region, credentials, HTTP client and S3 endpoint override (AWS_ENDPOINT_URL_S3,
// else AWS_ENDPOINT_URL, as the SDK resolves them). An endpoint override is an
// S3-compatible service (an emulator): it has no per-bucket host names, so it is
// addressed by path. A configuration the client could never send with (no region, no
// credentials, an endpoint that is not an http(s) URL) fails here, at the cold start,
// not at the first import.
func NewClient(_ context.Context, cfg aws.Config, optFns ...func(*s3.Options)) (*s3.Client, error) {
	if cfg.Region == "" {
		return nil, errors.New("s3: the configuration names no region")
	}
	if cfg.Credentials == nil {
		return nil, errors.New("s3: the configuration has no credentials")
	}
	c := s3.NewFromConfig(cfg, append([]func(*s3.Options){func(o *s3.Options) {
		if o.BaseEndpoint != nil {
			o.UsePathStyle = true
		}
		// S3 returns no checksum for an object uploaded without one (an emulator never
		// does): the client then reads it unchecked, as before, without a plain-text
		// warning among the function's JSON log lines.
		o.DisableLogOutputChecksumValidationSkipped = true
	}}, optFns...)...)
	if e := aws.ToString(c.Options().BaseEndpoint); e != "" {
		u, err := url.Parse(e)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			return nil, fmt.Errorf("s3: endpoint %q: want http(s)://host[:port][/path]", e)
		}
	}
	return c, nil
}

// Objects is the import bucket in S3. The bucket encrypts with the stack's KMS key
// by default, so nothing here names a key.
type Objects struct {
	Client *s3.Client
}

// Open streams an object, checking its ETag when one is given.
func (o Objects) Open(ctx context.Context, bucket, key, etag string) (io.ReadCloser, string, map[string]string, error) {
	if err := checkObject(bucket, key); err != nil {
		return nil, "", nil, fmt.Errorf("s3 GetObject: %w", err)
	}
	in := &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}
	if etag != "" {
		// S3 answers 412 PreconditionFailed when the object's ETag is no longer this one.
		in.IfMatch = aws.String(`"` + strings.Trim(etag, `"`) + `"`)
	}
	out, err := o.Client.GetObject(ctx, in)
	if err != nil {
		var e smithy.APIError
		switch {
		case errors.As(err, &e) && (e.ErrorCode() == "NoSuchKey" || e.ErrorCode() == "NotFound"):
			return nil, "", nil, importer.ErrNoObject
		case errors.As(err, &e) && e.ErrorCode() == "PreconditionFailed":
			return nil, "", nil, fmt.Errorf("the file was replaced while it was being imported: %w", err)
		}
		return nil, "", nil, err
	}
	return out.Body, strings.Trim(aws.ToString(out.ETag), `"`), out.Metadata, nil
}

// Delete removes an object.
func (o Objects) Delete(ctx context.Context, bucket, key string) error {
	if err := checkObject(bucket, key); err != nil {
		return fmt.Errorf("s3 DeleteObject: %w", err)
	}
	_, err := o.Client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	return err
}

// PutReport writes an import's report (JSON, no token) beside the imports.
func (o Objects) PutReport(ctx context.Context, bucket, key string, body []byte) error {
	if err := checkObject(bucket, key); err != nil {
		return fmt.Errorf("s3 PutObject: %w", err)
	}
	_, err := o.Client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key),
		Body: bytes.NewReader(body), ContentLength: aws.Int64(int64(len(body))), ContentType: aws.String("application/json")})
	return err
}

// checkObject refuses what S3 could never have named (a continuation on the import
// queue is untrusted input): a bucket outside S3's legacy rules (1 to 255 letters,
// digits, '.', '-' and '_'; a '/', '@' or '#' would address something else), and a
// key that is empty or longer than S3's 1024 bytes.
func checkObject(bucket, key string) error {
	if bucket == "" || len(bucket) > 255 {
		return fmt.Errorf("bucket name %q: want 1 to 255 characters", bucket)
	}
	for i := 0; i < len(bucket); i++ {
		b := bucket[i]
		if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '-' || b == '.' || b == '_') {
			return fmt.Errorf("bucket name %q: only letters, digits, '.', '-' and '_'", bucket)
		}
	}
	if key == "" || len(key) > 1024 {
		return fmt.Errorf("an object key is 1 to 1024 bytes, got %d", len(key))
	}
	return nil
}
