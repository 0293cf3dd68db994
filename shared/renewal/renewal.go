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
	"github.com/spapi-auth-keeper/keeper/shared/lwa"
	"github.com/spapi-auth-keeper/keeper/shared/metrics"
	"github.com/spapi-auth-keeper/keeper/shared/store"
	"github.com/spapi-auth-keeper/keeper/shared/vault"
)

// Store is the ledger as the round trip uses it.
type Store interface {
	Get(ctx context.Context, connectionID string, region authz.Region) (authz.Authorization, error)
	Create(ctx context.Context, a authz.Authorization, events ...authz.Event) (authz.Authorization, error)
	Update(ctx context.Context, a authz.Authorization, events ...authz.Event) (authz.Authorization, error)
	FindBySeller(ctx context.Context, sellingPartnerID string) ([]authz.Authorization, error)
	AddEvent(ctx context.Context, e authz.Event) error
	PutNonce(ctx context.Context, nonce, connectionID string, region authz.Region, expiresAt time.Time) error
	ConsumeNonce(ctx context.Context, nonce string, now time.Time) (string, authz.Region, error)
}

// Vault stores refresh tokens.
type Vault interface {
	Put(ctx context.Context, connectionID string, region authz.Region, rt vault.RefreshToken) (string, error)
}

// Exchanger trades Amazon's spapi_oauth_code for tokens at LWA.
type Exchanger interface {
	ExchangeCode(ctx context.Context, code, redirectURI string) (lwa.Tokens, error)
}

// Signer signs and verifies links and states.
type Signer interface {
	VerifyLink(token string, now time.Time) (consent.Link, error)
	SignState(st consent.State) string
	VerifyState(token string, now time.Time) (consent.State, error)
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
}

// Service runs the round trip.
type Service struct {
	cfg     Config
	store   Store
	vault   Vault
	lwa     Exchanger
	signer  Signer
	clock   authz.Clock
	log     *slog.Logger
	metrics *metrics.Emitter
}

// NewService wires the round trip. m may be nil.
func NewService(cfg Config, s Store, v Vault, x Exchanger, sg Signer, clock authz.Clock, log *slog.Logger, m *metrics.Emitter) *Service {
	if cfg.StateTTL <= 0 {
		cfg.StateTTL = 15 * time.Minute
	}
	if cfg.AppName == "" {
		cfg.AppName = "our app"
	}
	return &Service{cfg: cfg, store: s, vault: v, lwa: x, signer: sg, clock: clock, log: log, metrics: m}
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
)

// LinkError carries what the page for a rejected link needs.
type LinkError struct {
	Err        error
	Link       consent.Link
	CentralURL string // for the manual steps
}

func (e *LinkError) Error() string { return e.Err.Error() }
func (e *LinkError) Unwrap() error { return e.Err }

// StartFromLink verifies a renewal link, opens a single-use state for it, and returns
// the Seller Central (or Vendor Central) consent URL to redirect the seller to.
func (s *Service) StartFromLink(ctx context.Context, token string) (string, error) {
	if token == "" {
		return "", fmt.Errorf("%w: t", ErrMissingParameter)
	}
	now := s.clock.Now()
	link, err := s.signer.VerifyLink(token, now)
	switch {
	case errors.Is(err, consent.ErrExpired):
		le := &LinkError{Err: ErrLinkExpired, Link: link}
		if a, gerr := s.store.Get(ctx, link.ConnectionID, link.Region); gerr == nil {
			le.CentralURL, _ = consent.CentralURL(a.AccountType, a.Marketplace, a.Region, "")
		}
		return "", le
	case err != nil:
		return "", fmt.Errorf("%w: %v", ErrLinkInvalid, err)
	}
	a, err := s.store.Get(ctx, link.ConnectionID, link.Region)
	if err != nil {
		return "", s.storeErr(err, "read authorization")
	}
	st, err := s.openState(ctx, a, now)
	if err != nil {
		return "", err
	}
	central, err := consent.CentralURL(a.AccountType, a.Marketplace, a.Region, s.cfg.SellerCentralOverride)
	if err != nil {
		return "", fmt.Errorf("consent host for %s: %w", a.Key(), err)
	}
	s.log.InfoContext(ctx, "renewal link accepted; redirecting to consent", "connectionId", a.ConnectionID, "region", a.Region, "status", a.Status)
	return consent.ConsentURL(consent.ConsentRequest{CentralURL: central, AppID: s.cfg.AppID, State: st, Draft: s.cfg.Draft, RedirectURI: s.redirectURI(ctx)}), nil
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
func (s *Service) StartFromLogin(ctx context.Context, r LoginRequest) (string, error) {
	switch {
	case r.CallbackURI == "":
		return "", fmt.Errorf("%w: amazon_callback_uri", ErrMissingParameter)
	case r.AmazonState == "":
		return "", fmt.Errorf("%w: amazon_state", ErrMissingParameter)
	case r.SellingPartnerID == "":
		return "", fmt.Errorf("%w: selling_partner_id", ErrMissingParameter)
	}
	// Checked before anything else: never an open redirect, whatever else is wrong.
	cb, err := consent.CheckCallbackURI(r.CallbackURI, s.cfg.SellerCentralOverride)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadCallbackURI, err)
	}
	if len(r.SellingPartnerID) > 64 || len(r.AmazonState) > 2048 {
		return "", fmt.Errorf("%w: parameter too long", ErrMissingParameter)
	}
	found, err := s.store.FindBySeller(ctx, r.SellingPartnerID)
	if err != nil {
		return "", s.storeErr(err, "find seller")
	}
	region := regionOfHost(cb)
	var a authz.Authorization
	switch {
	case len(found) > 0:
		a = pick(found, region)
	case s.cfg.SelfServiceOnboarding && region != "":
		a, err = s.onboard(ctx, r.SellingPartnerID, region)
		if err != nil {
			return "", err
		}
	default:
		s.log.InfoContext(ctx, "login URI call for an unknown seller", "sellingPartnerId", r.SellingPartnerID)
		return "", ErrUnknownSeller
	}
	st, err := s.openState(ctx, a, s.clock.Now())
	if err != nil {
		return "", err
	}
	s.log.InfoContext(ctx, "login URI accepted; returning to Amazon", "connectionId", a.ConnectionID, "region", a.Region, "callbackHost", cb.Host)
	return consent.LoginReturnURL(cb, s.redirectURI(ctx), r.AmazonState, st, s.cfg.Draft), nil
}

