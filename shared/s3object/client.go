// Package s3object is a client of Amazon S3's REST API for the three object
// operations the import function sends: GetObject (with If-Match), PutObject and
// DeleteObject. Requests are signed with the SDK's own SigV4 signer, with the
// credentials and region of an aws.Config, as the SDK's S3 client signs them.
//
// It exists for the size of the Lambda bootstrap: the SDK's S3 client brings its
// endpoint rules, ARN and access point customisations, flexible checksums, SigV4a
// and an XML protocol stack, about 1.2 MB of a function that needs none of them.
// What it does not do: access points, ARNs, FIPS and dual-stack endpoints, S3
// Express, multipart uploads, checksums other than the SigV4 payload hash.
package s3object

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
)

// ServiceID is S3's SDK id, the name under which an aws.Config's sources answer for
// its endpoint (AWS_ENDPOINT_URL_S3).
const ServiceID = "S3"

// emptySHA256 is the hex SHA-256 of an empty payload: the x-amz-content-sha256 of a
// request without a body.
const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// Options tune a Client beyond its aws.Config.
type Options struct {
	// Endpoint is the base URL of an S3-compatible endpoint (an emulator), which
	// serves buckets by path: {Endpoint}/{bucket}/{key}. Empty: AWS's regional
	// endpoint, virtual-hosted. NewFromConfig sets it from the configuration.
	Endpoint string
	// HTTPClient sends the requests; default the aws.Config's, else the SDK's own
	// default client (its dial, TLS and idle timeouts).
	HTTPClient aws.HTTPClient
	// MaxAttempts per operation (default 3, as the SDK's standard retryer): a 500,
	// 502, 503 or 504 (SlowDown, InternalError), a RequestTimeout or a network
	// error is sent again after a jittered backoff.
	MaxAttempts int
	// BaseDelay and MaxDelay bound the backoff: attempt n waits a random time up to
	// min(MaxDelay, BaseDelay·2^n). Defaults 100ms and 5s.
	BaseDelay, MaxDelay time.Duration
	// Now is the signing clock (tests); default time.Now.
	Now func() time.Time
}

// Client sends GetObject, PutObject and DeleteObject to one region's S3 (or to an
// S3-compatible endpoint). It is safe for concurrent use.
type Client struct {
	endpoint    *url.URL // nil: AWS's regional endpoint
	region      string
	creds       aws.CredentialsProvider
	http        aws.HTTPClient
	signer      *v4.Signer
	maxAttempts int
	baseDelay   time.Duration
	maxDelay    time.Duration
	now         func() time.Time
}

// serviceEndpoints is what an aws.Config's ConfigSources answer for a service's
// endpoint override (shared/awsclients' endpointsFromEnv, the SDK's shared config):
// the SDK's own clients ask the same question with their SDK id.
type serviceEndpoints interface {
	GetServiceBaseEndpoint(ctx context.Context, sdkID string) (string, bool, error)
}

// ignoredEndpoints is how a source says AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true.
type ignoredEndpoints interface {
	GetIgnoreConfiguredEndpoints(ctx context.Context) (bool, bool, error)
}

// EndpointFromConfig is the S3 endpoint override of cfg, as the SDK's S3 client
// resolves it: the service's own (AWS_ENDPOINT_URL_S3) from cfg's sources first,
// unless they say to ignore configured endpoints, then cfg.BaseEndpoint
// (AWS_ENDPOINT_URL). "" when there is none.
func EndpointFromConfig(ctx context.Context, cfg aws.Config) (string, error) {
	for _, src := range cfg.ConfigSources {
		if s, ok := src.(ignoredEndpoints); ok {
			if ignore, found, err := s.GetIgnoreConfiguredEndpoints(ctx); err == nil && found && ignore {
				return aws.ToString(cfg.BaseEndpoint), nil
			}
		}
	}
	for _, src := range cfg.ConfigSources {
		if s, ok := src.(serviceEndpoints); ok {
			v, found, err := s.GetServiceBaseEndpoint(ctx, ServiceID)
			if err != nil {
				return "", fmt.Errorf("the S3 endpoint: %w", err)
			}
			if found && v != "" {
				return v, nil
			}
		}
	}
	return aws.ToString(cfg.BaseEndpoint), nil
}

