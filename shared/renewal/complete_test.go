package renewal_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/renewal"
)

func ptr(a authz.Account) *authz.Account { return &a }

// TestCompleteDecisions walks the callback's decisions one case at a time: what is
// refused before LWA is called, what the evidence rule (authz.Admit) lets through,
// and where a token goes when the vault or SP-API fails.
func TestCompleteDecisions(t *testing.T) {
	t.Parallel()
	verifiedA := account(sellerA, "Acme Store", true)
	tests := []struct {
		name      string
		setup     func(w *world) (s started, seller string, evidence *authz.Account)
		conn      string
		wantErr   error
		wantKinds []authz.EventKind // history of conn includes these
		stored    bool              // the new token is in the vault and the record renewed
		parked    bool
		exchanges int
	}{
		{name: "link renewal, SP-API names the seller on record", conn: "acme", stored: true, exchanges: 1,
			wantKinds: []authz.EventKind{authz.EventRenewed},
			setup: func(w *world) (started, string, *authz.Account) {
				w.active("acme", sellerA, verifiedA)
				return w.follow("acme"), sellerA, ptr(verifiedA)
			}},
		{name: "first authorization of a pending connection from the vendor's link", conn: "newco", stored: true, exchanges: 1,
			wantKinds: []authz.EventKind{authz.EventAuthorized},
			setup: func(w *world) (started, string, *authz.Account) {
				w.pending("newco")
				return w.follow("newco"), sellerA, ptr(account(sellerA, "New Co", false))
			}},
		{name: "link renewal of a record without fingerprint: the stored token's is taken", conn: "acme", stored: true, exchanges: 1,
			wantKinds: []authz.EventKind{authz.EventRenewed},
			setup: func(w *world) (started, string, *authz.Account) {
				w.active("acme", sellerA, authz.Account{})
				return w.follow("acme"), sellerA, ptr(verifiedA)
			}},
		{name: "another seller answers than the one on record", conn: "acme", wantErr: renewal.ErrSellerMismatch,
			wantKinds: []authz.EventKind{authz.EventMismatchedSeller},
			setup: func(w *world) (started, string, *authz.Account) {
				w.active("acme", sellerA, verifiedA)
				return w.follow("acme"), sellerB, ptr(account(sellerB, "Other", true))
			}},
		{name: "the new token is another store (fingerprint differs)", conn: "acme", wantErr: renewal.ErrAccountMismatch, exchanges: 1,
			wantKinds: []authz.EventKind{authz.EventAccountMismatch},
			setup: func(w *world) (started, string, *authz.Account) {
				w.active("acme", sellerA, account(sellerA, "Acme Store", false))
				return w.follow("acme"), sellerA, ptr(account("", "Look-alike Store", false))
			}},
		{name: "SP-API verifies another seller id than the redirect named", conn: "acme", wantErr: renewal.ErrAccountMismatch, exchanges: 1,
			wantKinds: []authz.EventKind{authz.EventAccountMismatch},
			setup: func(w *world) (started, string, *authz.Account) {
				w.active("acme", sellerA, verifiedA)
				return w.follow("acme"), sellerA, ptr(account(sellerB, "Acme Store", true))
			}},
		{name: "Login URI renewal on a store name alone", conn: "acme", wantErr: renewal.ErrAccountUnverified, exchanges: 1,
			wantKinds: []authz.EventKind{authz.EventAccountUnverified},
			setup: func(w *world) (started, string, *authz.Account) {
				w.active("acme", sellerA, account(sellerA, "Acme Store", false))
				return w.login(sellerA), sellerA, ptr(account(sellerA, "Acme Store", false))
			}},
		{name: "Login URI renewal with the seller id verified", conn: "acme", stored: true, exchanges: 1,
			wantKinds: []authz.EventKind{authz.EventRenewed},
			setup: func(w *world) (started, string, *authz.Account) {
				w.active("acme", sellerA, verifiedA)
				return w.login(sellerA), sellerA, ptr(verifiedA)
			}},
		{name: "seller already bound to another connection", conn: "newco", wantErr: renewal.ErrSellerBound,
			wantKinds: []authz.EventKind{authz.EventSellerConflict},
			setup: func(w *world) (started, string, *authz.Account) {
				w.active("acme", sellerA, verifiedA)
				w.pending("newco")
				return w.follow("newco"), sellerA, ptr(verifiedA)
			}},
		{name: "vault fails: the verified token is parked", conn: "acme", wantErr: renewal.ErrParked, parked: true, exchanges: 1,
			wantKinds: []authz.EventKind{authz.EventTokenParked},
			setup: func(w *world) (started, string, *authz.Account) {
				w.active("acme", sellerA, verifiedA)
				w.vault.putErr = errors.New("secrets manager throttled")
				return w.follow("acme"), sellerA, ptr(verifiedA)
			}},
		{name: "SP-API fails: the token is parked until it can be verified", conn: "acme", wantErr: renewal.ErrParked, parked: true, exchanges: 1,
			wantKinds: []authz.EventKind{authz.EventTokenParked},
			setup: func(w *world) (started, string, *authz.Account) {
				w.active("acme", sellerA, verifiedA)
				s := w.follow("acme")
				w.sp.err = errors.New("spapi: unavailable")
				return s, sellerA, ptr(verifiedA)
			}},
		{name: "SP-API fails on the vendor's link with nothing on record: stored", conn: "newco", stored: true, exchanges: 1,
			wantKinds: []authz.EventKind{authz.EventAuthorized},
			setup: func(w *world) (started, string, *authz.Account) {
				w.pending("newco")
				w.sp.err = errors.New("spapi: unavailable")
				return w.follow("newco"), sellerA, nil
			}},
		{name: "LWA rejects the code", conn: "acme", wantErr: renewal.ErrCodeRejected, exchanges: 1,
			setup: func(w *world) (started, string, *authz.Account) {
				w.active("acme", sellerA, verifiedA)
				w.lwa.exchangeErr = authz.Classified(authz.ErrInvalidGrant, errors.New("invalid_grant: code expired"))
				return w.follow("acme"), sellerA, ptr(verifiedA)
			}},
		{name: "LWA rejects the vendor's client", conn: "acme", wantErr: renewal.ErrVendorCredentials, exchanges: 1,
			setup: func(w *world) (started, string, *authz.Account) {
				w.active("acme", sellerA, verifiedA)
				w.lwa.exchangeErr = authz.Classified(authz.ErrClientRejected, errors.New("invalid_client"))
				return w.follow("acme"), sellerA, ptr(verifiedA)
			}},
		{name: "neither the vault nor the parking takes the token", conn: "acme", wantErr: renewal.ErrUnavailable, exchanges: 1,
			setup: func(w *world) (started, string, *authz.Account) {
				w.active("acme", sellerA, verifiedA)
				w.vault.putErr = errors.New("secrets manager down")
				w.sealer.broken = true
				return w.follow("acme"), sellerA, ptr(verifiedA)
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			s, seller, evidence := tt.setup(w)
			before := w.ledger.record(t, tt.conn)
			oldToken := w.vault.token(tt.conn)
			code, newToken := w.consent(evidence)
			res, err := w.complete(s, seller, code)
			if tt.wantErr == nil && err != nil || !errors.Is(err, tt.wantErr) {
				t.Fatalf("Complete = %v, want %v", err, tt.wantErr)
			}
			if w.lwa.exchanges != tt.exchanges {
				t.Errorf("LWA exchanges = %d, want %d", w.lwa.exchanges, tt.exchanges)
			}
			after := w.ledger.record(t, tt.conn)
			switch got := w.vault.token(tt.conn); {
			case tt.stored && got != newToken:
				t.Errorf("vault holds %q, want the new token", got)
			case !tt.stored && got != oldToken:
				t.Errorf("vault holds %q, want it unchanged (%q)", got, oldToken)
			}
			if tt.stored {
				if after.Status != authz.StatusActive || !after.ExpiresAt.Equal(t0.Add(authz.Lifetime)) || after.SellingPartnerID != seller ||
					after.LinkGeneration != before.LinkGeneration+1 || after.SecretID == "" {
					t.Errorf("record after renewal: %+v", after)
				}
				if res.Authorization.Version != after.Version || res.Kind != tt.wantKinds[0] {
					t.Errorf("result %s v%d, want %s v%d", res.Kind, res.Authorization.Version, tt.wantKinds[0], after.Version)
				}
				if bound, _ := w.ledger.SellerBinding(context.Background(), authz.RegionEU, seller); bound != tt.conn {
					t.Errorf("seller bound to %q, want %q", bound, tt.conn)
				}
			} else if after.Version != before.Version || !after.ExpiresAt.Equal(before.ExpiresAt) {
				t.Errorf("record changed: %+v, was %+v", after, before)
			}
			p, parked := w.ledger.parkedOf(tt.conn)
			if parked != tt.parked {
				t.Fatalf("parked = %v, want %v", parked, tt.parked)
			}
			if parked && strings.Contains(string(p.Ciphertext), newToken) {
				t.Error("the parked item holds the token in clear")
			}
			for _, k := range tt.wantKinds {
				if !slices.Contains(w.ledger.kinds(tt.conn), k) {
					t.Errorf("history of %s = %v, want %s", tt.conn, w.ledger.kinds(tt.conn), k)
				}
			}
			w.noSecretIn(newToken, oldToken, code)
		})
	}
}

