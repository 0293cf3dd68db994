// Package tokenservice serves LWA access tokens and SP-API Restricted Data Tokens to
// the vendor's apps in any language, over HTTP behind AWS IAM (a Lambda function URL
// with AuthType AWS_IAM: AWS checks the caller's SigV4 signature and its
// lambda:InvokeFunctionUrl permission before this code runs). IAM says only that a
// principal may invoke the function, and a broad grant (lambda:*) says it for many, so
// the service names the caller in the log line of every answer and, with an
// allow-list (Callers), limits each caller to its connections. It mints tokens with the
// keeper's tokensource cache, so a token is reused until shortly before it expires,
// concurrent requests for one authorization make one LWA call, and a renewal is picked
// up with no restart. Refresh tokens never leave the vault; access tokens appear only
// in response bodies, never in a log.
package tokenservice

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/consent"
	"github.com/spapi-auth-keeper/keeper/shared/lwa"
	"github.com/spapi-auth-keeper/keeper/shared/metrics"
	"github.com/spapi-auth-keeper/keeper/shared/secret"
	"github.com/spapi-auth-keeper/keeper/shared/vault"
)

// MaxBody is the largest request accepted (a Restricted Data Token request lists at
// most a few dozen resources).
const MaxBody = 16 << 10

// Endpoints are the SP-API endpoints of the regions.
var Endpoints = map[authz.Region]string{
	authz.RegionNA: "https://sellingpartnerapi-na.amazon.com",
	authz.RegionEU: "https://sellingpartnerapi-eu.amazon.com",
	authz.RegionFE: "https://sellingpartnerapi-fe.amazon.com",
}

// Ledger reads authorizations (the store).
type Ledger interface {
	Get(ctx context.Context, connectionID string, region authz.Region) (authz.Authorization, error)
}

// Tokens mints access tokens (the tokensource cache).
type Tokens interface {
	TokenUntil(ctx context.Context, connectionID string, region authz.Region) (secret.Value, time.Time, error)
	Forget(connectionID string, region authz.Region)
}

// LinkSigner signs renewal links. The service needs one only to tell an app that its
// seller must renew, so its key may be read on first use (app.TokenService reads it
// then): a failure there answers 503, as the other stores' failures do.
type LinkSigner interface {
	SignLink(ctx context.Context, l consent.Link) (string, error)
}

// Config is the service's settings.
type Config struct {
	BaseURL       string        // where /authorize is served: renewal links point here
	LinkTTL       time.Duration // how long a renewal link of an authorized connection works
	SPAPIEndpoint string        // overrides every region's endpoint (the simulator); "" = Amazon's
	RecordTTL     time.Duration // how long a record's status is cached (default 1 minute)
	// Callers limits who may have which connection's tokens (TOKEN_SERVICE_CALLERS);
	// the zero value lets every IAM-authorized caller have any connection's.
	Callers Callers
	// OnboardingLinkTTL is how long an onboarding link (a pending connection's, for a
	// caller allowed to onboard it) works: whoever completes it first binds their
	// Amazon account, so it is meant for the seller in front of the app now (default
	// OnboardingLinkTTL).
	OnboardingLinkTTL time.Duration
}

// OnboardingLinkTTL is the default life of an onboarding link the service mints.
const OnboardingLinkTTL = time.Hour

// Service answers token requests.
type Service struct {
	cfg     Config
	ledger  Ledger
	tokens  Tokens
	links   LinkSigner
	http    *http.Client
	clock   authz.Clock
	log     *slog.Logger
	metrics *metrics.Emitter

	mu      sync.Mutex
	records map[string]cachedRecord
}

type cachedRecord struct {
	a  authz.Authorization
	at time.Time
}

// New returns the service.
func New(cfg Config, ledger Ledger, tokens Tokens, links LinkSigner, client *http.Client, clock authz.Clock, log *slog.Logger, m *metrics.Emitter) *Service {
	if cfg.RecordTTL == 0 {
		cfg.RecordTTL = time.Minute
	}
	if cfg.LinkTTL == 0 {
		cfg.LinkTTL = 45 * 24 * time.Hour
	}
	if cfg.OnboardingLinkTTL == 0 {
		cfg.OnboardingLinkTTL = OnboardingLinkTTL
	}
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	if clock == nil {
		clock = authz.SystemClock
	}
	if !cfg.Callers.Restricted() {
		log.Warn("TOKEN_SERVICE_CALLERS is not set: every IAM principal that may invoke this function URL (a lambda:* grant included) gets any connection's access tokens and renewal links; set it to limit each caller to its connections")
	}
	return &Service{cfg: cfg, ledger: ledger, tokens: tokens, links: links, http: client, clock: clock, log: log, metrics: m, records: map[string]cachedRecord{}}
}

