package importbucket_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/spapi-auth-keeper/keeper/infra/testenv"
	"github.com/spapi-auth-keeper/keeper/shared/awsclients"
	"github.com/spapi-auth-keeper/keeper/shared/importbucket"
	"github.com/spapi-auth-keeper/keeper/shared/importer"
)

// emulatorObjects is the import bucket as the import function builds it
// (NewS3FromConfig) when AWS_ENDPOINT_URL_S3 names the S3 emulator.
func emulatorObjects(t *testing.T) importbucket.Objects {
	t.Helper()
	cfg := testenv.Config()
	cfg.BaseEndpoint = aws.String(testenv.S3Endpoint(t))
	c, err := importbucket.NewClient(context.Background(), cfg)
	must(t, err)
	return importbucket.Objects{Client: c}
}

// awkwardKeys are keys a vendor may well upload, each a byte S3's URI encoding
// treats specially.
var awkwardKeys = []struct{ name, key string }{
	{"plain", "imports/sellers.csv"},
	{"spaces", "imports/vendor uploads/sellers 2026.csv"},
	{"plus and equals", "imports/a+b=c&d.csv"},
	{"unicode", "imports/ünïcødé/日本の販売者.csv"},
	{"percent", "imports/100%/x%2Fy%zz.csv"},
	{"question mark and hash", "imports/what?is=this#frag.csv"},
	{"reserved", "imports/~!$'()*,;:@[].csv"},
	{"segments S3 keeps", "imports//a/./b/../c.csv"},
}

// TestS3RoundTripOfAwkwardKeys: a report written by the import bucket's client is
// the object another client finds under the same key (one encoding, not two), with
// its Content-Type; it reads back with its ETag (If-Match on it, quoted or not, still
// holds), and is gone once deleted; deleting it again is no error.
func TestS3RoundTripOfAwkwardKeys(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	objects := emulatorObjects(t)
	sdk := testenv.S3(t)
	bucket := testenv.NewBucket(t)
	for _, tt := range awkwardKeys {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			body := []byte(`{"key":"` + tt.name + `"}`)
			if err := objects.PutReport(ctx, bucket, tt.key, body); err != nil {
				t.Fatalf("PutReport: %v", err)
			}
			head, err := sdk.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(tt.key)})
			if err != nil {
				t.Fatalf("the object is not found under %q: %v", tt.key, err)
			}
			if got := aws.ToString(head.ContentType); got != "application/json" {
				t.Errorf("Content-Type = %q, want application/json", got)
			}
			if got := aws.ToInt64(head.ContentLength); got != int64(len(body)) {
				t.Errorf("Content-Length = %d, want %d", got, len(body))
			}
			sum := md5.Sum(body)
			wantETag := hex.EncodeToString(sum[:])
			rc, etag, _, err := objects.Open(ctx, bucket, tt.key, "")
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			got, err := io.ReadAll(rc)
			rc.Close()
			if err != nil || !bytes.Equal(got, body) {
				t.Fatalf("body = %q, %v; want %q", got, err, body)
			}
			if etag != wantETag {
				t.Errorf("ETag = %q, want %q", etag, wantETag)
			}
			for _, e := range []string{etag, `"` + etag + `"`} {
				rc, _, _, err := objects.Open(ctx, bucket, tt.key, e)
				if err != nil {
					t.Fatalf("Open with If-Match %s: %v", e, err)
				}
				rc.Close()
			}
			if err := objects.Delete(ctx, bucket, tt.key); err != nil {
				t.Fatalf("Delete: %v", err)
			}
			if _, err := sdk.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(tt.key)}); err == nil {
				t.Error("the object is still there after Delete")
			}
			if _, _, _, err := objects.Open(ctx, bucket, tt.key, ""); !errors.Is(err, importer.ErrNoObject) {
				t.Errorf("Open of the deleted object: %v, want ErrNoObject", err)
			}
			if err := objects.Delete(ctx, bucket, tt.key); err != nil {
				t.Errorf("Delete again: %v", err)
			}
		})
	}
}