// onboard creates a pending authorization for a seller who installed the app from the
// Appstore, when the vendor allows self-service onboarding.
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

func (s *Service) openState(ctx context.Context, a authz.Authorization, now time.Time) (string, error) {
	nonce, err := newNonce()
	if err != nil {
		return "", err
	}
	exp := now.Add(s.cfg.StateTTL)
	if err := s.store.PutNonce(ctx, nonce, a.ConnectionID, a.Region, exp); err != nil {
		return "", s.storeErr(err, "store state nonce")
	}
	return s.signer.SignState(consent.State{Nonce: nonce, ConnectionID: a.ConnectionID, Region: a.Region, Expires: exp}), nil
}

// CallbackRequest is what Amazon's redirect to the redirect URI carries.
type CallbackRequest struct {
	State            string
	SellingPartnerID string
	Code             string // spapi_oauth_code: valid five minutes, single use
	Error            string // set when the seller declined or Amazon failed
	ErrorDescription string
}

// Result is a completed round trip.
type Result struct {
	Authorization authz.Authorization
	Kind          authz.EventKind // authorized or renewed
}

// Complete finishes the round trip. Order matters: the state is verified and its nonce
// consumed (a replay fails before LWA is called), the seller is checked against the
// record, the code is exchanged, the refresh token is written to the vault, and only
// then is the record updated. If the record write fails the token is already safe.
func (s *Service) Complete(ctx context.Context, r CallbackRequest) (Result, error) {
	if r.Error != "" {
		s.log.InfoContext(ctx, "seller did not authorize", "amazonError", truncate(r.Error, 64), "description", truncate(r.ErrorDescription, 200))
		return Result{}, ErrDeclined
	}
	switch {
	case r.State == "":
		return Result{}, fmt.Errorf("%w: state", ErrMissingParameter)
	case r.Code == "":
		return Result{}, fmt.Errorf("%w: spapi_oauth_code", ErrMissingParameter)
	case r.SellingPartnerID == "":
		return Result{}, fmt.Errorf("%w: selling_partner_id", ErrMissingParameter)
	case len(r.SellingPartnerID) > 64 || len(r.Code) > 1024:
		return Result{}, fmt.Errorf("%w: parameter too long", ErrStateInvalid)
	}
	now := s.clock.Now()
	st, err := s.signer.VerifyState(r.State, now)
	switch {
	case errors.Is(err, consent.ErrExpired):
		return Result{}, ErrStateExpired
	case err != nil:
		return Result{}, fmt.Errorf("%w: %v", ErrStateInvalid, err)
	}
	log := s.log.With("connectionId", st.ConnectionID, "region", st.Region)
	connID, region, err := s.store.ConsumeNonce(ctx, st.Nonce, now)
	switch {
	case errors.Is(err, store.ErrNonceNotFound):
		return Result{}, ErrStateReplayed
	case errors.Is(err, store.ErrNonceExpired):
		return Result{}, ErrStateExpired
	case err != nil:
		return Result{}, s.storeErr(err, "consume state nonce")
	case connID != st.ConnectionID || region != st.Region:
		// A signed state and a stored nonce disagree: only a bug or a forged key does this.
		return Result{}, fmt.Errorf("%w: nonce bound to another authorization", ErrStateInvalid)
	}
	a, err := s.store.Get(ctx, st.ConnectionID, st.Region)
	if err != nil {
		return Result{}, s.storeErr(err, "read authorization")
	}
	if a.SellingPartnerID != "" && a.SellingPartnerID != r.SellingPartnerID {
		// A forwarded renewal link must not bind another seller's account to this record.
		ev := authz.Event{ConnectionID: a.ConnectionID, Region: a.Region, At: now, Kind: authz.EventMismatchedSeller,
			Detail: fmt.Sprintf("callback from selling partner %s; record belongs to %s; nothing exchanged", r.SellingPartnerID, a.SellingPartnerID)}
		if err := s.store.AddEvent(ctx, ev); err != nil {
			log.ErrorContext(ctx, "could not record mismatched seller event", "error", err)
		}
		log.WarnContext(ctx, "callback from a different selling partner than on record", "sellingPartnerId", r.SellingPartnerID, "recordSellingPartnerId", a.SellingPartnerID)
		return Result{}, ErrSellerMismatch
	}
	tokens, err := s.lwa.ExchangeCode(ctx, r.Code, s.redirectURI(ctx))
	switch {
	case errors.Is(err, lwa.ErrInvalidGrant):
		log.WarnContext(ctx, "LWA rejected the authorization code", "error", err)
		return Result{}, ErrCodeRejected
	case errors.Is(err, lwa.ErrClient):
		log.ErrorContext(ctx, "LWA rejected our client credentials", "error", err)
		return Result{}, ErrVendorCredentials
	case err != nil:
		log.ErrorContext(ctx, "LWA code exchange failed", "error", err)
		return Result{}, fmt.Errorf("%w: LWA: %v", ErrUnavailable, err)
	case tokens.RefreshToken.IsZero():
		log.ErrorContext(ctx, "LWA answered the code grant without a refresh token")
		return Result{}, fmt.Errorf("%w: LWA answered without a refresh token", ErrUnavailable)
	}
	secretID, err := s.vault.Put(ctx, a.ConnectionID, a.Region, vault.RefreshToken{
		Token: tokens.RefreshToken, SellingPartnerID: r.SellingPartnerID, Region: a.Region, AuthorizedAt: now,
	})
	if err != nil {
		log.ErrorContext(ctx, "could not store the refresh token; record left unchanged", "error", err)
		return Result{}, fmt.Errorf("%w: vault: %v", ErrUnavailable, err)
	}
	updated, kind, err := s.renewRecord(ctx, a, r.SellingPartnerID, secretID, now)
	if err != nil {
		log.ErrorContext(ctx, "refresh token stored but the record update failed; the next refresh repairs it", "error", err, "secretId", secretID)
		return Result{}, fmt.Errorf("%w: %v", ErrRecordPending, err)
	}
	log.InfoContext(ctx, "authorization "+string(kind), "sellingPartnerId", r.SellingPartnerID, "expiresAt", updated.ExpiresAt, "version", updated.Version)
	return Result{Authorization: updated, Kind: kind}, nil
}

