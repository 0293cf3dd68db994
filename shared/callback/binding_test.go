package callback_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/spapi-auth-keeper/keeper/infra/amazonsim"
	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/config"
	"github.com/spapi-auth-keeper/keeper/shared/consent"
	"github.com/spapi-auth-keeper/keeper/shared/renewal"
	"github.com/spapi-auth-keeper/keeper/shared/store"
)

// connect runs a first authorization of a pending connection by sellerID through the
// renewal link, as the vendor's onboarding does, so the record carries the account's
// fingerprint, its binding and a stored token.
func (e *env) connect(connID, sellerID string) authz.Authorization {
	e.T.Helper()
	e.onboard(connID, "", 0)
	e.get(e.consentAsURL(connID, sellerID)).want(http.StatusOK, "connected")
	a, err := e.Store.Get(e.Ctx, connID, authz.RegionEU)
	must(e.T, err)
	if a.Account.IsZero() || a.SellingPartnerID != sellerID {
		e.T.Fatalf("first authorization left no fingerprint: %+v", a)
	}
	return a
}

func (e *env) storedToken(connID string) string {
	e.T.Helper()
	rt, err := e.Vault.Get(e.Ctx, connID, authz.RegionEU)
	must(e.T, err)
	return rt.Token.Reveal()
}

// loginState plays step 1 of the attack: anyone may call the Login URI with a seller's
// id; it answers with a state (and a cookie for the caller's own browser).
func (e *env) loginState(sellerID string) string {
	e.T.Helper()
	r := e.get(e.server.URL + "/login?" + url.Values{
		"amazon_callback_uri": {e.SimURL + "/apps/authorize/confirm/" + appID}, "amazon_state": {"attacker-chosen"},
		"selling_partner_id": {sellerID},
	}.Encode()).want(http.StatusFound)
	u, err := url.Parse(r.location)
	must(e.T, err)
	st := u.Query().Get("state")
	if st == "" {
		e.T.Fatalf("Login URI answered %s without a state", r.location)
	}
	return st
}

// TestForgedSellingPartnerIDCannotReplaceAnotherSellersToken is the reported attack,
// step by step: a state from the Login URI for the victim's seller id, consent with
// the attacker's own account, and Amazon's redirect edited to name the victim.
func TestForgedSellingPartnerIDCannotReplaceAnotherSellersToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *config.Config) { c.VerifySellerID = true })
	victim := e.connect("demo-healthy", seller)
	victimToken := e.storedToken("demo-healthy")
	before := e.snapshot("demo-healthy")
	e.Clock.Advance(time.Hour)

	// 1. The attacker asks the Login URI for a state of the victim's connection.
	state := e.loginState(seller)
	// 2. The attacker consents with their own Seller Central account...
	code := e.Sim.IssueCode(otherSeller, e.Config.RedirectURI)
	// 3. ...and edits Amazon's redirect to name the victim's seller id.
	r := e.get(e.callbackURL(url.Values{"state": {state}, "selling_partner_id": {seller}, "spapi_oauth_code": {code}}))
	r.want(http.StatusConflict, "not the one connected here", "Nothing was changed")

	if got := e.storedToken("demo-healthy"); got != victimToken {
		t.Fatal("the victim's refresh token was replaced")
	}
	before.events++ // the account_mismatch event
	e.wantUnchanged("demo-healthy", before)
	a, _ := e.Store.Get(e.Ctx, "demo-healthy", authz.RegionEU)
	if a.SellingPartnerID != seller || a.Account.StoreName != victim.Account.StoreName {
		t.Fatalf("record now names %s / %q", a.SellingPartnerID, a.Account.StoreName)
	}
	h, _ := e.Store.History(e.Ctx, "demo-healthy", 1)
	if len(h) != 1 || h[0].Kind != authz.EventAccountMismatch || !strings.Contains(h[0].Detail, "Other Shop") {
		t.Fatalf("history = %+v, want account_mismatch naming the attacker's store", h)
	}
	if !strings.Contains(e.Metrics.String(), `"Reason":"account_mismatch"`) {
		t.Errorf("no CallbackRejected{Reason=account_mismatch} metric: %s", e.Metrics.String())
	}
	if got := e.Sim.Exchanges(); got != 2 { // the victim's own connect, then the attacker's code
		t.Errorf("LWA exchanges = %d, want 2", got)
	}
	e.wantNoSecretsLogged("demo-healthy")
}

