package tokensource_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/secret"
	"github.com/spapi-auth-keeper/keeper/shared/tokensource"
	"github.com/spapi-auth-keeper/keeper/shared/vault"
)

// authorizeConn stores a fresh refresh token for connection id, as the callback does.
func (e *env) authorizeConn(t *testing.T, id string) {
	t.Helper()
	if _, err := e.vault.Put(e.ctx, id, authz.RegionEU, vault.RefreshToken{
		Token: secret.Value(e.sim.IssueRefreshToken(seller)), SellingPartnerID: seller, Region: authz.RegionEU, AuthorizedAt: e.clock.Now(),
	}); err != nil {
		t.Fatal(err)
	}
}

func TestCacheIsBoundedLeastRecentlyUsedFirst(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		max         int
		calls       []string // connections asked for, in order
		wantLen     int
		wantReads   int // GetSecretValue calls
		wantRefresh int // LWA calls
	}{
		{"under the bound everything stays", 3, []string{"a", "b", "c", "a", "b", "c"}, 3, 3, 3},
		{"the least recently used goes first", 2, []string{"a", "b", "c", "b"}, 2, 3, 3},
		{"a recent use keeps an entry", 2, []string{"a", "b", "a", "c", "a"}, 2, 3, 3},
		{"an evicted entry is read again", 2, []string{"a", "b", "c", "a"}, 2, 4, 4},
		{"a bound of one", 1, []string{"a", "a", "b", "a"}, 1, 3, 3},
		{"a bound below one means one", 0, []string{"a", "a"}, 1, 1, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			for _, id := range []string{"a", "b", "c"} {
				e.authorizeConn(t, id)
			}
			// The vault reads before it writes (compare before write): count only the
			// reads the token source makes.
			seeded := e.secrets()
			c := tokensource.New(e.vault, e.lwa, tokensource.WithClock(e.clock.Now), tokensource.WithMaxEntries(tc.max))
			for _, id := range tc.calls {
				tok, err := c.Token(e.ctx, id, authz.RegionEU)
				if err != nil {
					t.Fatal(err)
				}
				wantValid(t, e, tok)
			}
			if got := c.Len(); got != tc.wantLen {
				t.Errorf("Len = %d, want %d", got, tc.wantLen)
			}
			if got := e.secrets() - seeded; got != tc.wantReads {
				t.Errorf("secret reads = %d, want %d", got, tc.wantReads)
			}
			if got := e.sim.Refreshes(); got != tc.wantRefresh {
				t.Errorf("LWA refreshes = %d, want %d", got, tc.wantRefresh)
			}
		})
	}
}

func TestExpiredEntriesAreDropped(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, id := range []string{"a", "b", "c"} {
		e.authorizeConn(t, id)
	}
	c := tokensource.New(e.vault, e.lwa, tokensource.WithClock(e.clock.Now))
	for _, id := range []string{"a", "b"} {
		if _, err := c.Token(e.ctx, id, authz.RegionEU); err != nil {
			t.Fatal(err)
		}
	}
	e.clock.Advance(30 * time.Minute)
	if _, err := c.Token(e.ctx, "c", authz.RegionEU); err != nil {
		t.Fatal(err)
	}
	if got := c.Len(); got != 3 {
		t.Fatalf("Len = %d with every token still valid, want 3", got)
	}
	e.clock.Advance(time.Hour) // a's and b's tokens have expired; c's too
	if _, err := c.Token(e.ctx, "a", authz.RegionEU); err != nil {
		t.Fatal(err)
	}
	// a was found (and minted again) before anything was pruned: b and c stay until
	// a new authorization comes in.
	if got := c.Len(); got != 3 {
		t.Fatalf("Len = %d, want 3", got)
	}
	e.authorizeConn(t, "d")
	if _, err := c.Token(e.ctx, "d", authz.RegionEU); err != nil {
		t.Fatal(err)
	}
	if got := c.Len(); got != 2 {
		t.Fatalf("Len = %d after a new authorization came in, want 2 (a and d; b and c expired)", got)
	}
}

// TestBoundHoldsUnderConcurrency runs many callers over more authorizations than the
// cache holds (under -race): every caller gets a valid token, and the bound holds.
func TestBoundHoldsUnderConcurrency(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const conns, bound = 24, 5
	for i := range conns {
		e.authorizeConn(t, fmt.Sprintf("conn-%02d", i))
	}
	c := tokensource.New(e.vault, e.lwa, tokensource.WithClock(e.clock.Now), tokensource.WithMaxEntries(bound))
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for g := range errs {
		wg.Go(func() {
			for i := range 3 * conns {
				tok, err := c.Token(e.ctx, fmt.Sprintf("conn-%02d", (i*7+g)%conns), authz.RegionEU)
				if err != nil {
					errs[g] = err
					return
				}
				if _, ok := e.sim.AccessTokenSeller(tok.Reveal()); !ok {
					errs[g] = fmt.Errorf("caller %d got an invalid token", g)
					return
				}
				if n := c.Len(); n > bound {
					errs[g] = fmt.Errorf("Len = %d, above the bound %d", n, bound)
					return
				}
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}
