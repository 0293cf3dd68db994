package lwa_test

import (
	"context"
	"errors"
	"fmt"
	"github.com/spapi-auth-keeper/keeper/infra/testenv"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spapi-auth-keeper/keeper/infra/amazonsim"
	"github.com/spapi-auth-keeper/keeper/shared/lwa"
	"github.com/spapi-auth-keeper/keeper/shared/secret"
)

const (
	clientID     = "amzn1.application-oa2-client.lwatest"
	clientSecret = "amzn1.oa2-cs.v1.9f8e7d6c5b4a39281706f5e4d3c2b1a0"
	redirectURI  = "https://app.example/callback"
	seller       = "A1LWATESTSELLER"
	rotation     = "sellingpartnerapi::client_credential:rotation"
)

var creds = lwa.StaticCredentials{ClientID: clientID, ClientSecret: clientSecret}

type env struct {
	sim    *amazonsim.Sim
	url    string
	client *lwa.Client
	logs   *testenv.Buffer
}

// start runs the simulator in-process and a client with tiny backoff delays.
func start(t *testing.T, mutate func(*lwa.Config)) *env {
	t.Helper()
	sim := amazonsim.New(amazonsim.Config{
		AppID: "amzn1.sp.solution.lwatest", AppName: "LWA test", RedirectURIs: []string{redirectURI},
		ClientID: clientID, ClientSecret: clientSecret,
		Sellers: []amazonsim.Seller{{ID: seller, Name: "Seller"}},
	})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	e := &env{sim: sim, url: srv.URL + "/auth/o2/token", logs: &testenv.Buffer{}}
	e.client = newClient(e.url, e.logs, mutate)
	return e
}