// TestSellerCentralRenewalOfAHealthyConnection: the real seller pressing Renew in
// Seller Central passes the account check and renews.
func TestSellerCentralRenewalOfAHealthyConnection(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *config.Config) { c.VerifySellerID = true })
	first := e.connect("acme", seller)
	e.Clock.Advance(300 * 24 * time.Hour)
	state := e.loginState(seller)
	e.get(e.callbackURL(url.Values{"state": {state}, "selling_partner_id": {seller}, "spapi_oauth_code": {e.Sim.IssueCode(seller, e.Config.RedirectURI)}})).
		want(http.StatusOK, "renewed", "Acme Outdoor")
	a, _ := e.Store.Get(e.Ctx, "acme", authz.RegionEU)
	if !a.ExpiresAt.Equal(e.Clock.Now().Add(authz.Lifetime)) || a.LinkGeneration != first.LinkGeneration+1 {
		t.Fatalf("record after renewal: %+v", a)
	}
}

// TestForwardedConsentURLIsRefusedInAnotherBrowser: a consent URL made for one browser
// and completed in another ends on a page, with nothing exchanged; the browser that
// started it can still finish.
func TestForwardedConsentURLIsRefusedInAnotherBrowser(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.onboard("acme-new", "", 0)
	consentPage := e.consentURL(e.link("acme-new", time.Hour)) // browser A: the vendor's customer
	mine := e.browser

	e.browser = newBrowser(t) // browser B: whoever the URL was forwarded to
	back := e.consentAs(consentPage, otherSeller, "confirm")
	e.get(back).want(http.StatusBadRequest, "started in another browser")
	if got := e.Sim.Exchanges(); got != 0 {
		t.Fatalf("LWA exchanges = %d, want 0", got)
	}
	if a, _ := e.Store.Get(e.Ctx, "acme-new", authz.RegionEU); a.Status != authz.StatusPending || a.SellingPartnerID != "" {
		t.Fatalf("record: %+v", a)
	}

	e.browser = mine
	e.get(e.consentAs(consentPage, seller, "confirm")).want(http.StatusOK, "connected")
	if a, _ := e.Store.Get(e.Ctx, "acme-new", authz.RegionEU); a.SellingPartnerID != seller {
		t.Fatalf("record: %+v", a)
	}
}

func TestBindingCookieAttributes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.onboard("acme", seller, 3)
	link := e.link("acme", time.Hour)
	req, _ := http.NewRequest(http.MethodGet, link, nil)
	req.Header.Set("X-Forwarded-Proto", "https") // as API Gateway serves it
	res, err := e.browser.Do(req)
	must(t, err)
	res.Body.Close()
	c := res.Header.Get("Set-Cookie")
	for _, want := range []string{"__Host-keeper-state=", "Path=/", "Secure", "HttpOnly", "SameSite=Lax", "Max-Age="} {
		if !strings.Contains(c, want) {
			t.Errorf("Set-Cookie %q lacks %q", c, want)
		}
	}
	if strings.Contains(c, "Domain=") {
		t.Errorf("a __Host- cookie must not name a Domain: %q", c)
	}
	if hsts := res.Header.Get("Strict-Transport-Security"); !strings.Contains(hsts, "max-age=") {
		t.Errorf("no HSTS header: %q", hsts)
	}
}

// TestStoreRenamed: a seller who renamed the store since the last consent renews
// when the seller id is verified (the Product Fees probe); without it the store name
// must match, so the renewal is refused and nothing changes.
func TestStoreRenamed(t *testing.T) {
	t.Parallel()
	for _, probe := range []bool{true, false} {
		t.Run(map[bool]string{true: "seller id verified", false: "store name only"}[probe], func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, func(c *config.Config) { c.VerifySellerID = probe })
			first := e.connect("acme", seller)
			if first.Account.SellerIDVerified != probe {
				t.Fatalf("fingerprint: %+v", first.Account)
			}
			must(t, e.Sim.AddSeller(amazonsim.Seller{ID: seller, Name: "Acme Outdoor", StoreName: "Acme Outdoor & Camping", CountryCodes: []string{"DE"}}))
			r := e.get(e.consentAsURL("acme", seller))
			a, _ := e.Store.Get(e.Ctx, "acme", authz.RegionEU)
			if probe {
				r.want(http.StatusOK, "renewed", "Acme Outdoor &amp; Camping")
				if a.Account.StoreName != "Acme Outdoor & Camping" || a.Version == first.Version {
					t.Fatalf("record: %+v", a)
				}
				return
			}
			r.want(http.StatusConflict, "not the one connected here")
			if a.Version != first.Version || a.Account.StoreName != "Acme Outdoor" {
				t.Fatalf("record changed: %+v", a)
			}
		})
	}
}

