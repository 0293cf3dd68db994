package appnotify_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spapi-auth-keeper/keeper/infra/amazonsim"
	"github.com/spapi-auth-keeper/keeper/infra/testenv"
	"github.com/spapi-auth-keeper/keeper/shared/appnotify"
	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/lwa"
	"github.com/spapi-auth-keeper/keeper/shared/metrics"
	"github.com/spapi-auth-keeper/keeper/shared/secret"
)

const template = "AUTH_RENEWAL_REMINDER"

// simTokens mints real access tokens from the simulator's LWA endpoint with each
// seller's refresh token, as shared/tokensource does.
type simTokens struct {
	lwa     *lwa.Client
	mu      sync.Mutex
	refresh map[string]string // connection id → refresh token
}

func (s *simTokens) Token(ctx context.Context, connectionID string, _ authz.Region) (secret.Value, error) {
	s.mu.Lock()
	rt := s.refresh[connectionID]
	s.mu.Unlock()
	t, err := s.lwa.Refresh(ctx, secret.Value(rt))
	if err != nil {
		return "", err
	}
	return t.AccessToken, nil
}

type env struct {
	sim     *amazonsim.Sim
	ch      *appnotify.Channel
	metrics *testenv.Buffer
	now     time.Time
}

func newEnv(t *testing.T, sellers ...string) *env {
	t.Helper()
	var ss []amazonsim.Seller
	for _, id := range sellers {
		ss = append(ss, amazonsim.Seller{ID: id, Name: id})
	}
	sim := amazonsim.New(amazonsim.Config{AppID: "amzn1.sp.solution.test", AppName: "Keeper", ClientID: "cid", ClientSecret: "csecret",
		RedirectURIs: []string{"https://keeper.example.com/callback"}, Sellers: ss})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	sim.ApproveNotificationTemplate(template, appnotify.ParamExpiryDate, appnotify.ParamRenewalURL)
	tokens := &simTokens{lwa: lwa.NewClient(lwa.Config{Endpoint: srv.URL + "/auth/o2/token", Credentials: lwa.StaticCredentials{ClientID: "cid", ClientSecret: "csecret"}}),
		refresh: map[string]string{}}
	for _, id := range sellers {
		tokens.refresh[id] = sim.IssueRefreshToken(id)
	}
	e := &env{sim: sim, metrics: &testenv.Buffer{}, now: time.Date(2027, 1, 20, 9, 0, 0, 0, time.UTC)}
	e.ch = appnotify.NewChannel(template, &appnotify.Client{Endpoint: srv.URL}, tokens, authz.ClockFunc(func() time.Time { return e.now }), nil, metrics.New(e.metrics))
	e.ch.RetryAfter = 10 * time.Millisecond
	return e
}

func seller(id string) authz.Authorization {
	return authz.Authorization{ConnectionID: id, Region: authz.RegionEU, Marketplace: "DE", SellingPartnerID: id,
		Status: authz.StatusExpiring, ExpiresAt: time.Date(2027, 2, 15, 12, 0, 0, 0, time.UTC)}
}

func TestPostAndWithdraw(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "A1SELLER", "A2OTHER")
	id, err := e.ch.Post(context.Background(), seller("A1SELLER"), "15. Februar 2027", "https://keeper.example.com/authorize?t=x")
	if err != nil || id == "" {
		t.Fatalf("Post = %q, %v", id, err)
	}
	notes := e.sim.AppNotifications("A1SELLER")
	if len(notes) != 1 || notes[0].ID != id || notes[0].MarketplaceID != "A1PA6795UKMFR9" ||
		notes[0].Parameters[appnotify.ParamExpiryDate] != "15. Februar 2027" || notes[0].Parameters[appnotify.ParamRenewalURL] == "" {
		t.Fatalf("notifications %+v", notes)
	}
	if len(e.sim.AppNotifications("A2OTHER")) != 0 {
		t.Fatal("another seller got the notification")
	}
	if err := e.ch.Withdraw(context.Background(), seller("A1SELLER")); err != nil {
		t.Fatal(err)
	}
	if n := len(e.sim.AppNotifications("A1SELLER")); n != 0 {
		t.Errorf("%d notifications after the renewal withdrew them", n)
	}
}