// Handler routes POST /tokens and POST /tokens/restricted, and logs every answer with
// its caller.
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /tokens", s.accessToken)
	mux.HandleFunc("POST /tokens/restricted", s.restrictedToken)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/tokens" || r.URL.Path == "/tokens/restricted" {
			w.Header().Set("Allow", http.MethodPost)
			writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "use POST", nil)
			return
		}
		writeError(w, http.StatusNotFound, "not_found", "POST /tokens or POST /tokens/restricted", nil)
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := &request{caller: CallerOf(r)}
		rec := &answerRecorder{ResponseWriter: w, q: q}
		ctx := context.WithValue(r.Context(), requestKey{}, q)
		mux.ServeHTTP(rec, r.WithContext(ctx))
		level := slog.LevelInfo
		if rec.status == http.StatusForbidden {
			level = slog.LevelWarn
		}
		attrs := []slog.Attr{slog.Any("caller", q.caller), slog.String("path", r.URL.Path), slog.Int("status", rec.status)}
		if q.connectionID != "" {
			attrs = append(attrs, slog.String("connectionId", q.connectionID), slog.String("region", string(q.region)))
		}
		if q.code != "" {
			attrs = append(attrs, slog.String("error", q.code))
		}
		if q.link != "" {
			attrs = append(attrs, slog.String("link", q.link))
		}
		s.log.LogAttrs(ctx, level, "token request answered", attrs...)
	})
}

// request is what the answer's log line says about one request: never a token.
type request struct {
	caller       Caller
	connectionID string
	region       authz.Region
	code         string // the error answered
	link         string // "renewal" or "onboarding" when the answer carries a link
}

type requestKey struct{}

func requestOf(ctx context.Context) *request {
	if q, ok := ctx.Value(requestKey{}).(*request); ok {
		return q
	}
	return &request{}
}

// logger is the service's logger with the request's caller.
func (s *Service) logger(ctx context.Context) *slog.Logger {
	return s.log.With("caller", requestOf(ctx).caller)
}

// answerRecorder keeps the status and error code of the answer for its log line.
type answerRecorder struct {
	http.ResponseWriter
	q      *request
	status int
}

func (a *answerRecorder) WriteHeader(status int) {
	if a.status == 0 {
		a.status = status
	}
	a.ResponseWriter.WriteHeader(status)
}

func (a *answerRecorder) Write(b []byte) (int, error) {
	if a.status == 0 {
		a.status = http.StatusOK
	}
	return a.ResponseWriter.Write(b)
}

// Request is the body of POST /tokens; POST /tokens/restricted adds Amazon's
// createRestrictedDataToken fields, passed through.
type Request struct {
	ConnectionID        string          `json:"connectionId"`
	Region              string          `json:"region"`
	RestrictedResources json.RawMessage `json:"restrictedResources,omitempty"`
	TargetApplication   string          `json:"targetApplication,omitempty"`
}

// Answer is the body of a successful answer.
type Answer struct {
	AccessToken         string `json:"accessToken,omitempty"`
	RestrictedDataToken string `json:"restrictedDataToken,omitempty"`
	ExpiresAt           string `json:"expiresAt"`
	SellingPartnerID    string `json:"sellingPartnerId"`
	Region              string `json:"region"`
	Endpoint            string `json:"endpoint"`
}

// ErrorAnswer is the body of an error.
type ErrorAnswer struct {
	Error    string `json:"error"`
	Message  string `json:"message"`
	RenewURL string `json:"renewUrl,omitempty"`
}

