// Package renewal holds the seller's renewal round trip, the OAuth "website
// authorization workflow" of SP-API: a renewal link or a Login URI call starts it
// with a signed single-use state, and the callback completes it by exchanging Amazon's
// code with LWA, storing the refresh token, then resetting the authorization's year.
package renewal

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/consent"
	"github.com/spapi-auth-keeper/keeper/shared/metrics"
	"github.com/spapi-auth-keeper/keeper/shared/secret"
)

// Store is the ledger as the round trip uses it.
type Store interface {
	Get(ctx context.Context, connectionID string, region authz.Region) (authz.Authorization, error)
	Create(ctx context.Context, a authz.Authorization, events ...authz.Event) (authz.Authorization, error)
	UpdateBound(ctx context.Context, a authz.Authorization, at time.Time, events ...authz.Event) (authz.Authorization, error)
	FindBySeller(ctx context.Context, sellingPartnerID string) ([]authz.Authorization, error)
	SellerBinding(ctx context.Context, region authz.Region, sellingPartnerID string) (string, error)
	ClaimBinding(ctx context.Context, region authz.Region, sellingPartnerID, connectionID string, at time.Time) error
	AddEvent(ctx context.Context, e authz.Event) error
	PutNonce(ctx context.Context, nonce, connectionID string, region authz.Region, expiresAt time.Time) error
	ConsumeNonce(ctx context.Context, nonce string, now time.Time) (string, authz.Region, error)
	Park(ctx context.Context, p authz.Parked) error
	ParkedTokens(ctx context.Context) ([]authz.Parked, error)
	Unpark(ctx context.Context, connectionID string, region authz.Region, parkedAt time.Time) error
}

// Vault stores refresh tokens.
type Vault interface {
	Get(ctx context.Context, connectionID string, region authz.Region) (authz.RefreshToken, error)
	Put(ctx context.Context, connectionID string, region authz.Region, rt authz.RefreshToken) (string, error)
}

// Exchanger trades Amazon's spapi_oauth_code for tokens at LWA, and mints access
// tokens from refresh tokens. Its errors are classified as authz.ErrInvalidGrant and
// authz.ErrClientRejected where LWA said so.
type Exchanger interface {
	ExchangeCode(ctx context.Context, code, redirectURI string) (authz.Tokens, error)
	Refresh(ctx context.Context, refreshToken secret.Value) (authz.Tokens, error)
}

// AccountReader asks SP-API, with an access token, which account the token is for;
// authz.ErrAccessDenied when SP-API refuses to describe it (no Sellers API).
type AccountReader interface {
	Fingerprint(ctx context.Context, region authz.Region, accessToken secret.Value) (authz.Account, error)
}

// Sealer encrypts a token that must wait outside the vault (KMS).
type Sealer interface {
	Seal(ctx context.Context, plaintext secret.Value, context map[string]string) ([]byte, error)
	Open(ctx context.Context, ciphertext []byte, context map[string]string) (secret.Value, error)
}

// Funnel counts the renewal funnel's steps that happen here (funnel.Recorder).
type Funnel interface {
	LinkOpened(ctx context.Context, a authz.Authorization, at time.Time)
	Renewed(ctx context.Context, prev authz.Authorization, at time.Time)
}

// Notices withdraws the app's reminder notifications in Seller Central once the
// seller renewed (appnotify.Channel).
type Notices interface {
	Withdraw(ctx context.Context, a authz.Authorization) error
}

// Signer signs and verifies links and states, and the browser binding of a state.
type Signer interface {
	// Load reads the state key if it was not read yet (the signer keeps it): each
	// step of the round trip calls it first, so a key that cannot be read fails that
	// request with ErrUnavailable, not the function's start.
	Load(ctx context.Context) error
	VerifyLink(token string, now time.Time) (consent.Link, error)
	SignState(st consent.State) string
	VerifyState(token string, now time.Time) (consent.State, error)
	BrowserBinding(nonce string) string
	CheckBrowserBinding(nonce string, presented []string) bool
}

// Config is what the round trip needs to know about the vendor's app.
type Config struct {
	AppID                 string
	AppName               string
	Draft                 bool
	RedirectURI           string // REDIRECT_URI; else the one WithRedirectURI puts in the request's context
	SellerCentralOverride string // SELLER_CENTRAL_URL, the local simulator
	StateTTL              time.Duration
	RefreshSlots          int
	SelfServiceOnboarding bool
	// VerifySellerID says SP-API's evidence includes the seller id (the Product Fees
	// probe): the only evidence a Login URI renewal of a connection without a
	// fingerprint, or a self-service onboarding, can have.
	VerifySellerID bool
	// VaultBudget is how long the callback keeps retrying a refresh token's write to
	// Secrets Manager before it parks the token instead (default 5 s).
	VaultBudget time.Duration
}

