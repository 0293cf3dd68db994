package testenv

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/smithy-go/logging"

	"github.com/spapi-auth-keeper/keeper/shared/s3object"
)

// S3Credentials are the credentials the signature-checking S3 endpoint accepts (a
// session token too, as a Lambda's role credentials carry one).
var S3Credentials = aws.Credentials{AccessKeyID: "AKIDS3TEST", SecretAccessKey: "s3-test-secret-key", SessionToken: "s3-test-session-token"}

var (
	s3SignedOnce sync.Once
	s3SignedURL  string
)

// S3SignedEndpoint is the S3 emulator behind VerifySigV4 with S3Credentials: a
// request whose signature is not the one the SDK's signer computes for the request
// as received is refused with 403 SignatureDoesNotMatch, as S3 refuses it.
func S3SignedEndpoint(t testing.TB) string {
	t.Helper()
	S3Endpoint(t)
	s3SignedOnce.Do(func() {
		s3SignedURL = httptest.NewServer(VerifySigV4(s3Handler, S3Credentials, Region)).URL
	})
	return s3SignedURL
}

// S3Objects is the import function's own S3 client (shared/s3object), on the
// signature-checking endpoint of the emulator. Objects are shared with S3(t)'s.
func S3Objects(t testing.TB, optFns ...func(*s3object.Options)) *s3object.Client {
	t.Helper()
	cfg := aws.Config{Region: Region, Credentials: credentials.StaticCredentialsProvider{Value: S3Credentials}}
	c, err := s3object.NewFromConfig(context.Background(), cfg, append([]func(*s3object.Options){func(o *s3object.Options) {
		o.Endpoint = S3SignedEndpoint(t)
	}}, optFns...)...)
	if err != nil {
		t.Fatalf("testenv: s3object client: %v", err)
	}
	return c
}

// VerifySigV4 serves next only the requests signed (SigV4, header form) with creds
// for S3 in region: it signs each request again, as received (method, escaped path,
// query, every header but the ones the signer ignores, X-Amz-Date), with the SDK's
// signer and S3's options, checks the body against X-Amz-Content-Sha256, and refuses
// a mismatch with 403 and S3's XML error. A client that signs one canonical request
// and sends another fails here as it would at S3.
func VerifySigV4(next http.Handler, creds aws.Credentials, region string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		canonical, why := resign(r, creds, region)
		if why != "" {
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusForbidden)
			// As S3 does, the answer echoes the access key id and the canonical request
			// (the session token among its headers): a client must not repeat them.
			fmt.Fprintf(w, "<Error><Code>SignatureDoesNotMatch</Code><Message>%s</Message><AWSAccessKeyId>%s</AWSAccessKeyId>"+
				"<CanonicalRequest>%s</CanonicalRequest><RequestId>verify-sigv4</RequestId></Error>", xmlText(why), xmlText(creds.AccessKeyID), xmlText(canonical))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// resign signs r again and says why its Authorization is not the one the SDK's
// signer computes (with the signer's canonical request), or "" when it is.
func resign(r *http.Request, creds aws.Credentials, region string) (canonical, why string) {
	got := r.Header.Get("Authorization")
	if !strings.HasPrefix(got, "AWS4-HMAC-SHA256 Credential="+creds.AccessKeyID+"/") {
		return "", "not signed with SigV4 by the expected access key"
	}
	if creds.SessionToken != "" && r.Header.Get("X-Amz-Security-Token") != creds.SessionToken {
		return "", "the security token is missing or wrong"
	}
	at, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil {
		return "", "no valid X-Amz-Date"
	}
	hash := r.Header.Get("X-Amz-Content-Sha256")
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return "", "the body could not be read"
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	switch {
	case hash == "UNSIGNED-PAYLOAD":
	case strings.HasPrefix(hash, "STREAMING-"):
		return "", "streaming (aws-chunked) payloads are not checked here"
	default:
		sum := sha256.Sum256(body)
		if hash != hex.EncodeToString(sum[:]) {
			return "", "XAmzContentSHA256Mismatch: the body does not hash to X-Amz-Content-Sha256"
		}
	}
	// The request as the client built it: the server's r.URL holds the path as sent
	// (RawPath), Content-Length went from the headers to ContentLength.
	u := *r.URL
	u.Scheme, u.Host = "http", r.Host
	req, err := http.NewRequest(r.Method, u.String(), nil)
	if err != nil {
		return "", "the URL could not be rebuilt"
	}
	req.URL = &u
	req.Host = r.Host
	req.ContentLength = r.ContentLength
	for k, v := range r.Header {
		if k != "Authorization" {
			req.Header[k] = v
		}
	}
	var logged strings.Builder
	signer := v4.NewSigner(func(o *v4.SignerOptions) {
		o.DisableURIPathEscaping = true
		o.LogSigning = true
		o.Logger = logging.LoggerFunc(func(_ logging.Classification, format string, v ...any) { fmt.Fprintf(&logged, format, v...) })
	})
	if err := signer.SignHTTP(context.Background(), creds, req, hash, "s3", region, at); err != nil {
		return "", "the request could not be signed again: " + err.Error()
	}
	if req.Header.Get("Authorization") != got {
		return logged.String(), "The request signature we calculated does not match the signature you provided."
	}
	return "", ""
}

func xmlText(s string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}
