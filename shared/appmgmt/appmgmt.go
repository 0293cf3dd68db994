// Package appmgmt is the client of the Selling Partner API for Application Management
// (v2023-11-30), whose one operation, rotateApplicationClientSecret, makes Amazon
// create a new LWA client secret for the vendor's application. The new secret is not
// in the answer: Amazon puts it on the SQS queue the vendor registered for
// APPLICATION_OAUTH_CLIENT_NEW_SECRET (see the rotation package).
//
// The operation's usage plan is 0.0167 requests a second with a burst of 1, one call
// a minute. The client sends each call once and never retries it itself: a retry
// inside the minute would only earn a 429, and a retry after a lost answer could
// rotate twice. It also keeps the usage plan on its side, so a caller that loops
// cannot hammer the endpoint. The call goes through the Amazon transport
// (shared/amazon), sent once; its failures are put once, here, into a few kinds.
package appmgmt

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/spapi-auth-keeper/keeper/shared/amazon"
	"github.com/spapi-auth-keeper/keeper/shared/lwa"
)

// ScopeRotation is the grantless scope of rotateApplicationClientSecret: the access
// token comes from LWA's client_credentials grant with it, sent as x-amz-access-token.
const ScopeRotation = "sellingpartnerapi::client_credential:rotation"

// RotationPath is the operation's path.
const RotationPath = "/applications/2023-11-30/clientSecret"

// Usage plan of rotateApplicationClientSecret.
const (
	Rate  = 0.0167 // requests a second
	Burst = 1
)

// Endpoints are the SP-API regional endpoints. The operation is grantless and not tied
// to a marketplace: any of them rotates the application's secret.
var Endpoints = map[string]string{
	"na": "https://sellingpartnerapi-na.amazon.com",
	"eu": "https://sellingpartnerapi-eu.amazon.com",
	"fe": "https://sellingpartnerapi-fe.amazon.com",
}

// Endpoint returns the SP-API endpoint of region (na, eu or fe).
func Endpoint(region string) (string, error) {
	e, ok := Endpoints[strings.ToLower(region)]
	if !ok {
		return "", fmt.Errorf("unknown SP-API region %q (want na, eu or fe)", region)
	}
	return e, nil
}

// Kinds of failure; every error RotateClientSecret returns is an *Error matching one.
var (
	// ErrClient: LWA refused the application's client credentials for the grantless
	// token (the current secret is wrong or already expired). A person must act.
	ErrClient = errors.New("appmgmt: LWA refused the client credentials")
	// ErrThrottled: 429 from Amazon, or the usage plan spent on this side. Try again
	// after RetryAfter, never at once.
	ErrThrottled = errors.New("appmgmt: throttled")
	// ErrNotEnrolled: 400, no SQS queue is registered for the new secret in the
	// Developer Console (Notification Preferences).
	ErrNotEnrolled = errors.New("appmgmt: no queue registered for the new client secret")
	// ErrForbidden: 403, the access token was refused.
	ErrForbidden = errors.New("appmgmt: access denied")
	// ErrBadRequest: another 4xx: a bug or a wrong endpoint.
	ErrBadRequest = errors.New("appmgmt: request refused")
	// ErrUnavailable: 5xx, or the request never left; nothing was rotated. Try later.
	ErrUnavailable = errors.New("appmgmt: unavailable")
	// ErrUnknownOutcome: the request was sent and no answer came (a timeout, a dropped
	// connection). Amazon may have rotated: watch the queue before asking again.
	ErrUnknownOutcome = errors.New("appmgmt: no answer; the secret may have been rotated")
)