// Service runs the round trip.
type Service struct {
	cfg      Config
	store    Store
	vault    Vault
	lwa      Exchanger
	accounts AccountReader
	sealer   Sealer
	signer   Signer
	funnel   Funnel
	notices  Notices
	clock    authz.Clock
	log      *slog.Logger
	metrics  *metrics.Emitter
}

// Deps are the service's collaborators. Metrics may be nil.
type Deps struct {
	Store    Store
	Vault    Vault
	LWA      Exchanger
	Accounts AccountReader
	Sealer   Sealer
	Signer   Signer
	Funnel   Funnel  // nil counts nothing
	Notices  Notices // nil: the Seller Central channel is off
	Clock    authz.Clock
	Log      *slog.Logger
	Metrics  *metrics.Emitter
}

// AppNameOr is name, or "our app" for a deployment that set no APP_NAME: what the
// pages call the app.
func AppNameOr(name string) string {
	if name == "" {
		return "our app"
	}
	return name
}

// NewService wires the round trip.
func NewService(cfg Config, d Deps) *Service {
	if cfg.StateTTL <= 0 {
		cfg.StateTTL = 15 * time.Minute
	}
	cfg.AppName = AppNameOr(cfg.AppName)
	if cfg.VaultBudget <= 0 {
		cfg.VaultBudget = 5 * time.Second
	}
	if d.Clock == nil {
		d.Clock = authz.SystemClock
	}
	return &Service{cfg: cfg, store: d.Store, vault: d.Vault, lwa: d.LWA, accounts: d.Accounts, sealer: d.Sealer, signer: d.Signer,
		funnel: d.Funnel, notices: d.Notices, clock: d.Clock, log: d.Log, metrics: d.Metrics}
}

// AppName is the name pages show.
func (s *Service) AppName() string { return s.cfg.AppName }

// Errors the round trip returns. Each is one page and one status for the seller.
var (
	ErrMissingParameter  = errors.New("a required parameter is missing")
	ErrLinkInvalid       = errors.New("renewal link is not valid")
	ErrLinkExpired       = errors.New("renewal link has expired")
	ErrStateInvalid      = errors.New("state is not valid")
	ErrStateExpired      = errors.New("state has expired")
	ErrStateReplayed     = errors.New("state already used")
	ErrSellerMismatch    = errors.New("a different Amazon account answered than the one on record")
	ErrDeclined          = errors.New("the seller declined on Amazon's consent page")
	ErrCodeRejected      = errors.New("Amazon rejected the authorization code")
	ErrVendorCredentials = errors.New("the vendor's LWA client credentials were rejected")
	ErrUnavailable       = errors.New("a service we depend on is unavailable")
	ErrBadCallbackURI    = errors.New("amazon_callback_uri is not an Amazon host")
	ErrUnknownSeller     = errors.New("no authorization for this selling partner")
	ErrRecordPending     = errors.New("the refresh token is stored but the record update failed")
	ErrLinkSuperseded    = errors.New("renewal link is older than the last renewal")
	ErrBrowserMismatch   = errors.New("the round trip was started in another browser")
	ErrAccountMismatch   = errors.New("SP-API shows a different Amazon account than the one on record")
	ErrAccountUnverified = errors.New("the Amazon account behind the new token could not be verified")
	ErrSellerBound       = errors.New("this selling partner is connected to another connection in this region")
	ErrParked            = errors.New("the refresh token is kept encrypted until the vault takes it")
)

// Start is where a started round trip sends the browser, and the binding the browser
// must keep (a cookie) for the callback to accept the state.
type Start struct {
	URL     string
	Binding string
}

// LinkError carries what the page for a rejected link needs.
type LinkError struct {
	Err         error
	Link        consent.Link
	CentralURL  string    // for the manual steps
	ExpiresAt   time.Time // the authorization's expiry, for a superseded link
	Marketplace string    // whose time zone writes that date
}

func (e *LinkError) Error() string { return e.Err.Error() }
func (e *LinkError) Unwrap() error { return e.Err }

