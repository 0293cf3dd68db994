package tokenservice_test

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"github.com/spapi-auth-keeper/keeper/infra/testenv/deploy"
	"github.com/spapi-auth-keeper/keeper/shared/app"
	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/consent"
	"github.com/spapi-auth-keeper/keeper/shared/tokenservice"
)

// Principals as a function URL's requestContext.authorizer.iam names them.
var (
	ordersApp  = tokenservice.Caller{ARN: "arn:aws:sts::123456789012:assumed-role/orders-app/orders-app", UserID: "AROAORDERS:orders-app", AccountID: "123456789012"}
	onboarding = tokenservice.Caller{ARN: "arn:aws:sts::123456789012:assumed-role/onboarding-app/web-7", UserID: "AROAONBOARD:web-7", AccountID: "123456789012"}
	reporting  = tokenservice.Caller{ARN: "arn:aws:sts::123456789012:assumed-role/reporting/nightly", UserID: "AROAREPORT:nightly", AccountID: "123456789012"}
	nobody     = tokenservice.Caller{}
)

// postAs sends a request through the function URL adapter, as Lambda delivers it: the
// sample event of the README (events/function-url-token.json) with the caller's IAM
// identity, path and body.
func (e *Env) postAs(caller tokenservice.Caller, path, body string) answer {
	e.t.Helper()
	raw, err := os.ReadFile("../../events/function-url-token.json")
	must(e.t, err)
	var ev events.APIGatewayV2HTTPRequest
	must(e.t, json.Unmarshal(raw, &ev))
	ev.RawPath, ev.RequestContext.HTTP.Path, ev.Body = path, path, body
	ev.RequestContext.Authorizer = nil
	if caller.ARN != "" {
		ev.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
			IAM: &events.APIGatewayV2HTTPRequestContextAuthorizerIAMDescription{UserARN: caller.ARN, UserID: caller.UserID, CallerID: caller.UserID, AccountID: caller.AccountID}}
	}
	resp, err := httpadapter.NewV2(e.handler).ProxyWithContext(e.ctx, ev)
	must(e.t, err)
	a := answer{Status: resp.StatusCode, RetryAfter: resp.Headers["Retry-After"], Raw: resp.Body}
	_ = json.Unmarshal([]byte(resp.Body), &a.Body)
	return a
}

// logLine is one JSON log line of the service.
type logLine struct {
	Level        string         `json:"level"`
	Msg          string         `json:"msg"`
	Caller       map[string]any `json:"caller"`
	Status       int            `json:"status"`
	Error        string         `json:"error"`
	ConnectionID string         `json:"connectionId"`
	Link         string         `json:"link"`
}

// answers are the service's "token request answered" lines so far.
func (e *Env) answers() []logLine {
	e.t.Helper()
	var out []logLine
	for _, l := range strings.Split(strings.TrimSpace(e.logs.String()), "\n") {
		var ll logLine
		if json.Unmarshal([]byte(l), &ll) == nil && ll.Msg == "token request answered" {
			out = append(out, ll)
		}
	}
	return out
}