func newClient(endpoint string, logs io.Writer, mutate func(*lwa.Config)) *lwa.Client {
	cfg := lwa.Config{
		Endpoint:       endpoint,
		Credentials:    creds,
		MaxAttempts:    3,
		BaseDelay:      time.Millisecond,
		MaxDelay:       5 * time.Millisecond,
		AttemptTimeout: 2 * time.Second,
		Logger:         slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if mutate != nil {
		mutate(&cfg)
	}
	return lwa.NewClient(cfg)
}

// call is one of the three grants, ready to run against e.
type call struct {
	grant string
	run   func(ctx context.Context, e *env) (lwa.Tokens, error)
	seen  func(e *env) int // how many requests of this grant the simulator saw
}

var (
	exchangeCall = call{
		grant: amazonsim.GrantAuthorizationCode,
		run: func(ctx context.Context, e *env) (lwa.Tokens, error) {
			return e.client.ExchangeCode(ctx, e.sim.IssueCode(seller, redirectURI), redirectURI)
		},
		seen: func(e *env) int { return e.sim.Exchanges() },
	}
	refreshCall = call{
		grant: amazonsim.GrantRefreshToken,
		run: func(ctx context.Context, e *env) (lwa.Tokens, error) {
			return e.client.Refresh(ctx, secret.Value(e.sim.IssueRefreshToken(seller)))
		},
		seen: func(e *env) int { return e.sim.Refreshes() },
	}
	clientCredentialsCall = call{
		grant: amazonsim.GrantClientCredentials,
		run: func(ctx context.Context, e *env) (lwa.Tokens, error) {
			return e.client.ClientCredentials(ctx, rotation)
		},
		seen: func(e *env) int { return e.sim.ClientCredentialsGrants() },
	}
	calls = []call{exchangeCall, refreshCall, clientCredentialsCall}
)

func lwaError(t *testing.T, err error) *lwa.Error {
	t.Helper()
	var le *lwa.Error
	if !errors.As(err, &le) {
		t.Fatalf("error %v (%T) is not an *lwa.Error", err, err)
	}
	return le
}

var kinds = []error{lwa.ErrInvalidGrant, lwa.ErrClient, lwa.ErrBadRequest, lwa.ErrThrottled, lwa.ErrUnavailable}

// wantKind checks that err matches kind and no other kind.
func wantKind(t *testing.T, err, kind error) {
	t.Helper()
	for _, k := range kinds {
		if got := errors.Is(err, k); got != (k == kind) {
			t.Errorf("errors.Is(%v, %v) = %v", err, k, got)
		}
	}
}

func TestEachGrantSucceeds(t *testing.T) {
	t.Parallel()
	for _, c := range calls {
		t.Run(c.grant, func(t *testing.T) {
			t.Parallel()
			e := start(t, nil)
			tok, err := c.run(context.Background(), e)
			if err != nil {
				t.Fatalf("%s: %v", c.grant, err)
			}
			if tok.TokenType != "bearer" || tok.ExpiresIn != time.Hour {
				t.Errorf("tokens = %+v, want bearer, 1h", tok)
			}
			wantSeller := seller
			if c.grant == amazonsim.GrantClientCredentials {
				wantSeller = ""
				if !tok.RefreshToken.IsZero() {
					t.Errorf("grantless answer carries a refresh token")
				}
			} else if !strings.HasPrefix(tok.RefreshToken.Reveal(), "Atzr|") {
				t.Errorf("refresh token missing from the %s answer", c.grant)
			}
			if got, ok := e.sim.AccessTokenSeller(tok.AccessToken.Reveal()); !ok || got != wantSeller {
				t.Errorf("access token belongs to %q (valid %v), want %q", got, ok, wantSeller)
			}
			if c.seen(e) != 1 || e.sim.TokenRequests() != 1 {
				t.Errorf("simulator saw %d %s requests, %d in all; want 1, 1", c.seen(e), c.grant, e.sim.TokenRequests())
			}
		})
	}
}

func TestRefreshKeepsTheRefreshToken(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	rt := secret.Value(e.sim.IssueRefreshToken(seller))
	tok, err := e.client.Refresh(context.Background(), rt)
	if err != nil {
		t.Fatal(err)
	}
	if tok.RefreshToken != rt {
		t.Errorf("Refresh returned another refresh token than the one LWA echoed")
	}
}

func TestFaultOnFirstTry(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		fault amazonsim.Fault
		// retried faults succeed on the second attempt; the others fail at once
		wantKind   error
		wantCode   string
		wantStatus int
	}{
		{name: "throttled", fault: amazonsim.Throttled()},
		{name: "server_error", fault: amazonsim.ServerError()},
		{name: "temporarily_unavailable", fault: amazonsim.Unavailable()},
		{name: "invalid_grant", fault: amazonsim.InvalidGrant(), wantKind: lwa.ErrInvalidGrant, wantCode: "invalid_grant", wantStatus: 400},
		{name: "invalid_client", fault: amazonsim.InvalidClient(), wantKind: lwa.ErrClient, wantCode: "invalid_client", wantStatus: 401},
		{name: "unauthorized_client", fault: amazonsim.UnauthorizedClient(), wantKind: lwa.ErrClient, wantCode: "unauthorized_client", wantStatus: 401},
		{name: "invalid_request", fault: amazonsim.InvalidRequest(), wantKind: lwa.ErrBadRequest, wantCode: "invalid_request", wantStatus: 400},
	}
	for _, tt := range tests {
		for _, c := range calls {
			t.Run(tt.name+"/"+c.grant, func(t *testing.T) {
				t.Parallel()
				e := start(t, nil)
				e.sim.InjectFault(c.grant, tt.fault)
				tok, err := c.run(context.Background(), e)
				if tt.wantKind == nil {
					if err != nil || tok.AccessToken.IsZero() {
						t.Fatalf("after one %s: %v, want success on the retry", tt.name, err)
					}
					if c.seen(e) != 2 {
						t.Errorf("simulator saw %d requests, want 2", c.seen(e))
					}
					return
				}
				wantKind(t, err, tt.wantKind)
				le := lwaError(t, err)
				if le.Code != tt.wantCode || le.Status != tt.wantStatus || le.Attempts != 1 || le.Description == "" {
					t.Errorf("error = %+v, want %s, HTTP %d, 1 attempt, a description", le, tt.wantCode, tt.wantStatus)
				}
				if c.seen(e) != 1 {
					t.Errorf("simulator saw %d requests, want 1: %s is never retried", c.seen(e), tt.name)
				}
			})
		}
	}
}

