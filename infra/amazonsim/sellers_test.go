package amazonsim_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/spapi-auth-keeper/keeper/infra/amazonsim"
)

// Marketplace ids Amazon documents.
const (
	mpUS = "ATVPDKIKX0DER"
	mpDE = "A1PA6795UKMFR9"
	mpGB = "A1F83G8C2ARO7P"
	mpFR = "A13V1IB3VIYZZH"
)

// withAccounts gives the two test sellers account data and adds a vendor.
func withAccounts(c *amazonsim.Config) {
	c.Sellers[0].StoreName = "Acme Store"
	c.Sellers[0].CountryCodes = []string{"GB", "DE"}
	c.Sellers[0].NotParticipatingIDs = []string{mpFR}
	// Bravo Supplies keeps the defaults: its name, Amazon.com.
	c.Sellers = append(c.Sellers, amazonsim.Seller{ID: "A3VENDOR", Name: "Vendor Co", AccountType: amazonsim.AccountVendor})
}

type opAnswer struct {
	status    int
	header    http.Header
	raw       string
	Errors    []struct{ Code, Message, Details string } `json:"errors"`
	Payload   json.RawMessage                           `json:"payload"`
	rateLimit string
}

// sp calls an SP-API operation of the simulator with token as x-amz-access-token.
func (e *env) sp(t *testing.T, method, path, token, body string) opAnswer {
	t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("x-amz-access-token", token)
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := e.http.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	a := opAnswer{status: res.StatusCode, header: res.Header, raw: string(b), rateLimit: res.Header.Get("x-amzn-RateLimit-Limit")}
	_ = json.Unmarshal(b, &a)
	return a
}

type participationJSON struct {
	Marketplace   amazonsim.Marketplace `json:"marketplace"`
	Participation struct {
		IsParticipating      bool `json:"isParticipating"`
		HasSuspendedListings bool `json:"hasSuspendedListings"`
	} `json:"participation"`
	StoreName string `json:"storeName"`
}

func (a opAnswer) participations(t *testing.T) []participationJSON {
	t.Helper()
	if a.status != http.StatusOK {
		t.Fatalf("getMarketplaceParticipations = %d %s, want 200", a.status, a.raw)
	}
	var ps []participationJSON
	if err := json.Unmarshal(a.Payload, &ps); err != nil {
		t.Fatalf("payload: %v: %s", err, a.raw)
	}
	return ps
}

func (a opAnswer) wantError(t *testing.T, status int, code string) {
	t.Helper()
	if a.status != status || len(a.Errors) != 1 || a.Errors[0].Code != code || a.header.Get("x-amzn-RequestId") == "" {
		t.Fatalf("answer = %d %s, want %d with one SP-API error %q and a request id", a.status, a.raw, status, code)
	}
}

// accessFor mints an access token for seller the way the keeper does: a refresh of
// its refresh token.
func (e *env) accessFor(t *testing.T, seller string) string {
	t.Helper()
	return e.token(t, refresh(e.sim.IssueRefreshToken(seller))).wantOK(t).Access
}

// brief lists each participation as "id:participating:storeName".
func brief(ps []participationJSON) []string {
	var out []string
	for _, p := range ps {
		s := "no"
		if p.Participation.IsParticipating {
			s = "yes"
		}
		out = append(out, p.Marketplace.ID+":"+s+":"+p.StoreName)
	}
	return out
}

