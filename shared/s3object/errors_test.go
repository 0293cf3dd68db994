package s3object_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/spapi-auth-keeper/keeper/infra/testenv"
	"github.com/spapi-auth-keeper/keeper/shared/s3object"
)

// s3Error writes S3's XML error answer.
func s3Error(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("X-Amz-Request-Id", "HEADER-REQUEST-ID")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+
		`<Error><Code>%s</Code><Message>%s</Message><Resource>/b/k</Resource><RequestId>4442587FB7D0A2F9</RequestId>`+
		`<HostId>host-id-example=</HostId></Error>`, code, message)
}

// script is an S3 stand-in, behind the SigV4 check, answering each attempt of each
// operation in turn; it records the bodies it received.
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

func serve(t *testing.T, answer func(w http.ResponseWriter, r *http.Request, attempt int), optFns ...func(*s3object.Options)) (*s3object.Client, *script) {
	t.Helper()
	s := &script{attempts: map[string]int{}, answer: answer}
	srv := httptest.NewServer(testenv.VerifySigV4(s, testenv.S3Credentials, testenv.Region))
	t.Cleanup(srv.Close)
	return testenv.S3Objects(t, append([]func(*s3object.Options){func(o *s3object.Options) {
		o.Endpoint, o.BaseDelay, o.MaxDelay = srv.URL, time.Millisecond, 5*time.Millisecond
	}}, optFns...)...), s
}

// TestRetriesWhatS3AsksToRetry: 503 SlowDown, 500 InternalError and a dropped
// connection are sent again, the PUT with its whole body; a refusal is not.
func TestRetriesWhatS3AsksToRetry(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
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
			c, s := serve(t, answer)
			obj, err := c.GetObject(ctx, "import-bucket", "imports/a b.csv", "abc")
			if err != nil {
				t.Fatalf("GetObject: %v", err)
			}
			b, _ := io.ReadAll(obj.Body)
			obj.Body.Close()
			if string(b) != "the object" || obj.ETag != "abc" {
				t.Errorf("GetObject = %q, ETag %q", b, obj.ETag)
			}
			if err := c.PutObject(ctx, "import-bucket", "reports/a b.json", []byte(`{"rows":2}`), "application/json"); err != nil {
				t.Fatalf("PutObject: %v", err)
			}
			if err := c.DeleteObject(ctx, "import-bucket", "imports/a b.csv"); err != nil {
				t.Fatalf("DeleteObject: %v", err)
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
		c, s := serve(t, func(w http.ResponseWriter, r *http.Request, _ int) { s3Error(w, 403, "AccessDenied", "Access Denied") })
		err := c.PutObject(ctx, "import-bucket", "reports/x.json", []byte("{}"), "application/json")
		var e *s3object.Error
		if !errors.As(err, &e) || e.Code != "AccessDenied" {
			t.Fatalf("PutObject: %v, want AccessDenied", err)
		}
		if got := s.count("PUT"); got != 1 {
			t.Errorf("PUT attempts = %d, want 1", got)
		}
	})
	t.Run("at most MaxAttempts", func(t *testing.T) {
		t.Parallel()
		c, s := serve(t, func(w http.ResponseWriter, r *http.Request, _ int) {
			s3Error(w, 503, "SlowDown", "Please reduce your request rate.")
		},
			func(o *s3object.Options) { o.MaxAttempts = 4 })
		err := c.DeleteObject(ctx, "import-bucket", "imports/x.csv")
		var e *s3object.Error
		if !errors.As(err, &e) || e.Code != "SlowDown" || e.StatusCode != 503 {
			t.Fatalf("DeleteObject: %v, want 503 SlowDown", err)
		}
		if got := s.count("DELETE"); got != 4 {
			t.Errorf("DELETE attempts = %d, want 4", got)
		}
	})
	t.Run("the context ends the backoff", func(t *testing.T) {
		t.Parallel()
		c, s := serve(t, func(w http.ResponseWriter, r *http.Request, _ int) {
			s3Error(w, 503, "SlowDown", "Please reduce your request rate.")
		},
			func(o *s3object.Options) { o.BaseDelay, o.MaxDelay, o.MaxAttempts = time.Hour, time.Hour, 5 })
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		_, err := c.GetObject(cctx, "import-bucket", "imports/x.csv", "")
		var e *s3object.Error
		if !errors.Is(err, context.DeadlineExceeded) || !errors.As(err, &e) || e.Code != "SlowDown" {
			t.Fatalf("GetObject: %v, want the deadline, after SlowDown", err)
		}
		if got := s.count("GET"); got != 1 {
			t.Errorf("GET attempts = %d, want 1 (the deadline came during the backoff)", got)
		}
	})
}

