package tokenservice_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spapi-auth-keeper/keeper/infra/amazonsim"
	"github.com/spapi-auth-keeper/keeper/infra/testenv"
	"github.com/spapi-auth-keeper/keeper/infra/testenv/deploy"
	"github.com/spapi-auth-keeper/keeper/shared/app"
	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/awsclients"
	"github.com/spapi-auth-keeper/keeper/shared/config"
	"github.com/spapi-auth-keeper/keeper/shared/consent"
	"github.com/spapi-auth-keeper/keeper/shared/metrics"
	"github.com/spapi-auth-keeper/keeper/shared/secret"
	"github.com/spapi-auth-keeper/keeper/shared/store"
	"github.com/spapi-auth-keeper/keeper/shared/vault"
)

func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

const (
	clientID     = "amzn1.application-oa2-client.tokenservice"
	clientSecret = "amzn1.oa2-cs.v1.token-service-test-secret"
	stateKey     = "tokenservice-test-state-key-0123456789abcdef"
	baseURL      = "https://renew.example"
)

// Env is one deployment of the token service over the emulators, served over HTTP.
type Env struct {
	t       testing.TB
	ctx     context.Context
	Sim     *amazonsim.Sim
	Store   *store.Store
	Vault   *vault.Vault
	URL     string
	logs    *testenv.Buffer
	metrics *testenv.Buffer
	deps    app.Deps
	handler http.Handler
}

// NewEnv starts the token service (as its main builds it) against the emulators.
func NewEnv(t testing.TB) *Env {
	t.Helper()
	return newEnv(t, true, "")
}

