package s3object_test

import (
	"context"
	"io"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/spapi-auth-keeper/keeper/shared/s3object"
)

// capture answers every request with an empty 200 and keeps the last one sent.
type capture struct{ req *http.Request }

func (c *capture) Do(r *http.Request) (*http.Response, error) {
	c.req = r
	return &http.Response{StatusCode: http.StatusOK, Header: http.Header{"Etag": {`"0123"`}}, Body: io.NopCloser(strings.NewReader("")), Request: r}, nil
}

// fixedTime is the SDK's signer at a fixed signing time (the SDK's S3 client signs
// at the time of sending, and this test compares two signatures of one moment), and
// without the SDK's own bookkeeping headers, which it signs but which are no part of
// S3's REST API and change with every call: amz-sdk-invocation-id (one id per call)
// and amz-sdk-request (attempt=1; max=3).
type fixedTime struct {
	at time.Time
	s  *v4.Signer
}

func (f fixedTime) SignHTTP(ctx context.Context, creds aws.Credentials, r *http.Request, payloadHash, service, region string, _ time.Time, optFns ...func(*v4.SignerOptions)) error {
	r.Header.Del("Amz-Sdk-Invocation-Id")
	r.Header.Del("Amz-Sdk-Request")
	return f.s.SignHTTP(ctx, creds, r, payloadHash, service, region, f.at, optFns...)
}

// signedByTheSDK is the request the SDK's S3 client sends for GetObject with
// If-Match, with its default response checksum validation (x-amz-checksum-mode, an
// SDK feature the import does not use) off.
func signedByTheSDK(t *testing.T, region, endpoint, bucket, key, etag string, creds aws.Credentials, at time.Time) *http.Request {
	t.Helper()
	hc := &capture{}
	c := s3.New(s3.Options{
		Region:                     region,
		Credentials:                credentials.StaticCredentialsProvider{Value: creds},
		HTTPClient:                 hc,
		HTTPSignerV4:               fixedTime{at: at, s: v4.NewSigner()},
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
		RetryMaxAttempts:           1,
	}, func(o *s3.Options) {
		if endpoint != "" {
			o.BaseEndpoint, o.UsePathStyle = aws.String(endpoint), true
		}
	})
	out, err := c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), IfMatch: aws.String(`"` + etag + `"`)})
	if err != nil {
		t.Fatalf("the SDK's GetObject: %v", err)
	}
	out.Body.Close()
	return hc.req
}

// TestSignsAsTheSDKsS3Client: for one GetObject at a fixed time with fixed
// credentials, the URL (virtual-hosted, by path, China's domain, an emulator), the
// signed headers and the Authorization header are the ones the SDK's S3 client
// produces.
func TestSignsAsTheSDKsS3Client(t *testing.T) {
	t.Parallel()
	creds := aws.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", SessionToken: "session/token+example=="}
	at := time.Date(2026, 3, 1, 12, 34, 56, 0, time.UTC)
	tests := []struct {
		name, region, endpoint, bucket, key string
		wantURL                             string
	}{
		{"virtual-hosted", "eu-west-1", "", "import-bucket", "imports/sellers.csv",
			"https://import-bucket.s3.eu-west-1.amazonaws.com/imports/sellers.csv"},
		{"an awkward key", "eu-west-1", "", "import-bucket", "vendor uploads/a+b=c&d ü 日本 100% what?#frag ~!$'()*,;:@.csv",
			"https://import-bucket.s3.eu-west-1.amazonaws.com/vendor%20uploads/a%2Bb%3Dc%26d%20%C3%BC%20%E6%97%A5%E6%9C%AC%20100%25%20what%3F%23frag%20~%21%24%27%28%29%2A%2C%3B%3A%40.csv"},
		{"segments S3 keeps as they are", "us-east-1", "", "import-bucket", "a//b/./c/../d",
			"https://import-bucket.s3.us-east-1.amazonaws.com/a//b/./c/../d"},
		{"China's domain", "cn-north-1", "", "import-bucket", "imports/x.csv",
			"https://import-bucket.s3.cn-north-1.amazonaws.com.cn/imports/x.csv"},
		{"a dotted bucket, by path", "us-west-2", "", "imports.example.com", "imports/x.csv",
			"https://s3.us-west-2.amazonaws.com/imports.example.com/imports/x.csv"},
		{"a legacy bucket name, by path", "us-east-1", "", "Legacy_Bucket", "x.csv",
			"https://s3.us-east-1.amazonaws.com/Legacy_Bucket/x.csv"},
		{"GovCloud", "us-gov-west-1", "", "import-bucket", "x.csv",
			"https://import-bucket.s3.us-gov-west-1.amazonaws.com/x.csv"},
		{"an emulator, by path", "us-east-1", "http://127.0.0.1:9000", "import-bucket", "vendor uploads/x+y.csv",
			"http://127.0.0.1:9000/import-bucket/vendor%20uploads/x%2By.csv"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sdk := signedByTheSDK(t, tt.region, tt.endpoint, tt.bucket, tt.key, "0123", creds, at)
			hc := &capture{}
			cfg := aws.Config{Region: tt.region, Credentials: credentials.StaticCredentialsProvider{Value: creds}, HTTPClient: hc}
			c, err := s3object.NewFromConfig(context.Background(), cfg, func(o *s3object.Options) {
				o.Endpoint, o.Now = tt.endpoint, func() time.Time { return at }
			})
			if err != nil {
				t.Fatal(err)
			}
			obj, err := c.GetObject(context.Background(), tt.bucket, tt.key, "0123")
			if err != nil {
				t.Fatal(err)
			}
			obj.Body.Close()
			ours := hc.req
			if got, want := ours.URL.String(), tt.wantURL+"?x-id=GetObject"; got != want {
				t.Errorf("URL = %s, want %s", got, want)
			}
			if got, want := ours.URL.String(), sdk.URL.String(); got != want {
				t.Errorf("URL = %s, the SDK's %s", got, want)
			}
			if got, want := ours.Method, sdk.Method; got != want {
				t.Errorf("method = %s, the SDK's %s", got, want)
			}
			if got, want := headerNames(ours.Header), headerNames(sdk.Header); got != want {
				t.Errorf("headers %s, the SDK's %s", got, want)
			}
			for _, h := range []string{"Authorization", "X-Amz-Date", "X-Amz-Content-Sha256", "X-Amz-Security-Token", "If-Match", "Accept-Encoding"} {
				if got, want := ours.Header.Get(h), sdk.Header.Get(h); got != want {
					t.Errorf("%s = %q, the SDK's %q", h, got, want)
				}
			}
		})
	}
}

func headerNames(h http.Header) string {
	var names []string
	for k := range h {
		if k != "User-Agent" && k != "X-Amz-User-Agent" {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	return strings.Join(names, ",")
}

func testConfig() aws.Config {
	return aws.Config{Region: "eu-west-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", "")}
}