// StartFromLink verifies a renewal link, opens a single-use state for it, and returns
// the Seller Central (or Vendor Central) consent URL to redirect the seller to.
func (s *Service) StartFromLink(ctx context.Context, token string) (Start, error) {
	if err := s.keyed(ctx); err != nil {
		return Start{}, err
	}
	if token == "" {
		return Start{}, fmt.Errorf("%w: t", ErrMissingParameter)
	}
	now := s.clock.Now()
	link, err := s.signer.VerifyLink(token, now)
	switch {
	case errors.Is(err, consent.ErrExpired):
		le := &LinkError{Err: ErrLinkExpired, Link: link}
		if a, gerr := s.store.Get(ctx, link.ConnectionID, link.Region); gerr == nil {
			le.CentralURL, _ = consent.CentralURL(a.AccountType, a.Marketplace, a.Region, s.cfg.SellerCentralOverride)
		}
		return Start{}, le
	case err != nil:
		return Start{}, fmt.Errorf("%w: %v", ErrLinkInvalid, err)
	}
	a, err := s.store.Get(ctx, link.ConnectionID, link.Region)
	if err != nil {
		return Start{}, s.storeErr(err, "read authorization")
	}
	if link.Generation < a.LinkGeneration {
		// A renewal happened since this link was made: it has done its job.
		s.log.InfoContext(ctx, "renewal link superseded by a later renewal", "connectionId", a.ConnectionID, "region", a.Region,
			"linkGeneration", link.Generation, "recordGeneration", a.LinkGeneration)
		return Start{}, &LinkError{Err: ErrLinkSuperseded, Link: link, ExpiresAt: a.ExpiresAt, Marketplace: a.Marketplace}
	}
	st, err := s.openState(ctx, a, now, false)
	if err != nil {
		return Start{}, err
	}
	if s.funnel != nil {
		s.funnel.LinkOpened(ctx, a, now)
	}
	central, err := consent.CentralURL(a.AccountType, a.Marketplace, a.Region, s.cfg.SellerCentralOverride)
	if err != nil {
		return Start{}, fmt.Errorf("consent host for %s: %w", a.Key(), err)
	}
	s.log.InfoContext(ctx, "renewal link accepted; redirecting to consent", "connectionId", a.ConnectionID, "region", a.Region, "status", a.Status)
	st.URL = consent.ConsentURL(consent.ConsentRequest{CentralURL: central, AppID: s.cfg.AppID, State: st.URL, Draft: s.cfg.Draft, RedirectURI: s.redirectURI(ctx)})
	return st, nil
}

// LoginRequest is what Amazon sends to the app's Login URI.
type LoginRequest struct {
	CallbackURI      string // amazon_callback_uri
	AmazonState      string // amazon_state
	SellingPartnerID string // selling_partner_id
}

// StartFromLogin handles the Login URI: renewals started in Seller Central (Manage
// Your Apps → Renew) and Appstore installs arrive here with the seller's id. It
// returns the URL to send the seller back to Amazon with.
func (s *Service) StartFromLogin(ctx context.Context, r LoginRequest) (Start, error) {
	if err := s.keyed(ctx); err != nil {
		return Start{}, err
	}
	switch {
	case r.CallbackURI == "":
		return Start{}, fmt.Errorf("%w: amazon_callback_uri", ErrMissingParameter)
	case r.AmazonState == "":
		return Start{}, fmt.Errorf("%w: amazon_state", ErrMissingParameter)
	case r.SellingPartnerID == "":
		return Start{}, fmt.Errorf("%w: selling_partner_id", ErrMissingParameter)
	}
	// Checked before anything else: never an open redirect, whatever else is wrong.
	cb, err := consent.CheckCallbackURI(r.CallbackURI, s.cfg.SellerCentralOverride)
	if err != nil {
		return Start{}, fmt.Errorf("%w: %v", ErrBadCallbackURI, err)
	}
	if len(r.SellingPartnerID) > 64 || len(r.AmazonState) > 2048 {
		return Start{}, fmt.Errorf("%w: parameter too long", ErrMissingParameter)
	}
	found, err := s.store.FindBySeller(ctx, r.SellingPartnerID)
	if err != nil {
		return Start{}, s.storeErr(err, "find seller")
	}
	// Anyone can call the Login URI with any seller's id, and what it answers must not
	// tell a known seller from an unknown one: both get a state, a browser binding and
	// the way back to Amazon, and the state names neither connection nor region (the
	// nonce's item does). Its callback then needs SP-API's evidence that the new token
	// is the account on record; an unknown seller is told there how to connect, or,
	// with self-service onboarding, is connected on a verified seller id.
	region := regionOfHost(cb)
	target := authz.Authorization{Region: region}
	if len(found) > 0 {
		target = pick(found, region)
	}
	st, err := s.openState(ctx, target, s.clock.Now(), true)
	if err != nil {
		return Start{}, err
	}
	s.log.InfoContext(ctx, "login URI call; returning to Amazon", "callbackHost", cb.Host,
		"connectionId", target.ConnectionID, "region", target.Region, "knownSeller", len(found) > 0)
	st.URL = consent.LoginReturnURL(cb, s.redirectURI(ctx), r.AmazonState, st.URL, s.cfg.Draft)
	return st, nil
}