// newEnv is NewEnv, with the state key in the vault or (withKey false) not yet, and
// TOKEN_SERVICE_CALLERS set to callers.
func newEnv(t testing.TB, withKey bool, callers string) *Env {
	t.Helper()
	e := &Env{t: t, ctx: context.Background(), logs: &testenv.Buffer{}, metrics: &testenv.Buffer{}}
	e.Sim = amazonsim.New(amazonsim.Config{ClientID: clientID, ClientSecret: clientSecret})
	sim := httptest.NewServer(e.Sim)
	t.Cleanup(sim.Close)
	ddb := testenv.DynamoDB(t)
	table := testenv.NewTable(t)
	sm := testenv.SecretsManager(t)
	prefix := testenv.Prefix(t)
	e.Store = store.New(ddb, table)
	e.Vault = vault.New(sm, prefix, "").WithLogger(slog.New(slog.DiscardHandler))
	must(t, e.Vault.PutClientCredentials(e.ctx, vault.ClientCredentials{ClientID: clientID, ClientSecret: clientSecret,
		ClientSecretExpiresAt: time.Now().AddDate(0, 0, 100)}))
	if withKey {
		must(t, e.Vault.PutStateKey(e.ctx, stateKey))
	}
	d := app.Deps{
		Config:  config.Config{TableName: table, SecretPrefix: prefix, LWAEndpoint: sim.URL + "/auth/o2/token", BaseURL: baseURL, LinkTTL: 45 * 24 * time.Hour},
		Clients: awsclients.Clients{DynamoDB: ddb, Secrets: sm},
		Log:     slog.New(slog.NewJSONHandler(e.logs, nil)),
		Metrics: metrics.New(e.metrics),
	}
	e.deps = d
	svc, err := deploy.TokenService(d, func(name string) string {
		switch name {
		case "SP_API_ENDPOINT":
			return sim.URL
		case "TOKEN_SERVICE_CALLERS":
			return callers
		}
		return ""
	})
	must(t, err)
	e.handler = svc.Handler()
	srv := httptest.NewServer(e.handler)
	t.Cleanup(srv.Close)
	e.URL = srv.URL
	return e
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// Seed stores an authorization with its refresh token, as the callback leaves it.
func (e *Env) Seed(connID string, region authz.Region, status authz.Status) (seller, refresh string) {
	e.t.Helper()
	return e.SeedRenewed(connID, region, status, 0)
}

// SeedRenewed is Seed for a connection renewed generation times: its renewal links
// carry that generation or are superseded.
func (e *Env) SeedRenewed(connID string, region authz.Region, status authz.Status, generation int) (seller, refresh string) {
	e.t.Helper()
	seller = "A" + strings.ToUpper(strings.ReplaceAll(connID, "-", "")) + "Z"
	refresh = e.Sim.IssueRefreshToken(seller)
	at := time.Now().Add(-24 * time.Hour).UTC()
	if status == authz.StatusExpired {
		at = at.Add(-authz.Lifetime)
	}
	_, err := e.Vault.Put(e.ctx, connID, region, vault.RefreshToken{Token: secret.Value(refresh), SellingPartnerID: seller, Region: region, AuthorizedAt: at})
	must(e.t, err)
	_, err = e.Store.Create(e.ctx, authz.Authorization{ConnectionID: connID, Region: region, AccountType: authz.AccountSeller, Marketplace: "DE",
		SellingPartnerID: seller, Status: status, AuthorizedAt: at, ExpiresAt: at.Add(authz.Lifetime), SecretID: e.Vault.SecretName(connID, region),
		LinkGeneration: generation})
	must(e.t, err)
	return seller, refresh
}

type answer struct {
	Status     int
	RetryAfter string
	Body       map[string]any
	Raw        string
}

func (e *Env) post(path, body string) answer {
	e.t.Helper()
	resp, err := http.Post(e.URL+path, "application/json", strings.NewReader(body))
	must(e.t, err)
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := answer{Status: resp.StatusCode, RetryAfter: resp.Header.Get("Retry-After"), Raw: string(raw)}
	_ = json.Unmarshal(raw, &a.Body)
	return a
}

func TestTokenForAnActiveAuthorization(t *testing.T) {
	t.Parallel()
	e := NewEnv(t)
	seller, refresh := e.Seed("acme-de", authz.RegionEU, authz.StatusActive)
	a := e.post("/tokens", `{"connectionId":"acme-de","region":"eu"}`)
	if a.Status != 200 {
		t.Fatalf("status %d: %s", a.Status, a.Raw)
	}
	tok, _ := a.Body["accessToken"].(string)
	if got, ok := e.Sim.AccessTokenSeller(tok); !ok || got != seller {
		t.Errorf("access token %q is not a live token of %s", tok, seller)
	}
	exp, err := time.Parse(time.RFC3339, a.Body["expiresAt"].(string))
	if err != nil || exp.Before(time.Now().Add(30*time.Minute)) || exp.After(time.Now().Add(time.Hour)) {
		t.Errorf("expiresAt %v (%v): want within the hour, minus the early margin", a.Body["expiresAt"], err)
	}
	if a.Body["sellingPartnerId"] != seller || a.Body["region"] != "eu" || !strings.HasPrefix(a.Body["endpoint"].(string), "http://127.0.0.1") {
		t.Errorf("answer %s", a.Raw)
	}
	if strings.Contains(a.Raw, refresh) || strings.Contains(e.logs.String(), refresh) || strings.Contains(e.logs.String(), tok) {
		t.Error("a token reached the answer (refresh) or the log")
	}
}

func TestConcurrentRequestsForOneConnectionMakeOneLWACall(t *testing.T) {
	t.Parallel()
	e := NewEnv(t)
	e.Seed("acme-us", authz.RegionNA, authz.StatusActive)
	before := e.Sim.TokenRequests()
	var wg sync.WaitGroup
	tokens := make([]string, 20)
	for i := range tokens {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := e.post("/tokens", `{"connectionId":"acme-us","region":"na"}`)
			tokens[i], _ = a.Body["accessToken"].(string)
		}()
	}
	wg.Wait()
	if n := e.Sim.TokenRequests() - before; n != 1 {
		t.Errorf("%d LWA calls for 20 concurrent requests, want 1", n)
	}
	for _, tok := range tokens {
		if tok == "" || tok != tokens[0] {
			t.Fatalf("answers differ or are empty: %v", tokens)
		}
	}
}

func TestBadRequests(t *testing.T) {
	t.Parallel()
	e := NewEnv(t)
	tests := []struct {
		name, path, body string
		status           int
		code             string
	}{
		{"malformed JSON", "/tokens", `{"connectionId":`, 400, "malformed_request"},
		{"not an object", "/tokens", `["acme"]`, 400, "malformed_request"},
		{"unknown field", "/tokens", `{"connectionId":"a","region":"eu","refreshToken":"x"}`, 400, "malformed_request"},
		{"unknown region", "/tokens", `{"connectionId":"acme","region":"us"}`, 400, "unknown_region"},
		{"a connection id that is a path", "/tokens", `{"connectionId":"../lwa-client","region":"eu"}`, 400, "malformed_request"},
		{"oversize body", "/tokens", `{"connectionId":"` + strings.Repeat("a", 20000) + `","region":"eu"}`, 413, "request_too_large"},
		{"unknown connection", "/tokens", `{"connectionId":"nobody","region":"eu"}`, 404, "not_found"},
		{"restricted resources on /tokens", "/tokens", `{"connectionId":"a","region":"eu","restrictedResources":[{"method":"GET","path":"/x"}]}`, 400, "malformed_request"},
		{"RDT without resources", "/tokens/restricted", `{"connectionId":"a","region":"eu"}`, 400, "malformed_request"},
		{"unknown path", "/secrets", `{}`, 404, "not_found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := e.post(tt.path, tt.body)
			if a.Status != tt.status || a.Body["error"] != tt.code {
				t.Errorf("status %d %s, want %d %s", a.Status, a.Raw, tt.status, tt.code)
			}
		})
	}
	resp, err := http.Get(e.URL + "/tokens")
	must(t, err)
	resp.Body.Close()
	if resp.StatusCode != 405 {
		t.Errorf("GET /tokens: %d, want 405", resp.StatusCode)
	}
}