func TestSellersAPIAnswersForTheTokensAccountOnly(t *testing.T) {
	t.Parallel()
	e := start(t, withAccounts)

	// A token from the code grant (the consent page, confirmed as Acme) answers for Acme.
	form := consentForm(t, e.get(t, "/apps/authorize/consent", consentQuery("s", redirectA)))
	form.Set("action", "confirm")
	code := e.postForm(t, "/apps/authorize/confirm", form).location.Query().Get("spapi_oauth_code")
	fromCode := e.token(t, exchange(code, redirectA)).wantOK(t)

	tests := []struct {
		name  string
		token string
		want  []string
	}{
		// Sorted by marketplace id, participating first.
		{"code grant, Acme", fromCode.Access, []string{mpGB + ":yes:Acme Store", mpDE + ":yes:Acme Store", mpFR + ":no:Acme Store"}},
		{"refresh of Acme's token", e.token(t, refresh(fromCode.Refresh)).wantOK(t).Access,
			[]string{mpGB + ":yes:Acme Store", mpDE + ":yes:Acme Store", mpFR + ":no:Acme Store"}},
		{"Bravo, defaults", e.accessFor(t, "A2SELLERTWO"), []string{mpUS + ":yes:Bravo Supplies"}},
		{"a seller the simulator was not told about", e.accessFor(t, "A9UNLISTED"), []string{mpUS + ":yes:Store A9UNLISTED"}},
	}
	for _, tc := range tests {
		a := e.sp(t, http.MethodGet, amazonsim.SellersPath, tc.token, "")
		ps := a.participations(t)
		if got := brief(ps); strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("%s: participations = %v, want %v", tc.name, got, tc.want)
		}
		if a.rateLimit != "0.016" {
			t.Errorf("%s: x-amzn-RateLimit-Limit = %q, want 0.016", tc.name, a.rateLimit)
		}
		if m := ps[0].Marketplace; m.CountryCode == "" || m.Currency == "" || m.Domain == "" {
			t.Errorf("%s: marketplace lacks its details: %+v", tc.name, m)
		}
	}
	if got := e.sim.SellersCalls(); got != len(tests) {
		t.Errorf("SellersCalls = %d, want %d", got, len(tests))
	}
}

func TestSellersAPIRefusals(t *testing.T) {
	t.Parallel()
	e := start(t, withAccounts)
	stale := e.accessFor(t, "A1SELLERONE")
	e.clock.Advance(time.Hour) // an access token lives an hour
	grantless := e.token(t, url.Values{"grant_type": {"client_credentials"}, "scope": {amazonsim.ScopeRotation}}).wantOK(t).Access
	tests := []struct {
		name, method, token string
		status              int
		code, details       string
	}{
		{"no token", http.MethodGet, "", 403, "Unauthorized", ""},
		{"a token never issued", http.MethodGet, "Atza|forged", 403, "Unauthorized", ""},
		{"an expired token", http.MethodGet, stale, 403, "Unauthorized", "The access token you provided has expired."},
		{"a grantless token", http.MethodGet, grantless, 403, "Unauthorized", ""},
		{"a vendor's token", http.MethodGet, e.accessFor(t, "A3VENDOR"), 403, "Unauthorized", ""},
		{"POST", http.MethodPost, e.accessFor(t, "A1SELLERONE"), 405, "InvalidInput", ""},
	}
	for _, tc := range tests {
		a := e.sp(t, tc.method, amazonsim.SellersPath, tc.token, "")
		a.wantError(t, tc.status, tc.code)
		if tc.status == 403 && a.Errors[0].Message != "Access to requested resource is denied." {
			t.Errorf("%s: message = %q", tc.name, a.Errors[0].Message)
		}
		if a.Errors[0].Details != tc.details {
			t.Errorf("%s: details = %q, want %q", tc.name, a.Errors[0].Details, tc.details)
		}
	}
}

func TestSellersAPIUsagePlan(t *testing.T) {
	t.Parallel()
	e := start(t, withAccounts)
	acme, bravo := e.accessFor(t, "A1SELLERONE"), e.accessFor(t, "A2SELLERTWO")
	for i := range 15 { // burst 15
		if a := e.sp(t, http.MethodGet, amazonsim.SellersPath, acme, ""); a.status != 200 {
			t.Fatalf("call %d = %d, want 200", i+1, a.status)
		}
	}
	e.sp(t, http.MethodGet, amazonsim.SellersPath, acme, "").wantError(t, 429, "QuotaExceeded")
	// The plan is per selling partner: Bravo still has its burst.
	bravoAnswer := e.sp(t, http.MethodGet, amazonsim.SellersPath, bravo, "")
	bravoAnswer.participations(t)
	// 0.016 a second: one more call after 62.5 s.
	e.clock.Advance(60 * time.Second)
	e.sp(t, http.MethodGet, amazonsim.SellersPath, acme, "").wantError(t, 429, "QuotaExceeded")
	e.clock.Advance(3 * time.Second)
	e.sp(t, http.MethodGet, amazonsim.SellersPath, acme, "").participations(t)
}

func TestSPAPIFaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		key        string
		fault      amazonsim.Fault
		path       string
		wantStatus int
		wantCode   string // SP-API error code; "" for a body that is not an error list
		retryAfter string
	}{
		{"sellers 429", amazonsim.FaultSellers, amazonsim.Throttled().WithRetryAfter(2 * time.Second), amazonsim.SellersPath, 429, "QuotaExceeded", "2"},
		{"sellers 500", amazonsim.FaultSellers, amazonsim.ServerError(), amazonsim.SellersPath, 500, "InternalFailure", ""},
		{"sellers 503", amazonsim.FaultSellers, amazonsim.Unavailable(), amazonsim.SellersPath, 503, "ServiceUnavailable", ""},
		{"sellers 403", amazonsim.FaultSellers, amazonsim.Forbidden(), amazonsim.SellersPath, 403, "Unauthorized", ""},
		{"sellers malformed", amazonsim.FaultSellers, amazonsim.Malformed(), amazonsim.SellersPath, 200, "", ""},
		{"fees 500", amazonsim.FaultFees, amazonsim.ServerError(), "/products/fees/v0/items/B00TEST/feesEstimate", 500, "InternalFailure", ""},
		{"fees malformed", amazonsim.FaultFees, amazonsim.Malformed(), "/products/fees/v0/items/B00TEST/feesEstimate", 200, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := start(t, withAccounts)
			token := e.accessFor(t, "A1SELLERONE")
			e.sim.InjectFault(tc.key, tc.fault)
			// Token requests never take an SP-API operation's fault.
			e.accessFor(t, "A1SELLERONE")
			method := http.MethodGet
			if tc.key == amazonsim.FaultFees {
				method = http.MethodPost
			}
			a := e.sp(t, method, tc.path, token, feesBody(mpDE))
			if tc.wantCode != "" {
				a.wantError(t, tc.wantStatus, tc.wantCode)
			} else if a.status != tc.wantStatus || json.Valid([]byte(a.raw)) {
				t.Fatalf("answer = %d %q, want %d with a body that is not JSON", a.status, a.raw, tc.wantStatus)
			}
			if got := a.header.Get("Retry-After"); got != tc.retryAfter {
				t.Errorf("Retry-After = %q, want %q", got, tc.retryAfter)
			}
			// One fault, used once: the next call is served.
			if a := e.sp(t, method, tc.path, token, feesBody(mpDE)); a.status != 200 || !json.Valid([]byte(a.raw)) {
				t.Errorf("next call = %d %s, want 200", a.status, a.raw)
			}
		})
	}
}

func TestSPAPITimeoutFaultDelaysThenAnswers(t *testing.T) {
	t.Parallel()
	e := start(t, withAccounts)
	token := e.accessFor(t, "A1SELLERONE")
	e.sim.InjectFault(amazonsim.FaultSellers, amazonsim.Timeout(300*time.Millisecond))
	began := time.Now()
	e.sp(t, http.MethodGet, amazonsim.SellersPath, token, "").participations(t)
	if d := time.Since(began); d < 300*time.Millisecond {
		t.Errorf("answered after %s, want the fault's 300ms delay", d)
	}
}

func feesBody(marketplaceID string) string {
	return `{"FeesEstimateRequest":{"MarketplaceId":"` + marketplaceID + `","IsAmazonFulfilled":false,` +
		`"PriceToEstimateFees":{"ListingPrice":{"CurrencyCode":"EUR","Amount":20}},"Identifier":"probe-1"}}`
}

