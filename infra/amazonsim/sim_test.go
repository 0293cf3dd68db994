package amazonsim_test

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spapi-auth-keeper/keeper/infra/amazonsim"
)

func TestRoundTripConsentCodeExchangeRefresh(t *testing.T) {
	t.Parallel()
	e := start(t, nil)

	consent := e.get(t, "/apps/authorize/consent", consentQuery("st-123+/=", redirectB))
	for _, want := range []string{"Keeper Test App", "Acme Goods (A1SELLERONE)", "Bravo Supplies", "Confirm", "Cancel", "Inventory and Order Tracking"} {
		if !strings.Contains(consent.body, want) {
			t.Errorf("consent page lacks %q", want)
		}
	}
	form := consentForm(t, consent)
	if got := form.Get("selling_partner_id"); got != "A1SELLERONE" {
		t.Errorf("preselected account = %q, want the first seller", got)
	}
	form.Set("selling_partner_id", "A2SELLERTWO") // the seller picks the other account
	form.Set("action", "confirm")
	back := e.postForm(t, "/apps/authorize/confirm", form)
	if back.status != http.StatusFound || back.location == nil {
		t.Fatalf("confirm = %d, want 302 to the redirect URI", back.status)
	}
	if got := back.location.Scheme + "://" + back.location.Host + back.location.Path; got != redirectB {
		t.Fatalf("redirected to %s, want %s", got, redirectB)
	}
	q := back.location.Query()
	if q.Get("state") != "st-123+/=" || q.Get("selling_partner_id") != "A2SELLERTWO" || q.Get("spapi_oauth_code") == "" {
		t.Fatalf("redirect query = %v, want state, selling_partner_id and spapi_oauth_code", q)
	}
	if q.Has("mws_auth_token") {
		t.Errorf("mws_auth_token sent for a non-hybrid app")
	}

	tok := e.token(t, exchange(q.Get("spapi_oauth_code"), redirectB)).wantOK(t)
	if !strings.HasPrefix(tok.Access, "Atza|") || !strings.HasPrefix(tok.Refresh, "Atzr|") || tok.TokenType != "bearer" || tok.ExpiresIn != 3600 {
		t.Fatalf("code grant answer = %+v, want Atza| access, Atzr| refresh, bearer, 3600", tok)
	}
	if seller, ok := e.sim.AccessTokenSeller(tok.Access); !ok || seller != "A2SELLERTWO" {
		t.Errorf("AccessTokenSeller = %q, %v; want A2SELLERTWO, true", seller, ok)
	}

	ref := e.token(t, refresh(tok.Refresh)).wantOK(t)
	if ref.Refresh != tok.Refresh || ref.Access == tok.Access || ref.ExpiresIn != 3600 {
		t.Fatalf("refresh answer = %+v, want a new access token and the refresh token echoed", ref)
	}

	cc := e.token(t, url.Values{"grant_type": {"client_credentials"}, "scope": {"sellingpartnerapi::client_credential:rotation"}}).wantOK(t)
	if cc.Refresh != "" {
		t.Errorf("client_credentials answer carries a refresh token")
	}
	if seller, ok := e.sim.AccessTokenSeller(cc.Access); !ok || seller != "" {
		t.Errorf("grantless token: AccessTokenSeller = %q, %v; want \"\", true", seller, ok)
	}

	e.clock.Advance(time.Hour)
	if _, ok := e.sim.AccessTokenSeller(ref.Access); ok {
		t.Errorf("access token still valid after an hour")
	}
	if got := [4]int{e.sim.Exchanges(), e.sim.Refreshes(), e.sim.ClientCredentialsGrants(), e.sim.TokenRequests()}; got != [4]int{1, 1, 1, 3} {
		t.Errorf("counters (exchanges, refreshes, client credentials, token requests) = %v, want [1 1 1 3]", got)
	}
}