// NewFromConfig builds a client from cfg's region, credentials, HTTP client and S3
// endpoint override. An endpoint override is an S3-compatible service (an emulator):
// it is addressed by path, since it has no per-bucket host names.
func NewFromConfig(ctx context.Context, cfg aws.Config, optFns ...func(*Options)) (*Client, error) {
	endpoint, err := EndpointFromConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	o := Options{Endpoint: endpoint, HTTPClient: cfg.HTTPClient}
	for _, fn := range optFns {
		fn(&o)
	}
	if cfg.Region == "" {
		return nil, errors.New("s3object: the configuration names no region")
	}
	if cfg.Credentials == nil {
		return nil, errors.New("s3object: the configuration has no credentials")
	}
	c := &Client{region: cfg.Region, creds: cfg.Credentials, http: o.HTTPClient,
		maxAttempts: o.MaxAttempts, baseDelay: o.BaseDelay, maxDelay: o.MaxDelay, now: o.Now}
	if o.Endpoint != "" {
		u, err := url.Parse(o.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			return nil, fmt.Errorf("s3object: endpoint %q: want http(s)://host[:port][/path]", o.Endpoint)
		}
		c.endpoint = u
	}
	if c.http == nil {
		c.http = awshttp.NewBuildableClient()
	}
	if c.maxAttempts <= 0 {
		c.maxAttempts = 3
	}
	if c.baseDelay <= 0 {
		c.baseDelay = 100 * time.Millisecond
	}
	if c.maxDelay <= 0 {
		c.maxDelay = 5 * time.Second
	}
	if c.now == nil {
		c.now = time.Now
	}
	// S3 signs the path as sent, encoded once (not twice, as other services do).
	c.signer = v4.NewSigner(func(so *v4.SignerOptions) { so.DisableURIPathEscaping = true })
	return c, nil
}

// Object is a GetObject response: the body streams from S3 and must be closed.
type Object struct {
	Body io.ReadCloser
	// ETag without its quotes.
	ETag string
	// Metadata is the user metadata (x-amz-meta-* headers): names in lower case
	// without the prefix, as the SDK's client returns them.
	Metadata map[string]string
}

// GetObject streams an object. ifMatch, when set, is the ETag the object must still
// have (quoted or not): S3 answers 412 PreconditionFailed otherwise.
func (c *Client) GetObject(ctx context.Context, bucket, key, ifMatch string) (*Object, error) {
	h := http.Header{}
	if ifMatch != "" {
		h.Set("If-Match", `"`+strings.Trim(ifMatch, `"`)+`"`)
	}
	resp, err := c.do(ctx, "GetObject", http.MethodGet, bucket, key, h, nil)
	if err != nil {
		return nil, err
	}
	meta := map[string]string{}
	for k, v := range resp.Header {
		if name, ok := cutPrefixFold(k, "X-Amz-Meta-"); ok && len(v) > 0 {
			meta[strings.ToLower(name)] = v[0]
		}
	}
	return &Object{Body: resp.Body, ETag: strings.Trim(resp.Header.Get("ETag"), `"`), Metadata: meta}, nil
}

// PutObject writes an object of body with its Content-Type.
func (c *Client) PutObject(ctx context.Context, bucket, key string, body []byte, contentType string) error {
	h := http.Header{}
	if contentType != "" {
		h.Set("Content-Type", contentType)
	}
	if body == nil {
		body = []byte{}
	}
	resp, err := c.do(ctx, "PutObject", http.MethodPut, bucket, key, h, body)
	if err != nil {
		return err
	}
	drain(resp.Body)
	return nil
}

