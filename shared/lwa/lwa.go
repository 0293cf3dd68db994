// Package lwa is the Login with Amazon token client: it exchanges a seller's
// spapi_oauth_code for a refresh token, mints access tokens from refresh tokens, and
// gets grantless tokens with the client_credentials grant. It retries what is worth
// retrying and classifies every failure into one of a few kinds (ErrInvalidGrant,
// ErrClient, ErrBadRequest, ErrThrottled, ErrUnavailable). No token or secret ever
// appears in its errors or logs.
package lwa

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/secret"
)

// DefaultEndpoint is LWA's token URL, the same for every SP-API region.
const DefaultEndpoint = "https://api.amazon.com/auth/o2/token"

// Credentials are the vendor's LWA client credentials (Solution Provider Portal →
// app → LWA credentials).
type Credentials struct {
	ClientID     string
	ClientSecret secret.Value
}

// CredentialsSource gives the current client credentials. It is asked once per token
// request so that a rotated client secret is picked up without a restart.
type CredentialsSource interface {
	Credentials(ctx context.Context) (Credentials, error)
}

// Invalidator is a CredentialsSource that caches (the vault-backed clientcreds.Source).
// When LWA refuses the client credentials, the client drops the cache and asks once
// more with what the source reads afresh: the client secret may have been rotated a
// moment ago (a rotation writes the new secret to the lwa-client secret, and every
// running function picks it up on its next read), so nobody is paged for it.
type Invalidator interface {
	Invalidate()
}

// StaticCredentials is a CredentialsSource that never changes.
type StaticCredentials Credentials

// Credentials returns s.
func (s StaticCredentials) Credentials(context.Context) (Credentials, error) {
	return Credentials(s), nil
}

// Config configures a Client. Zero fields take the defaults.
type Config struct {
	Endpoint       string       // token URL; default DefaultEndpoint
	HTTPClient     *http.Client // default: a client whose timeout is AttemptTimeout
	Credentials    CredentialsSource
	MaxAttempts    int           // requests per call, first included; default 4
	BaseDelay      time.Duration // first backoff ceiling; default 200ms
	MaxDelay       time.Duration // backoff and Retry-After cap; default 5s
	AttemptTimeout time.Duration // per request; default 10s
	Logger         *slog.Logger  // retries are logged here; default slog.Default()
}

// Client talks to the LWA token endpoint. It is safe for concurrent use.
type Client struct {
	cfg  Config
	http *http.Client
	log  *slog.Logger
}