func TestConsentPageRefusesBadLinks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		draft  bool
		noSell bool
		query  url.Values
		want   string
	}{
		{name: "unknown application", query: url.Values{"application_id": {"amzn1.sp.solution.other"}, "state": {"s"}}, want: "was not found"},
		{name: "missing application", query: url.Values{"state": {"s"}}, want: "was not found"},
		{name: "draft without version=beta", draft: true, query: consentQuery("s", ""), want: "draft status"},
		{name: "draft with another version", draft: true, query: url.Values{"application_id": {appID}, "state": {"s"}, "version": {"1"}}, want: "draft status"},
		{name: "unregistered redirect_uri", query: consentQuery("s", "https://evil.example/cb"), want: "not one of the redirect URIs"},
		{name: "missing state", query: url.Values{"application_id": {appID}}, want: "no state"},
		{name: "nobody signed in", noSell: true, query: consentQuery("s", ""), want: "No selling account"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := start(t, func(c *amazonsim.Config) {
				c.Draft = tt.draft
				if tt.noSell {
					c.Sellers = nil
				}
			})
			p := e.get(t, "/apps/authorize/consent", tt.query)
			if p.status != http.StatusBadRequest || !strings.Contains(p.body, tt.want) || strings.Contains(p.body, "<form") {
				t.Fatalf("consent = %d, want 400 error page saying %q; body: %s", p.status, tt.want, p.body)
			}
		})
	}
}

func TestDraftAppConsentWithVersionBeta(t *testing.T) {
	t.Parallel()
	e := start(t, func(c *amazonsim.Config) { c.Draft = true })
	q := consentQuery("s1", "")
	q.Set("version", "beta")
	form := consentForm(t, e.get(t, "/apps/authorize/consent", q))
	if form.Get("version") != "beta" || form.Get("redirect_uri") != redirectA {
		t.Fatalf("consent form = %v, want version=beta and the default redirect URI", form)
	}
	form.Set("action", "confirm")
	back := e.postForm(t, "/apps/authorize/confirm", form)
	if back.status != http.StatusFound || back.location.Query().Get("spapi_oauth_code") == "" {
		t.Fatalf("confirm = %d %v, want a redirect with a code", back.status, back.location)
	}
	form.Del("version") // a forged confirm without the draft marker
	if p := e.postForm(t, "/apps/authorize/confirm", form); p.status != http.StatusBadRequest {
		t.Fatalf("draft confirm without version=beta = %d, want 400", p.status)
	}
}

func TestConsentPageEscapesWhatItShows(t *testing.T) {
	t.Parallel()
	e := start(t, func(c *amazonsim.Config) { c.AppName = `<script>alert("x")</script>` })
	p := e.get(t, "/apps/authorize/consent", consentQuery(`"><script>s</script>`, ""))
	if p.status != http.StatusOK {
		t.Fatalf("consent = %d", p.status)
	}
	if strings.Contains(p.body, "<script>") {
		t.Fatalf("consent page holds unescaped markup: %s", p.body)
	}
	if got := consentForm(t, p).Get("state"); got != `"><script>s</script>` {
		t.Fatalf("state round-tripped as %q", got)
	}
}

func TestCancelRedirectsWithAccessDenied(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	form := consentForm(t, e.get(t, "/apps/authorize/consent", consentQuery("st-9", "")))
	form.Set("action", "cancel")
	back := e.postForm(t, "/apps/authorize/confirm", form)
	if back.status != http.StatusFound {
		t.Fatalf("cancel = %d, want 302", back.status)
	}
	q := back.location.Query()
	if q.Get("error") != "access_denied" || q.Get("state") != "st-9" || q.Get("error_description") == "" {
		t.Fatalf("cancel redirect query = %v, want state, error=access_denied and a description", q)
	}
	if q.Has("spapi_oauth_code") || q.Has("selling_partner_id") {
		t.Fatalf("cancel redirect carries a code or seller: %v", q)
	}
}

