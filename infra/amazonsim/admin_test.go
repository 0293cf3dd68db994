package amazonsim_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/spapi-auth-keeper/keeper/infra/amazonsim"
)

func (e *env) admin(t *testing.T, path, body string, out any) int {
	t.Helper()
	res, err := e.http.Post(e.srv.URL+path, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if out != nil && res.StatusCode == 200 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s answered %s: %v", path, b, err)
		}
	}
	return res.StatusCode
}

func (e *env) state(t *testing.T) amazonsim.State {
	t.Helper()
	p := e.get(t, "/_sim/state", nil)
	if p.status != 200 {
		t.Fatalf("GET /_sim/state = %d", p.status)
	}
	if strings.Contains(p.body, clientSecret) {
		t.Fatalf("/_sim/state shows the client secret")
	}
	var st amazonsim.State
	if err := json.Unmarshal([]byte(p.body), &st); err != nil {
		t.Fatal(err)
	}
	return st
}

func TestAdminAPI(t *testing.T) {
	t.Parallel()
	e := start(t, nil)

	var seeded struct{ RefreshToken string }
	if s := e.admin(t, "/_sim/refresh-token", `{"sellingPartnerId":"A1SELLERONE"}`, &seeded); s != 200 || seeded.RefreshToken == "" {
		t.Fatalf("seed refresh token = %d %+v", s, seeded)
	}
	e.token(t, refresh(seeded.RefreshToken)).wantOK(t)

	var issued struct{ Code string }
	if s := e.admin(t, "/_sim/code", `{"sellingPartnerId":"A2SELLERTWO"}`, &issued); s != 200 {
		t.Fatalf("issue code = %d", s)
	}
	e.token(t, exchange(issued.Code, redirectA)).wantOK(t) // the default redirect URI

	if s := e.admin(t, "/_sim/fault", `{"grant":"refresh_token","kind":"temporarily_unavailable","count":2,"retryAfter":"1s"}`, nil); s != 200 {
		t.Fatalf("inject fault = %d", s)
	}
	for range 2 {
		if r := e.token(t, refresh(seeded.RefreshToken)); r.status != 503 || r.retryAfter != "1" {
			t.Fatalf("faulted refresh = %d Retry-After %q", r.status, r.retryAfter)
		}
	}
	e.token(t, refresh(seeded.RefreshToken)).wantOK(t)

	if s := e.admin(t, "/_sim/expire", `{"sellingPartnerId":"A1SELLERONE"}`, nil); s != 200 {
		t.Fatalf("expire = %d", s)
	}
	e.token(t, refresh(seeded.RefreshToken)).wantError(t, 400, "invalid_grant")

	var revoked struct{ Revoked int }
	if s := e.admin(t, "/_sim/revoke", `{"sellingPartnerId":"A2SELLERTWO"}`, &revoked); s != 200 || revoked.Revoked != 1 {
		t.Fatalf("revoke = %d %+v", s, revoked)
	}

	if s := e.admin(t, "/_sim/client-secrets", `{"clientSecrets":["amzn1.oa2-cs.v1.new"]}`, nil); s != 200 {
		t.Fatalf("client secrets = %d", s)
	}
	e.token(t, refresh(seeded.RefreshToken)).wantError(t, 401, "invalid_client")

	if s := e.admin(t, "/_sim/latency", `{"latency":"1ms"}`, nil); s != 200 {
		t.Fatalf("latency = %d", s)
	}

	st := e.state(t)
	if st.AppID != appID || st.ClientID != clientID || st.Latency != "1ms" || st.PendingFaults != 0 {
		t.Errorf("state = %+v", st)
	}
	if st.Exchanges != 1 || st.Refreshes != 6 || st.TokenRequests != 7 {
		t.Errorf("state counters = exchanges %d, refreshes %d, requests %d; want 1, 6, 7", st.Exchanges, st.Refreshes, st.TokenRequests)
	}
	if len(st.Sellers) != 2 || !st.Sellers[0].Expired || st.Sellers[1].RevokedTokens != 1 || st.Sellers[0].Name != "Acme Goods" {
		t.Errorf("state sellers = %+v", st.Sellers)
	}
}

func TestAdminAPIRefusesBadInput(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	tests := []struct{ path, body string }{
		{"/_sim/fault", `{"kind":"meteor"}`},
		{"/_sim/fault", `{"grant":"password","kind":"throttled"}`},
		{"/_sim/fault", `{"kind":"timeout","delay":"soon"}`},
		{"/_sim/revoke", `{}`},
		{"/_sim/expire", `{}`},
		{"/_sim/code", `{"redirectUri":"x"}`},
		{"/_sim/refresh-token", `not json`},
		{"/_sim/latency", `{"latency":"-1s"}`},
		{"/_sim/client-secrets", `{"clientSecrets":[]}`},
		{"/_sim/expire", `{"sellingPartnerId":"A1","extra":1}`},
	}
	for _, tt := range tests {
		if s := e.admin(t, tt.path, tt.body, nil); s != http.StatusBadRequest {
			t.Errorf("POST %s %s = %d, want 400", tt.path, tt.body, s)
		}
	}
	if e.sim.PendingFaults() != 0 {
		t.Errorf("a refused fault was queued")
	}
}

// The simulator logs its decisions but never a token, a code or a client secret.
func TestLogsHoldNoSecrets(t *testing.T) {
	t.Parallel()
	e := start(t, func(c *amazonsim.Config) { c.Hybrid = true })
	var secrets []string
	secrets = append(secrets, clientSecret)

	form := consentForm(t, e.get(t, "/apps/authorize/consent", consentQuery("s", "")))
	form.Set("action", "confirm")
	q := e.postForm(t, "/apps/authorize/confirm", form).location.Query()
	code := q.Get("spapi_oauth_code")
	secrets = append(secrets, code, q.Get("mws_auth_token"))
	tok := e.token(t, exchange(code, redirectA)).wantOK(t)
	secrets = append(secrets, tok.Access, tok.Refresh)
	e.token(t, exchange(code, redirectA)) // replay
	wrong := refresh(tok.Refresh)
	wrong.Set("client_secret", "amzn1.oa2-cs.v1.wrong-secret") // refused client
	e.token(t, wrong)
	secrets = append(secrets, "amzn1.oa2-cs.v1.wrong-secret")
	e.sim.InjectFault(amazonsim.AnyGrant, amazonsim.Unavailable())
	e.token(t, refresh(tok.Refresh))
	r := e.token(t, refresh(tok.Refresh)).wantOK(t)
	secrets = append(secrets, r.Access)
	e.sim.Revoke(tok.Refresh)
	e.token(t, refresh(tok.Refresh))
	e.get(t, "/apps/authorize/consent", url.Values{"application_id": {"x"}})

	logs := e.logs.String()
	if !strings.Contains(logs, "lwa code exchanged") || !strings.Contains(logs, "lwa fault injected") {
		t.Fatalf("expected decision logs, got: %s", logs)
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(logs, s) {
			t.Errorf("logs hold a secret value")
		}
	}
}