func TestFaultAfterRetriesRunOut(t *testing.T) {
	t.Parallel()
	tests := []struct {
		fault      amazonsim.Fault
		wantKind   error
		wantCode   string
		wantStatus int
	}{
		{amazonsim.Throttled(), lwa.ErrThrottled, "http_429", 429},
		{amazonsim.ServerError(), lwa.ErrUnavailable, "server_error", 500},
		{amazonsim.Unavailable(), lwa.ErrUnavailable, "temporarily_unavailable", 503},
	}
	for _, tt := range tests {
		for _, c := range calls {
			t.Run(tt.fault.Kind+"/"+c.grant, func(t *testing.T) {
				t.Parallel()
				e := start(t, nil)
				e.sim.InjectFaults(c.grant, tt.fault, 3)
				_, err := c.run(context.Background(), e)
				wantKind(t, err, tt.wantKind)
				le := lwaError(t, err)
				if le.Code != tt.wantCode || le.Status != tt.wantStatus || le.Attempts != 3 || le.Grant != c.grant {
					t.Errorf("error = %+v, want %s, HTTP %d after 3 attempts", le, tt.wantCode, tt.wantStatus)
				}
				if c.seen(e) != 3 {
					t.Errorf("simulator saw %d requests, want 3", c.seen(e))
				}
				if !strings.Contains(e.logs.String(), `"attempt":2`) {
					t.Errorf("retries were not logged: %s", e.logs.String())
				}
			})
		}
	}
}