// TestS3ImportObjects: the import bucket as the import function reads it: metadata
// as the importer reads it, a missing object is ErrNoObject, a replaced one the
// replaced-file error over S3's 412, a missing bucket not a missing file.
func TestS3ImportObjects(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	objects := emulatorObjects(t)
	sdk := testenv.S3(t)
	bucket := testenv.NewBucket(t)
	key := "imports/vendor uploads/sellers+1.csv"
	put := func(body string) {
		t.Helper()
		// As keeperctl uploads it: through the SDK, with the import's settings in
		// user metadata (mixed case on purpose).
		if _, err := sdk.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: strings.NewReader(body),
			Metadata: map[string]string{"Unknown-Expiry-Days": "45", importer.MetaConfirmPerDay: "7"}}); err != nil {
			t.Fatal(err)
		}
	}
	put("first version\n")

	body, etag, meta, err := objects.Open(ctx, bucket, key, "")
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	b, _ := io.ReadAll(body)
	body.Close()
	if string(b) != "first version\n" || etag == "" || strings.Contains(etag, `"`) {
		t.Errorf("Open = %q, etag %q", b, etag)
	}
	if meta[importer.MetaUnknownExpiry] != "45" || meta[importer.MetaConfirmPerDay] != "7" || len(meta) != 2 {
		t.Errorf("metadata = %v, want %s=45 and %s=7", meta, importer.MetaUnknownExpiry, importer.MetaConfirmPerDay)
	}

	t.Run("the same file", func(t *testing.T) {
		body, got, _, err := objects.Open(ctx, bucket, key, etag)
		if err != nil || got != etag {
			t.Fatalf("Open with its own ETag: %q, %v", got, err)
		}
		body.Close()
	})
	t.Run("a replaced file", func(t *testing.T) {
		put("second version\n")
		_, _, _, err := objects.Open(ctx, bucket, key, etag)
		var re *awshttp.ResponseError
		var api smithy.APIError
		if err == nil || !strings.Contains(err.Error(), "the file was replaced while it was being imported") ||
			!errors.As(err, &re) || re.HTTPStatusCode() != 412 || !errors.As(err, &api) || api.ErrorCode() != "PreconditionFailed" {
			t.Fatalf("Open of a replaced file: %v, want the replaced-file error over 412 PreconditionFailed", err)
		}
		if errors.Is(err, importer.ErrNoObject) {
			t.Error("a replaced file is not a missing one")
		}
	})
	t.Run("a missing file", func(t *testing.T) {
		if _, _, _, err := objects.Open(ctx, bucket, "imports/never-uploaded.csv", ""); !errors.Is(err, importer.ErrNoObject) {
			t.Errorf("Open of a missing key: %v, want ErrNoObject", err)
		}
		if _, _, _, err := objects.Open(ctx, bucket, "imports/never-uploaded.csv", etag); !errors.Is(err, importer.ErrNoObject) {
			t.Errorf("Open of a missing key with If-Match: %v, want ErrNoObject", err)
		}
	})
	t.Run("a missing bucket is not a missing file", func(t *testing.T) {
		_, _, _, err := objects.Open(ctx, bucket+"-gone", key, "")
		var api smithy.APIError
		if errors.Is(err, importer.ErrNoObject) || !errors.As(err, &api) || api.ErrorCode() != "NoSuchBucket" {
			t.Errorf("Open in a missing bucket: %v, want NoSuchBucket", err)
		}
	})
}

// capture answers every request with an empty 200 and keeps the last one sent.
type capture struct {
	mu  sync.Mutex
	req *http.Request
}

func (c *capture) Do(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.req = r
	c.mu.Unlock()
	return &http.Response{StatusCode: http.StatusOK, Header: http.Header{"Etag": {`"0123"`}}, Body: io.NopCloser(strings.NewReader("")), Request: r}, nil
}

func (c *capture) sent() *http.Request {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.req
}

