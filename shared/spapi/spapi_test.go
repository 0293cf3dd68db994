package spapi_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spapi-auth-keeper/keeper/infra/amazonsim"
	"github.com/spapi-auth-keeper/keeper/infra/testenv"
	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/lwa"
	"github.com/spapi-auth-keeper/keeper/shared/secret"
	"github.com/spapi-auth-keeper/keeper/shared/spapi"
)

const (
	clientID     = "amzn1.application-oa2-client.spapitest"
	clientSecret = "amzn1.oa2-cs.v1.spapitest-client-secret"
	redirectURI  = "https://app.example/callback"

	sellerEU = "A1EUSELLER"
	sellerUS = "A2USSELLER"
	vendor   = "A3VENDOR"
)

// Marketplace ids Amazon documents.
const (
	mpDE = "A1PA6795UKMFR9"
	mpGB = "A1F83G8C2ARO7P"
	mpFR = "A13V1IB3VIYZZH"
	mpUS = "ATVPDKIKX0DER"
)

var takenAt = time.Date(2026, 12, 1, 9, 30, 0, 0, time.UTC)

type env struct {
	sim   *amazonsim.Sim
	url   string
	lwa   *lwa.Client
	logs  *testenv.Buffer
	clock *testenv.Clock // the simulator's
}

// start runs the simulator in-process (LWA and SP-API on one server) with three
// accounts: an EU seller in two marketplaces (and listed, not participating, in a
// third), a US seller, and a vendor. roles nil: the simulator's defaults, Pricing
// among them.
func start(t testing.TB, roles []string) *env {
	t.Helper()
	clock := testenv.NewClock(takenAt)
	sim := amazonsim.New(amazonsim.Config{
		AppID: "amzn1.sp.solution.spapitest", AppName: "SP-API test", RedirectURIs: []string{redirectURI},
		ClientID: clientID, ClientSecret: clientSecret, Roles: roles, Clock: clock.Now,
		Sellers: []amazonsim.Seller{
			{ID: sellerEU, Name: "Alpenblick Outdoor GmbH", CountryCodes: []string{"GB", "DE"}, NotParticipatingIDs: []string{mpFR}},
			{ID: sellerUS, Name: "Lakeside Goods LLC", StoreName: "Lakeside Goods", CountryCodes: []string{"US"}},
			{ID: vendor, Name: "Vendor Co", AccountType: amazonsim.AccountVendor, CountryCodes: []string{"US"}},
		},
	})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return &env{sim: sim, url: srv.URL, logs: &testenv.Buffer{}, clock: clock,
		lwa: lwa.NewClient(lwa.Config{Endpoint: srv.URL + "/auth/o2/token",
			Credentials: lwa.StaticCredentials{ClientID: clientID, ClientSecret: clientSecret}})}
}

// accessToken mints an access token of seller's refresh token, as the keeper does.
func (e *env) accessToken(t testing.TB, seller string) secret.Value {
	t.Helper()
	tok, err := e.lwa.Refresh(context.Background(), secret.Value(e.sim.IssueRefreshToken(seller)))
	if err != nil {
		t.Fatal(err)
	}
	return tok.AccessToken
}

