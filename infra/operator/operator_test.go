package operator_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/spapi-auth-keeper/keeper/infra/operator"
	"github.com/spapi-auth-keeper/keeper/infra/testenv"
	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/consent"
	"github.com/spapi-auth-keeper/keeper/shared/secret"
	"github.com/spapi-auth-keeper/keeper/shared/store"
	"github.com/spapi-auth-keeper/keeper/shared/vault"
)

func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

var now = time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC)

const stateKey = "operator-test-state-key-0123456789abcdef0123456789"

// env is a fresh deployment: a table in DynamoDB Local, secrets in the Secrets
// Manager emulator under a prefix of its own, and a Lambda endpoint for refresh.
type env struct {
	st    *store.Store
	vault *vault.Vault
	op    *operator.Operator
	calls []string // Lambda payloads received
}

func newEnv(t *testing.T, lambda http.HandlerFunc) *env {
	t.Helper()
	e := &env{}
	e.st = store.New(testenv.DynamoDB(t), testenv.NewTable(t))
	e.vault = vault.New(testenv.SecretsManager(t), testenv.Prefix(t), "").WithLogger(slog.New(slog.DiscardHandler))
	must(t, e.vault.PutStateKey(context.Background(), secret.Value(stateKey)))
	if lambda == nil {
		lambda = func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			e.calls = append(e.calls, string(b))
			if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 Credential=test/") || !strings.Contains(r.Header.Get("Authorization"), "/us-east-1/lambda/aws4_request") {
				w.WriteHeader(http.StatusForbidden)
				return
			}
			if r.URL.Path != "/2015-03-31/functions/TokenRefreshFunction/invocations" {
				w.WriteHeader(http.StatusNotFound)
				_, _ = w.Write([]byte(`{"Type":"User","message":"Function not found"}`))
				return
			}
			_, _ = w.Write([]byte(`{"connectionId":"acme","region":"eu","result":"refreshed","status":"active","retry":false}`))
		}
	}
	srv := httptest.NewServer(lambda)
	t.Cleanup(srv.Close)
	inv := operator.LambdaInvoker{Config: testenv.Config(), Endpoint: srv.URL}
	e.op = operator.New(operator.Config{BaseURL: "https://keeper.example.com", RefreshFunction: "TokenRefreshFunction"}, e.st, e.vault, inv,
		authz.ClockFunc(func() time.Time { return now }))
	return e
}

func (e *env) seed(t *testing.T, id string, region authz.Region, status authz.Status, days int) authz.Authorization {
	t.Helper()
	a := authz.Authorization{ConnectionID: id, Region: region, AccountType: authz.AccountSeller, SellingPartnerID: "A1" + strings.ToUpper(id),
		ContactEmail: id + "@shop.example", Status: status}
	if status != authz.StatusPending {
		a.ExpiresAt = now.Add(time.Duration(days) * 24 * time.Hour)
		a.AuthorizedAt = a.ExpiresAt.Add(-authz.Lifetime)
		_, err := e.vault.Put(context.Background(), id, region, vault.RefreshToken{Token: "Atzr|token-" + secret.Value(id), Region: region, AuthorizedAt: a.AuthorizedAt})
		must(t, err)
	}
	stored, err := e.st.Create(context.Background(), a, authz.Event{ConnectionID: id, Region: region, At: now.Add(-time.Hour - time.Duration(days)*time.Minute), Kind: authz.EventAuthorized, Detail: "by selling partner " + a.SellingPartnerID})
	must(t, err)
	return stored
}

func ids(rows []operator.Row) string {
	var s []string
	for _, r := range rows {
		s = append(s, r.ConnectionID)
	}
	return strings.Join(s, ",")
}