// TestS3EndpointFromLambdaEnvironment: the import bucket's client finds its endpoint
// in the configuration the functions load (awsclients.FromEnv): AWS_ENDPOINT_URL_S3,
// else AWS_ENDPOINT_URL, unless AWS_IGNORE_CONFIGURED_ENDPOINT_URLS; an override is
// addressed by path, AWS's own endpoint by virtual host (not parallel: t.Setenv).
func TestS3EndpointFromLambdaEnvironment(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		wantURL string
	}{
		{"AWS's own", nil, "https://import-bucket.s3.eu-west-1.amazonaws.com/imports/a%20b.csv?x-id=GetObject"},
		{"S3's own variable", map[string]string{"AWS_ENDPOINT_URL_S3": "http://127.0.0.1:9000"},
			"http://127.0.0.1:9000/import-bucket/imports/a%20b.csv?x-id=GetObject"},
		{"an emulator by host name", map[string]string{"AWS_ENDPOINT_URL_S3": "http://localhost:9000"},
			"http://localhost:9000/import-bucket/imports/a%20b.csv?x-id=GetObject"},
		{"the global variable", map[string]string{"AWS_ENDPOINT_URL": "http://127.0.0.1:4566/base/"},
			"http://127.0.0.1:4566/base/import-bucket/imports/a%20b.csv?x-id=GetObject"},
		{"S3's own wins", map[string]string{"AWS_ENDPOINT_URL": "http://127.0.0.1:4566", "AWS_ENDPOINT_URL_S3": "http://127.0.0.1:9000"},
			"http://127.0.0.1:9000/import-bucket/imports/a%20b.csv?x-id=GetObject"},
		{"ignored", map[string]string{"AWS_ENDPOINT_URL_S3": "http://127.0.0.1:9000", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true"},
			"https://import-bucket.s3.eu-west-1.amazonaws.com/imports/a%20b.csv?x-id=GetObject"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, k := range []string{"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "AWS_DEFAULT_REGION"} {
				t.Setenv(k, "")
				os.Unsetenv(k)
			}
			t.Setenv("AWS_REGION", "eu-west-1")
			t.Setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
			t.Setenv("AWS_SECRET_ACCESS_KEY", "secret-example")
			t.Setenv("AWS_SESSION_TOKEN", "session-example")
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			ctx := context.Background()
			cfg, err := awsclients.FromEnv(ctx)
			must(t, err)
			hc := &capture{}
			cfg.HTTPClient = hc
			c, err := importbucket.NewClient(ctx, cfg)
			must(t, err)
			body, _, _, err := importbucket.Objects{Client: c}.Open(ctx, "import-bucket", "imports/a b.csv", "")
			must(t, err)
			body.Close()
			if got := hc.sent().URL.String(); got != tt.wantURL {
				t.Errorf("URL = %s, want %s", got, tt.wantURL)
			}
		})
	}
}

// TestS3ConfigurationRefusedAtColdStart: a typo in the endpoint variable, or a
// configuration without region or credentials, fails when the function starts, not
// at the first import.
func TestS3ConfigurationRefusedAtColdStart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, e := range []string{"127.0.0.1:9000", "ftp://host", "http://", "http://host/?q=1", "http://host/#f"} {
		cfg := testenv.Config()
		cfg.BaseEndpoint = aws.String(e)
		if _, err := importbucket.NewClient(ctx, cfg); err == nil {
			t.Errorf("endpoint %q accepted", e)
		}
	}
	cfg := testenv.Config()
	cfg.Region = ""
	if _, err := importbucket.NewClient(ctx, cfg); err == nil {
		t.Error("no region accepted")
	}
	cfg = testenv.Config()
	cfg.Credentials = nil
	if _, err := importbucket.NewClient(ctx, cfg); err == nil {
		t.Error("no credentials accepted")
	}
}

