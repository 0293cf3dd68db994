package callback_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/spapi-auth-keeper/keeper/infra/amazonsim"
	"github.com/spapi-auth-keeper/keeper/infra/testenv"
	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/config"
)

func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

func TestRenewalLinkRoundTrip(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	before := e.onboard("acme", seller, 3)

	consentPage := e.consentURL(e.link("acme", 45*24*time.Hour))
	q := consentPage.Query()
	if !strings.HasPrefix(consentPage.String(), e.SimURL+"/apps/authorize/consent?") || q.Get("application_id") != appID ||
		q.Get("version") != "beta" || q.Get("redirect_uri") != e.server.URL+"/callback" || q.Get("state") == "" {
		t.Fatalf("consent URL = %s", consentPage)
	}
	back := e.consentAs(consentPage, seller, "confirm")
	if !strings.HasPrefix(back, e.server.URL+"/callback?") {
		t.Fatalf("Amazon redirected to %s", back)
	}
	now := e.Clock.Now()
	until := now.Add(authz.Lifetime)
	e.get(back).want(http.StatusOK, "renewed", "until "+until.Format("2 January 2006"), "Nothing else is needed")

	a, err := e.Store.Get(e.Ctx, "acme", authz.RegionEU)
	must(t, err)
	if a.Status != authz.StatusActive || !a.ExpiresAt.Equal(until) || !a.AuthorizedAt.Equal(now) || a.ExpiryDay() != until.Format("2006-01-02") ||
		len(a.Reminders) != 0 || a.Version != before.Version+1 || a.SecretID == "" {
		t.Fatalf("record after renewal: %+v", a)
	}
	h, err := e.Store.History(e.Ctx, "acme", 10)
	must(t, err)
	if len(h) == 0 || h[0].Kind != authz.EventRenewed {
		t.Fatalf("history = %+v, want a renewed event first", h)
	}
	rt, err := e.Vault.Get(e.Ctx, "acme", authz.RegionEU)
	must(t, err)
	if rt.SellingPartnerID != seller || rt.Token.IsZero() {
		t.Fatalf("stored token: seller %s, empty %v", rt.SellingPartnerID, rt.Token.IsZero())
	}
	if got := e.Sim.Exchanges(); got != 1 {
		t.Fatalf("LWA code exchanges = %d, want 1", got)
	}
	if !strings.Contains(e.Metrics.String(), `"CallbackSucceeded":1`) {
		t.Errorf("no CallbackSucceeded metric: %s", e.Metrics.String())
	}
	e.wantNoSecretsLogged("acme")
}

func TestFirstAuthorizationBindsTheSeller(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.onboard("newshop", "", 0)
	e.get(e.consentAsURL("newshop", seller)).want(http.StatusOK, "connected")
	a, err := e.Store.Get(e.Ctx, "newshop", authz.RegionEU)
	must(t, err)
	if a.SellingPartnerID != seller || a.Status != authz.StatusActive {
		t.Fatalf("record: %+v", a)
	}
	h, _ := e.Store.History(e.Ctx, "newshop", 10)
	if len(h) == 0 || h[0].Kind != authz.EventAuthorized {
		t.Fatalf("history = %+v, want authorized", h)
	}
}

// consentAsURL runs link → consent → confirm and returns Amazon's redirect back.
func (e *env) consentAsURL(connID, sellerID string) string {
	return e.consentAs(e.consentURL(e.link(connID, time.Hour)), sellerID, "confirm")
}