// TestCompleteParksWhatOnlySPAPICouldVerify: a parked token remembers whether its
// account was checked, so that the repair checks it where the callback could not.
func TestCompleteParksWhatOnlySPAPICouldVerify(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		vaultDown    bool
		spapiDown    bool
		wantVerified bool
	}{
		{"vault down, evidence matched", true, false, true},
		{"SP-API down", false, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			w.active("acme", sellerA, account(sellerA, "Acme Store", true))
			s := w.follow("acme")
			code, _ := w.consent(ptr(account(sellerA, "Acme Store", true)))
			if tt.vaultDown {
				w.vault.putErr = errors.New("throttled")
			}
			if tt.spapiDown {
				w.sp.err = errors.New("spapi: unavailable")
			}
			if _, err := w.complete(s, sellerA, code); !errors.Is(err, renewal.ErrParked) {
				t.Fatalf("Complete = %v, want ErrParked", err)
			}
			p, _ := w.ledger.parkedOf("acme")
			if p.Verified != tt.wantVerified || p.Origin != authz.OriginLink || p.SellingPartnerID != sellerA {
				t.Errorf("parked: verified %v origin %s seller %s, want verified %v, link, %s", p.Verified, p.Origin, p.SellingPartnerID, tt.wantVerified, sellerA)
			}
		})
	}
}

