package tokensource_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spapi-auth-keeper/keeper/infra/amazonsim"
	"github.com/spapi-auth-keeper/keeper/infra/secretsemu"
	"github.com/spapi-auth-keeper/keeper/infra/testenv"
	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/lwa"
	"github.com/spapi-auth-keeper/keeper/shared/secret"
	"github.com/spapi-auth-keeper/keeper/shared/tokensource"
	"github.com/spapi-auth-keeper/keeper/shared/vault"
)

const (
	clientID     = "amzn1.application-oa2-client.tokensourcetest"
	clientSecret = "amzn1.oa2-cs.v1.tokensource-client-secret"
	seller       = "A1TOKENSOURCE"
	conn         = "acme-de"
)

// env is a consumer's world: the keeper's vault on the Secrets Manager emulator and
// LWA simulated, sharing one clock.
type env struct {
	ctx     context.Context
	clock   *testenv.Clock
	sim     *amazonsim.Sim
	emu     *secretsemu.Server
	vault   *vault.Vault
	writer  *vault.Vault
	lwa     *lwa.Client
	secrets func() int // GetSecretValue calls so far
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{ctx: context.Background(), clock: testenv.NewClock(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC))}
	e.sim = amazonsim.New(amazonsim.Config{ClientID: clientID, ClientSecret: clientSecret, Clock: e.clock.Now})
	srv := httptest.NewServer(e.sim)
	t.Cleanup(srv.Close)
	sm, emu := testenv.SecretsManagerInProcess(t)
	e.emu = emu
	prefix := testenv.Prefix(t)
	e.vault = vault.New(sm, prefix, "")
	e.writer = vault.New(sm, prefix, "") // the keeper's callback: its reads before writing are not the consumer's
	e.lwa = lwa.NewClient(lwa.Config{
		Endpoint:    srv.URL + "/auth/o2/token",
		Credentials: lwa.StaticCredentials{ClientID: clientID, ClientSecret: secret.Value(clientSecret)},
		MaxAttempts: 2, BaseDelay: time.Millisecond, MaxDelay: 2 * time.Millisecond,
	})
	e.secrets = func() int { return emu.Calls("GetSecretValue") - int(e.writer.Counters().SecretReads) }
	return e
}

// authorize stores a fresh refresh token for conn, as the keeper's callback does.
func (e *env) authorize(t *testing.T) string {
	t.Helper()
	token := e.sim.IssueRefreshToken(seller)
	if _, err := e.writer.Put(e.ctx, conn, authz.RegionEU, vault.RefreshToken{
		Token: secret.Value(token), SellingPartnerID: seller, Region: authz.RegionEU, AuthorizedAt: e.clock.Now(),
	}); err != nil {
		t.Fatal(err)
	}
	return token
}

func (e *env) cache() *tokensource.Cache {
	return tokensource.New(e.vault, e.lwa, tokensource.WithClock(e.clock.Now))
}

func wantValid(t *testing.T, e *env, tok secret.Value) {
	t.Helper()
	if got, ok := e.sim.AccessTokenSeller(tok.Reveal()); !ok || got != seller {
		t.Fatalf("token is not a valid access token of %s (seller %q, valid %v)", seller, got, ok)
	}
}

func TestTokenIsCachedUntilShortlyBeforeExpiry(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		after       time.Duration
		wantRefresh int
	}{
		{"same token within the hour", 30 * time.Minute, 1},
		{"still cached just before the early margin", time.Hour - tokensource.DefaultEarly - time.Second, 1},
		{"replaced inside the early margin", time.Hour - tokensource.DefaultEarly, 2},
		{"replaced after expiry", 2 * time.Hour, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.authorize(t)
			c := e.cache()
			first, err := c.Token(e.ctx, conn, authz.RegionEU)
			if err != nil {
				t.Fatal(err)
			}
			wantValid(t, e, first)
			e.clock.Advance(tc.after)
			second, err := c.Token(e.ctx, conn, authz.RegionEU)
			if err != nil {
				t.Fatal(err)
			}
			wantValid(t, e, second)
			if got := e.sim.Refreshes(); got != tc.wantRefresh {
				t.Fatalf("LWA refreshes = %d, want %d", got, tc.wantRefresh)
			}
			if same := first == second; same != (tc.wantRefresh == 1) {
				t.Fatalf("second token same as first = %v, want %v", same, tc.wantRefresh == 1)
			}
			if got := e.secrets(); got != 1 {
				t.Fatalf("secret read %d times, want 1 (the refresh token is kept in memory)", got)
			}
		})
	}
}

