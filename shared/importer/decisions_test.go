package importer_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/importer"
	"github.com/spapi-auth-keeper/keeper/shared/secret"
)

// The importer's decisions on in-memory fakes: no emulator, only the ports the
// importer declares (ledger, vault, LWA, SP-API).

type fakeLedger struct {
	mu       sync.Mutex
	records  map[string]authz.Authorization
	bindings map[string]string
}

func newFakeLedger() *fakeLedger {
	return &fakeLedger{records: map[string]authz.Authorization{}, bindings: map[string]string{}}
}

func key(conn string, r authz.Region) string { return conn + "/" + string(r) }

func (l *fakeLedger) Get(_ context.Context, conn string, r authz.Region) (authz.Authorization, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	a, ok := l.records[key(conn, r)]
	if !ok {
		return authz.Authorization{}, authz.ErrNotFound
	}
	return a, nil
}

func (l *fakeLedger) put(a authz.Authorization, create, bind bool) (authz.Authorization, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	k := key(a.ConnectionID, a.Region)
	if _, ok := l.records[k]; ok && create {
		return authz.Authorization{}, authz.ErrAlreadyExists
	}
	if bind && a.SellingPartnerID != "" {
		bk := string(a.Region) + "#" + a.SellingPartnerID
		if other := l.bindings[bk]; other != "" && other != a.ConnectionID {
			return authz.Authorization{}, &authz.SellerBoundError{SellingPartnerID: a.SellingPartnerID, Region: a.Region, ConnectionID: other}
		}
		l.bindings[bk] = a.ConnectionID
	}
	a.Version++
	l.records[k] = a
	return a, nil
}

func (l *fakeLedger) Create(_ context.Context, a authz.Authorization, _ ...authz.Event) (authz.Authorization, error) {
	return l.put(a, true, false)
}
func (l *fakeLedger) Update(_ context.Context, a authz.Authorization, _ ...authz.Event) (authz.Authorization, error) {
	return l.put(a, false, false)
}
func (l *fakeLedger) CreateBound(_ context.Context, a authz.Authorization, _ time.Time, _ ...authz.Event) (authz.Authorization, error) {
	return l.put(a, true, true)
}
func (l *fakeLedger) UpdateBound(_ context.Context, a authz.Authorization, _ time.Time, _ ...authz.Event) (authz.Authorization, error) {
	return l.put(a, false, true)
}
func (l *fakeLedger) SellerBinding(_ context.Context, r authz.Region, seller string) (string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.bindings[string(r)+"#"+seller], nil
}
func (l *fakeLedger) FindBySeller(_ context.Context, seller string) ([]authz.Authorization, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []authz.Authorization
	for _, a := range l.records {
		if a.SellingPartnerID == seller {
			out = append(out, a)
		}
	}
	return out, nil
}

type fakeVault struct {
	mu     sync.Mutex
	tokens map[string]authz.RefreshToken
}

func (v *fakeVault) Get(_ context.Context, conn string, r authz.Region) (authz.RefreshToken, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	t, ok := v.tokens[key(conn, r)]
	if !ok {
		return authz.RefreshToken{}, authz.ErrSecretNotFound
	}
	return t, nil
}
func (v *fakeVault) PutMany(_ context.Context, entries []authz.VaultEntry) ([]string, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	ids := make([]string, len(entries))
	for i, e := range entries {
		v.tokens[key(e.ConnectionID, e.Region)] = e.Token
		ids[i] = "secret-" + e.ConnectionID
	}
	return ids, nil
}
func (v *fakeVault) Delete(_ context.Context, conn string, r authz.Region) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	delete(v.tokens, key(conn, r))
	return nil
}

// fakeAmazon is LWA and SP-API: each known token belongs to one account; "dead-"
// tokens are refused with invalid_grant, "down-" tokens find LWA unavailable.
type fakeAmazon struct {
	accounts map[string]authz.Account // by refresh token
}

func (f fakeAmazon) Refresh(_ context.Context, rt secret.Value) (authz.Tokens, error) {
	t := strings.TrimPrefix(rt.Reveal(), "Atzr|")
	switch {
	case strings.HasPrefix(t, "dead-"):
		return authz.Tokens{}, authz.ErrInvalidGrant
	case strings.HasPrefix(t, "down-"):
		return authz.Tokens{}, errors.New("LWA: 503")
	}
	return authz.Tokens{AccessToken: secret.Value("access-for-" + rt.Reveal()), ExpiresIn: time.Hour}, nil
}

func (f fakeAmazon) Account(_ context.Context, _ authz.Region, access secret.Value) (authz.Account, error) {
	acct, ok := f.accounts[strings.TrimPrefix(access.Reveal(), "access-for-")]
	if !ok {
		return authz.Account{}, errors.New("SP-API: unknown token")
	}
	return acct, nil
}