// TestCompleteClaimsTheBindingBeforeTheVaultWrite: a seller bound to another
// connection between the check and the write is refused with the vault untouched.
func TestCompleteClaimsTheBindingBeforeTheVaultWrite(t *testing.T) {
	t.Parallel()
	t.Run("the order of writes", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t)
		w.pending("newco")
		s := w.follow("newco")
		code, _ := w.consent(ptr(account(sellerA, "New Co", true)))
		if _, err := w.complete(s, sellerA, code); err != nil {
			t.Fatal(err)
		}
		if want := []string{"claim", "vault", "record"}; !slices.Equal(w.calls, want) {
			t.Errorf("writes = %v, want %v", w.calls, want)
		}
	})
	t.Run("bound elsewhere meanwhile", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t)
		w.pending("newco")
		s := w.follow("newco")
		code, _ := w.consent(ptr(account(sellerA, "New Co", true)))
		w.ledger.onClaim = func() {
			w.ledger.mu.Lock()
			w.ledger.bindings["eu#"+sellerA] = "raced"
			w.ledger.mu.Unlock()
		}
		if _, err := w.complete(s, sellerA, code); !errors.Is(err, renewal.ErrSellerBound) {
			t.Fatalf("Complete = %v, want ErrSellerBound", err)
		}
		if slices.Contains(w.calls, "vault") || w.vault.token("newco") != "" {
			t.Errorf("the vault was written: %v", w.calls)
		}
		if a := w.ledger.record(t, "newco"); a.Status != authz.StatusPending {
			t.Errorf("record: %+v", a)
		}
		if !slices.Contains(w.ledger.kinds("raced"), authz.EventSellerConflict) {
			t.Errorf("history of the connection holding the seller: %v", w.ledger.kinds("raced"))
		}
	})
	t.Run("the claim fails: the token is parked", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t)
		w.pending("newco")
		s := w.follow("newco")
		code, _ := w.consent(ptr(account(sellerA, "New Co", true)))
		w.ledger.claimErr = authz.ErrStoreUnavailable
		if _, err := w.complete(s, sellerA, code); !errors.Is(err, renewal.ErrParked) {
			t.Fatalf("Complete = %v, want ErrParked", err)
		}
		if slices.Contains(w.calls, "vault") {
			t.Errorf("the vault was written: %v", w.calls)
		}
	})
}

