package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"github.com/spapi-auth-keeper/keeper/infra/amazonsim"
	"github.com/spapi-auth-keeper/keeper/infra/demo"
	"github.com/spapi-auth-keeper/keeper/infra/testenv"
	"github.com/spapi-auth-keeper/keeper/shared/app"
	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/awsclients"
	"github.com/spapi-auth-keeper/keeper/shared/config"
	"github.com/spapi-auth-keeper/keeper/shared/consent"
	"github.com/spapi-auth-keeper/keeper/shared/secret"
	"github.com/spapi-auth-keeper/keeper/shared/store"
	"github.com/spapi-auth-keeper/keeper/shared/vault"
)

func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

// wantStatus is what each HTTP API sample event must produce from the real handler.
var wantStatus = map[string]int{
	"authorize-link.json":          http.StatusFound,
	"login-uri.json":               http.StatusFound,
	"callback-good.json":           http.StatusOK,
	"callback-tampered-state.json": http.StatusBadRequest,
	"callback-missing-code.json":   http.StatusBadRequest,
}

// TestSampleEvents feeds every HTTP API event in events/ to the callback handler
// through the same adapter Lambda uses, against the emulators, so the samples that
// `sam local invoke CallbackFunction -e events/<file>` documents never rot.
func TestSampleEvents(t *testing.T) {
	ctx := context.Background()
	files, err := filepath.Glob("../../events/*.json")
	if err != nil {
		t.Fatal(err)
	}
	sim := amazonsim.New(amazonsim.Config{AppID: demo.AppID, AppName: "Demo App", RedirectURIs: []string{demo.BaseURL + "/callback"},
		ClientID: demo.ClientID, ClientSecret: demo.ClientSecret, Sellers: []amazonsim.Seller{{ID: demo.SellingPartnerID, Name: "Demo"}}})
	simServer := httptest.NewServer(sim)
	defer simServer.Close()

	seen := 0
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var ev events.APIGatewayV2HTTPRequest
		if err := json.Unmarshal(raw, &ev); err != nil || ev.RouteKey == "" || ev.RouteKey == "$default" {
			continue // another function's event ($default: the token service's function URL)
		}
		name := filepath.Base(f)
		want, ok := wantStatus[name]
		if !ok {
			t.Errorf("%s: an HTTP API event with no expected status in this test", name)
			continue
		}
		seen++
		t.Run(name, func(t *testing.T) {
			// Each event gets a fresh deployment seeded with the demo values it was made with.
			sm := testenv.SecretsManager(t)
			prefix := testenv.Prefix(t)
			v := vault.New(sm, prefix, "")
			must(t, v.PutStateKey(ctx, secret.Value(demo.StateKey)))
			must(t, v.PutClientCredentials(ctx, vault.ClientCredentials{ClientID: demo.ClientID, ClientSecret: secret.Value(demo.ClientSecret)}))
			ddb := testenv.DynamoDB(t)
			table := testenv.NewTable(t)
			st := store.New(ddb, table)
			_, err := st.Create(ctx, authz.Authorization{ConnectionID: demo.ConnectionID, Region: demo.Region, AccountType: authz.AccountSeller,
				Marketplace: demo.Marketplace, SellingPartnerID: demo.SellingPartnerID, Status: authz.StatusExpiring,
				AuthorizedAt: time.Now().AddDate(-1, 0, 3), ExpiresAt: time.Now().AddDate(0, 0, 3)})
			must(t, err)
			must(t, st.PutNonce(ctx, demo.Nonce, demo.ConnectionID, demo.Region, demo.Expires))
			sim.IssueCodeValue(demo.Code, demo.SellingPartnerID, demo.BaseURL+"/callback")

			cfg := config.Config{TableName: table, SecretPrefix: prefix, AppID: demo.AppID, AppName: "Demo App", BaseURL: demo.BaseURL,
				RedirectURI: demo.BaseURL + "/callback", LWAEndpoint: simServer.URL + "/auth/o2/token", StateTTL: 15 * time.Minute,
				SPAPIEndpoint: simServer.URL}
			h, err := handler(app.Deps{Config: cfg, Clients: awsclients.Clients{DynamoDB: ddb, Secrets: sm}, Log: slog.New(slog.DiscardHandler)}, nil)
			must(t, err)
			res, err := httpadapter.NewV2(h).ProxyWithContext(ctx, ev)
			must(t, err)
			if res.StatusCode != want {
				t.Fatalf("status %d, want %d; body:\n%s", res.StatusCode, want, res.Body)
			}
		})
	}
	if seen != len(wantStatus) {
		t.Errorf("found %d of the %d HTTP API sample events", seen, len(wantStatus))
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestWriteSampleEvents rewrites the HTTP API sample events from the demo values.
// Run it with UPDATE_EVENTS=1 after changing the token format or the demo values.
func TestWriteSampleEvents(t *testing.T) {
	if os.Getenv("UPDATE_EVENTS") == "" {
		t.Skip("set UPDATE_EVENTS=1 to rewrite events/*.json")
	}
	signer, err := consent.NewSigner(secret.Value(demo.StateKey))
	must(t, err)
	state := signer.SignState(consent.State{Nonce: demo.Nonce, ConnectionID: demo.ConnectionID, Region: demo.Region, Expires: demo.Expires})
	tampered := []byte(state)
	tampered[10] ^= 0x02
	link := signer.SignLink(consent.Link{ConnectionID: demo.ConnectionID, Region: demo.Region, Expires: demo.Expires})
	// The browser that opened the renewal link holds the state's binding cookie.
	cookies := []string{"__Host-keeper-state=" + signer.BrowserBinding(demo.Nonce)}
	write := func(name, path string, q url.Values) {
		ev := map[string]any{
			"version": "2.0", "routeKey": "GET " + path, "rawPath": path, "rawQueryString": q.Encode(),
			"headers": map[string]string{"accept": "text/html", "host": "keeper.example.com", "user-agent": "Mozilla/5.0"},
			"requestContext": map[string]any{
				"accountId": "123456789012", "apiId": "abcdef1234", "domainName": "keeper.example.com", "domainPrefix": "keeper",
				"http":      map[string]string{"method": "GET", "path": path, "protocol": "HTTP/1.1", "sourceIp": "198.51.100.7", "userAgent": "Mozilla/5.0"},
				"requestId": "sample-" + strings.TrimSuffix(name, ".json"), "routeKey": "GET " + path, "stage": "$default",
				"time": "23/Nov/2026:09:00:00 +0000", "timeEpoch": 1795424400000,
			},
			"isBase64Encoded": false,
		}
		qs := map[string]string{}
		for k := range q {
			qs[k] = q.Get(k)
		}
		ev["queryStringParameters"] = qs
		if name == "callback-good.json" {
			ev["cookies"] = cookies
		}
		b, err := json.MarshalIndent(ev, "", "  ")
		must(t, err)
		must(t, os.WriteFile(filepath.Join("../../events", name), append(b, '\n'), 0o644))
	}
	write("authorize-link.json", "/authorize", url.Values{"t": {link}})
	write("login-uri.json", "/login", url.Values{"amazon_callback_uri": {demo.CallbackHost}, "amazon_state": {"amzn-state-demo"}, "selling_partner_id": {demo.SellingPartnerID}})
	write("callback-good.json", "/callback", url.Values{"state": {state}, "selling_partner_id": {demo.SellingPartnerID}, "spapi_oauth_code": {demo.Code}})
	write("callback-tampered-state.json", "/callback", url.Values{"state": {string(tampered)}, "selling_partner_id": {demo.SellingPartnerID}, "spapi_oauth_code": {demo.Code}})
	write("callback-missing-code.json", "/callback", url.Values{"state": {state}, "selling_partner_id": {demo.SellingPartnerID}})
}