func TestAuthorizationsThatNeedTheSeller(t *testing.T) {
	t.Parallel()
	e := NewEnv(t)
	e.Seed("rev-ledger", authz.RegionEU, authz.StatusRevoked)
	e.Seed("exp-ledger", authz.RegionEU, authz.StatusExpired)
	e.Seed("pending", authz.RegionEU, authz.StatusPending)
	seller, _ := e.Seed("rev-at-amazon", authz.RegionEU, authz.StatusActive)
	e.Sim.RevokeSeller(seller)
	signer, err := consent.NewSigner(stateKey)
	must(t, err)
	tests := []struct {
		conn, code string
		link       bool
	}{
		{"rev-ledger", "authorization_revoked", true},
		{"exp-ledger", "authorization_expired", true},
		// No account is bound yet: the first to complete a link would bind theirs, so
		// only a caller allowed to onboard gets one (TestPendingConnectionsLinks).
		{"pending", "authorization_pending", false},
		{"rev-at-amazon", "authorization_revoked", true},
	}
	for _, tt := range tests {
		a := e.post("/tokens", `{"connectionId":"`+tt.conn+`","region":"eu"}`)
		if a.Status != 409 || a.Body["error"] != tt.code {
			t.Errorf("%s: %d %s, want 409 %s", tt.conn, a.Status, a.Raw, tt.code)
			continue
		}
		if !tt.link {
			if a.Body["renewUrl"] != nil {
				t.Errorf("%s: renewUrl %v, want none", tt.conn, a.Body["renewUrl"])
			}
			continue
		}
		link, _ := a.Body["renewUrl"].(string)
		tok, ok := strings.CutPrefix(link, baseURL+"/authorize?t=")
		if !ok {
			t.Errorf("%s: renewUrl %q", tt.conn, link)
			continue
		}
		l, err := signer.VerifyLink(tok, time.Now())
		if err != nil || l.ConnectionID != tt.conn || l.Region != authz.RegionEU {
			t.Errorf("%s: renewal link %+v, %v", tt.conn, l, err)
		}
	}
}

// OpenRenewURL follows a renewUrl as the seller's browser would, on the callback
// function of the same deployment, and returns its status, Location and page.
func (e *Env) OpenRenewURL(renewURL string) (status int, location, page string) {
	e.t.Helper()
	d := e.deps
	d.Config.AppID = "amzn1.sp.solution.tokenservice"
	d.Config.SellerCentralURL = "https://sellercentral.example"
	h, err := deploy.Callback(d, nil)
	must(e.t, err)
	path, ok := strings.CutPrefix(renewURL, baseURL)
	if !ok {
		e.t.Fatalf("renewUrl %q is not under %s", renewURL, baseURL)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
	return w.Code, w.Header().Get("Location"), w.Body.String()
}

// A renewal advances the record's link generation and supersedes older links, so the
// link in a 409 must carry the current generation: a connection renewed before, now
// revoked or expired, gets a link that opens consent, not "already renewed".
func TestRenewURLOfAConnectionRenewedBeforeOpensConsent(t *testing.T) {
	t.Parallel()
	e := NewEnv(t)
	tests := []struct {
		conn       string
		status     authz.Status
		generation int
	}{
		{"never-renewed", authz.StatusExpired, 0},
		{"renewed-once", authz.StatusExpired, 1},
		{"renewed-thrice", authz.StatusRevoked, 3},
	}
	for _, tt := range tests {
		e.SeedRenewed(tt.conn, authz.RegionEU, tt.status, tt.generation)
		a := e.post("/tokens", `{"connectionId":"`+tt.conn+`","region":"eu"}`)
		link, _ := a.Body["renewUrl"].(string)
		if a.Status != 409 || link == "" {
			t.Errorf("%s: %d %s, want 409 with a renewUrl", tt.conn, a.Status, a.Raw)
			continue
		}
		status, location, page := e.OpenRenewURL(link)
		if status != http.StatusFound || !strings.Contains(location, "/apps/authorize/consent") || strings.Contains(page, "already renewed") {
			_, title, _ := strings.Cut(page, "<title>")
			title, _, _ = strings.Cut(title, "</title>")
			t.Errorf("%s (generation %d): the renewUrl answers %d Location %q %q, want a redirect to the consent page", tt.conn, tt.generation, status, location, title)
		}
	}
}

// The state key is read when a renewal link is first needed, not when the function
// starts: access tokens are served without it, a renewal answer waits for it (503
// while it cannot be read), and the first read that succeeds serves the rest.
func TestTheStateKeyIsReadWhenALinkIsFirstNeeded(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false, "")
	e.Seed("active", authz.RegionEU, authz.StatusActive)
	e.Seed("expired", authz.RegionEU, authz.StatusExpired)
	if a := e.post("/tokens", `{"connectionId":"active","region":"eu"}`); a.Status != 200 {
		t.Fatalf("active without a state key: %d %s", a.Status, a.Raw)
	}
	a := e.post("/tokens", `{"connectionId":"expired","region":"eu"}`)
	if a.Status != 503 || a.RetryAfter == "" || a.Body["renewUrl"] != nil {
		t.Fatalf("expired without a state key: %d (Retry-After %q) %s, want 503 without a link", a.Status, a.RetryAfter, a.Raw)
	}
	if !strings.Contains(e.logs.String(), "cannot sign a renewal link") {
		t.Errorf("no log line says why:\n%s", e.logs.String())
	}
	must(t, e.Vault.PutStateKey(e.ctx, stateKey))
	signer, err := consent.NewSigner(stateKey)
	must(t, err)
	for range 2 {
		a = e.post("/tokens", `{"connectionId":"expired","region":"eu"}`)
		tok, ok := strings.CutPrefix(fmt.Sprint(a.Body["renewUrl"]), baseURL+"/authorize?t=")
		if a.Status != 409 || !ok {
			t.Fatalf("expired once the key is there: %d %s", a.Status, a.Raw)
		}
		if l, err := signer.VerifyLink(tok, time.Now()); err != nil || l.ConnectionID != "expired" {
			t.Errorf("renewal link %+v, %v", l, err)
		}
	}
}