// TestCompleteRetriesAConcurrentRecordWrite: a refresh or a reminder claim that moved
// the record's version on does not lose the renewal.
func TestCompleteRetriesAConcurrentRecordWrite(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.active("acme", sellerA, account(sellerA, "Acme Store", true))
	s := w.follow("acme")
	code, tok := w.consent(ptr(account(sellerA, "Acme Store", true)))
	w.ledger.conflicts = 2
	res, err := w.complete(s, sellerA, code)
	if err != nil {
		t.Fatal(err)
	}
	if res.Kind != authz.EventRenewed || w.vault.token("acme") != tok || w.ledger.record(t, "acme").Status != authz.StatusActive {
		t.Errorf("after conflicts: %+v", res.Authorization)
	}
}

func TestCompleteRefusesAReplayedOrExpiredState(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		run     func(w *world, s started) error
		wantErr error
		wantEx  int
	}{
		{"replayed", func(w *world, s started) error {
			code, _ := w.consent(ptr(account(sellerA, "Acme Store", true)))
			if _, err := w.complete(s, sellerA, code); err != nil {
				w.t.Fatal(err)
			}
			code, _ = w.consent(ptr(account(sellerA, "Acme Store", true)))
			_, err := w.complete(s, sellerA, code)
			return err
		}, renewal.ErrStateReplayed, 1},
		{"expired", func(w *world, s started) error {
			w.now = w.now.Add(16 * time.Minute)
			code, _ := w.consent(ptr(account(sellerA, "Acme Store", true)))
			_, err := w.complete(s, sellerA, code)
			return err
		}, renewal.ErrStateExpired, 0},
		{"forged", func(w *world, s started) error {
			code, _ := w.consent(nil)
			_, err := w.complete(started{state: s.state[:len(s.state)-2] + "xx", binding: s.binding}, sellerA, code)
			return err
		}, renewal.ErrStateInvalid, 0},
		{"declined on Amazon's page", func(w *world, s started) error {
			_, err := w.svc.Complete(context.Background(), renewal.CallbackRequest{State: s.state, Error: "access_denied", BrowserBindings: []string{s.binding}})
			return err
		}, renewal.ErrDeclined, 0},
		{"no code", func(w *world, s started) error {
			_, err := w.complete(s, sellerA, "")
			return err
		}, renewal.ErrMissingParameter, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			w.active("acme", sellerA, account(sellerA, "Acme Store", true))
			if err := tt.run(w, w.follow("acme")); !errors.Is(err, tt.wantErr) {
				t.Fatalf("Complete = %v, want %v", err, tt.wantErr)
			}
			if w.lwa.exchanges != tt.wantEx {
				t.Errorf("LWA exchanges = %d, want %d", w.lwa.exchanges, tt.wantEx)
			}
		})
	}
}