func TestRenewalStartedInSellerCentral(t *testing.T) {
	t.Parallel()
	// The Login URI takes a token only on a seller id SP-API verified.
	e := newEnv(t, func(c *config.Config) { c.VerifySellerID = true })
	// Expired five days ago: Manage Your Apps → Renew. Its first authorization took
	// its account's fingerprint, which the Login URI renewal must match.
	e.onboardFingerprinted("acme", seller, -5)

	// Seller Central sends the seller to the Login URI first.
	login := e.get(e.SimURL + "/apps/manage/renew?selling_partner_id=" + seller).want(http.StatusFound)
	if !strings.HasPrefix(login.location, e.server.URL+"/login?") {
		t.Fatalf("Amazon sent the seller to %s", login.location)
	}
	toAmazon := e.get(login.location).want(http.StatusFound)
	back, err := url.Parse(toAmazon.location)
	must(t, err)
	if !strings.HasPrefix(toAmazon.location, e.SimURL+"/apps/authorize/confirm/") || back.Query().Get("state") == "" ||
		back.Query().Get("amazon_state") == "" || back.Query().Get("redirect_uri") != e.server.URL+"/callback" || back.Query().Get("version") != "beta" {
		t.Fatalf("Login URI redirected to %s", toAmazon.location)
	}
	consentPage := e.get(toAmazon.location)
	var page *url.URL
	if consentPage.status == http.StatusFound {
		page, err = url.Parse(consentPage.location)
		must(t, err)
		if page.Host == "" {
			page = mustURL(t, e.SimURL+consentPage.location)
		}
	} else {
		consentPage.want(http.StatusOK)
		page = mustURL(t, e.SimURL+"/apps/authorize/consent?"+url.Values{
			"application_id": {appID}, "state": {back.Query().Get("state")}, "version": {"beta"}, "redirect_uri": {e.server.URL + "/callback"},
		}.Encode())
	}
	e.get(e.consentAs(page, seller, "confirm")).want(http.StatusOK, "renewed")
	a, _ := e.Store.Get(e.Ctx, "acme", authz.RegionEU)
	if a.Status != authz.StatusActive || a.DaysLeft(e.Clock.Now()) != 365 {
		t.Fatalf("record: %+v", a)
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	must(t, err)
	return u
}

// TestBadInputChangesNothing runs every rejection the seller can meet: each gets a
// page that says what to do, the right status, and leaves record, secret and history
// as they were.
func TestBadInputChangesNothing(t *testing.T) {
	t.Parallel()
	type setup struct {
		e     *env
		state string // a fresh, valid state for "acme"
	}
	tests := []struct {
		name       string
		request    func(s setup) string
		wantStatus int
		wantPage   string
		nonceKept  bool // the state's nonce must survive (nothing consumed it)
		events     int  // history events the rejection itself adds
		exchanges  int
	}{
		{name: "missing state", wantStatus: 400, wantPage: "Something is missing", nonceKept: true,
			request: func(s setup) string {
				return s.e.callbackURL(url.Values{"selling_partner_id": {seller}, "spapi_oauth_code": {s.e.Sim.IssueCode(seller, s.e.Config.RedirectURI)}})
			}},
		{name: "missing code", wantStatus: 400, wantPage: "Something is missing", nonceKept: true,
			request: func(s setup) string {
				return s.e.callbackURL(url.Values{"state": {s.state}, "selling_partner_id": {seller}})
			}},
		{name: "tampered state", wantStatus: 400, wantPage: "could not verify", nonceKept: true,
			request: func(s setup) string {
				b := []byte(s.state)
				b[5] ^= 0x01
				return s.e.callbackURL(url.Values{"state": {string(b)}, "selling_partner_id": {seller}, "spapi_oauth_code": {s.e.Sim.IssueCode(seller, s.e.Config.RedirectURI)}})
			}},
		{name: "truncated state", wantStatus: 400, wantPage: "could not verify", nonceKept: true,
			request: func(s setup) string {
				return s.e.callbackURL(url.Values{"state": {s.state[:len(s.state)-7]}, "selling_partner_id": {seller}, "spapi_oauth_code": {s.e.Sim.IssueCode(seller, s.e.Config.RedirectURI)}})
			}},
		{name: "oversized state", wantStatus: 400, wantPage: "could not verify", nonceKept: true,
			request: func(s setup) string {
				return s.e.callbackURL(url.Values{"state": {s.state + strings.Repeat("A", 5000)}, "selling_partner_id": {seller}, "spapi_oauth_code": {s.e.Sim.IssueCode(seller, s.e.Config.RedirectURI)}})
			}},
		{name: "expired state", wantStatus: 400, wantPage: "took too long", nonceKept: true,
			request: func(s setup) string {
				s.e.Clock.Advance(16 * time.Minute)
				return s.e.callbackURL(url.Values{"state": {s.state}, "selling_partner_id": {seller}, "spapi_oauth_code": {s.e.Sim.IssueCode(seller, s.e.Config.RedirectURI)}})
			}},
		{name: "state opened in another browser", wantStatus: 400, wantPage: "started in another browser", nonceKept: true,
			request: func(s setup) string {
				s.e.browser.Jar, _ = cookiejar.New(nil)
				return s.e.callbackURL(url.Values{"state": {s.state}, "selling_partner_id": {seller}, "spapi_oauth_code": {s.e.Sim.IssueCode(seller, s.e.Config.RedirectURI)}})
			}},
		{name: "seller declined", wantStatus: 200, wantPage: "Nothing was changed", nonceKept: true,
			request: func(s setup) string {
				return s.e.callbackURL(url.Values{"state": {s.state}, "error": {"access_denied"}, "error_description": {"The selling partner declined"}})
			}},
		{name: "different seller answers", wantStatus: 409, wantPage: "different Amazon account", events: 1,
			request: func(s setup) string {
				return s.e.callbackURL(url.Values{"state": {s.state}, "selling_partner_id": {otherSeller}, "spapi_oauth_code": {s.e.Sim.IssueCode(otherSeller, s.e.Config.RedirectURI)}})
			}},
		{name: "LWA invalid_grant on the code", wantStatus: 400, wantPage: "took too long", exchanges: 1,
			request: func(s setup) string {
				s.e.Sim.InjectFault(amazonsim.GrantAuthorizationCode, amazonsim.InvalidGrant())
				return s.e.callbackURL(url.Values{"state": {s.state}, "selling_partner_id": {seller}, "spapi_oauth_code": {s.e.Sim.IssueCode(seller, s.e.Config.RedirectURI)}})
			}},
		{name: "LWA unavailable after retries", wantStatus: 503, wantPage: "Try again", exchanges: 4, nonceKept: true,
			request: func(s setup) string {
				s.e.Sim.InjectFaults(amazonsim.GrantAuthorizationCode, amazonsim.ServerError(), 10)
				return s.e.callbackURL(url.Values{"state": {s.state}, "selling_partner_id": {seller}, "spapi_oauth_code": {s.e.Sim.IssueCode(seller, s.e.Config.RedirectURI)}})
			}},
		{name: "Secrets Manager fails after the exchange", wantStatus: 202, wantPage: "being completed", exchanges: 1, events: 1,
			request: func(s setup) string {
				for _, op := range []string{"CreateSecret", "PutSecretValue"} {
					s.e.Secrets.FailNext(op, 1000, "InternalServiceError") // outlasts the vault budget, however fast its retries
				}
				return s.e.callbackURL(url.Values{"state": {s.state}, "selling_partner_id": {seller}, "spapi_oauth_code": {s.e.Sim.IssueCode(seller, s.e.Config.RedirectURI)}})
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.onboard("acme", seller, 3)
			state := e.consentURL(e.link("acme", time.Hour)).Query().Get("state")
			before := e.snapshot("acme")
			target := tt.request(setup{e: e, state: state})
			exchangesBefore := e.Sim.Exchanges()
			r := e.get(target).want(tt.wantStatus, tt.wantPage, "Reference:")
			if r.header.Get("Cache-Control") != "no-store" || r.header.Get("Referrer-Policy") != "no-referrer" {
				t.Errorf("headers: %v", r.header)
			}
			before.events += tt.events
			e.wantUnchanged("acme", before)
			if got := e.Sim.Exchanges() - exchangesBefore; got != tt.exchanges {
				t.Errorf("LWA code exchanges = %d, want %d", got, tt.exchanges)
			}
			if got := e.nonceExists(state); got != tt.nonceKept {
				t.Errorf("nonce exists = %v, want %v", got, tt.nonceKept)
			}
			ref := r.body[strings.Index(r.body, "<code>")+6 : strings.Index(r.body, "</code>")]
			if !strings.Contains(e.Logs.String(), ref) {
				t.Errorf("reference %s is not in the logs", ref)
			}
			e.wantNoSecretsLogged("acme")
		})
	}
}

func TestReplayedStateIsRejectedWithoutCallingLWA(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.onboard("acme", seller, 3)
	back := e.consentAsURL("acme", seller)
	e.get(back).want(http.StatusOK, "renewed")
	after := e.snapshot("acme")
	e.get(back).want(http.StatusBadRequest, "already used")
	e.wantUnchanged("acme", after)
	if got := e.Sim.Exchanges(); got != 1 {
		t.Fatalf("LWA exchanges = %d, want 1", got)
	}
}

func TestMismatchedSellerIsRecorded(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.onboard("acme", seller, 3)
	e.get(e.consentAsURL("acme", otherSeller)).want(http.StatusConflict)
	h, _ := e.Store.History(e.Ctx, "acme", 10)
	if len(h) == 0 || h[0].Kind != authz.EventMismatchedSeller || !strings.Contains(h[0].Detail, otherSeller) {
		t.Fatalf("history = %+v", h)
	}
	if _, err := e.Vault.Get(e.Ctx, "acme", authz.RegionEU); err == nil {
		t.Fatal("a secret was written for the wrong seller")
	}
}

func TestRenewalLinkRejections(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.onboard("acme", seller, 3)
	tests := []struct {
		name       string
		url        string
		wantStatus int
		wantPage   []string
	}{
		{"expired link", e.link("acme", -time.Hour), http.StatusGone, []string{"expired", "Manage Your Apps", "Renew"}},
		{"unknown connection", e.link("gone-seller", time.Hour), http.StatusNotFound, []string{"could not find"}},
		{"no token", e.server.URL + "/authorize", http.StatusBadRequest, []string{"missing"}},
		{"tampered link", e.link("acme", time.Hour) + "x", http.StatusBadRequest, []string{"not valid"}},
		{"wrong method", "", 0, nil},
	}
	for _, tt := range tests {
		if tt.url == "" {
			continue
		}
		t.Run(tt.name, func(t *testing.T) {
			r := e.get(tt.url).want(tt.wantStatus, tt.wantPage...)
			if r.location != "" {
				t.Errorf("redirected to %s", r.location)
			}
		})
	}
	r := e.postForm(e.server.URL+"/callback", url.Values{})
	if r.status != http.StatusMethodNotAllowed {
		t.Errorf("POST /callback = %d, want 405", r.status)
	}
}

func TestLoginURIRejections(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.onboard("acme", seller, 3)
	login := func(callback, spid string) string {
		return e.server.URL + "/login?" + url.Values{"amazon_callback_uri": {callback}, "amazon_state": {"amz-state-1"}, "selling_partner_id": {spid}}.Encode()
	}
	tests := []struct {
		name       string
		url        string
		wantStatus int
		wantPage   string
	}{
		{"callback on another host", login("https://evil.example/apps/authorize/confirm", seller), 400, "did not come from Amazon"},
		{"look-alike host", login("https://sellercentral.amazon.com.evil.example/x", seller), 400, "did not come from Amazon"},
		{"plain http Seller Central", login("http://sellercentral.amazon.de/apps/authorize/confirm", seller), 400, "did not come from Amazon"},
		{"missing seller", login("https://sellercentral.amazon.de/apps/authorize/confirm/x", ""), 400, "missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.get(tt.url).want(tt.wantStatus, tt.wantPage)
			if r.location != "" {
				t.Fatalf("redirected to %s: an open redirect", r.location)
			}
		})
	}
	// A real Seller Central host is accepted.
	r := e.get(login("https://sellercentral.amazon.de/apps/authorize/confirm/"+appID, seller)).want(http.StatusFound)
	if !strings.HasPrefix(r.location, "https://sellercentral.amazon.de/apps/authorize/confirm/") {
		t.Fatalf("redirected to %s", r.location)
	}
}