func TestConfirmRefusesForgedForms(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	base := consentForm(t, e.get(t, "/apps/authorize/consent", consentQuery("s", "")))
	tests := []struct {
		name string
		edit func(url.Values)
		want string
	}{
		{"unknown seller", func(f url.Values) { f.Set("selling_partner_id", "AUNKNOWN"); f.Set("action", "confirm") }, "Choose an account"},
		{"unregistered redirect", func(f url.Values) { f.Set("redirect_uri", "https://evil.example/"); f.Set("action", "confirm") }, "not one of the redirect URIs"},
		{"no action", func(url.Values) {}, "Confirm or Cancel"},
		{"no state", func(f url.Values) { f.Del("state"); f.Set("action", "confirm") }, "no state"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := url.Values{}
			for k, v := range base {
				f[k] = append([]string(nil), v...)
			}
			tt.edit(f)
			p := e.postForm(t, "/apps/authorize/confirm", f)
			if p.status != http.StatusBadRequest || !strings.Contains(p.body, tt.want) {
				t.Fatalf("confirm = %d, want 400 saying %q; body: %s", p.status, tt.want, p.body)
			}
		})
	}
}

func TestHybridAppGetsMWSAuthToken(t *testing.T) {
	t.Parallel()
	e := start(t, func(c *amazonsim.Config) { c.Hybrid = true })
	form := consentForm(t, e.get(t, "/apps/authorize/consent", consentQuery("s", "")))
	form.Set("action", "confirm")
	back := e.postForm(t, "/apps/authorize/confirm", form)
	if tok := back.location.Query().Get("mws_auth_token"); !strings.HasPrefix(tok, "amzn.mws.") {
		t.Fatalf("mws_auth_token = %q, want amzn.mws.<uuid>", tok)
	}
}

func TestTokenEndpointRefusals(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		setup      func(t *testing.T, e *env) url.Values
		wantStatus int
		wantError  string
		wantDesc   string
	}{
		{
			name: "code replay",
			setup: func(t *testing.T, e *env) url.Values {
				code := e.sim.IssueCode("A1SELLERONE", redirectA)
				if r := e.token(t, exchange(code, redirectA)); r.status != 200 {
					t.Fatalf("first exchange = %d", r.status)
				}
				return exchange(code, redirectA)
			},
			wantStatus: 400, wantError: "invalid_grant", wantDesc: "already been used",
		},
		{
			name: "code after five minutes",
			setup: func(t *testing.T, e *env) url.Values {
				code := e.sim.IssueCode("A1SELLERONE", redirectA)
				e.clock.Advance(5*time.Minute + time.Second)
				return exchange(code, redirectA)
			},
			wantStatus: 400, wantError: "invalid_grant", wantDesc: "expired",
		},
		{
			name: "code with another redirect_uri",
			setup: func(t *testing.T, e *env) url.Values {
				return exchange(e.sim.IssueCode("A1SELLERONE", redirectA), redirectB)
			},
			wantStatus: 400, wantError: "invalid_grant", wantDesc: "redirect_uri",
		},
		{
			name:       "unknown code",
			setup:      func(*testing.T, *env) url.Values { return exchange("ANnotacode", redirectA) },
			wantStatus: 400, wantError: "invalid_grant", wantDesc: "invalid",
		},
		{
			name: "missing code",
			setup: func(*testing.T, *env) url.Values {
				return url.Values{"grant_type": {"authorization_code"}, "redirect_uri": {redirectA}}
			},
			wantStatus: 400, wantError: "invalid_request",
		},
		{
			name: "wrong client secret",
			setup: func(t *testing.T, e *env) url.Values {
				f := exchange(e.sim.IssueCode("A1SELLERONE", redirectA), redirectA)
				f.Set("client_secret", "amzn1.oa2-cs.v1.wrong")
				return f
			},
			wantStatus: 401, wantError: "invalid_client",
		},
		{
			name: "wrong client id",
			setup: func(t *testing.T, e *env) url.Values {
				f := refresh(e.sim.IssueRefreshToken("A1SELLERONE"))
				f.Set("client_id", "amzn1.application-oa2-client.other")
				return f
			},
			wantStatus: 401, wantError: "invalid_client",
		},
		{
			name: "missing client secret",
			setup: func(*testing.T, *env) url.Values {
				return url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x"}, "client_secret": {""}}
			},
			wantStatus: 400, wantError: "invalid_request",
		},
		{
			name:       "unknown refresh token",
			setup:      func(*testing.T, *env) url.Values { return refresh("Atzr|nope") },
			wantStatus: 400, wantError: "invalid_grant",
		},
		{
			name:       "unsupported grant type",
			setup:      func(*testing.T, *env) url.Values { return url.Values{"grant_type": {"password"}} },
			wantStatus: 400, wantError: "unsupported_grant_type",
		},
		{
			name:       "missing grant type",
			setup:      func(*testing.T, *env) url.Values { return url.Values{} },
			wantStatus: 400, wantError: "invalid_request",
		},
		{
			name: "unknown scope",
			setup: func(*testing.T, *env) url.Values {
				return url.Values{"grant_type": {"client_credentials"}, "scope": {"profile"}}
			},
			wantStatus: 400, wantError: "invalid_scope",
		},
		{
			name:       "missing scope",
			setup:      func(*testing.T, *env) url.Values { return url.Values{"grant_type": {"client_credentials"}} },
			wantStatus: 400, wantError: "invalid_request",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := start(t, nil)
			r := e.token(t, tt.setup(t, e)).wantError(t, tt.wantStatus, tt.wantError)
			if !strings.Contains(r.Description, tt.wantDesc) {
				t.Errorf("error_description = %q, want it to mention %q", r.Description, tt.wantDesc)
			}
		})
	}
}