// TestS3RefusesWhatCouldAddressAnotherResource: a bucket name S3 could not have
// given (a continuation on the import queue is untrusted) is refused before
// anything is sent.
func TestS3RefusesWhatCouldAddressAnotherResource(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	hc := &capture{}
	c, err := importbucket.NewClient(ctx, aws.Config{Region: "eu-west-1", Credentials: aws.AnonymousCredentials{}, HTTPClient: hc})
	must(t, err)
	objects := importbucket.Objects{Client: c}
	tests := []struct{ name, bucket, key string }{
		{"a bucket with a path", "evil.example/steal", "k"},
		{"a bucket with a fragment", "b#x", "k"},
		{"a bucket with a host", "evil.com:443@b", "k"},
		{"an empty bucket", "", "k"},
		{"an empty key", "import-bucket", ""},
		{"a key too long", "import-bucket", strings.Repeat("k", 1025)},
	}
	for _, tt := range tests {
		if err := objects.Delete(ctx, tt.bucket, tt.key); err == nil {
			t.Errorf("%s: Delete accepted", tt.name)
		}
		if _, _, _, err := objects.Open(ctx, tt.bucket, tt.key, ""); err == nil {
			t.Errorf("%s: Open accepted", tt.name)
		}
		if err := objects.PutReport(ctx, tt.bucket, tt.key, []byte("{}")); err == nil {
			t.Errorf("%s: PutReport accepted", tt.name)
		}
		if r := hc.sent(); r != nil {
			t.Fatalf("%s: sent %s", tt.name, r.URL)
		}
	}
}

// s3Error writes S3's XML error answer.
func s3Error(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("X-Amz-Request-Id", "HEADER-REQUEST-ID")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+
		`<Error><Code>%s</Code><Message>%s</Message><Resource>/b/k</Resource><RequestId>4442587FB7D0A2F9</RequestId>`+
		`<HostId>host-id-example=</HostId></Error>`, code, message)
}

// script is an S3 stand-in answering each attempt of each method in turn; it
// records the bodies it received.
type script struct {
	mu       sync.Mutex
	attempts map[string]int
	bodies   []string
	answer   func(w http.ResponseWriter, r *http.Request, attempt int)
}

func (s *script) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.attempts[r.Method]++
	n := s.attempts[r.Method]
	s.bodies = append(s.bodies, string(b))
	s.mu.Unlock()
	s.answer(w, r, n)
}

func (s *script) count(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.attempts[method]
}

// serve is the import bucket on a scripted endpoint, with creds, retrying after a
// millisecond.
func serve(t *testing.T, creds aws.Credentials, answer func(w http.ResponseWriter, r *http.Request, attempt int)) (importbucket.Objects, *script) {
	t.Helper()
	s := &script{attempts: map[string]int{}, answer: answer}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	cfg := aws.Config{Region: testenv.Region, Credentials: credentials.StaticCredentialsProvider{Value: creds}, BaseEndpoint: aws.String(srv.URL)}
	c, err := importbucket.NewClient(context.Background(), cfg, func(o *s3.Options) {
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
			so.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return time.Millisecond, nil })
		})
	})
	must(t, err)
	return importbucket.Objects{Client: c}, s
}