func (e *env) client(mutate func(*spapi.Config)) *spapi.Client {
	cfg := spapi.Config{
		Endpoint: e.url, Clock: func() time.Time { return takenAt },
		MaxAttempts: 3, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond,
		Logger: slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if mutate != nil {
		mutate(&cfg)
	}
	return spapi.NewClient(cfg)
}

func TestAccount(t *testing.T) {
	t.Parallel()
	euAccount := authz.Account{StoreName: "Alpenblick Outdoor GmbH", MarketplaceIDs: []string{mpGB, mpDE}, TakenAt: takenAt}
	slices.Sort(euAccount.MarketplaceIDs)
	verified := euAccount
	verified.SellerID, verified.SellerIDVerified = sellerEU, true

	probe := func(c *spapi.Config) { c.SellerIDProbe = true }
	tests := []struct {
		name        string
		roles       []string // nil: the simulator's defaults, Pricing among them
		seller      string
		token       func(e *env, real secret.Value) secret.Value
		expire      bool // the token's hour has passed when it is used
		setup       func(e *env, token secret.Value)
		cfg         func(*spapi.Config)
		ctxTimeout  time.Duration
		want        authz.Account
		wantKind    error
		wantCause   error
		wantSellers int // getMarketplaceParticipations requests the simulator saw
		wantFees    int
		wantLog     string
	}{
		{name: "participations only", seller: sellerEU, want: euAccount, wantSellers: 1},
		{name: "another account answers for itself", seller: sellerUS, wantSellers: 1,
			want: authz.Account{StoreName: "Lakeside Goods", MarketplaceIDs: []string{mpUS}, TakenAt: takenAt}},
		{name: "with the seller id probe", seller: sellerEU, cfg: probe, want: verified, wantSellers: 1, wantFees: 1},
		{name: "probe refused: the app lacks the Pricing role", roles: []string{"Product Listing"}, seller: sellerEU, cfg: probe,
			want: euAccount, wantSellers: 1, wantFees: 1, wantLog: "seller id probe refused"},
		{name: "probe throttled after retries", seller: sellerEU, cfg: probe,
			setup: func(e *env, _ secret.Value) { e.sim.InjectFaults(amazonsim.FaultFees, amazonsim.Throttled(), 3) },
			want:  euAccount, wantKind: spapi.ErrThrottled, wantSellers: 1, wantFees: 3},
		{name: "probe answer unreadable", seller: sellerEU, cfg: probe,
			setup: func(e *env, _ secret.Value) { e.sim.InjectFault(amazonsim.FaultFees, amazonsim.Malformed()) },
			want:  euAccount, wantKind: spapi.ErrBadResponse, wantSellers: 1, wantFees: 1},
		{name: "probe answer names no seller", seller: sellerEU, cfg: probe,
			setup: func(e *env, _ secret.Value) {
				e.sim.InjectFault(amazonsim.FaultFees, amazonsim.Fault{Kind: "no_seller", Status: 200,
					Body: `{"payload":{"FeesEstimateResult":{"Status":"Success","FeesEstimateIdentifier":{"MarketplaceId":"A1PA6795UKMFR9"}}}}`})
			},
			want: euAccount, wantKind: spapi.ErrBadResponse, wantSellers: 1, wantFees: 1},
		{name: "403: a token the simulator never minted", seller: sellerEU,
			token:    func(*env, secret.Value) secret.Value { return "Atza|IwEBforged-token-0123456789" },
			wantKind: spapi.ErrForbidden, wantSellers: 1},
		{name: "403: an expired token", seller: sellerEU, expire: true, wantKind: spapi.ErrForbidden, wantSellers: 1},
		{name: "403: a vendor account has no Sellers API", seller: vendor, wantKind: spapi.ErrForbidden, wantSellers: 1},
		{name: "429 then success", seller: sellerEU,
			setup: func(e *env, _ secret.Value) { e.sim.InjectFault(amazonsim.FaultSellers, amazonsim.Throttled()) },
			want:  euAccount, wantSellers: 2},
		{name: "503 then success, with Retry-After", seller: sellerEU,
			setup: func(e *env, _ secret.Value) {
				e.sim.InjectFault(amazonsim.FaultSellers, amazonsim.Unavailable().WithRetryAfter(time.Second))
			},
			want: euAccount, wantSellers: 2},
		{name: "429 on every attempt", seller: sellerEU,
			setup:    func(e *env, _ secret.Value) { e.sim.InjectFaults(amazonsim.FaultSellers, amazonsim.Throttled(), 3) },
			wantKind: spapi.ErrThrottled, wantSellers: 3},
		{name: "500 on every attempt", seller: sellerEU,
			setup:    func(e *env, _ secret.Value) { e.sim.InjectFaults(amazonsim.FaultSellers, amazonsim.ServerError(), 3) },
			wantKind: spapi.ErrUnavailable, wantSellers: 3},
		{name: "500 x5 with five attempts allowed, then success", seller: sellerEU,
			cfg:   func(c *spapi.Config) { c.MaxAttempts = 6 },
			setup: func(e *env, _ secret.Value) { e.sim.InjectFaults(amazonsim.FaultSellers, amazonsim.ServerError(), 5) },
			want:  euAccount, wantSellers: 6},
		{name: "malformed JSON is not retried", seller: sellerEU,
			setup:    func(e *env, _ secret.Value) { e.sim.InjectFaults(amazonsim.FaultSellers, amazonsim.Malformed(), 3) },
			wantKind: spapi.ErrBadResponse, wantSellers: 1},
		{name: "an unexpected 404", seller: sellerEU,
			setup: func(e *env, _ secret.Value) {
				e.sim.InjectFault(amazonsim.FaultSellers, amazonsim.Fault{Kind: "not_found", Status: 404})
			},
			wantKind: spapi.ErrBadResponse, wantSellers: 1},
		{name: "each attempt times out", seller: sellerEU,
			cfg: func(c *spapi.Config) {
				c.MaxAttempts = 2
				c.HTTPClient = &http.Client{Timeout: 100 * time.Millisecond}
			},
			setup: func(e *env, _ secret.Value) {
				e.sim.InjectFaults(amazonsim.FaultSellers, amazonsim.Timeout(3*time.Second), 2)
			},
			wantKind: spapi.ErrUnavailable, wantSellers: 2},
		{name: "the caller's deadline ends the call", seller: sellerEU, ctxTimeout: 150 * time.Millisecond,
			setup: func(e *env, _ secret.Value) {
				e.sim.InjectFault(amazonsim.FaultSellers, amazonsim.Timeout(3*time.Second))
			},
			wantKind: spapi.ErrUnavailable, wantCause: context.DeadlineExceeded, wantSellers: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := start(t, tc.roles)
			token := e.accessToken(t, tc.seller)
			if tc.expire {
				e.clock.Advance(time.Hour + time.Second) // an LWA access token lives an hour
			}
			if tc.token != nil {
				token = tc.token(e, token)
			}
			if tc.setup != nil {
				tc.setup(e, token)
			}
			ctx := context.Background()
			if tc.ctxTimeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.ctxTimeout)
				defer cancel()
			}

			got, err := e.client(tc.cfg).Account(ctx, authz.RegionEU, token)

			switch {
			case tc.wantKind == nil && err != nil:
				t.Fatalf("Account: %v", err)
			case tc.wantKind != nil && !errors.Is(err, tc.wantKind):
				t.Fatalf("Account error = %v, want %v", err, tc.wantKind)
			case tc.wantCause != nil && !errors.Is(err, tc.wantCause):
				t.Fatalf("Account error = %v, want it to wrap %v", err, tc.wantCause)
			}
			if err != nil {
				var se *spapi.Error
				if !errors.As(err, &se) || se.Kind() != tc.wantKind {
					t.Errorf("error %v is not an *spapi.Error of kind %v", err, tc.wantKind)
				}
				if strings.Contains(err.Error(), token.Reveal()) {
					t.Errorf("error leaks the access token: %v", err)
				}
			}
			if !equalAccount(got, tc.want) {
				t.Errorf("Account = %+v, want %+v", got, tc.want)
			}
			if s, f := e.sim.SellersCalls(), e.sim.FeesCalls(); s != tc.wantSellers || f != tc.wantFees {
				t.Errorf("simulator saw %d participations and %d fees requests, want %d and %d", s, f, tc.wantSellers, tc.wantFees)
			}
			if tc.wantLog != "" && !strings.Contains(e.logs.String(), tc.wantLog) {
				t.Errorf("logs lack %q: %s", tc.wantLog, e.logs.String())
			}
			if strings.Contains(e.logs.String(), token.Reveal()) {
				t.Errorf("logs leak the access token")
			}
		})
	}
}