// Every answer, served or refused, is logged once with the IAM principal that asked
// (never a token): the log says who had which seller's token.
func TestEveryAnswerNamesItsCaller(t *testing.T) {
	t.Parallel()
	e := NewEnv(t)
	e.Seed("acme-de", authz.RegionEU, authz.StatusActive)
	e.Seed("gone-de", authz.RegionEU, authz.StatusRevoked)
	tests := []struct {
		path, body string
		status     int
	}{
		{"/tokens", `{"connectionId":"acme-de","region":"eu"}`, 200},
		{"/tokens/restricted", `{"connectionId":"acme-de","region":"eu","restrictedResources":[{"method":"GET","path":"/orders/v0/orders","dataElements":["buyerInfo"]}]}`, 200},
		{"/tokens", `{"connectionId":"gone-de","region":"eu"}`, 409},
		{"/tokens", `{"connectionId":"nobody-de","region":"eu"}`, 404},
		{"/tokens", `{"connectionId":`, 400},
	}
	var served []string
	for _, tt := range tests {
		a := e.postAs(ordersApp, tt.path, tt.body)
		if a.Status != tt.status {
			t.Fatalf("%s %s: %d %s, want %d", tt.path, tt.body, a.Status, a.Raw, tt.status)
		}
		for _, k := range []string{"accessToken", "restrictedDataToken"} {
			if tok, _ := a.Body[k].(string); tok != "" {
				served = append(served, tok)
			}
		}
	}
	lines := e.answers()
	if len(lines) != len(tests) {
		t.Fatalf("%d answer lines for %d requests:\n%s", len(lines), len(tests), e.logs.String())
	}
	for i, l := range lines {
		if l.Caller["arn"] != ordersApp.ARN || l.Caller["userId"] != ordersApp.UserID || l.Caller["accountId"] != ordersApp.AccountID || l.Status != tests[i].status {
			t.Errorf("answer %d logged as %+v, want caller %+v and status %d", i, l, ordersApp, tests[i].status)
		}
	}
	if lines[0].ConnectionID != "acme-de" || lines[2].Error != "authorization_revoked" || lines[2].Link != "renewal" {
		t.Errorf("answer lines %+v", lines)
	}
	if len(served) != 2 {
		t.Fatalf("tokens served: %d, want 2", len(served))
	}
	for _, tok := range served {
		if strings.Contains(e.logs.String(), tok) {
			t.Error("a served token reached the log")
		}
	}
	if !strings.Contains(e.logs.String(), "TOKEN_SERVICE_CALLERS is not set") {
		t.Error("no warning at the start that every IAM-authorized caller gets any connection's tokens")
	}
}

// With TOKEN_SERVICE_CALLERS set, a caller has only the connections its entries name:
// any other request answers 403 before the ledger is read (an unknown connection too,
// so a caller cannot probe which exist), and the refusal is logged with the principal.
func TestCallersAreLimitedToTheirConnections(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true, "arn:aws:iam::123456789012:role/orders-app=acme-*,globex-de ;\n"+
		"arn:aws:sts::123456789012:assumed-role/onboarding-app/*=onboard:new-*")
	e.Seed("acme-de", authz.RegionEU, authz.StatusActive)
	e.Seed("globex-de", authz.RegionEU, authz.StatusActive)
	e.Seed("initech-de", authz.RegionEU, authz.StatusActive)
	rdt := `{"connectionId":"initech-de","region":"eu","restrictedResources":[{"method":"GET","path":"/orders/v0/orders"}]}`
	tests := []struct {
		name   string
		caller tokenservice.Caller
		path   string
		body   string
		status int
	}{
		{"a role's session, a pattern of its role", ordersApp, "/tokens", `{"connectionId":"acme-de","region":"eu"}`, 200},
		{"a role's session, a connection named", ordersApp, "/tokens", `{"connectionId":"globex-de","region":"eu"}`, 200},
		{"another seller's connection", ordersApp, "/tokens", `{"connectionId":"initech-de","region":"eu"}`, 403},
		{"another seller's restricted data", ordersApp, "/tokens/restricted", rdt, 403},
		{"a connection that does not exist", ordersApp, "/tokens", `{"connectionId":"acme-nowhere","region":"eu"}`, 404},
		{"outside the pattern, not existing", ordersApp, "/tokens", `{"connectionId":"umbrella-de","region":"eu"}`, 403},
		{"a principal not listed", reporting, "/tokens", `{"connectionId":"acme-de","region":"eu"}`, 403},
		{"another role's pattern", onboarding, "/tokens", `{"connectionId":"acme-de","region":"eu"}`, 403},
		{"no IAM identity", nobody, "/tokens", `{"connectionId":"acme-de","region":"eu"}`, 403},
	}
	for _, tt := range tests {
		a := e.postAs(tt.caller, tt.path, tt.body)
		if a.Status != tt.status {
			t.Errorf("%s: %d %s, want %d", tt.name, a.Status, a.Raw, tt.status)
			continue
		}
		if tt.status == 403 && (a.Body["error"] != "caller_not_allowed" || !strings.Contains(a.Raw, "TOKEN_SERVICE_CALLERS") || a.Body["accessToken"] != nil) {
			t.Errorf("%s: 403 %s, want caller_not_allowed saying what limits it", tt.name, a.Raw)
		}
	}
	var refused int
	for _, l := range e.answers() {
		if l.Status != 403 {
			continue
		}
		refused++
		if l.Level != "WARN" || l.Error != "caller_not_allowed" || l.Caller["arn"] == nil {
			t.Errorf("refusal logged as %+v, want a warning naming the principal", l)
		}
	}
	if refused != 6 {
		t.Errorf("%d refusals logged, want 6:\n%s", refused, e.logs.String())
	}
	if strings.Contains(e.logs.String(), "TOKEN_SERVICE_CALLERS is not set") {
		t.Error("the start warns of an open service, but the allow-list is set")
	}
	if !strings.Contains(e.logs.String(), reporting.ARN) {
		t.Error("the refused principal is not in the log")
	}
}