func TestCodeValidForFiveMinutes(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	code := e.sim.IssueCode("A1SELLERONE", redirectA)
	e.clock.Advance(5 * time.Minute)
	e.token(t, exchange(code, redirectA)).wantOK(t)
}

func TestTokenEndpointRefusesOtherBodiesAndMethods(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	res, err := e.http.Post(e.srv.URL+"/auth/o2/token", "application/json",
		strings.NewReader(`{"grant_type":"refresh_token","refresh_token":"x","client_id":"`+clientID+`","client_secret":"`+clientSecret+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 400 {
		t.Errorf("JSON body = %d, want 400 invalid_request", res.StatusCode)
	}
	if p := e.get(t, "/auth/o2/token", nil); p.status != http.StatusMethodNotAllowed {
		t.Errorf("GET token endpoint = %d, want 405", p.status)
	}
	if got := e.sim.TokenRequests(); got != 2 {
		t.Errorf("TokenRequests = %d, want 2", got)
	}
}

func TestClientSecretRotation(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	rt := e.sim.IssueRefreshToken("A1SELLERONE")
	withSecret := func(s string) url.Values {
		f := refresh(rt)
		f.Set("client_secret", s)
		return f
	}
	const next = "amzn1.oa2-cs.v1.next"
	e.token(t, withSecret(next)).wantError(t, 401, "invalid_client")

	e.sim.SetClientSecrets(clientSecret, next) // rotation under way: both accepted
	e.token(t, withSecret(clientSecret)).wantOK(t)
	e.token(t, withSecret(next)).wantOK(t)

	e.sim.SetClientSecrets(next) // the old secret expired
	e.token(t, withSecret(clientSecret)).wantError(t, 401, "invalid_client")
	e.token(t, withSecret(next)).wantOK(t)
}

func TestRevokeAndExpire(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		act        func(t *testing.T, e *env, token string)
		wantDesc   string
		renewWorks bool // after a new consent, does the old token work again?
	}{
		{"revoke token", func(_ *testing.T, e *env, tok string) { e.sim.Revoke(tok) }, "revoked", false},
		{"revoke seller", func(t *testing.T, e *env, _ string) {
			if n := e.sim.RevokeSeller("A1SELLERONE"); n != 1 {
				t.Errorf("RevokeSeller revoked %d tokens, want 1", n)
			}
		}, "revoked", false},
		{"expire seller", func(_ *testing.T, e *env, _ string) { e.sim.ExpireSeller("A1SELLERONE") }, "authorization has expired", true},
		{"a year passes", func(_ *testing.T, e *env, _ string) { e.clock.Advance(365 * 24 * time.Hour) }, "authorization has expired", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := start(t, nil)
			old := e.sim.IssueRefreshToken("A1SELLERONE")
			other := e.sim.IssueRefreshToken("A2SELLERTWO")
			e.token(t, refresh(old)).wantOK(t)

			tt.act(t, e, old)
			r := e.token(t, refresh(old)).wantError(t, 400, "invalid_grant")
			if !strings.Contains(r.Description, tt.wantDesc) {
				t.Errorf("error_description = %q, want it to say %q", r.Description, tt.wantDesc)
			}
			if tt.name != "a year passes" {
				e.token(t, refresh(other)).wantOK(t) // another seller is untouched
			}

			// The seller consents again: the new token works; Amazon reactivates a
			// lapsed token on renewal, but a revoked one stays revoked.
			renewed := e.token(t, exchange(e.sim.IssueCode("A1SELLERONE", redirectA), redirectA)).wantOK(t)
			e.token(t, refresh(renewed.Refresh)).wantOK(t)
			again := e.token(t, refresh(old))
			if (again.status == 200) != tt.renewWorks {
				t.Errorf("old token after renewal = %d %s, want works=%v", again.status, again.Error, tt.renewWorks)
			}
		})
	}
}

func TestInjectedFaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		fault      amazonsim.Fault
		wantStatus int
		wantError  string // empty: a bare HTTP error, no JSON
		retryAfter string
	}{
		{amazonsim.Throttled(), 429, "", ""},
		{amazonsim.Throttled().WithRetryAfter(1500 * time.Millisecond), 429, "", "2"},
		{amazonsim.ServerError(), 500, "server_error", ""},
		{amazonsim.Unavailable().WithRetryAfter(3 * time.Second), 503, "temporarily_unavailable", "3"},
		{amazonsim.InvalidGrant(), 400, "invalid_grant", ""},
		{amazonsim.InvalidClient(), 401, "invalid_client", ""},
		{amazonsim.UnauthorizedClient(), 401, "unauthorized_client", ""},
		{amazonsim.InvalidRequest(), 400, "invalid_request", ""},
	}
	for _, tt := range tests {
		t.Run(tt.fault.Kind+tt.retryAfter, func(t *testing.T) {
			t.Parallel()
			e := start(t, nil)
			rt := e.sim.IssueRefreshToken("A1SELLERONE")
			e.sim.InjectFault(amazonsim.GrantRefreshToken, tt.fault)

			// A fault for another grant leaves this one alone.
			e.token(t, exchange(e.sim.IssueCode("A1SELLERONE", redirectA), redirectA)).wantOK(t)

			r := e.token(t, refresh(rt))
			if r.status != tt.wantStatus || r.Error != tt.wantError || r.retryAfter != tt.retryAfter || r.Access != "" {
				t.Fatalf("faulted answer = %d %q Retry-After %q, want %d %q %q", r.status, r.Error, r.retryAfter, tt.wantStatus, tt.wantError, tt.retryAfter)
			}
			e.token(t, refresh(rt)).wantOK(t) // each fault is used once
			if e.sim.Refreshes() != 2 || e.sim.PendingFaults() != 0 {
				t.Errorf("Refreshes = %d, PendingFaults = %d; want 2, 0", e.sim.Refreshes(), e.sim.PendingFaults())
			}
		})
	}
}

func TestFaultsQueueInOrder(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	rt := e.sim.IssueRefreshToken("A1SELLERONE")
	e.sim.InjectFaults(amazonsim.GrantRefreshToken, amazonsim.Unavailable(), 2)
	e.sim.InjectFault(amazonsim.AnyGrant, amazonsim.ServerError())
	want := []int{503, 503, 500, 200}
	for i, w := range want {
		if r := e.token(t, refresh(rt)); r.status != w {
			t.Fatalf("request %d = %d, want %d", i+1, r.status, w)
		}
	}
}