func TestAnswers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		setup  func(e *env)
		a      func() authz.Authorization
		want   error
		metric string
		reason string
	}{
		{"400: a template Amazon did not approve", func(e *env) { e.sim.ApproveNotificationTemplate(template, "other") }, func() authz.Authorization { return seller("A1") },
			appnotify.ErrRejected, "AppNotificationFailed", "rejected"},
		{"429 twice: retried once, then recorded", func(e *env) {
			e.sim.InjectFaults(amazonsim.FaultCreateNotification, amazonsim.Fault{Kind: "throttled", Status: http.StatusTooManyRequests}, 2)
		}, func() authz.Authorization { return seller("A1") }, appnotify.ErrThrottled, "AppNotificationFailed", "throttled"},
		{"503", func(e *env) {
			e.sim.InjectFault(amazonsim.FaultCreateNotification, amazonsim.Fault{Kind: "unavailable", Status: http.StatusServiceUnavailable})
		}, func() authz.Authorization { return seller("A1") }, appnotify.ErrUnavailable, "AppNotificationFailed", "unavailable"},
		{"expired: Amazon refuses calls, nothing is posted", nil, func() authz.Authorization {
			a := seller("A1")
			a.Status, a.ExpiresAt = authz.StatusExpired, time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
			return a
		}, appnotify.ErrSkipped, "", ""},
		{"revoked", nil, func() authz.Authorization { a := seller("A1"); a.Status = authz.StatusRevoked; return a }, appnotify.ErrSkipped, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, "A1")
			if tc.setup != nil {
				tc.setup(e)
			}
			_, err := e.ch.Post(context.Background(), tc.a(), "d", "https://k.example/authorize?t=x")
			if !errors.Is(err, tc.want) {
				t.Fatalf("Post = %v, want %v", err, tc.want)
			}
			if tc.metric != "" && testenv.MetricSum(t, e.metrics.String(), tc.metric, tc.reason) != 1 {
				t.Errorf("%s{%s} not counted once:\n%s", tc.metric, tc.reason, e.metrics.String())
			}
			if len(e.sim.AppNotifications("A1")) != 0 {
				t.Error("a notification was created")
			}
		})
	}
}

// TestRoleMissingTurnsTheChannelOffOnce: without the Notifications in Seller Central
// role Amazon answers 403; the channel stops calling for the rest of the run and
// counts it once, not once per seller.
func TestRoleMissingTurnsTheChannelOffOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "A1", "A2", "A3")
	e.sim.SetNotificationsRole(false)
	_, err := e.ch.Post(context.Background(), seller("A1"), "d", "u")
	if !errors.Is(err, appnotify.ErrForbidden) {
		t.Fatalf("Post = %v, want ErrForbidden", err)
	}
	for _, id := range []string{"A2", "A3"} {
		if _, err := e.ch.Post(context.Background(), seller(id), "d", "u"); !errors.Is(err, appnotify.ErrSkipped) {
			t.Errorf("%s: %v, want ErrSkipped once the channel is off", id, err)
		}
	}
	if n := testenv.MetricSum(t, e.metrics.String(), "AppNotificationsDisabled", ""); n != 1 {
		t.Errorf("AppNotificationsDisabled = %v, want 1", n)
	}
	if e.ch.Enabled() {
		t.Error("channel still enabled")
	}
}

// TestTokenStaysSecret: the access token goes in x-amz-access-token and nowhere in
// an error.
func TestTokenStaysSecret(t *testing.T) {
	t.Parallel()
	var got string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Get("x-amz-access-token")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"errors":[{"code":"InvalidInput","message":"bad"}]}`))
	}))
	defer srv.Close()
	c := &appnotify.Client{Endpoint: srv.URL}
	_, err := c.Create(context.Background(), authz.RegionEU, secret.Value("Atza|secret-token"), appnotify.Notification{TemplateID: "t"})
	if got != "Atza|secret-token" || err == nil || strings.Contains(err.Error(), "secret-token") || !errors.Is(err, appnotify.ErrRejected) {
		t.Errorf("header %q, error %v", got, err)
	}
	var buf bytes.Buffer
	buf.WriteString(err.Error())
	if strings.Contains(buf.String(), "Atza") {
		t.Error("token in the error")
	}
}