// TestRenewalIsPickedUpWithoutRestart is the seed's complaint: after a seller renews,
// the consumer must use the new refresh token without being restarted.
func TestRenewalIsPickedUpWithoutRestart(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	old := e.authorize(t)
	c := e.cache()
	if _, err := c.Token(e.ctx, conn, authz.RegionEU); err != nil {
		t.Fatal(err)
	}
	// The seller's authorization lapses and they renew it: LWA refuses the old token
	// (simulated by revoking it), and the keeper's callback stores the new one.
	e.sim.Revoke(old)
	e.clock.Advance(2 * time.Hour)
	e.authorize(t)

	tok, err := c.Token(e.ctx, conn, authz.RegionEU)
	if err != nil {
		t.Fatalf("after renewal: %v", err)
	}
	wantValid(t, e, tok)
	if got := e.secrets(); got != 2 {
		t.Fatalf("secret read %d times, want 2 (once at start, once on invalid_grant)", got)
	}
	if got := e.sim.Refreshes(); got != 3 {
		t.Fatalf("LWA refreshes = %d, want 3 (first token, refused old token, new token)", got)
	}
}

func TestRevokedAuthorizationFailsAfterOneReread(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	old := e.authorize(t)
	c := e.cache()
	if _, err := c.Token(e.ctx, conn, authz.RegionEU); err != nil {
		t.Fatal(err)
	}
	e.sim.Revoke(old)
	e.clock.Advance(2 * time.Hour)

	_, err := c.Token(e.ctx, conn, authz.RegionEU)
	if !errors.Is(err, lwa.ErrInvalidGrant) {
		t.Fatalf("err = %v, want lwa.ErrInvalidGrant", err)
	}
	if strings.Contains(err.Error(), old) || strings.Contains(err.Error(), clientSecret) {
		t.Fatalf("error text holds a secret: %v", err)
	}
	if got := e.secrets(); got != 2 {
		t.Fatalf("secret read %d times, want 2", got)
	}
	// The same token from the vault is not tried twice.
	if got := e.sim.Refreshes(); got != 2 {
		t.Fatalf("LWA refreshes = %d, want 2", got)
	}
	// A later call reads the vault again only after another invalid_grant with the
	// token it holds; nothing is cached for a refused authorization.
	if _, err := c.Token(e.ctx, conn, authz.RegionEU); !errors.Is(err, lwa.ErrInvalidGrant) {
		t.Fatalf("second call: %v", err)
	}
}

func TestFreshlyReadTokenRefusedIsNotReadAgain(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.sim.Revoke(e.authorize(t))
	_, err := e.cache().Token(e.ctx, conn, authz.RegionEU)
	if !errors.Is(err, lwa.ErrInvalidGrant) {
		t.Fatalf("err = %v, want lwa.ErrInvalidGrant", err)
	}
	if got := e.secrets(); got != 1 {
		t.Fatalf("secret read %d times, want 1: the token just read is the vault's", got)
	}
}

func TestErrorsKeepTheirKind(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		setup func(t *testing.T, e *env)
		want  error
	}{
		{"no secret", func(t *testing.T, e *env) {}, vault.ErrNotFound},
		{"LWA unavailable", func(t *testing.T, e *env) {
			e.authorize(t)
			e.sim.InjectFaults(amazonsim.GrantRefreshToken, amazonsim.Unavailable(), 2)
		}, lwa.ErrUnavailable},
		{"LWA throttles", func(t *testing.T, e *env) {
			e.authorize(t)
			e.sim.InjectFaults(amazonsim.GrantRefreshToken, amazonsim.Throttled(), 2)
		}, lwa.ErrThrottled},
		{"client credentials refused", func(t *testing.T, e *env) {
			e.authorize(t)
			e.sim.InjectFault(amazonsim.GrantRefreshToken, amazonsim.InvalidClient())
		}, lwa.ErrClient},
		{"Secrets Manager down", func(t *testing.T, e *env) {
			e.emu.FailNext("GetSecretValue", 3, "InternalServiceError")
		}, vault.ErrUnavailable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			tc.setup(t, e)
			c := e.cache()
			_, err := c.Token(e.ctx, conn, authz.RegionEU)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if errors.Is(err, lwa.ErrInvalidGrant) {
				t.Fatalf("%v must not read as invalid_grant", err)
			}
		})
	}
}

func TestConcurrentCallersShareOneRefresh(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.authorize(t)
	e.sim.SetLatency(20 * time.Millisecond)
	c := e.cache()
	var wg sync.WaitGroup
	tokens := make([]secret.Value, 16)
	errs := make([]error, len(tokens))
	for i := range tokens {
		wg.Go(func() { tokens[i], errs[i] = c.Token(e.ctx, conn, authz.RegionEU) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
		if tokens[i] != tokens[0] {
			t.Fatalf("caller %d got another token", i)
		}
	}
	if got := e.sim.Refreshes(); got != 1 {
		t.Fatalf("LWA refreshes = %d, want 1", got)
	}
}

func TestForgetRereadsTheSecret(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.authorize(t)
	c := e.cache()
	first, err := c.Token(e.ctx, conn, authz.RegionEU)
	if err != nil {
		t.Fatal(err)
	}
	c.Forget(conn, authz.RegionEU)
	second, err := c.Token(e.ctx, conn, authz.RegionEU)
	if err != nil {
		t.Fatal(err)
	}
	if first == second || e.secrets() != 2 {
		t.Fatalf("after Forget: new token %v, secret reads %d; want a new token and 2 reads", first != second, e.secrets())
	}
}