func TestFeesEstimateNamesTheTokensSeller(t *testing.T) {
	t.Parallel()
	type result struct {
		FeesEstimateResult struct {
			Status     string
			Identifier struct {
				SellerID      string `json:"SellerId"`
				MarketplaceID string `json:"MarketplaceId"`
				IDValue       string `json:"IdValue"`
			} `json:"FeesEstimateIdentifier"`
			FeesEstimate *struct {
				TotalFeesEstimate struct{ Amount float64 }
			}
		}
	}
	tests := []struct {
		name       string
		roles      []string
		seller     string
		body       string
		wantStatus int
		wantCode   string
		wantResult string // FeesEstimateResult.Status
		wantFee    float64
	}{
		{name: "participating marketplace", seller: "A1SELLERONE", body: feesBody(mpDE), wantStatus: 200, wantResult: "Success", wantFee: 3},
		{name: "another marketplace still names the seller", seller: "A1SELLERONE", body: feesBody(mpUS), wantStatus: 200, wantResult: "ClientError"},
		{name: "another seller", seller: "A2SELLERTWO", body: feesBody(mpUS), wantStatus: 200, wantResult: "Success", wantFee: 3},
		{name: "the app lacks the Pricing role", roles: []string{"Product Listing", "Selling Partner Insights"}, seller: "A1SELLERONE",
			body: feesBody(mpDE), wantStatus: 403, wantCode: "Unauthorized"},
		{name: "a vendor", seller: "A3VENDOR", body: feesBody(mpUS), wantStatus: 403, wantCode: "Unauthorized"},
		{name: "no body", seller: "A1SELLERONE", body: "", wantStatus: 400, wantCode: "InvalidInput"},
		{name: "no marketplace", seller: "A1SELLERONE", body: `{"FeesEstimateRequest":{"Identifier":"x","PriceToEstimateFees":{"ListingPrice":{"Amount":1}}}}`,
			wantStatus: 400, wantCode: "InvalidInput"},
		{name: "no price", seller: "A1SELLERONE", body: `{"FeesEstimateRequest":{"MarketplaceId":"` + mpDE + `","Identifier":"x"}}`,
			wantStatus: 400, wantCode: "InvalidInput"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := start(t, func(c *amazonsim.Config) {
				withAccounts(c)
				c.Roles = tc.roles
			})
			a := e.sp(t, http.MethodPost, "/products/fees/v0/items/B00V5DG6IQ/feesEstimate", e.accessFor(t, tc.seller), tc.body)
			if tc.wantCode != "" {
				a.wantError(t, tc.wantStatus, tc.wantCode)
				return
			}
			if a.status != tc.wantStatus || a.rateLimit != "1" {
				t.Fatalf("answer = %d (rate limit %q) %s", a.status, a.rateLimit, a.raw)
			}
			var r result
			if err := json.Unmarshal(a.Payload, &r); err != nil {
				t.Fatal(err)
			}
			got := r.FeesEstimateResult
			if got.Identifier.SellerID != tc.seller || got.Status != tc.wantResult || got.Identifier.IDValue != "B00V5DG6IQ" {
				t.Fatalf("result = %+v, want seller %s, status %s", got, tc.seller, tc.wantResult)
			}
			if tc.wantFee > 0 && (got.FeesEstimate == nil || got.FeesEstimate.TotalFeesEstimate.Amount != tc.wantFee) {
				t.Errorf("fees estimate = %+v, want a total of %v", got.FeesEstimate, tc.wantFee)
			}
			if e.sim.FeesCalls() != 1 {
				t.Errorf("FeesCalls = %d, want 1", e.sim.FeesCalls())
			}
		})
	}
}

func TestFeesUsagePlan(t *testing.T) {
	t.Parallel()
	e := start(t, withAccounts)
	token := e.accessFor(t, "A1SELLERONE")
	path := "/products/fees/v0/items/B00V5DG6IQ/feesEstimate"
	for range 2 { // burst 2
		if a := e.sp(t, http.MethodPost, path, token, feesBody(mpDE)); a.status != 200 {
			t.Fatalf("fees = %d %s", a.status, a.raw)
		}
	}
	e.sp(t, http.MethodPost, path, token, feesBody(mpDE)).wantError(t, 429, "QuotaExceeded")
	e.clock.Advance(time.Second) // 1 a second
	if a := e.sp(t, http.MethodPost, path, token, feesBody(mpDE)); a.status != 200 {
		t.Fatalf("fees after a second = %d %s", a.status, a.raw)
	}
}