// Error is a failed call. It never holds a token or a secret.
type Error struct {
	Status     int    // HTTP status; 0 if no answer came
	Code       string // the first SP-API error code, or what happened
	Message    string
	RequestID  string        // x-amzn-RequestId, for Amazon's support
	RetryAfter time.Duration // for ErrThrottled: when the usage plan allows the next call
	kind       error
	cause      error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("rotateApplicationClientSecret: ")
	b.WriteString(e.Code)
	if e.Status != 0 {
		fmt.Fprintf(&b, " (HTTP %d)", e.Status)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.RequestID != "" {
		b.WriteString(" [request id " + e.RequestID + "]")
	}
	if e.cause != nil {
		b.WriteString(": ")
		b.WriteString(e.cause.Error())
	}
	return b.String()
}

// Unwrap matches the kind and the cause (an *lwa.Error, a context error).
func (e *Error) Unwrap() []error {
	if e.cause != nil {
		return []error{e.kind, e.cause}
	}
	return []error{e.kind}
}

// TokenSource gets grantless access tokens (the *lwa.Client).
type TokenSource interface {
	ClientCredentials(ctx context.Context, scope string) (lwa.Tokens, error)
}

// Config configures a Client.
type Config struct {
	Endpoint   string       // SP-API base URL (Endpoint(region)), or the simulator's
	Tokens     TokenSource  // required
	HTTPClient *http.Client // default: a client whose timeout is Timeout
	Timeout    time.Duration
	Clock      func() time.Time // the usage plan's clock; default time.Now
	Logger     *slog.Logger
	UserAgent  string
}

// Client calls the Application Management API. It is safe for concurrent use.
type Client struct {
	cfg       Config
	transport *amazon.Transport

	mu         sync.Mutex
	tokens     float64
	refilledAt time.Time
}

// New returns a client.
func New(cfg Config) *Client {
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	return &Client{cfg: cfg, transport: amazon.New(amazon.Config{
		HTTPClient: cfg.HTTPClient, AttemptTimeout: cfg.Timeout, Logger: cfg.Logger, UserAgent: cfg.UserAgent,
	}, amazon.SendOnceDefaults)}
}

// RotateClientSecret asks Amazon for a new client secret (204). On success the new
// secret is on its way to the registered queue; the current one keeps working for
// seven days.
func (c *Client) RotateClientSecret(ctx context.Context) error {
	if wait, ok := c.take(); !ok {
		return &Error{Code: "usage_plan", Message: "one rotation call a minute (0.0167/s, burst 1)", RetryAfter: wait, kind: ErrThrottled}
	}
	tok, err := c.cfg.Tokens.ClientCredentials(ctx, ScopeRotation)
	if err != nil {
		return grantlessError(err)
	}
	// Not idempotent: a repeat after a lost answer could rotate twice.
	res, err := c.transport.Do(ctx, amazon.Request{Op: "rotateApplicationClientSecret", Method: http.MethodPost,
		URL: strings.TrimRight(c.cfg.Endpoint, "/") + RotationPath, AccessToken: tok.AccessToken.Reveal()})
	if err != nil {
		return c.classify(err)
	}
	if res.Status != http.StatusNoContent && res.Status != http.StatusOK {
		return &Error{Status: res.Status, RequestID: res.RequestID, Code: fmt.Sprintf("http_%d", res.Status), kind: ErrBadRequest}
	}
	c.transport.Logger().InfoContext(ctx, "client secret rotation requested", "requestId", res.RequestID, "rateLimit", res.Header.Get("x-amzn-RateLimit-Limit"))
	return nil
}

// take spends the usage plan's token, or says how long until there is one.
func (c *Client) take() (time.Duration, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.cfg.Clock()
	if c.refilledAt.IsZero() {
		c.tokens = Burst
	} else if d := now.Sub(c.refilledAt); d > 0 {
		c.tokens = min(Burst, c.tokens+d.Seconds()*Rate)
	}
	c.refilledAt = now
	if c.tokens < 1 {
		return time.Duration((1 - c.tokens) / Rate * float64(time.Second)), false
	}
	c.tokens--
	return 0, true
}

// retryAfter is how long until the usage plan allows another call.
func (c *Client) retryAfter() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Duration((1 - c.tokens) / Rate * float64(time.Second))
}

func grantlessError(err error) error {
	e := &Error{Code: "grantless_token", Message: "LWA client_credentials grant failed", cause: err}
	switch {
	case errors.Is(err, lwa.ErrClient):
		e.kind = ErrClient
	case errors.Is(err, lwa.ErrThrottled):
		e.kind = ErrThrottled
	case errors.Is(err, lwa.ErrBadRequest):
		e.kind = ErrBadRequest
	default:
		e.kind = ErrUnavailable
	}
	return e
}

// classify puts the transport's failure into the operation's kinds.
func (c *Client) classify(err error) error {
	var ae *amazon.Error
	if !errors.As(err, &ae) {
		return &Error{Code: "network_error", kind: ErrUnavailable, cause: err}
	}
	e := &Error{Status: ae.Status, RequestID: ae.RequestID, Code: ae.Code, Message: ae.Message, cause: ae.Cause}
	switch {
	case ae.Kind == amazon.KindThrottled:
		e.kind, e.RetryAfter = ErrThrottled, max(c.retryAfter(), ae.RetryAfter, time.Minute)
	case ae.Status == 0 && ae.Sent:
		e.Code, e.kind = "no_answer", ErrUnknownOutcome
	case ae.Status == http.StatusBadRequest && strings.Contains(strings.ToLower(ae.Message), "not enrolled"):
		e.kind = ErrNotEnrolled
	case ae.Kind == amazon.KindForbidden:
		e.kind = ErrForbidden
	case ae.Kind == amazon.KindUnavailable:
		e.kind = ErrUnavailable
	default:
		e.kind = ErrBadRequest
	}
	return e
}