// A pending connection has no Amazon account yet: whoever completes its link first
// binds theirs. So the service mints its link only for a caller allowed to onboard
// it, valid for an hour, and never the 45-day renewal link.
func TestPendingConnectionsLinks(t *testing.T) {
	t.Parallel()
	signer, err := consent.NewSigner(stateKey)
	must(t, err)
	open := NewEnv(t)
	listed := newEnv(t, true, "arn:aws:sts::123456789012:assumed-role/orders-app/*=*;arn:aws:iam::123456789012:role/web/onboarding-app=onboard:new-*")
	for _, e := range []*Env{open, listed} {
		e.Seed("new-shop", authz.RegionEU, authz.StatusPending)
		e.Seed("old-shop", authz.RegionEU, authz.StatusPending)
	}
	tests := []struct {
		name   string
		env    *Env
		caller tokenservice.Caller
		conn   string
		link   bool
	}{
		{"no allow-list", open, ordersApp, "new-shop", false},
		{"a caller with tokens only", listed, ordersApp, "new-shop", false},
		{"allowed to onboard", listed, onboarding, "new-shop", true},
		{"allowed to onboard other connections", listed, onboarding, "old-shop", false},
	}
	for _, tt := range tests {
		a := tt.env.postAs(tt.caller, "/tokens", `{"connectionId":"`+tt.conn+`","region":"eu"}`)
		if tt.name == "allowed to onboard other connections" {
			if a.Status != 403 {
				t.Errorf("%s: %d %s, want 403", tt.name, a.Status, a.Raw)
			}
			continue
		}
		if a.Status != 409 || a.Body["error"] != "authorization_pending" {
			t.Errorf("%s: %d %s, want 409 authorization_pending", tt.name, a.Status, a.Raw)
			continue
		}
		link, _ := a.Body["renewUrl"].(string)
		if !tt.link {
			if link != "" {
				t.Errorf("%s: renewUrl %q, want none", tt.name, link)
			}
			continue
		}
		tok, _ := strings.CutPrefix(link, baseURL+"/authorize?t=")
		l, err := signer.VerifyLink(tok, time.Now())
		if err != nil || l.ConnectionID != tt.conn || l.Expires.After(time.Now().Add(time.Hour+time.Minute)) {
			t.Errorf("%s: onboarding link %+v (%v), want one for %s that ends within the hour", tt.name, l, err, tt.conn)
		}
		if got := tt.env.answers(); got[len(got)-1].Link != "onboarding" {
			t.Errorf("%s: answer logged as %+v, want link onboarding", tt.name, got[len(got)-1])
		}
	}
}