// DeleteObject removes an object. S3 answers 204 whether or not it existed.
func (c *Client) DeleteObject(ctx context.Context, bucket, key string) error {
	resp, err := c.do(ctx, "DeleteObject", http.MethodDelete, bucket, key, nil, nil)
	if err != nil {
		return err
	}
	drain(resp.Body)
	return nil
}

// do sends one operation, again after a backoff while the failure is one S3 asks to
// retry, and returns the successful (2xx) response, or an *Error.
func (c *Client) do(ctx context.Context, op, method, bucket, key string, h http.Header, body []byte) (*http.Response, error) {
	if err := checkBucket(bucket); err != nil {
		return nil, fmt.Errorf("s3 %s: %w", op, err)
	}
	if key == "" || len(key) > 1024 {
		return nil, fmt.Errorf("s3 %s: an object key is 1 to 1024 bytes, got %d", op, len(key))
	}
	u := c.objectURL(bucket, key)
	// S3's REST model names each object operation in the query (GET
	// /{Bucket}/{Key+}?x-id=GetObject); S3 ignores it, the SDK sends and signs it.
	u.RawQuery = "x-id=" + op
	hash := emptySHA256
	if body != nil {
		sum := sha256.Sum256(body)
		hash = hex.EncodeToString(sum[:])
	}
	for attempt := 1; ; attempt++ {
		resp, err := c.send(ctx, method, u, h, body, hash)
		var retry bool
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return nil, fmt.Errorf("s3 %s: %w", op, ctx.Err())
			}
			// A request that could not be sent or answered (a reset connection, a
			// timeout) is sent again; failing to get credentials or to sign is not.
			var te transportError
			retry = errors.As(err, &te)
			err = fmt.Errorf("s3 %s: %w", op, err)
		case resp.StatusCode >= 200 && resp.StatusCode < 300:
			return resp, nil
		default:
			e := readError(op, resp)
			retry = e.retryable()
			err = e
		}
		if !retry || attempt >= c.maxAttempts {
			return nil, err
		}
		if werr := c.wait(ctx, attempt); werr != nil {
			return nil, fmt.Errorf("%w (and %w while waiting to retry)", err, werr)
		}
	}
}

// send signs and sends one attempt.
func (c *Client) send(ctx context.Context, method string, u *url.URL, h http.Header, body []byte, hash string) (*http.Response, error) {
	creds, err := c.creds.Retrieve(ctx)
	if err != nil {
		return nil, fmt.Errorf("credentials: %w", err)
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return nil, err
	}
	// The URL as built, not as re-parsed: its RawPath is S3's encoding of the key,
	// which the signer signs (EscapedPath) and the transport sends.
	uu := *u
	req.URL, req.Host = &uu, u.Host
	for k, v := range h {
		req.Header[k] = v
	}
	if body != nil {
		req.ContentLength = int64(len(body))
	}
	req.Header.Set("X-Amz-Content-Sha256", hash)
	// As the SDK's S3 client: no transparent gzip, so that the bytes and the ETag
	// are the object's own.
	req.Header.Set("Accept-Encoding", "identity")
	if err := c.signer.SignHTTP(ctx, creds, req, hash, "s3", c.region, c.now().UTC()); err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, transportError{err}
	}
	return resp, nil
}

// transportError is a failure to send a request or to read its answer's head.
type transportError struct{ err error }

func (e transportError) Error() string { return e.err.Error() }
func (e transportError) Unwrap() error { return e.err }