func TestTimeouts(t *testing.T) {
	t.Parallel()
	// Long enough that an answered attempt never times out on a loaded CI machine
	// under -race, short enough that three timed-out attempts take about a second.
	short := func(c *lwa.Config) { c.AttemptTimeout = 400 * time.Millisecond }

	t.Run("refresh and grantless retry, then give up", func(t *testing.T) {
		t.Parallel()
		for _, c := range []call{refreshCall, clientCredentialsCall} {
			e := start(t, short)
			e.sim.InjectFaults(c.grant, amazonsim.Timeout(10*time.Second), 3)
			_, err := c.run(context.Background(), e)
			wantKind(t, err, lwa.ErrUnavailable)
			if le := lwaError(t, err); le.Code != "timeout" || le.Attempts != 3 || c.seen(e) != 3 {
				t.Errorf("%s: error = %+v, simulator saw %d; want timeout after 3 attempts, 3 seen", c.grant, le, c.seen(e))
			}
		}
	})

	t.Run("refresh recovers after one timeout", func(t *testing.T) {
		t.Parallel()
		e := start(t, short)
		e.sim.InjectFault(amazonsim.GrantRefreshToken, amazonsim.Timeout(10*time.Second))
		if _, err := refreshCall.run(context.Background(), e); err != nil || e.sim.Refreshes() != 2 {
			t.Fatalf("refresh = %v after %d requests, want success after 2", err, e.sim.Refreshes())
		}
	})

	t.Run("code exchange is not repeated once sent", func(t *testing.T) {
		t.Parallel()
		e := start(t, short)
		code := e.sim.IssueCode(seller, redirectURI)
		e.sim.InjectFault(amazonsim.GrantAuthorizationCode, amazonsim.Timeout(10*time.Second))
		_, err := e.client.ExchangeCode(context.Background(), code, redirectURI)
		wantKind(t, err, lwa.ErrUnavailable)
		if le := lwaError(t, err); le.Code != "timeout" || le.Attempts != 1 || e.sim.Exchanges() != 1 {
			t.Fatalf("error = %+v, simulator saw %d; want one timed-out attempt", le, e.sim.Exchanges())
		}
		// Why: LWA redeemed the code even though the answer never came back. Once
		// the simulator has done so, a second try is only an invalid_grant.
		deadline := time.Now().Add(5 * time.Second)
		for {
			_, err = e.client.ExchangeCode(context.Background(), code, redirectURI)
			if errors.Is(err, lwa.ErrInvalidGrant) || time.Now().After(deadline) {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		wantKind(t, err, lwa.ErrInvalidGrant)
	})
}

func TestCodeExchangeRetriedWhenNothingWasSent(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	endpoint := "http://" + ln.Addr().String() + "/auth/o2/token"
	ln.Close() // connections are now refused: the request never leaves

	logs := &testenv.Buffer{}
	c := newClient(endpoint, logs, nil)
	_, err = c.ExchangeCode(context.Background(), "ANcode", redirectURI)
	wantKind(t, err, lwa.ErrUnavailable)
	if le := lwaError(t, err); le.Code != "network_error" || le.Attempts != 3 || le.Status != 0 {
		t.Fatalf("error = %+v, want network_error after 3 attempts", le)
	}
}

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		retryAfter time.Duration
		maxDelay   time.Duration
		atLeast    time.Duration
		atMost     time.Duration
	}{
		{"honoured", time.Second, 3 * time.Second, time.Second, 2500 * time.Millisecond},
		{"capped at MaxDelay", 30 * time.Second, 20 * time.Millisecond, 20 * time.Millisecond, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := start(t, func(c *lwa.Config) { c.MaxDelay = tt.maxDelay })
			e.sim.InjectFault(amazonsim.GrantRefreshToken, amazonsim.Throttled().WithRetryAfter(tt.retryAfter))
			began := time.Now()
			if _, err := refreshCall.run(context.Background(), e); err != nil {
				t.Fatal(err)
			}
			if d := time.Since(began); d < tt.atLeast || d > tt.atMost {
				t.Errorf("retried after %v, want between %v and %v", d, tt.atLeast, tt.atMost)
			}
			if e.sim.Refreshes() != 2 {
				t.Errorf("simulator saw %d refreshes, want 2", e.sim.Refreshes())
			}
		})
	}
}

func TestContextEndsRetries(t *testing.T) {
	t.Parallel()
	t.Run("canceled while waiting to retry", func(t *testing.T) {
		t.Parallel()
		e := start(t, func(c *lwa.Config) { c.MaxDelay = 10 * time.Second })
		e.sim.InjectFaults(amazonsim.GrantRefreshToken, amazonsim.Unavailable().WithRetryAfter(10*time.Second), 3)
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(100*time.Millisecond, cancel)
		began := time.Now()
		_, err := refreshCall.run(ctx, e)
		if time.Since(began) > 3*time.Second {
			t.Fatalf("the client kept waiting after cancel")
		}
		if !errors.Is(err, context.Canceled) {
			t.Errorf("error %v does not match context.Canceled", err)
		}
		wantKind(t, err, lwa.ErrUnavailable)
		if le := lwaError(t, err); le.Code != "canceled" || le.Attempts != 1 || e.sim.Refreshes() != 1 {
			t.Errorf("error = %+v, simulator saw %d; want canceled after 1 attempt", le, e.sim.Refreshes())
		}
	})
	t.Run("deadline during a slow answer", func(t *testing.T) {
		t.Parallel()
		e := start(t, nil)
		e.sim.SetLatency(10 * time.Second)
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		_, err := clientCredentialsCall.run(ctx, e)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("error %v does not match context.DeadlineExceeded", err)
		}
		wantKind(t, err, lwa.ErrUnavailable)
		if le := lwaError(t, err); le.Code != "deadline_exceeded" || le.Attempts != 1 {
			t.Errorf("error = %+v, want deadline_exceeded after 1 attempt", le)
		}
	})
}