// renewRecord writes the renewal, re-reading and re-applying it if a concurrent writer
// (a refresh, a reminder claim) moved the version on: the renewal always wins.
func (s *Service) renewRecord(ctx context.Context, a authz.Authorization, sellingPartnerID, secretID string, now time.Time) (authz.Authorization, authz.EventKind, error) {
	const attempts = 5
	var err error
	for i := 0; i < attempts; i++ {
		if i > 0 {
			if a, err = s.store.Get(ctx, a.ConnectionID, a.Region); err != nil {
				return authz.Authorization{}, "", err
			}
		}
		before := a.Status
		kind := a.Renew(now, sellingPartnerID)
		a.SecretID = secretID
		a.RefreshSlot = authz.SlotFor(a.ConnectionID, a.Region, s.cfg.RefreshSlots)
		ev := authz.Event{ConnectionID: a.ConnectionID, Region: a.Region, At: now, Kind: kind, StatusBefore: before,
			Detail: "by selling partner " + sellingPartnerID + "; valid until " + a.ExpiresAt.Format(authz.DayLayout)}
		updated, uerr := s.store.Update(ctx, a, ev)
		if uerr == nil {
			return updated, kind, nil
		}
		if !errors.Is(uerr, authz.ErrVersionConflict) {
			return authz.Authorization{}, "", uerr
		}
		err = uerr
	}
	return authz.Authorization{}, "", err
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
	case errors.Is(err, store.ErrUnavailable):
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