// NewClient builds a Client from cfg, filling in defaults.
func NewClient(cfg Config) *Client {
	if cfg.Endpoint == "" {
		cfg.Endpoint = DefaultEndpoint
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 4
	}
	if cfg.BaseDelay <= 0 {
		cfg.BaseDelay = 200 * time.Millisecond
	}
	if cfg.MaxDelay <= 0 {
		cfg.MaxDelay = 5 * time.Second
	}
	if cfg.MaxDelay < cfg.BaseDelay {
		cfg.MaxDelay = cfg.BaseDelay
	}
	if cfg.AttemptTimeout <= 0 {
		cfg.AttemptTimeout = 10 * time.Second
	}
	c := &Client{cfg: cfg, http: cfg.HTTPClient, log: cfg.Logger}
	if c.http == nil {
		c.http = &http.Client{Timeout: cfg.AttemptTimeout}
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	return c
}

// Tokens is a successful token answer.
type Tokens = authz.Tokens

const (
	grantCode              = "authorization_code"
	grantRefresh           = "refresh_token"
	grantClientCredentials = "client_credentials"
)

// ExchangeCode trades the spapi_oauth_code Amazon sent to redirectURI for a refresh
// token (and a first access token). redirectURI must be the one the code came to.
//
// A code is single use and valid five minutes. The exchange is retried after 429 and
// 5xx answers (as Amazon's own samples do: LWA answered, so it issued no tokens) and
// after failures that happened before the request was written (dial errors). It is
// NOT retried after a timeout, a dropped connection or an unreadable answer once the
// request was sent: LWA may have redeemed the code, and the retry would only earn an
// invalid_grant that wrongly tells the seller the link was used. The caller gets
// ErrUnavailable and asks the seller to start the authorization again.
func (c *Client) ExchangeCode(ctx context.Context, code, redirectURI string) (Tokens, error) {
	if code == "" || redirectURI == "" {
		return Tokens{}, &Error{Grant: grantCode, Code: "invalid_request",
			Description: "the code and the redirect URI are required", kind: ErrBadRequest}
	}
	form := url.Values{"grant_type": {grantCode}, "code": {code}, "redirect_uri": {redirectURI}}
	return c.do(ctx, grantCode, form, false, []string{code})
}

// Refresh mints an access token from a seller's refresh token. LWA refresh tokens are
// reusable, so every transient failure is retried. When the answer omits
// refresh_token, Tokens.RefreshToken is the one given: a caller that stores the token
// only when it changes never overwrites it with an empty value.
func (c *Client) Refresh(ctx context.Context, refreshToken secret.Value) (Tokens, error) {
	if refreshToken.IsZero() {
		return Tokens{}, &Error{Grant: grantRefresh, Code: "invalid_request",
			Description: "the refresh token is empty", kind: ErrBadRequest}
	}
	form := url.Values{"grant_type": {grantRefresh}, "refresh_token": {refreshToken.Reveal()}}
	t, err := c.do(ctx, grantRefresh, form, true, []string{refreshToken.Reveal()})
	if err == nil && t.RefreshToken.IsZero() {
		t.RefreshToken = refreshToken
	}
	return t, err
}

// ClientCredentials gets a grantless access token for scope, e.g.
// "sellingpartnerapi::client_credential:rotation" or "sellingpartnerapi::notifications".
func (c *Client) ClientCredentials(ctx context.Context, scope string) (Tokens, error) {
	if scope == "" {
		return Tokens{}, &Error{Grant: grantClientCredentials, Code: "invalid_request",
			Description: "the scope is required", kind: ErrBadRequest}
	}
	form := url.Values{"grant_type": {grantClientCredentials}, "scope": {scope}}
	return c.do(ctx, grantClientCredentials, form, true, nil)
}

// outcome is one attempt's result.
type outcome struct {
	tokens     Tokens
	err        *Error
	retry      bool
	retryAfter time.Duration
}

// do sends form with the client credentials, retrying transient failures with capped
// exponential backoff and full jitter. idempotent says whether the request may be
// repeated after LWA may already have acted on it. sent lists the secret values the
// request carries, masked from any description LWA echoes.
func (c *Client) do(ctx context.Context, grant string, form url.Values, idempotent bool, sent []string) (Tokens, error) {
	t, err := c.send(ctx, grant, form, idempotent, sent)
	inv, ok := c.cfg.Credentials.(Invalidator)
	if !ok || !errors.Is(err, ErrClient) || ctx.Err() != nil {
		return t, err
	}
	// invalid_client means client authentication failed before LWA looked at the grant
	// (RFC 6749 section 5.2), so even a code is still unspent and may be sent again.
	c.log.WarnContext(ctx, "lwa refused the client credentials; reading them again and retrying once",
		"grant", grant, "error", errCode(err))
	inv.Invalidate()
	return c.send(ctx, grant, form, idempotent, sent)
}

// errCode is the LWA error code of err, for a log line.
func errCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// send makes one call: the credentials as the source gives them now, and the
// retries of transient failures.
func (c *Client) send(ctx context.Context, grant string, form url.Values, idempotent bool, sent []string) (Tokens, error) {
	if c.cfg.Credentials == nil {
		return Tokens{}, &Error{Grant: grant, Code: "missing_credentials",
			Description: "no LWA credentials source is configured", kind: ErrClient}
	}
	creds, err := c.cfg.Credentials.Credentials(ctx)
	if err != nil {
		// The vault could not say who we are: fail fast, LWA cannot help.
		return Tokens{}, fmt.Errorf("lwa %s: load client credentials: %w", grant, err)
	}
	if creds.ClientID == "" || creds.ClientSecret.IsZero() {
		return Tokens{}, &Error{Grant: grant, Code: "missing_credentials",
			Description: "the LWA client id or client secret is empty", kind: ErrClient}
	}
	form.Set("client_id", creds.ClientID)
	form.Set("client_secret", creds.ClientSecret.Reveal())
	sent = append(sent, creds.ClientSecret.Reveal())
	body := form.Encode()

	for attempt := 1; ; attempt++ {
		o := c.attempt(ctx, grant, body, idempotent, sent)
		if o.err == nil {
			return o.tokens, nil
		}
		o.err.Attempts = attempt
		// A caller who stopped waiting gets that, unless LWA's answer already settled it.
		if ctx.Err() != nil && (o.retry || o.err.Status == 0) {
			return Tokens{}, ended(ctx, grant, attempt, o.err)
		}
		if !o.retry || attempt >= c.cfg.MaxAttempts {
			return Tokens{}, o.err
		}
		delay := c.backoff(attempt, o.retryAfter)
		c.log.WarnContext(ctx, "lwa request failed, retrying",
			"grant", grant, "attempt", attempt, "error", o.err.Code, "status", o.err.Status,
			"description", o.err.Description, "delay", delay)
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return Tokens{}, ended(ctx, grant, attempt, o.err)
		}
	}
}