func equalAccount(a, b authz.Account) bool {
	return a.StoreName == b.StoreName && slices.Equal(a.MarketplaceIDs, b.MarketplaceIDs) && a.SellerID == b.SellerID &&
		a.SellerIDVerified == b.SellerIDVerified && a.TakenAt.Equal(b.TakenAt)
}

// TestTokensAnswerForTheirOwnAccount is the forged selling_partner_id attack seen from
// SP-API: whatever the redirect claimed, each token's fingerprint is its own account's.
func TestTokensAnswerForTheirOwnAccount(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	c := e.client(func(c *spapi.Config) { c.SellerIDProbe = true })
	for _, seller := range []string{sellerEU, sellerUS} {
		got, err := c.Account(context.Background(), authz.RegionNA, e.accessToken(t, seller))
		if err != nil {
			t.Fatal(err)
		}
		if got.SellerID != seller || !got.SellerIDVerified {
			t.Errorf("token of %s: Account = %+v, want its own seller id, verified", seller, got)
		}
	}
}

// TestUsagePlan: getMarketplaceParticipations allows a burst of 15 per seller; the
// 16th call in the same instant is throttled, another seller's calls are not.
func TestUsagePlan(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	c := e.client(func(c *spapi.Config) { c.MaxAttempts = 1 })
	token := e.accessToken(t, sellerEU)
	for i := range 15 {
		if _, err := c.Account(context.Background(), authz.RegionEU, token); err != nil {
			t.Fatalf("call %d: %v", i+1, err)
		}
	}
	if _, err := c.Account(context.Background(), authz.RegionEU, token); !errors.Is(err, spapi.ErrThrottled) {
		t.Fatalf("16th call: %v, want ErrThrottled", err)
	}
	if _, err := c.Account(context.Background(), authz.RegionEU, e.accessToken(t, "A9OTHERSELLER")); err != nil {
		t.Fatalf("another seller's call: %v", err)
	}
}

