// Package lwa is the Login with Amazon token client: it exchanges a seller's
// spapi_oauth_code for a refresh token, mints access tokens from refresh tokens, and
// gets grantless tokens with the client_credentials grant. Its requests go through
// the Amazon transport (shared/amazon), which retries what is worth retrying and
// reads LWA's error answers; this client says which grants may be repeated and puts
// every failure into one of a few kinds (ErrInvalidGrant, ErrClient, ErrBadRequest,
// ErrThrottled, ErrUnavailable). No token or secret ever appears in its errors or logs.
package lwa

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/spapi-auth-keeper/keeper/shared/amazon"
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

// Config configures a Client. Zero fields take the defaults (amazon.LWADefaults).
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
	cfg       Config
	transport *amazon.Transport
}

// NewClient builds a Client from cfg, filling in defaults.
func NewClient(cfg Config) *Client {
	if cfg.Endpoint == "" {
		cfg.Endpoint = DefaultEndpoint
	}
	return &Client{cfg: cfg, transport: amazon.New(amazon.Config{
		HTTPClient: cfg.HTTPClient, MaxAttempts: cfg.MaxAttempts, BaseDelay: cfg.BaseDelay,
		MaxDelay: cfg.MaxDelay, AttemptTimeout: cfg.AttemptTimeout, Logger: cfg.Logger,
	}, amazon.LWADefaults)}
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

// do sends form with the client credentials; the transport retries transient
// failures. idempotent says whether the request may be
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
	c.transport.Logger().WarnContext(ctx, "lwa refused the client credentials; reading them again and retrying once",
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
// transport's retries of transient failures.
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

	var tokens Tokens
	_, err = c.transport.Do(ctx, amazon.Request{
		Op: grant, Method: http.MethodPost, URL: c.cfg.Endpoint, Body: []byte(form.Encode()),
		ContentType: "application/x-www-form-urlencoded;charset=UTF-8",
		Secrets:     append(sent, creds.ClientSecret.Reveal()),
		Idempotent:  idempotent,
		// LWA answered success, so it acted: an unreadable answer is asked again only
		// of a repeatable grant.
		Check: func(raw []byte) (err error) { tokens, err = parseTokens(grant, raw); return err },
	})
	if err != nil {
		return Tokens{}, fromTransport(grant, err)
	}
	return tokens, nil
}

// fromTransport is the transport's failure in LWA's kinds.
func fromTransport(grant string, err error) *Error {
	var ae *amazon.Error
	if !errors.As(err, &ae) {
		return &Error{Grant: grant, Code: "network_error", kind: ErrUnavailable, cause: err}
	}
	e := &Error{Grant: grant, Code: ae.Code, Description: ae.Message, Status: ae.Status, Attempts: ae.Attempts, cause: ae.Cause}
	switch ae.Kind {
	case amazon.KindInvalidGrant:
		e.kind = ErrInvalidGrant
	case amazon.KindClient:
		e.kind = ErrClient
	case amazon.KindBadRequest, amazon.KindForbidden:
		e.kind = ErrBadRequest
	case amazon.KindThrottled:
		e.kind = ErrThrottled
	default: // unavailable, or a success answer that cannot be read
		e.kind = ErrUnavailable
	}
	return e
}

// parseTokens reads a token answer. Its errors quote nothing of the answer.
func parseTokens(grant string, raw []byte) (Tokens, error) {
	var ans struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
		TokenType    string `json:"token_type"`
		ExpiresIn    int64  `json:"expires_in"`
	}
	switch err := json.Unmarshal(raw, &ans); {
	case err != nil:
		return Tokens{}, errors.New("the token answer is not the JSON LWA sends")
	case ans.AccessToken == "":
		return Tokens{}, errors.New("the token answer has no access_token")
	case grant == grantCode && ans.RefreshToken == "":
		return Tokens{}, errors.New("the code grant answer has no refresh_token")
	case ans.ExpiresIn < 0:
		return Tokens{}, errors.New("the token answer has a negative expires_in")
	}
	return Tokens{
		AccessToken:  secret.Value(ans.AccessToken),
		RefreshToken: secret.Value(ans.RefreshToken),
		TokenType:    ans.TokenType,
		ExpiresIn:    time.Duration(ans.ExpiresIn) * time.Second,
	}, nil
}