// onboard creates the pending authorization of a seller who installed the app from the
// Appstore, when the vendor allows self-service onboarding: only once SP-API has
// verified the seller id, so nobody can open a connection in another seller's name.
func (s *Service) onboard(ctx context.Context, sellingPartnerID string, region authz.Region) (authz.Authorization, error) {
	connID := "sp-" + sellingPartnerID
	if err := authz.ValidateConnectionID(connID); err != nil {
		return authz.Authorization{}, fmt.Errorf("%w: selling_partner_id: %v", ErrMissingParameter, err)
	}
	a := authz.Authorization{
		ConnectionID: connID, Region: region, AccountType: authz.AccountSeller, SellingPartnerID: sellingPartnerID,
		Status: authz.StatusPending, RefreshSlot: authz.SlotFor(connID, region, s.cfg.RefreshSlots),
	}
	created, err := s.store.Create(ctx, a, authz.Event{ConnectionID: connID, Region: region, At: s.clock.Now(), Kind: authz.EventCreated, Detail: "self-service onboarding from the Login URI"})
	if errors.Is(err, authz.ErrAlreadyExists) {
		return s.store.Get(ctx, connID, region)
	}
	if err != nil {
		return authz.Authorization{}, s.storeErr(err, "create pending authorization")
	}
	return created, nil
}

// openState stores a fresh nonce and returns the signed state (in Start.URL, for the
// caller to place) and the browser binding of its nonce.
func (s *Service) openState(ctx context.Context, a authz.Authorization, now time.Time, sellerCentral bool) (Start, error) {
	nonce, err := newNonce()
	if err != nil {
		return Start{}, err
	}
	exp := now.Add(s.cfg.StateTTL)
	if err := s.store.PutNonce(ctx, nonce, a.ConnectionID, a.Region, exp); err != nil {
		return Start{}, s.storeErr(err, "store state nonce")
	}
	state := consent.State{Nonce: nonce, ConnectionID: a.ConnectionID, Region: a.Region, Expires: exp, SellerCentral: sellerCentral}
	if sellerCentral {
		state.ConnectionID, state.Region = "", ""
	}
	st := s.signer.SignState(state)
	return Start{URL: st, Binding: s.signer.BrowserBinding(nonce)}, nil
}

// keyed reads the state key on the first step that needs it.
func (s *Service) keyed(ctx context.Context) error {
	if err := s.signer.Load(ctx); err != nil {
		return fmt.Errorf("%w: the state key: %w", ErrUnavailable, err)
	}
	return nil
}

type redirectKey struct{}

// WithRedirectURI carries the redirect URI a request was served under, for a
// deployment that configures none: template.yaml cannot name the HTTP API's own URL
// in the callback's environment (the API's routes depend on the function), so the
// callback derives it from the request's host.
func WithRedirectURI(ctx context.Context, uri string) context.Context {
	return context.WithValue(ctx, redirectKey{}, uri)
}

// redirectURI is the configured redirect URI, else the request's. Amazon compares it
// with the app's registered ones, and LWA with the one the code was issued for.
func (s *Service) redirectURI(ctx context.Context) string {
	if s.cfg.RedirectURI != "" {
		return s.cfg.RedirectURI
	}
	uri, _ := ctx.Value(redirectKey{}).(string)
	return uri
}

func (s *Service) storeErr(err error, what string) error {
	switch {
	case errors.Is(err, authz.ErrNotFound):
		return err
	case errors.Is(err, authz.ErrStoreUnavailable):
		return fmt.Errorf("%w: %s: %v", ErrUnavailable, what, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// regionOfHost tells the SP-API region from the Seller Central host Amazon called
// the Login URI from; "" when the host is not a known one (the local simulator).
func regionOfHost(u *url.URL) authz.Region {
	return consent.RegionOfHost(u.Host)
}

// pick chooses among a seller's authorizations: the one in the region the seller is
// signed in to, else the one expiring first.
func pick(found []authz.Authorization, region authz.Region) authz.Authorization {
	best := found[0]
	for _, a := range found[1:] {
		if (a.Region == region) != (best.Region == region) {
			if a.Region == region {
				best = a
			}
			continue
		}
		if !a.ExpiresAt.IsZero() && (best.ExpiresAt.IsZero() || a.ExpiresAt.Before(best.ExpiresAt)) {
			best = a
		}
	}
	return best
}

func newNonce() (string, error) {
	b := make([]byte, 18)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("nonce: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