func TestSellerMustAct(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		act      func(e *env, token string)
		wantDesc string
	}{
		{"revoked", func(e *env, tok string) { e.sim.Revoke(tok) }, "revoked"},
		{"authorization expired", func(e *env, _ string) { e.sim.ExpireSeller(seller) }, "expired"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := start(t, nil)
			rt := e.sim.IssueRefreshToken(seller)
			tt.act(e, rt)
			_, err := e.client.Refresh(context.Background(), secret.Value(rt))
			wantKind(t, err, lwa.ErrInvalidGrant)
			if le := lwaError(t, err); !strings.Contains(le.Description, tt.wantDesc) || le.Attempts != 1 {
				t.Errorf("error = %+v, want a description saying %q", le, tt.wantDesc)
			}
		})
	}
}

func TestCodeExchangeRefusals(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	ctx := context.Background()
	code := e.sim.IssueCode(seller, redirectURI)
	if _, err := e.client.ExchangeCode(ctx, code, "https://app.example/other"); !errors.Is(err, lwa.ErrInvalidGrant) {
		t.Errorf("wrong redirect URI: %v, want ErrInvalidGrant", err)
	}
	code = e.sim.IssueCode(seller, redirectURI)
	if _, err := e.client.ExchangeCode(ctx, code, redirectURI); err != nil {
		t.Fatal(err)
	}
	_, err := e.client.ExchangeCode(ctx, code, redirectURI)
	wantKind(t, err, lwa.ErrInvalidGrant)
	if le := lwaError(t, err); !strings.Contains(le.Description, "already been used") {
		t.Errorf("replayed code: %+v", le)
	}
}

func TestClientCredentialsRefused(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	e.sim.SetClientSecrets("amzn1.oa2-cs.v1.the-new-one") // our secret was rotated away
	for _, c := range calls {
		_, err := c.run(context.Background(), e)
		wantKind(t, err, lwa.ErrClient)
		if le := lwaError(t, err); le.Code != "invalid_client" || le.Status != 401 || le.Attempts != 1 {
			t.Errorf("%s: %+v, want invalid_client, 401, 1 attempt", c.grant, le)
		}
	}
	if e.sim.TokenRequests() != 3 {
		t.Errorf("simulator saw %d requests, want 3", e.sim.TokenRequests())
	}
}

// rotatingSource is a credentials source whose secret changes, like the vault's.
type rotatingSource struct {
	secret atomic.Value
	err    error
	calls  atomic.Int32
}

func (r *rotatingSource) Credentials(context.Context) (lwa.Credentials, error) {
	r.calls.Add(1)
	if r.err != nil {
		return lwa.Credentials{}, r.err
	}
	return lwa.Credentials{ClientID: clientID, ClientSecret: r.secret.Load().(secret.Value)}, nil
}