// TestVendorCentralRenewal: a Vendor Central account has no Sellers API. Its renewal
// through the emailed link (bound to the browser) is accepted without account
// evidence; a Login URI renewal of its working connection is refused, since nothing
// could show the new token is the same account's.
func TestVendorCentralRenewal(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const vendorID = "A5VENDORCO"
	must(t, e.Sim.AddSeller(amazonsim.Seller{ID: vendorID, Name: "Vendor Co", AccountType: amazonsim.AccountVendor, CountryCodes: []string{"DE"}}))
	created, err := e.Store.Create(e.Ctx, authz.Authorization{ConnectionID: "vendorco", Region: authz.RegionEU, AccountType: authz.AccountVendor,
		Marketplace: "DE", ContactEmail: "v@example.com", Status: authz.StatusPending})
	must(t, err)
	consentPage := e.consentURL(e.link("vendorco", time.Hour))
	if !strings.HasPrefix(consentPage.String(), e.SimURL) {
		t.Fatalf("consent at %s", consentPage)
	}
	e.get(e.consentAs(consentPage, vendorID, "confirm")).want(http.StatusOK, "connected")
	a, _ := e.Store.Get(e.Ctx, "vendorco", authz.RegionEU)
	if a.Status != authz.StatusActive || a.SellingPartnerID != vendorID || !a.Account.IsZero() || a.Version != created.Version+1 {
		t.Fatalf("record: %+v", a)
	}
	sellersCalls := e.Sim.SellersCalls()

	state := e.loginState(vendorID)
	e.get(e.callbackURL(url.Values{"state": {state}, "selling_partner_id": {vendorID}, "spapi_oauth_code": {e.Sim.IssueCode(vendorID, e.Config.RedirectURI)}})).
		want(http.StatusConflict, "renew from the link in our email")
	if got := e.Sim.SellersCalls(); got != sellersCalls {
		t.Errorf("the Sellers API was called %d times for a vendor", got-sellersCalls)
	}
	if after, _ := e.Store.Get(e.Ctx, "vendorco", authz.RegionEU); after.Version != a.Version {
		t.Fatalf("record changed: %+v", after)
	}
}

// TestOneSellerOneConnection: a seller bound to one connection cannot be bound to a
// second in the same region; both histories note it, the page names no other customer.
func TestOneSellerOneConnection(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.connect("acme", seller)
	e.onboard("acme-new", "", 0)
	r := e.get(e.consentAsURL("acme-new", seller)).want(http.StatusConflict, "already connected")
	if strings.Contains(r.body, "acme") && !strings.Contains(r.body, "acme-new") {
		t.Fatalf("page names another connection:\n%s", r.body)
	}
	if strings.Contains(strings.ReplaceAll(r.body, "acme-new", ""), "acme") {
		t.Fatalf("page names the other customer:\n%s", r.body)
	}
	a, _ := e.Store.Get(e.Ctx, "acme-new", authz.RegionEU)
	if a.Status != authz.StatusPending || a.SellingPartnerID != "" {
		t.Fatalf("second record: %+v", a)
	}
	if _, err := e.Vault.Get(e.Ctx, "acme-new", authz.RegionEU); err == nil {
		t.Fatal("a token was stored for the second connection")
	}
	for _, c := range []string{"acme", "acme-new"} {
		h, _ := e.Store.History(e.Ctx, c, 1)
		if len(h) != 1 || h[0].Kind != authz.EventSellerConflict {
			t.Errorf("history of %s = %+v, want seller_conflict", c, h)
		}
	}
	if got := e.Sim.Exchanges(); got != 1 {
		t.Errorf("LWA exchanges = %d, want 1 (the refused one never reaches LWA)", got)
	}
}