// TestCompleteNeedsTheBrowserThatStartedIt: a consent URL forwarded to another
// browser consumes nothing; the browser that started it can still finish.
func TestCompleteNeedsTheBrowserThatStartedIt(t *testing.T) {
	t.Parallel()
	for _, presented := range [][]string{nil, {"someone-elses-binding"}} {
		w := newWorld(t)
		w.active("acme", sellerA, account(sellerA, "Acme Store", true))
		s := w.follow("acme")
		code, tok := w.consent(ptr(account(sellerA, "Acme Store", true)))
		_, err := w.svc.Complete(context.Background(), renewal.CallbackRequest{State: s.state, SellingPartnerID: sellerA, Code: code, BrowserBindings: presented})
		if !errors.Is(err, renewal.ErrBrowserMismatch) || w.lwa.exchanges != 0 {
			t.Fatalf("bindings %v: Complete = %v after %d exchanges, want ErrBrowserMismatch before any", presented, err, w.lwa.exchanges)
		}
		if _, err := w.complete(s, sellerA, code); err != nil || w.vault.token("acme") != tok {
			t.Fatalf("the starting browser: Complete = %v", err)
		}
	}
}

// TestCompleteRestoresTheStateWhenLWAIsDown: Amazon most likely did not redeem the
// code; reloading the callback works once LWA answers again.
func TestCompleteRestoresTheStateWhenLWAIsDown(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.active("acme", sellerA, account(sellerA, "Acme Store", true))
	s := w.follow("acme")
	code, tok := w.consent(ptr(account(sellerA, "Acme Store", true)))
	w.lwa.exchangeErr = errors.New("lwa: unavailable (503)")
	if _, err := w.complete(s, sellerA, code); !errors.Is(err, renewal.ErrUnavailable) {
		t.Fatalf("Complete = %v, want ErrUnavailable", err)
	}
	w.lwa.exchangeErr = nil
	if _, err := w.complete(s, sellerA, code); err != nil {
		t.Fatalf("reload: %v", err)
	}
	if w.vault.token("acme") != tok {
		t.Error("the reload did not store the token")
	}
}

// TestCompleteOnboarding: an unknown seller from the Login URI is connected only with
// self-service onboarding on and its seller id verified by SP-API.
func TestCompleteOnboarding(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		selfService bool
		evidence    authz.Account
		wantErr     error
	}{
		{"self-service, verified seller id", true, account(sellerB, "B Store", true), nil},
		{"self-service, store name only", true, account(sellerB, "B Store", false), renewal.ErrAccountUnverified},
		{"self-service off", false, account(sellerB, "B Store", true), renewal.ErrUnknownSeller},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, func(c *renewal.Config) { c.SelfServiceOnboarding = tt.selfService })
			s := w.login(sellerB)
			code, tok := w.consent(&tt.evidence)
			res, err := w.complete(s, sellerB, code)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("Complete = %v, want %v", err, tt.wantErr)
			}
			a, gerr := w.ledger.Get(context.Background(), "sp-"+sellerB, authz.RegionEU)
			if tt.wantErr != nil {
				if gerr == nil || w.vault.token("sp-"+sellerB) != "" {
					t.Errorf("a connection was made: %+v", a)
				}
				return
			}
			if a.Status != authz.StatusActive || a.SellingPartnerID != sellerB || res.Kind != authz.EventAuthorized || w.vault.token("sp-"+sellerB) != tok {
				t.Errorf("onboarded: %+v (%s)", a, res.Kind)
			}
			if !slices.Contains(w.ledger.kinds("sp-"+sellerB), authz.EventCreated) {
				t.Errorf("history: %v", w.ledger.kinds("sp-"+sellerB))
			}
		})
	}
}