// TestConsentSignedInAccount: the consent page preselects the account the person is
// signed in to, and Confirm issues the code (and Amazon's redirect names) that account;
// its token then answers for that account on the Sellers API.
func TestConsentSignedInAccount(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		setup    func(t *testing.T, e *env) *http.Client // the browser; nil: e.http
		query    url.Values
		wantPick string
	}{
		{name: "nothing chosen: the first account", wantPick: "A1SELLERONE"},
		{name: "SetSignedIn", setup: func(t *testing.T, e *env) *http.Client {
			if err := e.sim.SetSignedIn("A2SELLERTWO"); err != nil {
				t.Fatal(err)
			}
			return nil
		}, wantPick: "A2SELLERTWO"},
		{name: "the admin API", setup: func(t *testing.T, e *env) *http.Client {
			if s := e.admin(t, "/_sim/signed-in", `{"sellingPartnerId":"A2SELLERTWO"}`, nil); s != 200 {
				t.Fatalf("POST /_sim/signed-in = %d", s)
			}
			return nil
		}, wantPick: "A2SELLERTWO"},
		{name: "signed_in_as on the consent URL", query: url.Values{"signed_in_as": {"A2SELLERTWO"}}, wantPick: "A2SELLERTWO"},
		{name: "an unknown signed_in_as is ignored", query: url.Values{"signed_in_as": {"A9NOBODY"}}, wantPick: "A1SELLERONE"},
		{name: "the browser signed in itself", setup: func(t *testing.T, e *env) *http.Client {
			return e.browserSignedInAs(t, "A2SELLERTWO")
		}, wantPick: "A2SELLERTWO"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := start(t, withAccounts)
			browser := e.http
			if tc.setup != nil {
				if b := tc.setup(t, e); b != nil {
					browser = b
				}
			}
			q := consentQuery("st", redirectA)
			for k, v := range tc.query {
				q[k] = v
			}
			res, err := browser.Get(e.srv.URL + "/apps/authorize/consent?" + q.Encode())
			if err != nil {
				t.Fatal(err)
			}
			form := consentForm(t, readPage(t, res))
			if got := form.Get("selling_partner_id"); got != tc.wantPick {
				t.Fatalf("preselected account = %s, want %s", got, tc.wantPick)
			}
			form.Set("action", "confirm")
			res, err = browser.PostForm(e.srv.URL+"/apps/authorize/confirm", form)
			if err != nil {
				t.Fatal(err)
			}
			back := readPage(t, res).location.Query()
			if back.Get("selling_partner_id") != tc.wantPick {
				t.Fatalf("redirect names %s, want %s", back.Get("selling_partner_id"), tc.wantPick)
			}
			tok := e.token(t, exchange(back.Get("spapi_oauth_code"), redirectA)).wantOK(t)
			if seller, _ := e.sim.AccessTokenSeller(tok.Access); seller != tc.wantPick {
				t.Errorf("the code's token is %s's, want %s's", seller, tc.wantPick)
			}
		})
	}
}

// browserSignedInAs is a browser (its own cookie jar) signed in to seller through
// GET /apps/sign-in.
func (e *env) browserSignedInAs(t *testing.T, seller string) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	b := &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := b.Get(e.srv.URL + "/apps/sign-in?selling_partner_id=" + url.QueryEscape(seller))
	if err != nil {
		t.Fatal(err)
	}
	if p := readPage(t, res); p.status != http.StatusFound {
		t.Fatalf("sign in = %d %s", p.status, p.body)
	}
	return b
}

// TestTwoBrowsersTwoAccounts: each browser has its own session, as two people would.
func TestTwoBrowsersTwoAccounts(t *testing.T) {
	t.Parallel()
	e := start(t, withAccounts)
	victim := e.browserSignedInAs(t, "A1SELLERONE")
	other := e.browserSignedInAs(t, "A2SELLERTWO")
	for b, want := range map[*http.Client]string{victim: "A1SELLERONE", other: "A2SELLERTWO"} {
		res, err := b.Get(e.srv.URL + "/apps/authorize/consent?" + consentQuery("st", "").Encode())
		if err != nil {
			t.Fatal(err)
		}
		if got := consentForm(t, readPage(t, res)).Get("selling_partner_id"); got != want {
			t.Errorf("browser signed in as %s sees %s preselected", want, got)
		}
		res, err = b.Get(e.srv.URL + "/apps/manage")
		if err != nil {
			t.Fatal(err)
		}
		if p := readPage(t, res); !strings.Contains(p.body, "Signed in as "+want) {
			t.Errorf("Manage Your Apps does not say the browser is signed in as %s", want)
		}
	}
	if p := e.get(t, "/apps/sign-in", url.Values{"selling_partner_id": {"A9NOBODY"}}); p.status != http.StatusBadRequest {
		t.Errorf("sign in to an unknown account = %d, want 400", p.status)
	}
	if err := e.sim.SetSignedIn("A9NOBODY"); err == nil {
		t.Errorf("SetSignedIn accepted an unknown account")
	}
}

// The Login URI flow keeps preselecting the account that pressed Renew.
func TestLoginFlowKeepsTheRenewingAccount(t *testing.T) {
	t.Parallel()
	e := start(t, withAccounts)
	if err := e.sim.SetSignedIn("A1SELLERONE"); err != nil {
		t.Fatal(err)
	}
	lq := e.get(t, "/apps/manage/renew", url.Values{"selling_partner_id": {"A2SELLERTWO"}}).location.Query()
	back := url.Values{"redirect_uri": {redirectA}, "amazon_state": {lq.Get("amazon_state")}, "state": {"s"}}
	if got := consentForm(t, e.get(t, "/apps/authorize/login-callback", back)).Get("selling_partner_id"); got != "A2SELLERTWO" {
		t.Errorf("preselected %s, want the renewing account A2SELLERTWO", got)
	}
}