func TestList(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.seed(t, "healthy", authz.RegionEU, authz.StatusActive, 200)
	e.seed(t, "soon", authz.RegionEU, authz.StatusExpiring, 10)
	e.seed(t, "lapsed", authz.RegionNA, authz.StatusExpired, -3)
	e.seed(t, "removed", authz.RegionFE, authz.StatusRevoked, 100)
	e.seed(t, "new", authz.RegionEU, authz.StatusPending, 0)
	tests := []struct {
		name string
		f    operator.Filter
		want string
	}{
		{"all, soonest expiry first, pending last", operator.Filter{}, "lapsed,soon,removed,healthy,new"},
		{"by status", operator.Filter{Statuses: []authz.Status{authz.StatusRevoked, authz.StatusPending}}, "removed,new"},
		{"expiring within 30 days", operator.Filter{ExpiringWithin: 30 * 24 * time.Hour}, "soon"},
		{"expiring within 150 days and active", operator.Filter{ExpiringWithin: 150 * 24 * time.Hour, Statuses: []authz.Status{authz.StatusActive}}, ""},
	}
	for _, tc := range tests {
		rows, err := e.op.List(context.Background(), tc.f)
		must(t, err)
		if got := ids(rows); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
	rows, err := e.op.List(context.Background(), operator.Filter{})
	must(t, err)
	var table bytes.Buffer
	operator.WriteTable(&table, rows, now)
	lines := strings.Split(strings.TrimSpace(table.String()), "\n")
	// Six rows, then the seller connections still without an account fingerprint
	// (the seeded records have none; the pending one holds no token).
	if len(lines) != 7 || !strings.HasPrefix(lines[0], "CONNECTION") || !strings.Contains(lines[1], "lapsed") || !strings.Contains(lines[1], "-3") || !strings.Contains(lines[5], "never") ||
		!strings.HasPrefix(lines[6], "4 of the 4 seller connections listed have no account fingerprint yet") {
		t.Errorf("table:\n%s", table.String())
	}
	if _, err := operator.ParseStatuses("active,bogus"); !errors.Is(err, operator.ErrInvalid) {
		t.Errorf("ParseStatuses(bogus) = %v", err)
	}
}

func TestShow(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.seed(t, "twice", authz.RegionEU, authz.StatusActive, 100)
	e.seed(t, "twice", authz.RegionNA, authz.StatusActive, 50)
	ctx := context.Background()
	if _, err := e.op.Show(ctx, "twice", "", false); !errors.Is(err, operator.ErrAmbiguousRegion) || !strings.Contains(err.Error(), "eu") {
		t.Errorf("Show without a region = %v, want ErrAmbiguousRegion naming the regions", err)
	}
	d, err := e.op.Show(ctx, "twice", authz.RegionNA, true)
	must(t, err)
	if d.Region != authz.RegionNA || *d.DaysLeft != 50 || len(d.History) != 2 || d.SecretID != "" {
		t.Errorf("detail %+v", d)
	}
	for _, tc := range []struct {
		id     string
		region authz.Region
		want   error
	}{{"nobody", "", operator.ErrUnknownConnection}, {"twice", authz.RegionFE, operator.ErrUnknownConnection}, {"bad id!", "", operator.ErrInvalid}, {"twice", "mars", operator.ErrInvalid}} {
		if _, err := e.op.Show(ctx, tc.id, tc.region, false); !errors.Is(err, tc.want) {
			t.Errorf("Show(%q, %q) = %v, want %v", tc.id, tc.region, err, tc.want)
		}
	}
}

func TestOnboardAndLink(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := context.Background()
	signer, err := consent.NewSigner(stateKey)
	must(t, err)
	row, link, err := e.op.Onboard(ctx, operator.OnboardRequest{ConnectionID: "newshop", Region: authz.RegionEU, Email: "boss@newshop.example", Marketplace: "de"})
	must(t, err)
	if row.Status != authz.StatusPending || row.Marketplace != "DE" || row.ContactEmail != "boss@newshop.example" {
		t.Errorf("onboarded %+v", row)
	}
	u, err := url.Parse(link)
	must(t, err)
	l, err := signer.VerifyLink(u.Query().Get("t"), now)
	if err != nil || u.Host != "keeper.example.com" || u.Path != "/authorize" || l.ConnectionID != "newshop" || l.Region != authz.RegionEU || !l.Expires.Equal(now.Add(45*24*time.Hour)) {
		t.Errorf("link %s: %+v, %v", link, l, err)
	}
	if _, again, err := e.op.Link(ctx, "newshop", ""); err != nil || again == "" {
		t.Errorf("Link = %q, %v", again, err)
	}
	for _, tc := range []struct {
		name string
		r    operator.OnboardRequest
	}{
		{"duplicate", operator.OnboardRequest{ConnectionID: "newshop", Region: authz.RegionEU, Email: "a@b.example"}},
		{"no region", operator.OnboardRequest{ConnectionID: "x", Email: "a@b.example"}},
		{"bad region", operator.OnboardRequest{ConnectionID: "x", Region: "mars", Email: "a@b.example"}},
		{"no email", operator.OnboardRequest{ConnectionID: "x", Region: authz.RegionEU}},
		{"bad email", operator.OnboardRequest{ConnectionID: "x", Region: authz.RegionEU, Email: "Boss <a@b.example>"}},
		{"marketplace of another region", operator.OnboardRequest{ConnectionID: "x", Region: authz.RegionEU, Email: "a@b.example", Marketplace: "JP"}},
		{"bad connection id", operator.OnboardRequest{ConnectionID: "a/b", Region: authz.RegionEU, Email: "a@b.example"}},
	} {
		if _, _, err := e.op.Onboard(ctx, tc.r); !errors.Is(err, operator.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", tc.name, err)
		}
	}
	noBase := operator.New(operator.Config{}, e.st, e.vault, nil, nil)
	if _, _, err := noBase.Link(ctx, "newshop", ""); !errors.Is(err, operator.ErrNotConfigured) {
		t.Errorf("Link without a base URL = %v", err)
	}
}

func TestRefresh(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.seed(t, "acme", authz.RegionEU, authz.StatusActive, 100)
	ctx := context.Background()
	out, err := e.op.Refresh(ctx, "acme", "")
	must(t, err)
	if !strings.Contains(string(out), `"result":"refreshed"`) || len(e.calls) != 1 || e.calls[0] != `{"connectionId":"acme","region":"eu"}` {
		t.Fatalf("answer %s, calls %v", out, e.calls)
	}
	if _, err := e.op.Refresh(ctx, "nobody", ""); !errors.Is(err, operator.ErrUnknownConnection) || len(e.calls) != 1 {
		t.Errorf("refresh of an unknown connection = %v (calls %d)", err, len(e.calls))
	}

	failing := newEnv(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Amz-Function-Error", "Unhandled")
		_, _ = w.Write([]byte(`{"errorType":"errorString","errorMessage":"token refresh: unknown event"}`))
	})
	failing.seed(t, "acme", authz.RegionEU, authz.StatusActive, 100)
	if _, err := failing.op.Refresh(ctx, "acme", ""); !errors.Is(err, operator.ErrRefreshFailed) || !strings.Contains(err.Error(), "unknown event") {
		t.Errorf("function error = %v", err)
	}
	missing := newEnv(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Amzn-ErrorType", "ResourceNotFoundException")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"Type":"User","message":"Function not found: arn:aws:lambda:us-east-1:1:function:Nope"}`))
	})
	missing.seed(t, "acme", authz.RegionEU, authz.StatusActive, 100)
	if _, err := missing.op.Refresh(ctx, "acme", ""); !errors.Is(err, operator.ErrRefreshFailed) || !strings.Contains(err.Error(), "Function not found") {
		t.Errorf("unknown function = %v", err)
	}
	if _, err := operator.New(operator.Config{}, e.st, e.vault, nil, nil).Refresh(ctx, "acme", ""); !errors.Is(err, operator.ErrNotConfigured) {
		t.Errorf("refresh without a function = %v", err)
	}
}