// TestOldRenewalLinkAfterRenewal: once a renewal succeeded, an older link ends on
// "already renewed" with the new expiry, and opens no consent.
func TestOldRenewalLinkAfterRenewal(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.onboard("acme", seller, 3)
	old := e.link("acme", 45*24*time.Hour)
	e.get(e.consentAs(e.consentURL(old), seller, "confirm")).want(http.StatusOK, "renewed")
	a, _ := e.Store.Get(e.Ctx, "acme", authz.RegionEU)
	r := e.get(old).want(http.StatusOK, "already renewed", a.ExpiresAt.Format("2 January 2006"))
	if r.location != "" {
		t.Fatalf("redirected to %s", r.location)
	}
	fresh := e.server.URL + "/authorize?t=" + e.Signer.SignLink(consent.Link{ConnectionID: "acme", Region: authz.RegionEU,
		Expires: e.Clock.Now().Add(time.Hour), Generation: a.LinkGeneration})
	e.get(fresh).want(http.StatusFound)
}

// TestLWAOutageThenReload: LWA fails with 500s; the page offers Try again, and the
// same callback address works once LWA answers.
func TestLWAOutageThenReload(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.onboard("acme", seller, 3)
	back := e.consentAsURL("acme", seller)
	e.Sim.InjectFaults(amazonsim.GrantAuthorizationCode, amazonsim.ServerError(), 4)
	e.get(back).want(http.StatusServiceUnavailable, "Try again")
	e.get(back).want(http.StatusOK, "renewed")
	a, _ := e.Store.Get(e.Ctx, "acme", authz.RegionEU)
	if a.Status != authz.StatusActive || a.DaysLeft(e.Clock.Now()) != 365 {
		t.Fatalf("record: %+v", a)
	}
}

// TestSecretsManagerOutageParksThenRepairs: the vault fails after Amazon issued the
// token; the token is parked (KMS-encrypted, never in plain text in the table), the
// seller sees "being completed", and the refresh sweep's repair stores it.
func TestSecretsManagerOutageParksThenRepairs(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.connect("acme", seller)
	e.Clock.Advance(200 * 24 * time.Hour)
	authorizedAt := e.Clock.Now()
	for _, op := range []string{"CreateSecret", "PutSecretValue"} {
		e.Secrets.FailNext(op, 1000, "InternalServiceError")
	}
	e.get(e.consentAsURL("acme", seller)).want(http.StatusAccepted, "being completed")
	parked := e.parked(t)
	if len(parked) != 1 || !parked[0].Verified || len(parked[0].Ciphertext) == 0 {
		t.Fatalf("parked = %+v", parked)
	}
	for _, s := range e.Sim.IssuedSecrets() {
		if strings.Contains(string(parked[0].Ciphertext), s) {
			t.Fatal("the parked item holds a token in plain text")
		}
	}
	issued := e.Sim.IssuedSecrets()

	e.Secrets.ClearFaults()
	e.Clock.Advance(time.Hour)
	res, err := e.renewal().RepairParked(context.Background())
	must(t, err)
	if res.Stored != 1 || res.Waiting != 0 {
		t.Fatalf("repair: %+v", res)
	}
	a, _ := e.Store.Get(e.Ctx, "acme", authz.RegionEU)
	if !a.ExpiresAt.Equal(authorizedAt.Add(authz.Lifetime)) || a.Status != authz.StatusActive {
		t.Fatalf("record after repair: %+v", a)
	}
	if len(e.parked(t)) != 0 {
		t.Fatal("the parked token is still there")
	}
	stored := e.storedToken("acme")
	found := false
	for _, s := range issued {
		found = found || s == stored
	}
	if !found || stored == "" {
		t.Fatal("the vault does not hold a token Amazon issued")
	}
	e.wantNoSecretsLogged("acme")
}

func (e *env) parked(t *testing.T) []store.Parked {
	t.Helper()
	p, err := e.Store.ParkedTokens(e.Ctx)
	must(t, err)
	return p
}

// renewal is the round trip as the refresh sweep builds it for repairs.
func (e *env) renewal() *renewal.Service {
	return e.Deps.Renewal(e.Deps.Vault(), nil, e.sealer)
}