func TestTimeoutFaultStillConsumesTheCode(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	code := e.sim.IssueCode("A1SELLERONE", redirectA)
	e.sim.InjectFault(amazonsim.GrantAuthorizationCode, amazonsim.Timeout(10*time.Second))

	impatient := &http.Client{Timeout: 50 * time.Millisecond}
	f := exchange(code, redirectA)
	f.Set("client_id", clientID)
	f.Set("client_secret", clientSecret)
	began := time.Now()
	if res, err := impatient.PostForm(e.srv.URL+"/auth/o2/token", f); err == nil {
		res.Body.Close()
		t.Fatalf("timeout fault answered %d, want the client to time out", res.StatusCode)
	}
	if waited := time.Since(began); waited > 5*time.Second {
		t.Fatalf("client waited %v", waited)
	}
	// LWA did the work even though nobody read the answer: the code is spent.
	deadline := time.Now().Add(5 * time.Second)
	for e.sim.Snapshot().Sellers[0].RefreshTokens == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the timed-out exchange was never processed")
		}
		time.Sleep(5 * time.Millisecond)
	}
	e.token(t, exchange(code, redirectA)).wantError(t, 400, "invalid_grant")
}

func TestLatencyDelaysEveryTokenAnswer(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	e.sim.SetLatency(60 * time.Millisecond)
	rt := e.sim.IssueRefreshToken("A1SELLERONE")
	for _, f := range []url.Values{refresh(rt), refresh("Atzr|unknown")} {
		began := time.Now()
		e.token(t, f)
		if d := time.Since(began); d < 60*time.Millisecond {
			t.Errorf("answer after %v, want at least 60ms", d)
		}
	}
}

func TestLoginURIFlow(t *testing.T) {
	t.Parallel()
	e := start(t, func(c *amazonsim.Config) { c.Draft = true })

	// Manage Your Apps → Renew sends the seller to the app's Login URI.
	p := e.get(t, "/apps/manage/renew", url.Values{"selling_partner_id": {"A2SELLERTWO"}})
	if p.status != http.StatusFound {
		t.Fatalf("renew = %d, want 302 to the Login URI", p.status)
	}
	lq := p.location.Query()
	if got := p.location.Scheme + "://" + p.location.Host + p.location.Path; got != loginURI {
		t.Fatalf("renew redirected to %s, want %s", got, loginURI)
	}
	if lq.Get("amazon_callback_uri") != e.srv.URL+"/apps/authorize/confirm/"+appID || lq.Get("amazon_state") == "" ||
		lq.Get("selling_partner_id") != "A2SELLERTWO" || lq.Get("version") != "beta" {
		t.Fatalf("login URI query = %v", lq)
	}

	// The app signs the seller in and sends the browser back to amazon_callback_uri.
	cb, err := url.Parse(lq.Get("amazon_callback_uri"))
	if err != nil {
		t.Fatal(err)
	}
	back := url.Values{"redirect_uri": {redirectB}, "amazon_state": {lq.Get("amazon_state")}, "state": {"app-state-7"}, "version": {"beta"}}
	consent := e.get(t, cb.Path, back)
	form := consentForm(t, consent)
	if form.Get("selling_partner_id") != "A2SELLERTWO" || form.Get("state") != "app-state-7" || form.Get("redirect_uri") != redirectB {
		t.Fatalf("consent after login callback = %v, want the renewing seller preselected, the app's state and redirect URI", form)
	}
	form.Set("action", "confirm")
	done := e.postForm(t, "/apps/authorize/confirm", form)
	dq := done.location.Query()
	if done.status != http.StatusFound || dq.Get("selling_partner_id") != "A2SELLERTWO" || dq.Get("state") != "app-state-7" {
		t.Fatalf("confirm = %d %v", done.status, dq)
	}
	e.token(t, exchange(dq.Get("spapi_oauth_code"), redirectB)).wantOK(t)

	// amazon_state is single use, must be one the simulator issued, and expires.
	if p := e.get(t, cb.Path, back); p.status != http.StatusBadRequest || !strings.Contains(p.body, "amazon_state") {
		t.Errorf("replayed amazon_state = %d, want 400 error page", p.status)
	}
	forged := url.Values{"amazon_state": {"forged"}, "state": {"s"}, "version": {"beta"}}
	if p := e.get(t, cb.Path, forged); p.status != http.StatusBadRequest {
		t.Errorf("forged amazon_state = %d, want 400", p.status)
	}
	late := e.get(t, "/apps/manage/renew", url.Values{"selling_partner_id": {"A1SELLERONE"}}).location.Query()
	e.clock.Advance(11 * time.Minute)
	if p := e.get(t, cb.Path, url.Values{"amazon_state": {late.Get("amazon_state")}, "state": {"s"}, "version": {"beta"}}); p.status != http.StatusBadRequest {
		t.Errorf("expired amazon_state = %d, want 400", p.status)
	}
}