// ended is the error for a call whose context ended: it matches ErrUnavailable (LWA
// did not answer within the time the caller gave it) and the context's error.
func ended(ctx context.Context, grant string, attempts int, last *Error) *Error {
	code := "canceled"
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		code = "deadline_exceeded"
	}
	return &Error{Grant: grant, Code: code, Status: last.Status, Attempts: attempts,
		Description: "the caller stopped waiting; last failure: " + last.Code,
		kind:        ErrUnavailable, cause: ctx.Err()}
}

// maxAnswer bounds how much of an answer is read; LWA's are a few hundred bytes.
const maxAnswer = 64 << 10

func (c *Client) attempt(ctx context.Context, grant, body string, idempotent bool, sent []string) outcome {
	actx, cancel := context.WithTimeout(ctx, c.cfg.AttemptTimeout)
	defer cancel()
	// Whether the request left in full decides if a code exchange may be repeated.
	var wrote atomic.Bool
	actx = httptrace.WithClientTrace(actx, &httptrace.ClientTrace{
		WroteRequest: func(i httptrace.WroteRequestInfo) {
			if i.Err == nil {
				wrote.Store(true)
			}
		},
	})
	req, err := http.NewRequestWithContext(actx, http.MethodPost, c.cfg.Endpoint, strings.NewReader(body))
	if err != nil {
		return outcome{err: &Error{Grant: grant, Code: "invalid_endpoint",
			Description: "the LWA endpoint is not a valid URL", kind: ErrBadRequest}}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded;charset=UTF-8")
	req.Header.Set("Accept", "application/json")

	res, err := c.http.Do(req)
	if err != nil {
		e := &Error{Grant: grant, Code: "network_error", kind: ErrUnavailable, cause: transportCause(err)}
		if isTimeout(err) {
			e.Code = "timeout"
		}
		return outcome{err: e, retry: idempotent || !wrote.Load()}
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, maxAnswer))
	if err != nil {
		e := &Error{Grant: grant, Code: "network_error", Status: res.StatusCode, kind: ErrUnavailable, cause: transportCause(err)}
		if isTimeout(err) {
			e.Code = "timeout"
		}
		return outcome{err: e, retry: idempotent}
	}
	if res.StatusCode >= 200 && res.StatusCode < 300 {
		t, e := parseTokens(grant, res.StatusCode, raw)
		if e != nil {
			// LWA answered success: it acted. Only a repeatable request is sent again.
			return outcome{err: e, retry: idempotent}
		}
		return outcome{tokens: t}
	}
	return classify(grant, res, raw, sent)
}