func TestForget(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	a := e.seed(t, "leaving", authz.RegionEU, authz.StatusActive, 100)
	ctx := context.Background()
	f, err := e.op.Forget(ctx, "leaving", "")
	must(t, err)
	if !f.RecordDeleted || !f.SecretDeleted {
		t.Fatalf("forget %+v", f)
	}
	if _, err := e.st.Get(ctx, "leaving", authz.RegionEU); !errors.Is(err, authz.ErrNotFound) {
		t.Errorf("record still there: %v", err)
	}
	if _, err := e.vault.Get(ctx, "leaving", authz.RegionEU); !errors.Is(err, vault.ErrNotFound) {
		t.Errorf("refresh token still there: %v", err)
	}
	hist, err := e.st.History(ctx, "leaving", 1)
	must(t, err)
	if len(hist) != 1 || hist[0].Kind != authz.EventForgotten || strings.Contains(hist[0].Detail, a.SellingPartnerID) || strings.Contains(hist[0].Detail, a.ContactEmail) {
		t.Errorf("history %+v: want one anonymised forgotten event", hist)
	}
	if _, err := e.op.Forget(ctx, "leaving", ""); !errors.Is(err, operator.ErrUnknownConnection) {
		t.Errorf("forget again = %v", err)
	}
	// Naming the region finishes a forget that stopped after the record.
	if f, err := e.op.Forget(ctx, "leaving", authz.RegionEU); err != nil || f.RecordDeleted || !f.SecretDeleted {
		t.Errorf("forget with --region after the record was gone = %+v, %v", f, err)
	}
}

