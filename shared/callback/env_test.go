package callback_test

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/spapi-auth-keeper/keeper/infra/amazonsim"
	"github.com/spapi-auth-keeper/keeper/infra/testenv/deploy"
	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/clientcreds"
	"github.com/spapi-auth-keeper/keeper/shared/config"
	"github.com/spapi-auth-keeper/keeper/shared/consent"
	"github.com/spapi-auth-keeper/keeper/shared/sealer"
	"github.com/spapi-auth-keeper/keeper/shared/secret"
	"github.com/spapi-auth-keeper/keeper/shared/vault"
)

const (
	appID        = "amzn1.sp.solution.keeper-test"
	clientID     = "amzn1.application-oa2-client.keepertest"
	clientSecret = "amzn1.oa2-cs.v1.client-secret-never-logged"
	stateKey     = "state-key-for-tests-0123456789abcdef0123456789abcdef"
	seller       = "A1SELLERACME"
	otherSeller  = "A2OTHERSELLER"
)

// env is one isolated keeper: a test deployment with its Amazon simulator, and the
// callback server in front of it.
type env struct {
	*deploy.Deployment
	sealer  *sealer.Sealer // the KMS sealer the callback parks tokens with
	server  *httptest.Server
	browser *http.Client
}

func newEnv(t testing.TB, tweak ...func(*config.Config)) *env {
	t.Helper()
	var handler http.Handler
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	t.Cleanup(server.Close)
	d := deploy.Deploy(t, deploy.DeployOptions{
		Sim: amazonsim.Config{
			AppID: appID, AppName: "Keeper Test App", Draft: true,
			RedirectURIs: []string{server.URL + "/callback"}, ClientID: clientID, ClientSecret: clientSecret,
			LoginURI: server.URL + "/login",
			Sellers: []amazonsim.Seller{
				{ID: seller, Name: "Acme Outdoor", CountryCodes: []string{"DE", "FR"}},
				{ID: otherSeller, Name: "Other Shop", CountryCodes: []string{"DE"}},
			},
		},
		KMS:      true,
		StateKey: stateKey,
		ClientCredentials: &vault.ClientCredentials{ClientID: clientID, ClientSecret: secret.Value(clientSecret),
			ClientSecretExpiresAt: deploy.DefaultNow.AddDate(0, 5, 0)},
		Configure: func(d *deploy.Deployment) {
			c := &d.Config
			c.AppID, c.AppName, c.AppIsDraft = appID, "Keeper Test App", true
			c.RedirectURI, c.BaseURL = server.URL+"/callback", server.URL
			c.SellerCentralURL, c.SPAPIEndpoint, c.StateTTL = d.SimURL, d.SimURL, 15*time.Minute
			for _, f := range tweak {
				f(c)
			}
		},
	})
	e := &env{Deployment: d, server: server}
	e.sealer = sealer.New(d.KMS, d.KMSKey)
	var err error
	handler, err = deploy.Callback(e.Deps, d.KMS)
	must(t, err)
	// The seller's browser: it follows no redirect by itself, so each hop is checked.
	e.browser = newBrowser(t)
	return e
}