// The allow-list's syntax, and what each entry grants.
func TestParseCallers(t *testing.T) {
	t.Parallel()
	c, err := tokenservice.ParseCallers(`
		arn:aws:iam::123456789012:role/orders-app = acme-*, globex-de
		arn:aws:iam::123456789012:user/ops/alice=*; arn:aws:sts::210987654321:assumed-role/*/partner-*=partner-*-eu
		arn:aws:iam::123456789012:role/service-role/onboarding=onboard:new-*`)
	must(t, err)
	caller := func(arn string) tokenservice.Caller { return tokenservice.Caller{ARN: arn} }
	tests := []struct {
		arn, conn string
		want      tokenservice.Grant
	}{
		{"arn:aws:sts::123456789012:assumed-role/orders-app/s1", "acme-de", tokenservice.Grant{Tokens: true}},
		{"arn:aws:sts::123456789012:assumed-role/orders-app/s1", "globex-de", tokenservice.Grant{Tokens: true}},
		{"arn:aws:sts::123456789012:assumed-role/orders-app/s1", "globex-de2", tokenservice.Grant{}},
		{"arn:aws:iam::123456789012:role/orders-app", "acme", tokenservice.Grant{}},
		{"arn:aws:sts::123456789012:assumed-role/orders-app-2/s1", "acme-de", tokenservice.Grant{}},
		{"arn:aws:sts::999999999999:assumed-role/orders-app/s1", "acme-de", tokenservice.Grant{}},
		{"arn:aws:iam::123456789012:user/ops/alice", "anything", tokenservice.Grant{Tokens: true}},
		{"arn:aws:iam::123456789012:user/ops/alice2", "anything", tokenservice.Grant{}},
		{"arn:aws:sts::210987654321:assumed-role/x/partner-1", "partner-acme-eu", tokenservice.Grant{Tokens: true}},
		{"arn:aws:sts::210987654321:assumed-role/x/partner-1", "partner-eu", tokenservice.Grant{}},
		{"arn:aws:sts::123456789012:assumed-role/onboarding/web", "new-shop", tokenservice.Grant{Tokens: true, Onboard: true}},
		{"arn:aws:sts::123456789012:assumed-role/onboarding/web", "acme-de", tokenservice.Grant{}},
		{"", "acme-de", tokenservice.Grant{}},
	}
	for _, tt := range tests {
		if got := c.For(caller(tt.arn), tt.conn); got != tt.want {
			t.Errorf("%s for %s: %+v, want %+v", tt.arn, tt.conn, got, tt.want)
		}
	}
	if g := (tokenservice.Callers{}).For(nobody, "acme-de"); g != (tokenservice.Grant{Tokens: true}) {
		t.Errorf("no allow-list: %+v, want tokens and no onboarding", g)
	}
}

// A setting that cannot be read stops the function at its start, saying what is wrong.
func TestBadCallersSettingStopsTheStart(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"no connections":          "arn:aws:iam::123456789012:role/orders-app",
		"empty connections":       "arn:aws:iam::123456789012:role/orders-app= ",
		"not an ARN":              "orders-app=acme-*",
		"a connection id's chars": "arn:aws:iam::123456789012:role/orders-app=acme/de",
		"a question mark":         "arn:aws:iam::123456789012:role/orders-?=acme",
		"a role path and a glob":  "arn:aws:iam::123456789012:role/web/orders-*=acme",
		"no principal":            "=acme",
	}
	for name, v := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if _, err := tokenservice.ParseCallers(v); !errors.Is(err, tokenservice.ErrBadCallers) || !strings.Contains(err.Error(), "TOKEN_SERVICE_CALLERS") {
				t.Errorf("ParseCallers(%q) = %v, want an error naming TOKEN_SERVICE_CALLERS", v, err)
			}
		})
	}
	bad := func(name string) string {
		if name == "TOKEN_SERVICE_CALLERS" {
			return tests["not an ARN"]
		}
		return ""
	}
	if _, err := deploy.TokenService(app.Deps{}, bad); !errors.Is(err, tokenservice.ErrBadCallers) {
		t.Errorf("the token service started with a bad TOKEN_SERVICE_CALLERS: %v", err)
	}
	if _, err := tokenservice.ParseCallers(" ;\n "); err != nil {
		t.Errorf("blank setting: %v", err)
	}
}