func TestAddSellerChangesWhatTheSellersAPIAnswers(t *testing.T) {
	t.Parallel()
	e := start(t, withAccounts)
	token := e.accessFor(t, "A1SELLERONE")
	// The seller renames the store and leaves the UK marketplace.
	if err := e.sim.AddSeller(amazonsim.Seller{ID: "A1SELLERONE", Name: "Acme Goods", StoreName: "Acme Renamed", CountryCodes: []string{"DE"}}); err != nil {
		t.Fatal(err)
	}
	if got := brief(e.sp(t, http.MethodGet, amazonsim.SellersPath, token, "").participations(t)); strings.Join(got, " ") != mpDE+":yes:Acme Renamed" {
		t.Errorf("after AddSeller: %v", got)
	}
	// A new account signs in and appears on the consent page.
	if s := e.admin(t, "/_sim/seller", `{"sellingPartnerId":"A4NEWSELLER","name":"Newcomer","countryCodes":["JP"],"storeName":"Shinki"}`, nil); s != 200 {
		t.Fatalf("POST /_sim/seller = %d", s)
	}
	page := e.get(t, "/apps/authorize/consent", consentQuery("s", ""))
	if !strings.Contains(page.body, "Newcomer (A4NEWSELLER)") {
		t.Errorf("the added account is not on the consent page")
	}
	st := e.state(t)
	var found bool
	for _, s := range st.Sellers {
		if s.ID == "A4NEWSELLER" {
			found = s.StoreName == "Shinki" && len(s.MarketplaceIDs) == 1 && s.MarketplaceIDs[0] == "A1VC38T7YXB528" && s.AccountType == "seller"
		}
	}
	if !found || st.SellersCalls != 1 {
		t.Errorf("/_sim/state = %+v, want the new account with its store and JP marketplace, and 1 Sellers API call", st)
	}
	for _, bad := range []string{
		`{"sellingPartnerId":""}`,
		`{"sellingPartnerId":"A5 SPACE"}`,
		`{"sellingPartnerId":"A5X","countryCodes":["XX"]}`,
		`{"sellingPartnerId":"A5X","accountType":"admin"}`,
	} {
		if s := e.admin(t, "/_sim/seller", bad, nil); s != http.StatusBadRequest {
			t.Errorf("POST /_sim/seller %s = %d, want 400", bad, s)
		}
	}
	if s := e.admin(t, "/_sim/signed-in", `{"sellingPartnerId":"A9NOBODY"}`, nil); s != http.StatusBadRequest {
		t.Errorf("POST /_sim/signed-in for an unknown account = %d, want 400", s)
	}
	if s := e.admin(t, "/_sim/fault", `{"grant":"getMarketplaceParticipations","kind":"malformed"}`, nil); s != 200 {
		t.Errorf("queue a Sellers API fault through the admin API = %d", s)
	}
	if a := e.sp(t, http.MethodGet, amazonsim.SellersPath, token, ""); a.status != 200 || json.Valid([]byte(a.raw)) {
		t.Errorf("after the admin fault: %d %s, want a malformed 200", a.status, a.raw)
	}
}

// The SP-API operations log their decisions but never a token.
func TestSPAPILogsHoldNoTokens(t *testing.T) {
	t.Parallel()
	e := start(t, withAccounts)
	acme, vendor := e.accessFor(t, "A1SELLERONE"), e.accessFor(t, "A3VENDOR")
	e.sp(t, http.MethodGet, amazonsim.SellersPath, acme, "")
	e.sp(t, http.MethodGet, amazonsim.SellersPath, vendor, "")
	e.sp(t, http.MethodGet, amazonsim.SellersPath, "Atza|unknown-token-value", "")
	e.sp(t, http.MethodPost, "/products/fees/v0/items/B00V5DG6IQ/feesEstimate", acme, feesBody(mpDE))
	e.sim.InjectFault(amazonsim.FaultSellers, amazonsim.ServerError())
	e.sp(t, http.MethodGet, amazonsim.SellersPath, acme, "")
	logs := e.logs.String()
	if !strings.Contains(logs, "marketplace participations answered") || !strings.Contains(logs, "sellers api refused") {
		t.Fatalf("expected decision logs, got: %s", logs)
	}
	for _, s := range append(e.sim.IssuedSecrets(), "Atza|unknown-token-value") {
		if strings.Contains(logs, s) {
			t.Errorf("logs hold a token")
		}
	}
}