// TestErrorsSayWhatS3Said: the operation, the status, S3's code, message and
// request id, from S3's XML error body, or from the status when there is none.
func TestErrorsSayWhatS3Said(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name    string
		answer  func(w http.ResponseWriter)
		want    s3object.Error
		wantMsg string
	}{
		{"S3's XML error", func(w http.ResponseWriter) { s3Error(w, 403, "AccessDenied", "Access Denied") },
			s3object.Error{Operation: "GetObject", StatusCode: 403, Code: "AccessDenied", Message: "Access Denied", RequestID: "4442587FB7D0A2F9"},
			"s3 GetObject: 403 AccessDenied: Access Denied (request id 4442587FB7D0A2F9)"},
		{"escaped text", func(w http.ResponseWriter) { s3Error(w, 400, "InvalidArgument", "a &lt;b&gt; &amp; c") },
			s3object.Error{Operation: "GetObject", StatusCode: 400, Code: "InvalidArgument", Message: "a <b> & c", RequestID: "4442587FB7D0A2F9"},
			"s3 GetObject: 400 InvalidArgument: a <b> & c (request id 4442587FB7D0A2F9)"},
		{"no body", func(w http.ResponseWriter) { w.Header().Set("X-Amz-Request-Id", "R1"); w.WriteHeader(404) },
			s3object.Error{Operation: "GetObject", StatusCode: 404, Code: "NotFound", RequestID: "R1"},
			"s3 GetObject: 404 NotFound (request id R1)"},
		{"a proxy's page", func(w http.ResponseWriter) {
			w.WriteHeader(403)
			io.WriteString(w, "<html><body><Code>not this</Code></body></html>")
		}, s3object.Error{Operation: "GetObject", StatusCode: 403, Code: "Forbidden"}, "s3 GetObject: 403 Forbidden"},
		{"not XML at all", func(w http.ResponseWriter) { w.WriteHeader(409); io.WriteString(w, "{\"oops\":") },
			s3object.Error{Operation: "GetObject", StatusCode: 409, Code: "Conflict"}, "s3 GetObject: 409 Conflict"},
		{"nested elements are not the error's", func(w http.ResponseWriter) {
			w.WriteHeader(400)
			io.WriteString(w, `<Error><Code>BadDigest</Code><Details><Code>inner</Code><Message>inner</Message></Details><Message>outer</Message></Error>`)
		}, s3object.Error{Operation: "GetObject", StatusCode: 400, Code: "BadDigest", Message: "outer"}, "s3 GetObject: 400 BadDigest: outer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, _ := serve(t, func(w http.ResponseWriter, _ *http.Request, _ int) { tt.answer(w) })
			_, err := c.GetObject(ctx, "import-bucket", "imports/x.csv", "")
			var e *s3object.Error
			if !errors.As(err, &e) {
				t.Fatalf("GetObject: %v, want an *s3object.Error", err)
			}
			if *e != tt.want {
				t.Errorf("error = %+v, want %+v", *e, tt.want)
			}
			if err.Error() != tt.wantMsg {
				t.Errorf("message = %q, want %q", err.Error(), tt.wantMsg)
			}
		})
	}
}