// TestLoginURIAnswersKnownAndUnknownSellersAlike: anyone can call the Login URI with
// any seller's id, so its answer must not tell whether the seller is a customer. The
// unknown seller learns how to connect only after consenting on Amazon's page.
func TestLoginURIAnswersKnownAndUnknownSellersAlike(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.onboardFingerprinted("acme", seller, 3)
	shape := func(spid string) (response, url.Values, map[string]any) {
		r := e.get(e.server.URL + "/login?" + url.Values{"amazon_callback_uri": {e.SimURL + "/apps/authorize/confirm/" + appID},
			"amazon_state": {"amz-1"}, "selling_partner_id": {spid}}.Encode()).want(http.StatusFound)
		u := mustURL(t, r.location)
		payload, _, _ := strings.Cut(u.Query().Get("state"), ".")
		raw, err := base64.RawURLEncoding.DecodeString(payload)
		must(t, err)
		var p map[string]any
		must(t, json.Unmarshal(raw, &p))
		return r, u.Query(), p
	}
	known, kq, kp := shape(seller)
	unknown, uq, up := shape("A9UNKNOWN")
	if known.status != unknown.status || len(known.header.Values("Set-Cookie")) != len(unknown.header.Values("Set-Cookie")) || len(known.body) != len(unknown.body) {
		t.Fatalf("known %d %q, unknown %d %q", known.status, known.body, unknown.status, unknown.body)
	}
	for _, k := range []string{"amazon_state", "redirect_uri", "version"} {
		if kq.Get(k) != uq.Get(k) {
			t.Errorf("%s: known %q, unknown %q", k, kq.Get(k), uq.Get(k))
		}
	}
	for _, p := range []map[string]any{kp, up} {
		if p["c"] != "" || p["r"] != "" {
			t.Errorf("a Login URI state names its connection: %v", p)
		}
	}
	// The unknown seller consents as itself and is told how to connect; nothing is made.
	consent := mustURL(t, e.SimURL+"/apps/authorize/consent?"+url.Values{"application_id": {appID}, "state": {uq.Get("state")},
		"version": {"beta"}, "redirect_uri": {e.server.URL + "/callback"}}.Encode())
	must(t, e.Sim.AddSeller(amazonsim.Seller{ID: "A9UNKNOWN", Name: "Unknown Shop", CountryCodes: []string{"DE"}}))
	e.get(e.consentAs(consent, "A9UNKNOWN", "confirm")).want(http.StatusNotFound, "Connect your Amazon account")
	if found, err := e.Store.FindBySeller(e.Ctx, "A9UNKNOWN"); err != nil || len(found) != 0 {
		t.Fatalf("a record for the unknown seller: %v %v", found, err)
	}
}