func parseTokens(grant string, status int, raw []byte) (Tokens, *Error) {
	var ans struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
		TokenType    string `json:"token_type"`
		ExpiresIn    int64  `json:"expires_in"`
	}
	bad := func(desc string) (Tokens, *Error) {
		// The decoder's message is not used: it could quote the answer.
		return Tokens{}, &Error{Grant: grant, Code: "invalid_response", Status: status, Description: desc, kind: ErrUnavailable}
	}
	if err := json.Unmarshal(raw, &ans); err != nil {
		return bad("the token answer is not the JSON LWA sends")
	}
	if ans.AccessToken == "" {
		return bad("the token answer has no access_token")
	}
	if grant == grantCode && ans.RefreshToken == "" {
		return bad("the code grant answer has no refresh_token")
	}
	if ans.ExpiresIn < 0 {
		return bad("the token answer has a negative expires_in")
	}
	return Tokens{
		AccessToken:  secret.Value(ans.AccessToken),
		RefreshToken: secret.Value(ans.RefreshToken),
		TokenType:    ans.TokenType,
		ExpiresIn:    time.Duration(ans.ExpiresIn) * time.Second,
	}, nil
}

// classify turns an LWA error answer into an Error of the right kind. LWA's "error"
// field decides when it is one of the OAuth 2.0 codes (RFC 6749 section 5.2); the
// HTTP status decides otherwise.
func classify(grant string, res *http.Response, raw []byte, sent []string) outcome {
	var body struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	_ = json.Unmarshal(raw, &body) // a 429 or a proxy's 502 may carry no JSON at all
	e := &Error{Grant: grant, Code: cleanCode(body.Error, sent), Status: res.StatusCode,
		Description: cleanDescription(body.Description, sent)}
	if e.Code == "" {
		e.Code = "http_" + strconv.Itoa(res.StatusCode)
	}
	o := outcome{err: e}
	switch body.Error {
	case "invalid_grant":
		e.kind = ErrInvalidGrant
		return o
	case "invalid_client", "unauthorized_client":
		e.kind = ErrClient
		return o
	case "invalid_request", "unsupported_grant_type", "invalid_scope":
		e.kind = ErrBadRequest
		return o
	case "server_error", "temporarily_unavailable":
		e.kind = ErrUnavailable
		o.retry, o.retryAfter = true, retryAfter(res.Header)
		return o
	}
	switch s := res.StatusCode; {
	case s == http.StatusTooManyRequests:
		e.kind = ErrThrottled
		o.retry, o.retryAfter = true, retryAfter(res.Header)
	case s >= 500:
		e.kind = ErrUnavailable
		o.retry, o.retryAfter = true, retryAfter(res.Header)
	case s == http.StatusUnauthorized:
		e.kind = ErrClient
	default:
		e.kind = ErrBadRequest
	}
	return o
}

// cleanCode keeps an "error" field as LWA sent it when it looks like an OAuth error
// code, and masks anything else like a description, in shorter bounds.
func cleanCode(code string, sent []string) string {
	code = cleanDescription(code, sent)
	if r := []rune(code); len(r) > 64 {
		code = string(r[:64])
	}
	return code
}

// retryAfter reads Retry-After (RFC 9110 section 10.2.3): seconds or an HTTP date.
func retryAfter(h http.Header) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(v); err == nil {
		if secs < 0 {
			return 0
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}

// backoff is the wait before attempt+1: Retry-After when LWA sent one, otherwise a
// random duration in [0, min(MaxDelay, BaseDelay·2^(attempt-1))] ("full jitter", as
// the AWS Architecture Blog's "Exponential Backoff And Jitter" recommends), so many
// workers throttled together do not come back together. Both are capped at MaxDelay.
func (c *Client) backoff(attempt int, retryAfter time.Duration) time.Duration {
	if retryAfter > 0 {
		return min(retryAfter, c.cfg.MaxDelay)
	}
	ceiling := c.cfg.MaxDelay
	if attempt-1 < 32 {
		if d := c.cfg.BaseDelay << (attempt - 1); d > 0 && d < ceiling {
			ceiling = d
		}
	}
	return rand.N(ceiling + 1)
}

func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// transportCause keeps the transport error without the *url.Error wrapper, whose text
// repeats the endpoint; the endpoint holds no secret, but the message reads better.
func transportCause(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