func TestImportDecisionsOnFakes(t *testing.T) {
	t.Parallel()
	const (
		mpUS = "ATVPDKIKX0DER"
		mpCA = "A2EUQ1WTGCTBG2"
		mpDE = "A1PA6795UKMFR9"
	)
	amazon := fakeAmazon{accounts: map[string]authz.Account{
		"Atzr|tok-oak-0123456789abcdef":    {StoreName: "Oak Barrel", MarketplaceIDs: []string{mpUS}, SellerID: "A1OAKBARREL", SellerIDVerified: true},
		"Atzr|tok-alpen-0123456789abcdef":  {StoreName: "Alpenblick", MarketplaceIDs: []string{mpDE}},
		"Atzr|tok-canada-0123456789abcdef": {StoreName: "Maple", MarketplaceIDs: []string{mpCA, mpUS}, SellerID: "A3MAPLESHOP", SellerIDVerified: true},
	}}
	authorized := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC).Format(time.RFC3339)
	row := func(conn, region, tok, seller, market string) string {
		return strings.Join([]string{conn, region, tok, seller, market, conn + "@example.com", "", authorized}, ",") + "\n"
	}
	tests := []struct {
		name      string
		rows      string
		want      map[string]importer.Outcome // connection → outcome
		wantStore map[string]string           // connection → token stored ("" none)
		reason    string                      // what a refused row's reason says
	}{
		{"its own seller and marketplace", row("oak-us", "na", "Atzr|tok-oak-0123456789abcdef", "A1OAKBARREL", "US"),
			map[string]importer.Outcome{"oak-us": importer.OutcomeActive}, map[string]string{"oak-us": "Atzr|tok-oak-0123456789abcdef"}, ""},
		{"a marketplace the account does not sell in", row("alpen-fr", "eu", "Atzr|tok-alpen-0123456789abcdef", "A2ALPENBLICK", "IT"),
			map[string]importer.Outcome{"alpen-fr": importer.OutcomeRejected}, map[string]string{"alpen-fr": ""}, "marketplace"},
		{"a verified seller id other than the row's", row("oak-ca", "na", "Atzr|tok-oak-0123456789abcdef", "A9SOMEONEELSE", "US"),
			map[string]importer.Outcome{"oak-ca": importer.OutcomeRejected}, map[string]string{"oak-ca": ""}, "A1OAKBARREL"},
		{"the same token on two rows", row("maple-us", "na", "Atzr|tok-canada-0123456789abcdef", "A3MAPLESHOP", "US") + row("maple-ca", "na", "Atzr|tok-canada-0123456789abcdef", "A3MAPLESHOP", "CA"),
			map[string]importer.Outcome{"maple-us": importer.OutcomeActive, "maple-ca": importer.OutcomeRejected},
			map[string]string{"maple-us": "Atzr|tok-canada-0123456789abcdef", "maple-ca": ""}, "line 2"},
		{"a token LWA refuses", row("gone", "eu", "Atzr|dead-1-0123456789abcdef", "A4GONESELLER", "DE"),
			map[string]importer.Outcome{"gone": importer.OutcomeRevoked}, nil, ""},
		{"LWA unavailable", row("later", "eu", "Atzr|down-1-0123456789abcdef", "A5LATERSELLER", "DE"),
			map[string]importer.Outcome{"later": importer.OutcomeFailed}, map[string]string{"later": ""}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ledger, vault := newFakeLedger(), &fakeVault{tokens: map[string]authz.RefreshToken{}}
			im := importer.New(importer.Config{MaxPerSecond: 1000}, importer.Deps{Ledger: ledger, Tokens: vault, Writer: vault,
				LWA: amazon, Accounts: amazon, Clock: authz.SystemClock, Log: slog.New(slog.DiscardHandler)})
			rep, err := im.Run(context.Background(), strings.NewReader(header+tt.rows))
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]importer.Outcome{}
			for conn := range tt.want {
				got[conn] = outcomeOf(rep, ledger, conn)
			}
			for conn, want := range tt.want {
				if got[conn] != want {
					t.Errorf("%s: %s, want %s (report %+v)", conn, got[conn], want, rep)
				}
			}
			for _, r := range rep.Rejected {
				if tt.reason == "" || !strings.Contains(r.Reason, tt.reason) {
					t.Errorf("line %d (%s) refused because %q, want a reason naming %q", r.Line, r.ConnectionID, r.Reason, tt.reason)
				}
			}
			for conn, want := range tt.wantStore {
				region := authz.RegionNA
				if _, err := ledger.Get(context.Background(), conn, authz.RegionEU); err == nil {
					region = authz.RegionEU
				}
				tok, _ := vault.Get(context.Background(), conn, region)
				if tok.Token.Reveal() != want {
					t.Errorf("%s holds %q, want %q", conn, tok.Token.Reveal(), want)
				}
				if want == "" {
					for _, r := range []authz.Region{authz.RegionNA, authz.RegionEU} {
						if _, err := ledger.Get(context.Background(), conn, r); err == nil {
							t.Errorf("%s: a record was written for a refused row", conn)
						}
					}
				}
			}
		})
	}
}

// outcomeOf reads a connection's outcome from the report (refused and failed rows are
// listed) and the ledger (imported rows are there).
func outcomeOf(rep *importer.Report, l *fakeLedger, conn string) importer.Outcome {
	for _, r := range rep.Rejected {
		if r.ConnectionID == conn {
			return importer.OutcomeRejected
		}
	}
	for _, r := range rep.Failed {
		if r.ConnectionID == conn {
			return importer.OutcomeFailed
		}
	}
	for _, reg := range []authz.Region{authz.RegionNA, authz.RegionEU} {
		if a, err := l.Get(context.Background(), conn, reg); err == nil {
			switch a.Status {
			case authz.StatusRevoked:
				return importer.OutcomeRevoked
			case authz.StatusExpired:
				return importer.OutcomeExpired
			}
			return importer.OutcomeActive
		}
	}
	return ""
}