func TestFaults(t *testing.T) {
	t.Parallel()
	e := NewEnv(t)
	e.Seed("lwa-down", authz.RegionEU, authz.StatusActive)
	_, err := e.Store.Create(e.ctx, authz.Authorization{ConnectionID: "no-secret", Region: authz.RegionEU, AccountType: authz.AccountSeller,
		SellingPartnerID: "A9", Status: authz.StatusActive, AuthorizedAt: time.Now(), ExpiresAt: time.Now().Add(authz.Lifetime)})
	must(t, err)

	a := e.post("/tokens", `{"connectionId":"no-secret","region":"eu"}`)
	if a.Status != 503 || a.RetryAfter == "" {
		t.Errorf("missing secret: %d Retry-After %q %s", a.Status, a.RetryAfter, a.Raw)
	}
	if testenv.MetricSum(t, e.metrics.String(), "RefreshFailed", "no_secret") != 1 {
		t.Error("missing secret: no RefreshFailed{no_secret} metric (the existing alarm)")
	}

	e.Sim.InjectFaults(amazonsim.GrantRefreshToken, amazonsim.Unavailable(), 10)
	a = e.post("/tokens", `{"connectionId":"lwa-down","region":"eu"}`)
	if a.Status != 503 || a.RetryAfter == "" {
		t.Errorf("LWA unavailable: %d Retry-After %q %s", a.Status, a.RetryAfter, a.Raw)
	}
}

func TestRestrictedDataToken(t *testing.T) {
	t.Parallel()
	e := NewEnv(t)
	seller, _ := e.Seed("rdt-co", authz.RegionFE, authz.StatusActive)
	ok := e.post("/tokens/restricted", `{"connectionId":"rdt-co","region":"fe","restrictedResources":[{"method":"GET","path":"/orders/v0/orders","dataElements":["buyerInfo","shippingAddress"]}]}`)
	if ok.Status != 200 || !strings.HasPrefix(ok.Body["restrictedDataToken"].(string), "Atz.sprdt|") || ok.Body["sellingPartnerId"] != seller {
		t.Fatalf("RDT: %d %s", ok.Status, ok.Raw)
	}
	bad := e.post("/tokens/restricted", `{"connectionId":"rdt-co","region":"fe","restrictedResources":[{"method":"PATCH","path":"/orders"}]}`)
	if bad.Status != 400 || bad.Body["error"] != "spapi_refused" || !strings.Contains(bad.Raw, "Invalid method") {
		t.Errorf("SP-API's refusal: %d %s", bad.Status, bad.Raw)
	}
	e.Sim.InjectFault(amazonsim.RDTPath, amazonsim.Fault{Status: 429})
	busy := e.post("/tokens/restricted", `{"connectionId":"rdt-co","region":"fe","restrictedResources":[{"method":"GET","path":"/orders/v0/orders"}]}`)
	if busy.Status != 503 || busy.RetryAfter == "" {
		t.Errorf("SP-API throttled: %d %s", busy.Status, busy.Raw)
	}
	if strings.Contains(e.logs.String(), "Atz.sprdt") {
		t.Error("an RDT reached the log")
	}
}