// TestCLI runs keeperctl's command lines against a deployment: output formats, and
// one line and the right exit code for every mistake.
func TestCLI(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.seed(t, "acme", authz.RegionEU, authz.StatusActive, 100)
	run := func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		c := &operator.CLI{Stdout: &out, Stderr: &errOut, Getenv: func(string) string { return "" }, Now: func() time.Time { return now },
			Connect: func(context.Context, *operator.CLI, operator.Globals) (*operator.Operator, error) { return e.op, nil }}
		return c.Run(context.Background(), args), out.String(), errOut.String()
	}
	tests := []struct {
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{[]string{"list"}, 0, "CONNECTION  REGION", ""},
		{[]string{"--json", "list", "--status", "active"}, 0, `"connectionId": "acme"`, ""},
		{[]string{"show", "acme", "--history"}, 0, "authorized", ""},
		{[]string{"show", "--region", "eu", "acme", "--json"}, 0, `"daysLeft": 100`, ""},
		{[]string{"refresh", "acme"}, 0, "acme/eu: refreshed, status active", ""},
		{[]string{"link", "acme", "--json"}, 0, `"link": "https://keeper.example.com/authorize?t=`, ""},
		{[]string{"--help"}, 0, "usage: keeperctl", ""},
		{[]string{}, 2, "", "no command"},
		{[]string{"show", "ghost"}, 1, "", `no authorization for this connection: "ghost"`},
		{[]string{"show", "acme", "extra"}, 2, "", `unexpected argument "extra"`},
		{[]string{"link", "acme", "--region", "mars"}, 2, "", "--region"},
		{[]string{"list", "--status", "happy"}, 2, "", `status "happy"`},
		{[]string{"onboard", "x", "--region", "eu"}, 2, "", "--email"},
		{[]string{"forget"}, 2, "", "forget needs a connection id"},
		{[]string{"forget", "acme"}, 2, "", "not confirmed: nothing was deleted"},
		{[]string{"frobnicate"}, 2, "", "list, show, onboard, link, refresh, forget, move, set, export, import, vault, webhooks or client-secret"},
	}
	for _, tc := range tests {
		code, out, errOut := run(tc.args...)
		if code != tc.code || !strings.Contains(out, tc.stdout) || !strings.Contains(errOut, tc.stderr) || (tc.stderr != "" && strings.Count(errOut, "\n") != 1) {
			t.Errorf("keeperctl %v: exit %d\nstdout %q\nstderr %q", tc.args, code, out, errOut)
		}
	}
	var rows []operator.Row
	_, out, _ := run("list", "--json")
	if err := json.Unmarshal([]byte(out), &rows); err != nil || len(rows) != 1 {
		t.Errorf("list --json is not a JSON array of rows: %v\n%s", err, out)
	}
}

// TestConnectNeedsATable: against AWS, keeperctl refuses to guess the table.
func TestConnectNeedsATable(t *testing.T) {
	t.Parallel()
	var out, errOut bytes.Buffer
	c := &operator.CLI{Stdout: &out, Stderr: &errOut, Getenv: func(string) string { return "" }}
	if code := c.Run(context.Background(), []string{"list"}); code != operator.ExitFail || !strings.Contains(errOut.String(), "--table is required") {
		t.Errorf("exit %d, stderr %q", code, errOut.String())
	}
	errOut.Reset()
	c.Root = t.TempDir()
	if code := c.Run(context.Background(), []string{"--local", "list"}); code != operator.ExitFail || !strings.Contains(errOut.String(), "no local stack is running") {
		t.Errorf("--local without a stack: exit %d, stderr %q", code, errOut.String())
	}
}