func writeError(w http.ResponseWriter, status int, code, msg string, extra func(*ErrorAnswer)) {
	if rec, ok := w.(*answerRecorder); ok {
		rec.q.code = code
	}
	a := ErrorAnswer{Error: code, Message: msg}
	if extra != nil {
		extra(&a)
	}
	writeJSON(w, status, a)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// decode reads and checks a request and whether its caller may have the connection's
// tokens; it writes the error answer and returns false.
func (s *Service) decode(w http.ResponseWriter, r *http.Request) (Request, authz.Region, Grant, bool) {
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBody+1))
	if err != nil {
		writeError(w, http.StatusBadRequest, "malformed_request", "could not read the body", nil)
		return Request{}, "", Grant{}, false
	}
	if len(body) > MaxBody {
		writeError(w, http.StatusRequestEntityTooLarge, "request_too_large", fmt.Sprintf("the body is larger than %d bytes", MaxBody), nil)
		return Request{}, "", Grant{}, false
	}
	var req Request
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "malformed_request", `want a JSON object {"connectionId": "...", "region": "na|eu|fe"}`, nil)
		return Request{}, "", Grant{}, false
	}
	if err := authz.ValidateConnectionID(req.ConnectionID); err != nil {
		writeError(w, http.StatusBadRequest, "malformed_request", err.Error(), nil)
		return Request{}, "", Grant{}, false
	}
	region, err := authz.ParseRegion(req.Region)
	if err != nil {
		writeError(w, http.StatusBadRequest, "unknown_region", err.Error(), nil)
		return Request{}, "", Grant{}, false
	}
	q := requestOf(r.Context())
	q.connectionID, q.region = req.ConnectionID, region
	// Checked before the ledger is read: a caller learns nothing, not even whether the
	// connection exists, about a connection it may not have.
	grant := s.cfg.Callers.For(q.caller, req.ConnectionID)
	if !grant.Tokens {
		who := q.caller.ARN
		if who == "" {
			who = "a request without an IAM identity"
		}
		writeError(w, http.StatusForbidden, "caller_not_allowed",
			who+" may not have tokens of connection "+req.ConnectionID+": TOKEN_SERVICE_CALLERS names the connections each caller may have", nil)
		return Request{}, "", Grant{}, false
	}
	return req, region, grant, true
}

func (s *Service) endpoint(region authz.Region) string {
	if s.cfg.SPAPIEndpoint != "" {
		return s.cfg.SPAPIEndpoint
	}
	return Endpoints[region]
}

// record reads an authorization, cached for RecordTTL unless fresh is set.
func (s *Service) record(ctx context.Context, id string, region authz.Region, fresh bool) (authz.Authorization, error) {
	k := id + "/" + string(region)
	now := s.clock.Now()
	if !fresh {
		s.mu.Lock()
		c, ok := s.records[k]
		s.mu.Unlock()
		if ok && now.Sub(c.at) < s.cfg.RecordTTL {
			return c.a, nil
		}
	}
	a, err := s.ledger.Get(ctx, id, region)
	if err != nil {
		return authz.Authorization{}, err
	}
	s.mu.Lock()
	s.records[k] = cachedRecord{a: a, at: now}
	s.mu.Unlock()
	return a, nil
}

// mint returns a valid access token for the request, or writes the error answer.
func (s *Service) mint(w http.ResponseWriter, r *http.Request, id string, region authz.Region, grant Grant) (authz.Authorization, secret.Value, time.Time, bool) {
	ctx := r.Context()
	log := s.logger(ctx).With("connectionId", id, "region", region)
	a, err := s.record(ctx, id, region, false)
	if err == nil && !usable(a.Status) {
		a, err = s.record(ctx, id, region, true) // a renewal may have happened since
	}
	switch {
	case errors.Is(err, authz.ErrNotFound):
		writeError(w, http.StatusNotFound, "not_found", "no authorization "+id+" in region "+string(region), nil)
		return a, "", time.Time{}, false
	case err != nil:
		log.ErrorContext(ctx, "token request: ledger read failed", "error", err)
		s.unavailable(w, 5, "the ledger is unavailable")
		return a, "", time.Time{}, false
	case !usable(a.Status):
		s.renewalNeeded(ctx, w, a, a.Status, grant)
		return a, "", time.Time{}, false
	}
	tok, until, err := s.tokens.TokenUntil(ctx, id, region)
	switch {
	case err == nil:
		s.metrics.Count(metrics.TokenServed, 1)
		return a, tok, until, true
	case errors.Is(err, lwa.ErrInvalidGrant):
		// LWA refused even a freshly read refresh token: only the seller can fix it.
		status := authz.StatusRevoked
		if !a.ExpiresAt.IsZero() && !s.clock.Now().Before(a.ExpiresAt) {
			status = authz.StatusExpired
		}
		log.WarnContext(ctx, "token request: LWA refused the refresh token", "status", status)
		s.renewalNeeded(ctx, w, a, status, grant)
	case errors.Is(err, vault.ErrNotFound):
		// The same alarm as the proof-of-life sweep: a live authorization without a token.
		s.metrics.Count(metrics.RefreshFailed, 1, metrics.Dim{Name: metrics.DimReason, Value: "no_secret"})
		log.ErrorContext(ctx, "token request: no refresh token in the vault", "error", err)
		s.unavailable(w, 300, "the authorization's refresh token is missing; the operator has been alerted")
	case errors.Is(err, lwa.ErrClient):
		s.metrics.Count(metrics.RefreshFailed, 1, metrics.Dim{Name: metrics.DimReason, Value: "client"})
		log.ErrorContext(ctx, "token request: LWA refused the app's client credentials", "error", err)
		s.unavailable(w, 60, "Login with Amazon refused the app's credentials; the operator has been alerted")
	default:
		// Throttled or unavailable LWA or Secrets Manager: try again shortly.
		log.WarnContext(ctx, "token request: LWA or the vault unavailable", "error", err)
		s.unavailable(w, 5, "Login with Amazon is unavailable; try again")
	}
	return a, "", time.Time{}, false
}

func usable(st authz.Status) bool { return st == authz.StatusActive || st == authz.StatusExpiring }

func (s *Service) unavailable(w http.ResponseWriter, retryAfter int, msg string) {
	w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
	writeError(w, http.StatusServiceUnavailable, "unavailable", msg, nil)
}

// renewalNeeded answers 409 with a fresh renewal link the app can show the seller.
//
// A connection the seller has authorized gets a renewal link for LinkTTL: the callback
// accepts its consent only from the account on record. A pending connection has no
// account yet, and whoever completes its link first binds theirs: its link is an
// onboarding link, minted only for a caller allowed to onboard the connection, and
// short-lived; any other caller is told that the seller has not authorized the app.
func (s *Service) renewalNeeded(ctx context.Context, w http.ResponseWriter, a authz.Authorization, st authz.Status, grant Grant) {
	code := "authorization_" + string(st)
	msg := "the seller must renew the authorization"
	kind, ttl := "renewal", s.cfg.LinkTTL
	if a.Status == authz.StatusPending {
		msg = "the seller has not authorized the app yet"
		kind, ttl = "onboarding", s.cfg.OnboardingLinkTTL
		if !grant.Onboard {
			msg += "; the onboarding link comes from the operator (keeperctl onboard), or from this service for a caller TOKEN_SERVICE_CALLERS allows to onboard the connection"
			writeError(w, http.StatusConflict, code, msg, nil)
			return
		}
	}
	var link string
	if s.links != nil && s.cfg.BaseURL != "" {
		t, err := s.links.SignLink(ctx, consent.Link{ConnectionID: a.ConnectionID, Region: a.Region, Expires: s.clock.Now().Add(ttl),
			Generation: a.LinkGeneration}) // an older generation is superseded: "already renewed"
		if err != nil {
			s.logger(ctx).ErrorContext(ctx, "token request: cannot sign a renewal link", "connectionId", a.ConnectionID, "region", a.Region, "error", err)
			s.unavailable(w, 5, "the renewal link cannot be signed now; try again")
			return
		}
		link = s.cfg.BaseURL + "/authorize?t=" + t
		requestOf(ctx).link = kind
	}
	writeError(w, http.StatusConflict, code, msg, func(e *ErrorAnswer) { e.RenewURL = link })
}

func (s *Service) accessToken(w http.ResponseWriter, r *http.Request) {
	req, region, grant, ok := s.decode(w, r)
	if !ok {
		return
	}
	if len(req.RestrictedResources) > 0 || req.TargetApplication != "" {
		writeError(w, http.StatusBadRequest, "malformed_request", "restrictedResources belong to POST /tokens/restricted", nil)
		return
	}
	a, tok, until, ok := s.mint(w, r, req.ConnectionID, region, grant)
	if !ok {
		return
	}
	s.logger(r.Context()).InfoContext(r.Context(), "access token served", "connectionId", a.ConnectionID, "region", region, "expiresAt", until)
	writeJSON(w, http.StatusOK, Answer{AccessToken: tok.Reveal(), ExpiresAt: until.UTC().Format(time.RFC3339), SellingPartnerID: a.SellingPartnerID,
		Region: string(region), Endpoint: s.endpoint(region)})
}
