package testenv

import (
	"context"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// S3 is an S3 emulator that speaks the REST protocol (gofakes3 in this process,
// shared by the test binary), so the production S3 client runs against it unchanged.
// Path-style addressing: the emulator has no per-bucket host names.

var (
	s3Once sync.Once
	s3URL  string
)

// S3Endpoint is the emulator's base URL (AWS_ENDPOINT_URL_S3 for code that builds its
// own client).
func S3Endpoint(t testing.TB) string {
	t.Helper()
	s3Once.Do(func() {
		backend := s3mem.New()
		s3URL = httptest.NewServer(ifMatch(backend, gofakes3.New(backend).Server())).URL
	})
	return s3URL
}

// S3 returns a client of the emulator.
func S3(t testing.TB) *s3.Client {
	t.Helper()
	url := S3Endpoint(t)
	return s3.NewFromConfig(Config(), func(o *s3.Options) {
		o.BaseEndpoint = aws.String(url)
		o.UsePathStyle = true
	})
}

// S3Objects is a client of the emulator as the import function builds its own for
// an endpoint override (importer.NewS3FromConfig): the SDK's S3 client, by path.
// Objects are shared with S3(t)'s.
func S3Objects(t testing.TB) *s3.Client {
	t.Helper()
	return S3(t)
}

// NewBucket creates a bucket for this test alone and returns its name.
func NewBucket(t testing.TB) string {
	t.Helper()
	name := strings.ReplaceAll(Prefix(t), "_", "-") + "-imports"
	if _, err := S3(t).CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("testenv: create bucket: %v", err)
	}
	return name
}