// TestErrorsNeverHoldTheToken: an answer that echoes the token (a hostile or buggy
// proxy) and every failure kind keep it out of the error text.
func TestErrorsNeverHoldTheToken(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	token := e.accessToken(t, sellerEU)
	echo := `{"errors":[{"code":"Unauthorized` + token.Reveal() + `","message":"token ` + token.Reveal() + ` refused","details":"` + token.Reveal() + `"}]}`
	faults := []amazonsim.Fault{
		{Kind: "echo", Status: 403, Body: echo},
		{Kind: "echo", Status: 500, Body: echo},
		{Kind: "echo", Status: 429, Body: echo},
		{Kind: "echo", Status: 200, Body: `{"payload":"` + token.Reveal() + `"}`},
		amazonsim.Malformed(),
	}
	c := e.client(func(c *spapi.Config) { c.MaxAttempts = 1 })
	for _, f := range faults {
		e.sim.InjectFault(amazonsim.FaultSellers, f)
		_, err := c.Account(context.Background(), authz.RegionEU, token)
		if err == nil {
			t.Fatalf("fault %d %s: no error", f.Status, f.Kind)
		}
		if strings.Contains(err.Error(), token.Reveal()) || strings.Contains(err.Error(), strings.TrimPrefix(token.Reveal(), "Atza|")) {
			t.Errorf("fault %d %s: error leaks the token: %v", f.Status, f.Kind, err)
		}
	}
	if strings.Contains(e.logs.String(), token.Reveal()) {
		t.Errorf("logs leak the token")
	}
}

func TestAccountRefusesBadArguments(t *testing.T) {
	t.Parallel()
	c := spapi.NewClient(spapi.Config{})
	if _, err := c.Account(context.Background(), "xx", "Atza|x"); err == nil || !strings.Contains(err.Error(), "region") {
		t.Errorf("unknown region: %v, want an error naming the region", err)
	}
	if _, err := c.Account(context.Background(), authz.RegionNA, ""); err == nil {
		t.Errorf("empty token: no error")
	}
}