func TestCredentialsSource(t *testing.T) {
	t.Parallel()
	t.Run("a rotated secret is picked up on the next call", func(t *testing.T) {
		t.Parallel()
		src := &rotatingSource{}
		src.secret.Store(secret.Value(clientSecret))
		e := start(t, func(c *lwa.Config) { c.Credentials = src })
		if _, err := clientCredentialsCall.run(context.Background(), e); err != nil {
			t.Fatal(err)
		}
		const next = "amzn1.oa2-cs.v1.rotated-0123456789"
		e.sim.SetClientSecrets(next)
		src.secret.Store(secret.Value(next))
		if _, err := clientCredentialsCall.run(context.Background(), e); err != nil {
			t.Fatalf("after rotation: %v", err)
		}
	})

	vaultDown := errors.New("vault: secret not readable")
	tests := []struct {
		name     string
		source   lwa.CredentialsSource
		wantErr  error
		wantKind error
	}{
		{"source fails", &rotatingSource{err: vaultDown}, vaultDown, nil},
		{"empty secret", lwa.StaticCredentials{ClientID: clientID}, lwa.ErrClient, lwa.ErrClient},
		{"empty client id", lwa.StaticCredentials{ClientSecret: clientSecret}, lwa.ErrClient, lwa.ErrClient},
		{"no source", nil, lwa.ErrClient, lwa.ErrClient},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := start(t, func(c *lwa.Config) { c.Credentials = tt.source })
			for _, c := range calls {
				_, err := c.run(context.Background(), e)
				if !errors.Is(err, tt.wantErr) {
					t.Errorf("%s: %v, want %v", c.grant, err, tt.wantErr)
				}
				if tt.wantKind != nil {
					wantKind(t, err, tt.wantKind)
				}
			}
			if n := e.sim.TokenRequests(); n != 0 {
				t.Errorf("simulator saw %d requests, want none: the call must fail fast", n)
			}
		})
	}
}

func TestArgumentsCheckedBeforeSending(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	ctx := context.Background()
	for name, run := range map[string]func() error{
		"empty code":     func() error { _, err := e.client.ExchangeCode(ctx, "", redirectURI); return err },
		"empty redirect": func() error { _, err := e.client.ExchangeCode(ctx, "ANcode", ""); return err },
		"empty refresh":  func() error { _, err := e.client.Refresh(ctx, ""); return err },
		"empty scope":    func() error { _, err := e.client.ClientCredentials(ctx, ""); return err },
	} {
		err := run()
		wantKind(t, err, lwa.ErrBadRequest)
		if le := lwaError(t, err); le.Attempts != 0 {
			t.Errorf("%s: %d attempts, want 0", name, le.Attempts)
		}
	}
	if e.sim.TokenRequests() != 0 {
		t.Errorf("simulator saw %d requests, want 0", e.sim.TokenRequests())
	}
	_, err := e.client.ClientCredentials(ctx, "profile")
	wantKind(t, err, lwa.ErrBadRequest)
	if le := lwaError(t, err); le.Code != "invalid_scope" {
		t.Errorf("unknown scope: %+v", le)
	}
}

// answerServer answers every token request with status and body, counting requests.
func answerServer(t *testing.T, status int, contentType, body string) (string, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.Header().Set("Content-Type", contentType)
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, &n
}

func TestUnexpectedAnswers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		status      int
		contentType string
		body        string
		call        string
		wantKind    error
		wantCode    string
		wantSeen    int32
	}{
		{"garbage 200 on refresh is retried", 200, "application/json", "<html>oops", "refresh", lwa.ErrUnavailable, "invalid_response", 3},
		{"garbage 200 on code exchange is not", 200, "application/json", "{not json", "code", lwa.ErrUnavailable, "invalid_response", 1},
		{"no access token", 200, "application/json", `{"token_type":"bearer","expires_in":3600}`, "grantless", lwa.ErrUnavailable, "invalid_response", 3},
		{"code answer without refresh token", 200, "application/json", `{"access_token":"Atza|x","token_type":"bearer","expires_in":3600}`, "code", lwa.ErrUnavailable, "invalid_response", 1},
		{"proxy 502 page", 502, "text/html", "<html>Bad Gateway</html>", "code", lwa.ErrUnavailable, "http_502", 3},
		{"bare 403", 403, "text/plain", "Forbidden", "refresh", lwa.ErrBadRequest, "http_403", 1},
		{"bare 401", 401, "text/plain", "Unauthorized", "refresh", lwa.ErrClient, "http_401", 1},
		{"unsupported grant type", 400, "application/json", `{"error":"unsupported_grant_type","error_description":"no"}`, "grantless", lwa.ErrBadRequest, "unsupported_grant_type", 1},
		{"unknown error code on 400", 400, "application/json", `{"error":"weird_thing"}`, "refresh", lwa.ErrBadRequest, "weird_thing", 1},
		{"unknown error code on 503", 503, "application/json", `{"error":"weird_thing"}`, "refresh", lwa.ErrUnavailable, "weird_thing", 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			endpoint, seen := answerServer(t, tt.status, tt.contentType, tt.body)
			c := newClient(endpoint, io.Discard, nil)
			var err error
			switch tt.call {
			case "code":
				_, err = c.ExchangeCode(context.Background(), "ANcode", redirectURI)
			case "refresh":
				_, err = c.Refresh(context.Background(), "Atzr|token")
			default:
				_, err = c.ClientCredentials(context.Background(), rotation)
			}
			wantKind(t, err, tt.wantKind)
			if le := lwaError(t, err); le.Code != tt.wantCode || le.Status != tt.status {
				t.Errorf("error = %+v, want %s, HTTP %d", le, tt.wantCode, tt.status)
			}
			if seen.Load() != tt.wantSeen {
				t.Errorf("server saw %d requests, want %d", seen.Load(), tt.wantSeen)
			}
		})
	}
}