// wait sleeps before attempt+1: full jitter, so that many clients throttled at once
// do not come back at once.
func (c *Client) wait(ctx context.Context, attempt int) error {
	ceiling := c.baseDelay << min(attempt-1, 20)
	if ceiling <= 0 || ceiling > c.maxDelay {
		ceiling = c.maxDelay
	}
	t := time.NewTimer(rand.N(ceiling) + 1)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// objectURL addresses an object as S3's REST API does: virtual-hosted on the
// regional endpoint (https://{bucket}.s3.{region}.{partition's domain}/{key}), by
// path where the bucket cannot be a host name under TLS (a dot in it, capitals of a
// legacy bucket) or the endpoint is an S3-compatible one: {endpoint}/{bucket}/{key}.
func (c *Client) objectURL(bucket, key string) *url.URL {
	ek := escapeKey(key)
	if c.endpoint != nil {
		base := strings.TrimSuffix(c.endpoint.Path, "/")
		rawBase := strings.TrimSuffix(c.endpoint.EscapedPath(), "/")
		return &url.URL{Scheme: c.endpoint.Scheme, Host: c.endpoint.Host,
			Path: base + "/" + bucket + "/" + key, RawPath: rawBase + "/" + escapeKey(bucket) + "/" + ek}
	}
	host := "s3." + c.region + "." + dnsSuffix(c.region)
	if virtualHostable(bucket) {
		return &url.URL{Scheme: "https", Host: bucket + "." + host, Path: "/" + key, RawPath: "/" + ek}
	}
	return &url.URL{Scheme: "https", Host: host, Path: "/" + bucket + "/" + key, RawPath: "/" + escapeKey(bucket) + "/" + ek}
}

// dnsSuffix is the domain of the AWS partition a region belongs to (the SDK's
// partitions.json): China, the European Sovereign Cloud and the ISO regions have
// their own; the others (GovCloud included) are under amazonaws.com.
func dnsSuffix(region string) string {
	for _, p := range []struct{ prefix, suffix string }{
		{"cn-", "amazonaws.com.cn"},
		{"eusc-", "amazonaws.eu"},
		{"us-iso-", "c2s.ic.gov"},
		{"us-isob-", "sc2s.sgov.gov"},
		{"eu-isoe-", "cloud.adc-e.uk"},
		{"us-isof-", "csp.hci.ic.gov"},
	} {
		if strings.HasPrefix(region, p.prefix) {
			return p.suffix
		}
	}
	return "amazonaws.com"
}

// virtualHostable is the SDK's isVirtualHostableS3Bucket(bucket, false): one DNS
// label of 3 to 63 lower-case letters, digits and hyphens, not an IP address. A
// dotted name would not match S3's wildcard TLS certificate.
func virtualHostable(bucket string) bool {
	if len(bucket) < 3 || len(bucket) > 63 || net.ParseIP(bucket) != nil {
		return false
	}
	for i := 0; i < len(bucket); i++ {
		b := bucket[i]
		if !(b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || b == '-') {
			return false
		}
	}
	return true
}

// checkBucket refuses a name S3 could never have given a bucket (its legacy rules
// allowed up to 255 letters, digits, '.', '-' and '_'): it goes into a host name or
// a path, and a '/' or '#' there would address something else.
func checkBucket(bucket string) error {
	if bucket == "" || len(bucket) > 255 {
		return fmt.Errorf("bucket name %q: want 1 to 255 characters", bucket)
	}
	for i := 0; i < len(bucket); i++ {
		b := bucket[i]
		if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '-' || b == '.' || b == '_') {
			return fmt.Errorf("bucket name %q: only letters, digits, '.', '-' and '_'", bucket)
		}
	}
	return nil
}

// escapeKey encodes a key as S3's SigV4 canonical URI wants it, once: every byte
// but the unreserved A-Z a-z 0-9 - . _ ~ and the '/' between segments is %XX (upper
// case), so a space is %20 and a '+' is %2B.
func escapeKey(key string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(key) * 3)
	for i := 0; i < len(key); i++ {
		c := key[i]
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' || c == '/' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		return s[len(prefix):], true
	}
	return "", false
}

// drain reads what is left of a body (at most 64 KiB) so the connection is reused.
func drain(body io.ReadCloser) {
	_, _ = io.Copy(io.Discard, io.LimitReader(body, 64<<10))
	_ = body.Close()
}