// TestSignatureCheckRefusesATamperedRequest: the emulator's check fails a request
// changed after it was signed (so that a client signing one request and sending
// another fails the tests), and the error the client returns names none of the
// credentials, though S3's answer echoes the access key id and the canonical request.
func TestSignatureCheckRefusesATamperedRequest(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tamper := map[string]func(r *http.Request){
		"a header added":   func(r *http.Request) { r.Header.Set("X-Amz-Meta-Added", "1") },
		"a header changed": func(r *http.Request) { r.Header.Set("If-Match", `"other"`) },
		"the key changed":  func(r *http.Request) { r.URL.Path += "x"; r.URL.RawPath += "x" },
		// The same key to S3, another canonical URI: signed once, sent otherwise.
		"the key re-encoded": func(r *http.Request) { r.URL.RawPath = strings.Replace(r.URL.RawPath, "imports", "%69mports", 1) },
		"the query changed":  func(r *http.Request) { r.URL.RawQuery = "x-id=DeleteObject" },
		"the body changed":   func(r *http.Request) { r.Body = io.NopCloser(strings.NewReader("sIgned")) },
		"sent as signed a second later": func(r *http.Request) {
			at, _ := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
			r.Header.Set("X-Amz-Date", at.Add(time.Second).Format("20060102T150405Z"))
		},
	}
	for name, change := range tamper {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := testenv.S3Objects(t, func(o *s3object.Options) {
				o.HTTPClient = doer(func(r *http.Request) (*http.Response, error) {
					change(r)
					return http.DefaultClient.Do(r)
				})
			})
			bucket := testenv.NewBucket(t)
			var err error
			if name == "the body changed" {
				err = c.PutObject(ctx, bucket, "imports/a b.csv", []byte("signed"), "text/csv")
			} else {
				_, err = c.GetObject(ctx, bucket, "imports/a b.csv", "etag")
			}
			var e *s3object.Error
			if !errors.As(err, &e) || e.StatusCode != 403 || e.Code != "SignatureDoesNotMatch" {
				t.Fatalf("%v, want 403 SignatureDoesNotMatch", err)
			}
			assertNoCredentials(t, err)
		})
	}
}

// TestErrorsNameNoCredentials: a client with the wrong secret key is refused, and
// neither its key id, its secret nor its session token is in the error.
func TestErrorsNameNoCredentials(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	wrong := testenv.S3Credentials
	wrong.SecretAccessKey = "not-the-secret-" + wrong.SecretAccessKey
	cfg := aws.Config{Region: testenv.Region, Credentials: credentials.StaticCredentialsProvider{Value: wrong}}
	c, err := s3object.NewFromConfig(ctx, cfg, func(o *s3object.Options) { o.Endpoint = testenv.S3SignedEndpoint(t) })
	if err != nil {
		t.Fatal(err)
	}
	bucket := testenv.NewBucket(t)
	errs := []error{
		c.PutObject(ctx, bucket, "reports/x.json", []byte("{}"), "application/json"),
		c.DeleteObject(ctx, bucket, "imports/x.csv"),
	}
	_, err = c.GetObject(ctx, bucket, "imports/x.csv", "")
	errs = append(errs, err)
	for _, err := range errs {
		var e *s3object.Error
		if !errors.As(err, &e) || e.Code != "SignatureDoesNotMatch" {
			t.Fatalf("%v, want SignatureDoesNotMatch", err)
		}
		assertNoCredentials(t, err)
		for _, secret := range []string{wrong.SecretAccessKey, "not-the-secret"} {
			if strings.Contains(fmt.Sprintf("%v %+v %#v", err, e, e), secret) {
				t.Errorf("the error names the secret key: %v", err)
			}
		}
	}
}

func assertNoCredentials(t *testing.T, err error) {
	t.Helper()
	var e *s3object.Error
	errors.As(err, &e)
	text := fmt.Sprintf("%v %+v %#v", err, e, e)
	for _, secret := range []string{testenv.S3Credentials.AccessKeyID, testenv.S3Credentials.SecretAccessKey, testenv.S3Credentials.SessionToken} {
		if strings.Contains(text, secret) {
			t.Errorf("the error names a credential (%.4s…): %s", secret, text)
		}
	}
}

type doer func(*http.Request) (*http.Response, error)

func (d doer) Do(r *http.Request) (*http.Response, error) { return d(r) }