// No token, code or client secret ever shows in an error string or a log line, even
// when a misbehaving server echoes the request back.
func TestNoSecretInErrorsOrLogs(t *testing.T) {
	t.Parallel()
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		var all []string
		for _, v := range r.PostForm {
			all = append(all, v...)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, `{"error":%q,"error_description":%q}`, r.PostForm.Get("client_secret"), strings.Join(all, " | "))
	}))
	t.Cleanup(echo.Close)

	e := start(t, nil)
	ctx := context.Background()
	code := e.sim.IssueCode(seller, redirectURI)
	rt := e.sim.IssueRefreshToken(seller)
	secrets := []string{clientSecret, code, rt}
	var errs []error
	collect := func(tok lwa.Tokens, err error) {
		if err != nil {
			errs = append(errs, err)
		}
		if !tok.AccessToken.IsZero() {
			secrets = append(secrets, tok.AccessToken.Reveal(), tok.RefreshToken.Reveal())
		}
	}

	collect(e.client.ExchangeCode(ctx, code, redirectURI))
	collect(e.client.ExchangeCode(ctx, code, redirectURI)) // replay
	e.sim.InjectFaults(amazonsim.AnyGrant, amazonsim.Unavailable(), 3)
	collect(e.client.Refresh(ctx, secret.Value(rt)))
	e.sim.InjectFault(amazonsim.AnyGrant, amazonsim.Throttled())
	collect(e.client.Refresh(ctx, secret.Value(rt)))
	e.sim.Revoke(rt)
	collect(e.client.Refresh(ctx, secret.Value(rt)))
	e.sim.SetClientSecrets("amzn1.oa2-cs.v1.someone-else")
	collect(e.client.ClientCredentials(ctx, rotation))

	hostile := newClient(echo.URL, e.logs, nil)
	collect(hostile.Refresh(ctx, secret.Value(rt)))
	collect(hostile.ExchangeCode(ctx, code, redirectURI))

	if len(errs) < 6 {
		t.Fatalf("only %d failures collected", len(errs))
	}
	logs := e.logs.String()
	if !strings.Contains(logs, "retrying") {
		t.Fatalf("no retry was logged: %s", logs)
	}
	var shown []string
	for _, err := range errs {
		shown = append(shown, err.Error(), fmt.Sprintf("%v %+v %#v", err, err, err))
	}
	shown = append(shown, logs)
	for _, s := range secrets {
		for _, text := range shown {
			if s != "" && strings.Contains(text, s) {
				t.Errorf("a secret value appears in: %s", text)
			}
		}
	}
	if le := lwaError(t, errs[len(errs)-1]); !strings.Contains(le.Description, "[redacted]") {
		t.Errorf("echoed description was not masked: %q", le.Description)
	}
}