func TestLoginCallbackRefusals(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		edit func(url.Values)
		want string
	}{
		{"unregistered redirect_uri", func(q url.Values) { q.Set("redirect_uri", "https://evil.example/") }, "not one of the redirect URIs"},
		{"draft marker dropped", func(q url.Values) { q.Del("version") }, "draft status"},
		{"no state from the app", func(q url.Values) { q.Del("state") }, "state"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := start(t, func(c *amazonsim.Config) { c.Draft = true })
			lq := e.get(t, "/apps/manage/renew", url.Values{"selling_partner_id": {"A1SELLERONE"}}).location.Query()
			q := url.Values{"amazon_state": {lq.Get("amazon_state")}, "state": {"s"}, "version": {"beta"}}
			tt.edit(q)
			if p := e.get(t, "/apps/authorize/login-callback", q); p.status != http.StatusBadRequest || !strings.Contains(p.body, tt.want) {
				t.Fatalf("login callback = %d, want 400 saying %q; body: %s", p.status, tt.want, p.body)
			}
		})
	}
}

func TestRenewRefusals(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	if p := e.get(t, "/apps/manage/renew", url.Values{"selling_partner_id": {"AUNKNOWN"}}); p.status != http.StatusBadRequest {
		t.Errorf("renew by an unknown seller = %d, want 400", p.status)
	}
	noLogin := start(t, func(c *amazonsim.Config) { c.LoginURI = "" })
	if p := noLogin.get(t, "/apps/manage/renew", url.Values{"selling_partner_id": {"A1SELLERONE"}}); p.status != http.StatusBadRequest {
		t.Errorf("renew without a Login URI = %d, want 400", p.status)
	}
	manage := e.get(t, "/apps/manage", nil)
	if manage.status != 200 || !strings.Contains(manage.body, "/apps/manage/renew?selling_partner_id=A1SELLERONE") {
		t.Errorf("Manage Your Apps page = %d, want renew links; body: %s", manage.status, manage.body)
	}
}

func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	rt := e.sim.IssueRefreshToken("A1SELLERONE")
	e.sim.InjectFaults(amazonsim.AnyGrant, amazonsim.ServerError(), 5)
	var wg sync.WaitGroup
	statuses := make(chan int, 40)
	for i := range 40 {
		wg.Go(func() {
			f := refresh(rt)
			if i%2 == 1 {
				f = exchange(e.sim.IssueCode("A2SELLERTWO", redirectA), redirectA)
			}
			statuses <- e.token(t, f).status
		})
	}
	wg.Wait()
	close(statuses)
	count := map[int]int{}
	for s := range statuses {
		count[s]++
	}
	if count[500] != 5 || count[200] != 35 {
		t.Fatalf("statuses = %v, want 5×500 and 35×200", count)
	}
	if e.sim.TokenRequests() != 40 || e.sim.Refreshes()+e.sim.Exchanges() != 40 {
		t.Fatalf("counters: %+v", e.sim.Snapshot())
	}
}