// newBrowser is a seller's browser: it keeps cookies, and follows no redirect by
// itself, so each hop is checked.
func newBrowser(t testing.TB) *http.Client {
	jar, err := cookiejar.New(nil)
	must(t, err)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// onboard stores an authorization as the vendor's onboarding would, expiring in days.
func (e *env) onboard(connID string, sellingPartnerID string, expiresInDays int) authz.Authorization {
	e.T.Helper()
	now := e.Clock.Now()
	a := authz.Authorization{ConnectionID: connID, Region: authz.RegionEU, AccountType: authz.AccountSeller, Marketplace: "DE",
		SellingPartnerID: sellingPartnerID, ContactEmail: connID + "@example.com", Locale: "en-GB", Status: authz.StatusPending,
		RefreshSlot: authz.SlotFor(connID, authz.RegionEU, 24)}
	if sellingPartnerID != "" {
		a.Status = authz.StatusExpiring
		a.ExpiresAt = now.AddDate(0, 0, expiresInDays)
		a.AuthorizedAt = a.ExpiresAt.Add(-authz.Lifetime)
	}
	created, err := e.Store.Create(e.Ctx, a)
	must(e.T, err)
	return created
}

// fingerprintOf is the account fingerprint SP-API gives for a token of sellerID, as
// the callback takes it at a seller's first authorization.
func (e *env) fingerprintOf(sellerID string) authz.Account {
	e.T.Helper()
	tok, err := e.Deps.LWA(clientcreds.New(e.Vault, 0)).Refresh(e.Ctx, secret.Value(e.Sim.IssueRefreshToken(sellerID)))
	must(e.T, err)
	acct, err := e.Deps.Accounts().Account(e.Ctx, authz.RegionEU, tok.AccessToken)
	must(e.T, err)
	return acct
}

// onboardFingerprinted is onboard for a connection whose first authorization took
// its account's fingerprint.
func (e *env) onboardFingerprinted(connID string, sellingPartnerID string, expiresInDays int) authz.Authorization {
	e.T.Helper()
	a := e.onboard(connID, sellingPartnerID, expiresInDays)
	a.Account = e.fingerprintOf(sellingPartnerID)
	updated, err := e.Store.Update(e.Ctx, a)
	must(e.T, err)
	return updated
}

// link is a renewal link as the latest reminder email carries it: for the record's
// current link generation.
func (e *env) link(connID string, ttl time.Duration) string {
	gen := 0
	if a, err := e.Store.Get(e.Ctx, connID, authz.RegionEU); err == nil {
		gen = a.LinkGeneration
	}
	return e.server.URL + "/authorize?t=" + e.Signer.SignLink(consent.Link{ConnectionID: connID, Region: authz.RegionEU, Expires: e.Clock.Now().Add(ttl), Generation: gen})
}

// response is one answer the browser saw.
type response struct {
	t        testing.TB
	status   int
	body     string
	location string
	header   http.Header
}

func (e *env) get(rawURL string) response {
	e.T.Helper()
	res, err := e.browser.Get(rawURL)
	must(e.T, err)
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{t: e.T, status: res.StatusCode, body: string(b), location: res.Header.Get("Location"), header: res.Header}
}

func (e *env) postForm(rawURL string, form url.Values) response {
	e.T.Helper()
	res, err := e.browser.PostForm(rawURL, form)
	must(e.T, err)
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{t: e.T, status: res.StatusCode, body: string(b), location: res.Header.Get("Location"), header: res.Header}
}

func (r response) want(status int, texts ...string) response {
	r.t.Helper()
	if r.status != status {
		r.t.Fatalf("status %d, want %d; body:\n%s", r.status, status, r.body)
	}
	for _, s := range texts {
		if !strings.Contains(r.body, s) {
			r.t.Fatalf("page lacks %q:\n%s", s, r.body)
		}
	}
	return r
}

// consentURL follows a renewal link to Seller Central's consent page and returns
// its URL, as the seller's browser would.
func (e *env) consentURL(link string) *url.URL {
	e.T.Helper()
	r := e.get(link).want(http.StatusFound)
	u, err := url.Parse(r.location)
	must(e.T, err)
	return u
}

// consentAs answers the consent page as the given seller ("confirm" or "cancel") and
// returns the URL Amazon redirects the browser to.
func (e *env) consentAs(consentPage *url.URL, sellerID, action string) string {
	e.T.Helper()
	e.get(consentPage.String()).want(http.StatusOK, "Keeper Test App")
	q := consentPage.Query()
	r := e.postForm(e.SimURL+"/apps/authorize/confirm", url.Values{
		"application_id": {q.Get("application_id")}, "state": {q.Get("state")}, "redirect_uri": {q.Get("redirect_uri")},
		"version": {q.Get("version")}, "selling_partner_id": {sellerID}, "action": {action},
	}).want(http.StatusFound)
	return r.location
}

// callbackURL builds the redirect Amazon would send for state.
func (e *env) callbackURL(q url.Values) string { return e.server.URL + "/callback?" + q.Encode() }

// snapshot is everything a rejected request must leave as it was.
type snapshot struct {
	record   authz.Authorization
	versions int
	events   int
}

func (e *env) snapshot(connID string) snapshot {
	e.T.Helper()
	a, err := e.Store.Get(e.Ctx, connID, authz.RegionEU)
	must(e.T, err)
	h, err := e.Store.History(e.Ctx, connID, 100)
	must(e.T, err)
	// The token's secret in either layout: its own, or the first bucket (the only one a test fills).
	versions := e.Secrets.Versions(e.Vault.SecretName(connID, authz.RegionEU)) + e.Secrets.Versions(e.Vault.BucketName(1))
	return snapshot{record: a, versions: versions, events: len(h)}
}

func (e *env) wantUnchanged(connID string, before snapshot) {
	e.T.Helper()
	after := e.snapshot(connID)
	if after.record.Version != before.record.Version || after.record.Status != before.record.Status || !after.record.ExpiresAt.Equal(before.record.ExpiresAt) {
		e.T.Errorf("record changed: %+v → %+v", before.record, after.record)
	}
	if after.versions != before.versions {
		e.T.Errorf("secret versions %d → %d", before.versions, after.versions)
	}
	if after.events != before.events {
		e.T.Errorf("history events %d → %d", before.events, after.events)
	}
}

// nonceExists reads the state's nonce item straight from the table.
func (e *env) nonceExists(state string) bool {
	e.T.Helper()
	payload, _, _ := strings.Cut(state, ".")
	raw, err := base64.RawURLEncoding.DecodeString(payload)
	must(e.T, err)
	var p struct {
		N string `json:"n"`
	}
	must(e.T, json.Unmarshal(raw, &p))
	out, err := e.DDB.GetItem(e.Ctx, &dynamodb.GetItemInput{TableName: aws.String(e.Table), Key: map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: "STATE#" + p.N}, "sk": &types.AttributeValueMemberS{Value: "STATE"},
	}})
	must(e.T, err)
	return len(out.Item) > 0
}

// wantNoSecretsLogged checks every log line and metric line against every secret the
// run handled: refresh and access tokens, the client secret and the state key.
func (e *env) wantNoSecretsLogged(connIDs ...string) {
	e.T.Helper()
	secrets := []string{clientSecret, stateKey}
	for _, c := range connIDs {
		if rt, err := e.Vault.Get(e.Ctx, c, authz.RegionEU); err == nil {
			secrets = append(secrets, rt.Token.Reveal())
		}
	}
	secrets = append(secrets, e.Sim.IssuedSecrets()...)
	out := e.Logs.String() + e.Metrics.String()
	for _, s := range secrets {
		if s != "" && strings.Contains(out, s) {
			e.T.Errorf("a secret appears in the logs: …%s…", s[:6])
		}
	}
}