// TestS3RetriesWhatS3AsksToRetry: 503 SlowDown, 500 InternalError and a dropped
// connection are sent again, the PUT with its whole body; a refusal is not.
func TestS3RetriesWhatS3AsksToRetry(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	creds := aws.Credentials{AccessKeyID: "AKIDS3TEST", SecretAccessKey: "s3-test-secret-key"}
	slowDownOnce := func(w http.ResponseWriter, r *http.Request, attempt int) {
		switch {
		case attempt == 1 && r.Method == http.MethodDelete:
			s3Error(w, 500, "InternalError", "We encountered an internal error. Please try again.")
		case attempt == 1:
			s3Error(w, 503, "SlowDown", "Please reduce your request rate.")
		case r.Method == http.MethodDelete:
			w.WriteHeader(http.StatusNoContent)
		default:
			w.Header().Set("ETag", `"abc"`)
			io.WriteString(w, "the object")
		}
	}
	dropOnce := func(w http.ResponseWriter, r *http.Request, attempt int) {
		if attempt == 1 {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		slowDownOnce(w, r, 2)
	}
	for name, answer := range map[string]func(http.ResponseWriter, *http.Request, int){"503 then 200": slowDownOnce, "a dropped connection": dropOnce} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			objects, s := serve(t, creds, answer)
			body, etag, _, err := objects.Open(ctx, "import-bucket", "imports/a b.csv", "abc")
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			b, _ := io.ReadAll(body)
			body.Close()
			if string(b) != "the object" || etag != "abc" {
				t.Errorf("Open = %q, ETag %q", b, etag)
			}
			if err := objects.PutReport(ctx, "import-bucket", "reports/a b.json", []byte(`{"rows":2}`)); err != nil {
				t.Fatalf("PutReport: %v", err)
			}
			if err := objects.Delete(ctx, "import-bucket", "imports/a b.csv"); err != nil {
				t.Fatalf("Delete: %v", err)
			}
			for _, m := range []string{"GET", "PUT", "DELETE"} {
				if got := s.count(m); got != 2 {
					t.Errorf("%s attempts = %d, want 2", m, got)
				}
			}
			var puts int
			for _, b := range s.bodies {
				if b == `{"rows":2}` {
					puts++
				}
			}
			if name == "503 then 200" && puts != 2 {
				t.Errorf("the PUT body arrived whole %d times, want 2 (bodies %q)", puts, s.bodies)
			}
		})
	}
	t.Run("a refusal is final", func(t *testing.T) {
		t.Parallel()
		objects, s := serve(t, creds, func(w http.ResponseWriter, r *http.Request, _ int) { s3Error(w, 403, "AccessDenied", "Access Denied") })
		err := objects.PutReport(ctx, "import-bucket", "reports/x.json", []byte("{}"))
		var api smithy.APIError
		if !errors.As(err, &api) || api.ErrorCode() != "AccessDenied" {
			t.Fatalf("PutReport: %v, want AccessDenied", err)
		}
		if got := s.count("PUT"); got != 1 {
			t.Errorf("PUT attempts = %d, want 1", got)
		}
	})
}

// TestS3ErrorsNameNoCredentials: S3's SignatureDoesNotMatch answer echoes the access
// key id and the canonical request (the session token among its headers); the
// import's errors, which go to its status item and its log, name none of them.
func TestS3ErrorsNameNoCredentials(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	creds := aws.Credentials{AccessKeyID: "AKIDS3TEST", SecretAccessKey: "s3-test-secret-key", SessionToken: "s3-test-session-token"}
	objects, _ := serve(t, creds, func(w http.ResponseWriter, r *http.Request, _ int) {
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprintf(w, "<Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match the signature you provided.</Message>"+
			"<AWSAccessKeyId>%s</AWSAccessKeyId><StringToSign>AWS4-HMAC-SHA256\n%s</StringToSign><CanonicalRequest>%s %s\nx-amz-security-token:%s\n%s</CanonicalRequest>"+
			"<RequestId>R1</RequestId></Error>", creds.AccessKeyID, r.Header.Get("X-Amz-Date"), r.Method, r.URL.EscapedPath(), r.Header.Get("X-Amz-Security-Token"), r.Header.Get("Authorization"))
	})
	var errs []error
	errs = append(errs, objects.PutReport(ctx, "import-bucket", "reports/x.json", []byte("{}")), objects.Delete(ctx, "import-bucket", "imports/x.csv"))
	_, _, _, err := objects.Open(ctx, "import-bucket", "imports/x.csv", "")
	errs = append(errs, err)
	for _, err := range errs {
		var api smithy.APIError
		if !errors.As(err, &api) || api.ErrorCode() != "SignatureDoesNotMatch" {
			t.Fatalf("%v, want SignatureDoesNotMatch", err)
		}
		text := fmt.Sprintf("%v %+v %#v", err, api, api)
		for _, secret := range []string{creds.AccessKeyID, creds.SecretAccessKey, creds.SessionToken} {
			if strings.Contains(text, secret) {
				t.Errorf("the error names a credential (%.4s…): %s", secret, text)
			}
		}
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }
