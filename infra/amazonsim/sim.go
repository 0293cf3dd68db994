// Package amazonsim simulates the two parts of Amazon an SP-API application talks to
// while sellers authorize it: the Seller Central consent pages (website authorization
// workflow, and the Login URI flow that Manage Your Apps → Renew and Appstore installs
// start) and the Login with Amazon token endpoint (authorization_code, refresh_token
// and client_credentials grants). Tests use it in-process through httptest; the local
// stack runs it as a process (infra/cmd/amazonsim). It keeps everything in memory and
// never logs a token, a code or a client secret.
package amazonsim

import (
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"
)

// Lifetimes Amazon documents for what the simulator issues.
const (
	// CodeLifetime: spapi_oauth_code is valid for five minutes and single use.
	CodeLifetime = 5 * time.Minute
	// AccessTokenLifetime: an LWA access token is valid for one hour (expires_in 3600).
	AccessTokenLifetime = time.Hour
	// AuthorizationLifetime: a seller's authorization lasts 365 days from the day the
	// seller granted or last renewed it; then LWA refuses its refresh tokens.
	AuthorizationLifetime = 365 * 24 * time.Hour
	// AmazonStateLifetime is how long an amazon_state handed to the Login URI stays
	// valid. Amazon does not document one; ten minutes is a browser round trip with room.
	AmazonStateLifetime = 10 * time.Minute
)

// Seller is a selling account that can sign in to the simulated Seller Central.
type Seller struct {
	ID    string // selling_partner_id (merchant token), e.g. A1B2C3D4E5F6G7
	Name  string // the account's display name on the consent page
	Email string // optional

	// What the Sellers API answers for the account (accounts.go); zero values take
	// defaults, so a Seller with an id and a name is a complete account.
	StoreName           string   // storeName; default Name, else "Store " + ID
	MarketplaceIDs      []string // marketplaces it participates in; with CountryCodes, both; neither: Amazon.com
	CountryCodes        []string // participating marketplaces by country code (DE, GB, JP, ...)
	NotParticipatingIDs []string // also listed by the Sellers API, with isParticipating false
	AccountType         string   // AccountSeller (default) or AccountVendor: a vendor has no Sellers or Product Fees API
}

// Config describes the one SP-API application the simulator knows.
type Config struct {
	AppID        string   // application_id, e.g. amzn1.sp.solution.xxxx
	AppName      string   // shown on the consent page
	Draft        bool     // a draft app is only authorized with version=beta
	RedirectURIs []string // registered OAuth redirect URIs; the first is the default
	ClientID     string   // LWA client identifier
	ClientSecret string   // LWA client secret; SetClientSecrets replaces the accepted set
	LoginURI     string   // the app's OAuth Login URI (Renew and Appstore flows)
	Sellers      []Seller // accounts that can sign in; the first is signed in by default
	Hybrid       bool     // a hybrid (SP-API + MWS) app also receives mws_auth_token
	Roles        []string // what the consent page says the app will access (a default list if empty); fees.go needs RolePricing

	// PublicURL is the simulator's own base URL as browsers reach it, used to build
	// amazon_callback_uri. Empty: taken from each request's Host.
	PublicURL string
	Clock     func() time.Time // default time.Now
	Logger    *slog.Logger     // default: discard
}

// Grant types the token endpoint accepts, also the keys of InjectFault.
const (
	GrantAuthorizationCode = "authorization_code"
	GrantRefreshToken      = "refresh_token"
	GrantClientCredentials = "client_credentials"
	// AnyGrant queues a fault for whichever token request comes first.
	AnyGrant = ""
)

// Sim is the simulator: an http.Handler, safe for concurrent use.
type Sim struct {
	cfg   Config
	clock func() time.Time
	log   *slog.Logger
	mux   *http.ServeMux

	mu            sync.Mutex
	clientSecrets map[string]bool
	codes         map[string]*codeGrant
	refreshTokens map[string]*refreshGrant
	accessTokens  map[string]accessGrant
	sellers       map[string]*sellerAuth
	amazonStates  map[string]amazonState
	faults        map[string][]Fault
	latency       time.Duration
	issued        int // access tokens issued since the last prune
	counters      counters
	apps          appMgmt         // the Application Management API (appmgmt.go)
	appNotes      appIntegrations // the App Integrations API (appintegrations.go)

	accounts []Seller   // the accounts that can sign in: Config.Sellers, then AddSeller
	signedIn string     // SetSignedIn's account; empty: the first
	spapi    spapiState // the Sellers and Product Fees APIs (sellers.go, fees.go)
}

type codeGrant struct {
	sellerID    string
	clientID    string
	appID       string
	redirectURI string
	issuedAt    time.Time
	used        bool
}

type refreshGrant struct {
	sellerID string
	clientID string
	revoked  bool
}

type accessGrant struct {
	sellerID  string // empty for a grantless token
	scope     string
	expiresAt time.Time
}

// sellerAuth is one seller's authorization of the app: it lapses a year after the
// last consent, or at once after ExpireSeller, and a new consent restores it.
type sellerAuth struct {
	authorizedAt time.Time
	expired      bool
}

type amazonState struct {
	sellerID string
	issuedAt time.Time
}

type counters struct {
	tokenRequests, exchanges, refreshes, clientCredentials int
}

// New builds a simulator for cfg.
func New(cfg Config) *Sim {
	s := &Sim{
		cfg:           cfg,
		clock:         cfg.Clock,
		log:           cfg.Logger,
		clientSecrets: map[string]bool{},
		codes:         map[string]*codeGrant{},
		refreshTokens: map[string]*refreshGrant{},
		accessTokens:  map[string]accessGrant{},
		sellers:       map[string]*sellerAuth{},
		amazonStates:  map[string]amazonState{},
		faults:        map[string][]Fault{},
		accounts:      append([]Seller(nil), cfg.Sellers...),
		spapi:         spapiState{buckets: map[string]*bucket{}},
	}
	if s.clock == nil {
		s.clock = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if len(s.cfg.Roles) == 0 {
		s.cfg.Roles = []string{"Product Listing", "Pricing", "Inventory and Order Tracking", "Selling Partner Insights"}
	}
	if cfg.ClientSecret != "" {
		s.clientSecrets[cfg.ClientSecret] = true
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /apps/authorize/consent", s.consent)
	mux.HandleFunc("POST /apps/authorize/confirm", s.confirm)
	mux.HandleFunc("GET /apps/authorize/confirm/{app}", s.loginCallback)
	mux.HandleFunc("GET /apps/authorize/login-callback", s.loginCallback)
	mux.HandleFunc("GET /apps/manage", s.manage)
	mux.HandleFunc("GET /apps/manage/renew", s.renew)
	mux.HandleFunc("/auth/o2/token", s.token)
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/apps/manage", http.StatusFound)
	})
	s.adminRoutes(mux)
	s.appRoutes(mux)
	s.appIntegrationsRoutes(mux)
	s.sellerRoutes(mux)
	s.tokensRoutes(mux)
	s.mux = mux
	return s
}

func (s *Sim) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// SetClientSecrets replaces the client secrets the token endpoint accepts. During an
// LWA client secret rotation Amazon accepts the old and the new secret for a while;
// pass both, then only the new one to finish the rotation.
func (s *Sim) SetClientSecrets(secrets ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clientSecrets = map[string]bool{}
	s.apps.secretExpiry = nil
	for _, v := range secrets {
		if v != "" {
			s.clientSecrets[v] = true
		}
	}
}

// IssueCode issues an spapi_oauth_code as if sellerID had confirmed the consent page
// for redirectURI.
func (s *Sim) IssueCode(sellerID, redirectURI string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.issueCodeLocked(sellerID, redirectURI)
}

// IssueCodeValue issues a code with a value the caller chooses: the sample events in
// events/ carry a fixed code, so their test registers it before invoking them.
func (s *Sim) IssueCodeValue(code, sellerID, redirectURI string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.issueCodeAsLocked(code, sellerID, redirectURI)
}

func (s *Sim) issueCodeLocked(sellerID, redirectURI string) string {
	return s.issueCodeAsLocked("AN"+rand.Text(), sellerID, redirectURI)
}

func (s *Sim) issueCodeAsLocked(code, sellerID, redirectURI string) string {
	s.codes[code] = &codeGrant{
		sellerID:    sellerID,
		clientID:    s.cfg.ClientID,
		appID:       s.cfg.AppID,
		redirectURI: redirectURI,
		issuedAt:    s.clock(),
	}
	return code
}

// IssueRefreshToken seeds a seller who has already authorized the app: it returns a
// refresh token valid for a year from now by the simulator's clock.
func (s *Sim) IssueRefreshToken(sellerID string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.authorizeLocked(sellerID)
}

// authorizeLocked records a consent by sellerID (a first grant or a renewal, which
// reactivates the seller's lapsed tokens) and issues a new refresh token.
func (s *Sim) authorizeLocked(sellerID string) string {
	s.sellers[sellerID] = &sellerAuth{authorizedAt: s.clock()}
	token := "Atzr|" + rand.Text() + rand.Text()
	s.refreshTokens[token] = &refreshGrant{sellerID: sellerID, clientID: s.cfg.ClientID}
	return token
}

// Revoke makes one refresh token invalid, as when the seller removes the app.
func (s *Sim) Revoke(refreshToken string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if g, ok := s.refreshTokens[refreshToken]; ok {
		g.revoked = true
	}
}

// RevokeSeller revokes every refresh token sellerID holds now (Manage Your Apps →
// Remove). A later consent issues a new token that works.
func (s *Sim) RevokeSeller(sellerID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, g := range s.refreshTokens {
		if g.sellerID == sellerID && !g.revoked {
			g.revoked = true
			n++
		}
	}
	return n
}

// ExpireSeller puts sellerID's authorization past its year: its refresh tokens get
// invalid_grant until the seller consents again, which reactivates them.
func (s *Sim) ExpireSeller(sellerID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a, ok := s.sellers[sellerID]; ok {
		a.expired = true
		return
	}
	s.sellers[sellerID] = &sellerAuth{authorizedAt: s.clock(), expired: true}
}

// SetRoles replaces the roles the app has (RolePricing allows the Product Fees API):
// an app that lost a role between two consents, as a vendor's may.
func (s *Sim) SetRoles(roles ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cfg.Roles = append([]string(nil), roles...)
}

func (s *Sim) hasRole(role string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Contains(s.cfg.Roles, role)
}

// SetLatency delays every answer of the token endpoint by d (or until the client
// hangs up).
func (s *Sim) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// InjectFault queues f for the next token request of grant (AnyGrant: any request).
// Faults are used once each, in order.
func (s *Sim) InjectFault(grant string, f Fault) { s.InjectFaults(grant, f, 1) }

// InjectFaults queues n copies of f for grant.
func (s *Sim) InjectFaults(grant string, f Fault, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.faults[grant] = append(s.faults[grant], f)
	}
}

// PendingFaults is how many injected faults have not been used yet.
func (s *Sim) PendingFaults() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, q := range s.faults {
		n += len(q)
	}
	return n
}

// nextFault takes the fault due for a request of grant, if any.
func (s *Sim) nextFault(grant string) (Fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, key := range []string{grant, AnyGrant} {
		if q := s.faults[key]; len(q) > 0 {
			f := q[0]
			s.faults[key] = q[1:]
			return f, true
		}
	}
	return Fault{}, false
}

// TokenRequests counts every request to the token endpoint, whatever its outcome.
func (s *Sim) TokenRequests() int { return s.count(func(c counters) int { return c.tokenRequests }) }

// Exchanges counts authorization_code requests received (each attempt, any outcome).
func (s *Sim) Exchanges() int { return s.count(func(c counters) int { return c.exchanges }) }

// Refreshes counts refresh_token requests received (each attempt, any outcome).
func (s *Sim) Refreshes() int { return s.count(func(c counters) int { return c.refreshes }) }

// ClientCredentialsGrants counts client_credentials requests received.
func (s *Sim) ClientCredentialsGrants() int {
	return s.count(func(c counters) int { return c.clientCredentials })
}

func (s *Sim) count(f func(counters) int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return f(s.counters)
}

// AccessTokenSeller tells whether token is an unexpired access token the simulator
// issued, and for which seller (empty for a grantless token).
func (s *Sim) AccessTokenSeller(token string) (sellerID string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.accessTokens[token]
	if !ok || !s.clock().Before(g.expiresAt) {
		return "", false
	}
	return g.sellerID, true
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// IssuedSecrets returns every code, refresh token and access token the simulator has
// issued and still remembers, and the accepted client secrets: leak tests search the
// logs of a whole run for each of them.
func (s *Sim) IssuedSecrets() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for c := range s.codes {
		out = append(out, c)
	}
	for t := range s.refreshTokens {
		out = append(out, t)
	}
	for t := range s.accessTokens {
		out = append(out, t)
	}
	for c := range s.clientSecrets {
		out = append(out, c)
	}
	return out
}
