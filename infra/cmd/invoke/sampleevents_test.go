package main

import (
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spapi-auth-keeper/keeper/infra/demo"
	"github.com/spapi-auth-keeper/keeper/shared/consent"
	"github.com/spapi-auth-keeper/keeper/shared/secret"
)

// TestWriteSampleEvents rewrites the HTTP API sample events from the demo values.
// Run it with UPDATE_EVENTS=1 after changing the token format or the demo values;
// TestEveryFunction then runs each through its function.
func TestWriteSampleEvents(t *testing.T) {
	if os.Getenv("UPDATE_EVENTS") == "" {
		t.Skip("set UPDATE_EVENTS=1 to rewrite events/*.json")
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	signer, err := consent.NewSigner(secret.Value(demo.StateKey))
	must(err)
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
		must(err)
		must(os.WriteFile(filepath.Join("../../../events", name), append(b, '\n'), 0o644))
	}
	write("authorize-link.json", "/authorize", url.Values{"t": {link}})
	write("login-uri.json", "/login", url.Values{"amazon_callback_uri": {demo.CallbackHost}, "amazon_state": {"amzn-state-demo"}, "selling_partner_id": {demo.SellingPartnerID}})
	write("callback-good.json", "/callback", url.Values{"state": {state}, "selling_partner_id": {demo.SellingPartnerID}, "spapi_oauth_code": {demo.Code}})
	write("callback-tampered-state.json", "/callback", url.Values{"state": {string(tampered)}, "selling_partner_id": {demo.SellingPartnerID}, "spapi_oauth_code": {demo.Code}})
	write("callback-missing-code.json", "/callback", url.Values{"state": {state}, "selling_partner_id": {demo.SellingPartnerID}})
}