// BenchmarkAccount measures one fingerprint against the in-process simulator: the
// client's own cost plus a loopback round trip per operation. Each iteration uses
// another seller's token, as the callback does, so no usage plan is hit.
func BenchmarkAccount(b *testing.B) {
	for _, probe := range []bool{false, true} {
		name := "participations"
		if probe {
			name = "participations+fees"
		}
		b.Run(name, func(b *testing.B) {
			e := start(b, nil)
			c := e.client(func(c *spapi.Config) {
				c.SellerIDProbe = probe
				c.Logger = slog.New(slog.DiscardHandler)
			})
			tokens := make([]secret.Value, b.N)
			for i := range tokens {
				tok, err := e.lwa.Refresh(context.Background(), secret.Value(e.sim.IssueRefreshToken("A"+strconv.Itoa(100000+i)+"BENCH")))
				if err != nil {
					b.Fatal(err)
				}
				tokens[i] = tok.AccessToken
			}
			b.ResetTimer()
			for i := range b.N {
				if _, err := c.Account(context.Background(), authz.RegionNA, tokens[i]); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			calls := float64(e.sim.SellersCalls() + e.sim.FeesCalls())
			b.ReportMetric(calls/float64(b.N), "requests/op")
		})
	}
}

// TestThrottledProbeWaitsForItsUsagePlan: the Product Fees API allows one request a
// second per seller (burst 2). A throttled answer without Retry-After names the rate
// in x-amzn-RateLimit-Limit, and the retry waits that long instead of being refused
// again: three new tokens of one seller in a row all get their seller id.
func TestThrottledProbeWaitsForItsUsagePlan(t *testing.T) {
	t.Parallel()
	// The usage plan refills in real time here: the simulator runs on the wall clock.
	sim := amazonsim.New(amazonsim.Config{AppID: "amzn1.sp.solution.spapitest", AppName: "SP-API test", RedirectURIs: []string{redirectURI},
		ClientID: clientID, ClientSecret: clientSecret,
		Sellers: []amazonsim.Seller{{ID: sellerEU, Name: "Alpenblick Outdoor GmbH", CountryCodes: []string{"DE"}}}})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	e := &env{sim: sim, url: srv.URL, logs: &testenv.Buffer{},
		lwa: lwa.NewClient(lwa.Config{Endpoint: srv.URL + "/auth/o2/token", Credentials: lwa.StaticCredentials{ClientID: clientID, ClientSecret: clientSecret}})}
	c := e.client(func(c *spapi.Config) { c.SellerIDProbe = true; c.MaxDelay = 2 * time.Second })
	for i := range 4 {
		acct, err := c.Account(context.Background(), authz.RegionEU, e.accessToken(t, sellerEU))
		if err != nil || !acct.SellerIDVerified {
			t.Fatalf("token %d: %+v %v", i+1, acct, err)
		}
	}
	if !strings.Contains(e.logs.String(), `"status":429`) {
		t.Fatalf("the usage plan was never reached, so the retry was not tried:\n%s", e.logs.String())
	}
}

// TestRequestIDNeverHoldsTheToken: the request id goes into the error for Amazon's
// support; a proxy that echoes the token there does not get it into the error.
func TestRequestIDNeverHoldsTheToken(t *testing.T) {
	t.Parallel()
	const token = "Atza|IwEBrequest-id-echo-0123456789"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("x-amzn-RequestId", r.Header.Get("x-amz-access-token"))
		w.WriteHeader(http.StatusForbidden)
	}))
	t.Cleanup(srv.Close)
	_, err := spapi.NewClient(spapi.Config{Endpoint: srv.URL, MaxAttempts: 1}).Account(context.Background(), authz.RegionEU, token)
	if !errors.Is(err, spapi.ErrForbidden) || strings.Contains(err.Error(), token) {
		t.Fatalf("error %v: want ErrForbidden without the token", err)
	}
}
