package refresh_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spapi-auth-keeper/keeper/infra/amazonsim"
	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/refresh"
)

// TestRefreshTakesAMissingFingerprint: a seller connection without an account
// fingerprint (authorized before fingerprints were taken, or SP-API failed then) gets
// one at its next successful refresh, so its next renewal is checked against the
// account. One that has a fingerprint keeps it; a vendor account (no Sellers API) is
// not asked; an SP-API failure does not fail the refresh, and the next refresh tries
// again.
func TestRefreshTakesAMissingFingerprint(t *testing.T) {
	t.Parallel()
	kept := authz.Account{StoreName: "Kept Store", MarketplaceIDs: []string{"A1PA6795UKMFR9"}, TakenAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	for _, tc := range []struct {
		name      string
		tweak     func(*authz.Authorization)
		fault     bool // SP-API refuses the first call
		wantCalls int  // Sellers API calls over the two refreshes
		wantTaken []bool
		want      func(s seededAccount) authz.Account // the fingerprint after both refreshes; zero for none
	}{
		{name: "seller without a fingerprint", wantCalls: 1, wantTaken: []bool{true, false},
			want: func(s seededAccount) authz.Account { return authz.Account{StoreName: "Store " + s.seller} }},
		{name: "SP-API fails, the next refresh takes it", fault: true, wantCalls: 2, wantTaken: []bool{false, true},
			want: func(s seededAccount) authz.Account { return authz.Account{StoreName: "Store " + s.seller} }},
		{name: "seller with a fingerprint", tweak: func(a *authz.Authorization) { a.Account = kept }, wantCalls: 0, wantTaken: []bool{false, false},
			want: func(seededAccount) authz.Account { return kept }},
		{name: "vendor account", tweak: func(a *authz.Authorization) { a.AccountType = authz.AccountVendor }, wantCalls: 0, wantTaken: []bool{false, false},
			want: func(seededAccount) authz.Account { return authz.Account{} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			var tweaks []func(*authz.Authorization)
			if tc.tweak != nil {
				tweaks = append(tweaks, tc.tweak)
			}
			s := e.seed("fp-conn", authz.StatusActive, 24*time.Hour, tweaks...)
			if tc.fault {
				e.Sim.InjectFault(amazonsim.FaultSellers, amazonsim.Forbidden())
			}
			for i := range 2 {
				// A day apart, so that each is a proof of life due.
				e.Clock.Advance(25 * time.Hour)
				o := e.refresh("fp-conn")
				if o.Result != refresh.ResultRefreshed || o.Retry {
					t.Fatalf("refresh %d = %+v; want refreshed, whatever SP-API said", i+1, o)
				}
				if o.FingerprintTaken != tc.wantTaken[i] {
					t.Errorf("refresh %d: fingerprint taken = %v, want %v", i+1, o.FingerprintTaken, tc.wantTaken[i])
				}
			}
			if got := e.Sim.SellersCalls(); got != tc.wantCalls {
				t.Errorf("Sellers API calls = %d, want %d", got, tc.wantCalls)
			}
			got := e.record("fp-conn").Account
			want := tc.want(seededAccount{seller: s.seller})
			switch {
			case want.IsZero() && !got.IsZero():
				t.Errorf("fingerprint = %+v, want none", got)
			case !want.IsZero() && (got.StoreName != want.StoreName || len(got.MarketplaceIDs) == 0 || got.TakenAt.IsZero()):
				t.Errorf("fingerprint = %+v, want store %q with its marketplaces", got, want.StoreName)
			case !want.TakenAt.IsZero() && (!got.TakenAt.Equal(want.TakenAt) || !slices.Equal(got.MarketplaceIDs, want.MarketplaceIDs)):
				t.Errorf("fingerprint = %+v, want the one on record kept: %+v", got, want)
			}
			if tc.fault && !strings.Contains(e.Logs.String(), "account fingerprint not taken; the next refresh tries again") {
				t.Errorf("the SP-API failure is not logged:\n%s", e.Logs.String())
			}
			e.wantNoSecretsLogged("fp-conn")
		})
	}
}

type seededAccount struct{ seller string }