// TestSelfServiceOnboarding: an Appstore install of a seller the vendor does not know
// yet makes a connection only on a seller id SP-API verified; nothing exists before.
func TestSelfServiceOnboarding(t *testing.T) {
	t.Parallel()
	for _, verify := range []bool{true, false} {
		t.Run(fmt.Sprintf("verify seller id %v", verify), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, func(c *config.Config) { c.SelfServiceOnboarding = true; c.VerifySellerID = verify })
			must(t, e.Sim.AddSeller(amazonsim.Seller{ID: "A7NEWSELLER", Name: "New Seller", CountryCodes: []string{"GB"}}))
			// Seller Central UK names the region (the simulator's host names none).
			r := e.get(e.server.URL + "/login?" + url.Values{"amazon_callback_uri": {"https://sellercentral.amazon.co.uk/apps/authorize/confirm/" + appID},
				"amazon_state": {"s"}, "selling_partner_id": {"A7NEWSELLER"}}.Encode()).want(http.StatusFound)
			if _, err := e.Store.Get(e.Ctx, "sp-A7NEWSELLER", authz.RegionEU); !errors.Is(err, authz.ErrNotFound) {
				t.Fatalf("the Login URI alone made a record: %v", err)
			}
			st := mustURL(t, r.location).Query().Get("state")
			consent := mustURL(t, e.SimURL+"/apps/authorize/consent?"+url.Values{"application_id": {appID}, "state": {st},
				"version": {"beta"}, "redirect_uri": {e.server.URL + "/callback"}}.Encode())
			back := e.consentAs(consent, "A7NEWSELLER", "confirm")
			if !verify {
				e.get(back).want(http.StatusNotFound, "Connect your Amazon account")
				if _, err := e.Store.Get(e.Ctx, "sp-A7NEWSELLER", authz.RegionEU); !errors.Is(err, authz.ErrNotFound) {
					t.Fatalf("onboarded without a verified seller id: %v", err)
				}
				return
			}
			e.get(back).want(http.StatusOK)
			a, err := e.Store.Get(e.Ctx, "sp-A7NEWSELLER", authz.RegionEU)
			must(t, err)
			if a.Status != authz.StatusActive || a.SellingPartnerID != "A7NEWSELLER" || !a.Account.SellerIDVerified {
				t.Fatalf("record: %+v", a)
			}
		})
	}
}

// TestRedirectURIFromTheRequest is a deployment with no REDIRECT_URI: the HTTP API's
// own URL cannot be put in the callback's environment, so the callback sends Amazon
// and LWA its own /callback as the request reached it.
func TestRedirectURIFromTheRequest(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *config.Config) { c.RedirectURI = "" })
	e.onboard("acme", seller, 3)
	page := e.consentURL(e.link("acme", time.Hour))
	if got := page.Query().Get("redirect_uri"); got != e.server.URL+"/callback" {
		t.Fatalf("redirect_uri = %q, want %q", got, e.server.URL+"/callback")
	}
	e.get(e.consentAs(page, seller, "confirm")).want(http.StatusOK, "renewed")
}
