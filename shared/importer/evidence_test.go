package importer_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/spapi-auth-keeper/keeper/infra/amazonsim"
	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/importer"
	"github.com/spapi-auth-keeper/keeper/shared/vault"
)

// Sellers of the evidence tests, as the Sellers API describes them.
const (
	oakbarrel = "A1OAKBARREL01" // sells on Amazon.com only
	maple     = "A1MAPLELEAF01" // sells in Germany, under another store name
)

func addSellers(t *testing.T, e *env) {
	t.Helper()
	must(t, e.Sim.AddSeller(amazonsim.Seller{ID: oakbarrel, Name: "Oak Barrel", StoreName: "Oak Barrel Cooperage", CountryCodes: []string{"US"}}))
	must(t, e.Sim.AddSeller(amazonsim.Seller{ID: maple, Name: "Maple Leaf", StoreName: "Maple Leaf Goods", CountryCodes: []string{"DE", "CA"}}))
}

// TestTokenIsStoredOnlyOnItsOwnAccountsConnection: a refresh token goes to a
// connection only with SP-API's word that it is that connection's account. A row the
// token's account contradicts is rejected with its line, and leaves nothing behind:
// no record, no vault entry, no seller binding.
func TestTokenIsStoredOnlyOnItsOwnAccountsConnection(t *testing.T) {
	t.Parallel()
	type tokens struct{ oak, oak2, maple string }
	cases := []struct {
		name  string
		probe bool // VERIFY_SELLER_ID: the seller id is learned from SP-API
		// before runs first (an earlier import), or sets the ledger up.
		before func(t *testing.T, e *env, k tokens)
		file   func(k tokens) string
		cfg    importer.Config
		// imported are the connections (in na) that hold the given token afterwards.
		imported func(k tokens) map[string]string
		// rejected: line → a part of the reason.
		rejected map[int]string
		// gone are connections (in na) that must have neither record nor token, and
		// sellers that must not be bound to them.
		gone map[string]string
		// untouched is a pending connection (in na) that must stay as it was, without a token.
		untouched string
	}{
		{name: "one token on its seller's row and on another seller's row",
			file: func(k tokens) string {
				return "oakbarrel-us,na," + k.oak + "," + oakbarrel + ",US,,,\n" + "oakbarrel-ca,na," + k.oak + "," + maple + ",CA,,,\n"
			},
			imported: func(k tokens) map[string]string { return map[string]string{"oakbarrel-us": k.oak} },
			rejected: map[int]string{3: "the same refresh token is on line 2"},
			gone:     map[string]string{"oakbarrel-ca": maple}},
		{name: "one token on two rows with the same marketplace",
			file: func(k tokens) string {
				return "oakbarrel-us,na," + k.oak + "," + oakbarrel + ",US,,,\n" + "oakbarrel-2,na," + k.oak + "," + maple + ",US,,,\n"
			},
			imported: func(k tokens) map[string]string { return map[string]string{"oakbarrel-us": k.oak} },
			rejected: map[int]string{3: "the same refresh token is on line 2"},
			gone:     map[string]string{"oakbarrel-2": maple}},
		{name: "one token on two rows, the first already done when a continuation reads the second",
			before: func(t *testing.T, e *env, k tokens) {
				_, err := e.run(importer.Config{}, header+"oakbarrel-us,na,"+k.oak+","+oakbarrel+",US,,,\n")
				must(t, err)
			},
			cfg: importer.Config{SkipThroughLine: 2},
			file: func(k tokens) string {
				return "oakbarrel-us,na," + k.oak + "," + oakbarrel + ",US,,,\n" + "oakbarrel-2,na," + k.oak + ",,US,,,\n"
			},
			imported: func(k tokens) map[string]string { return map[string]string{"oakbarrel-us": k.oak} },
			rejected: map[int]string{3: "the same refresh token is on line 2"},
			gone:     map[string]string{"oakbarrel-2": ""}},
		{name: "a marketplace the token's account does not sell in",
			file:     func(k tokens) string { return "oakbarrel-ca,na," + k.oak + "," + maple + ",CA,,,\n" },
			rejected: map[int]string{2: "the token's account does not sell in marketplace CA (SP-API lists US)"},
			gone:     map[string]string{"oakbarrel-ca": maple}},
		{name: "a marketplace the token's account does not sell in, seller id verified",
			probe:    true,
			file:     func(k tokens) string { return "oakbarrel-ca,na," + k.oak + ",,CA,,,\n" },
			rejected: map[int]string{2: "does not sell in marketplace CA"},
			gone:     map[string]string{"oakbarrel-ca": oakbarrel}},
		{name: "the claimed seller's record elsewhere shows another account",
			before: func(t *testing.T, e *env, k tokens) {
				_, err := e.run(importer.Config{}, header+"maple-eu,eu,"+k.maple+","+maple+",DE,,,\n")
				must(t, err)
			},
			file:     func(k tokens) string { return "maple-us,na," + k.oak + "," + maple + ",US,,,\n" },
			rejected: map[int]string{2: "seller " + maple + " is on record as maple-eu/eu with another account (store name differs)"},
			gone:     map[string]string{"maple-us": maple}},
		{name: "a pending connection's recorded account differs",
			before: func(t *testing.T, e *env, k tokens) {
				_, err := e.Store.Create(e.Ctx, authz.Authorization{ConnectionID: "waiting", Region: authz.RegionNA, AccountType: authz.AccountSeller,
					Locale: "en-US", Status: authz.StatusPending, Account: authz.Account{StoreName: "Maple Leaf Goods",
						MarketplaceIDs: []string{"A2EUQ1WTGCTBG2"}, TakenAt: now.Add(-time.Hour)}})
				must(t, err)
			},
			file:      func(k tokens) string { return "waiting,na," + k.oak + ",,,,,\n" },
			rejected:  map[int]string{2: "the token's account is not the one on record for waiting/na (no marketplace in common)"},
			untouched: "waiting"},
		{name: "a pending connection's recorded account, and a token LWA refuses",
			before: func(t *testing.T, e *env, k tokens) {
				e.Sim.Revoke(k.oak)
				_, err := e.Store.Create(e.Ctx, authz.Authorization{ConnectionID: "waiting", Region: authz.RegionNA, AccountType: authz.AccountSeller,
					Locale: "en-US", Status: authz.StatusPending, Account: authz.Account{StoreName: "Maple Leaf Goods",
						MarketplaceIDs: []string{"A2EUQ1WTGCTBG2"}, TakenAt: now.Add(-time.Hour)}})
				must(t, err)
			},
			file:      func(k tokens) string { return "waiting,na," + k.oak + ",,,,,\n" },
			rejected:  map[int]string{2: "connection waiting/na has an account on record, and LWA refused this token"},
			untouched: "waiting"},
		{name: "a pending connection's recorded account matches",
			before: func(t *testing.T, e *env, k tokens) {
				_, err := e.Store.Create(e.Ctx, authz.Authorization{ConnectionID: "waiting", Region: authz.RegionNA, AccountType: authz.AccountSeller,
					Locale: "en-US", Status: authz.StatusPending, Account: authz.Account{StoreName: "oak barrel  cooperage",
						MarketplaceIDs: []string{"ATVPDKIKX0DER"}, TakenAt: now.Add(-time.Hour)}})
				must(t, err)
			},
			file:     func(k tokens) string { return "waiting,na," + k.oak + ",,US,,,\n" },
			imported: func(k tokens) map[string]string { return map[string]string{"waiting": k.oak} }},
		{name: "two sellers, each token on its own row",
			file: func(k tokens) string {
				return "oakbarrel-us,na," + k.oak + ",,US,,,\n" + "maple-ca,na," + k.maple + ",,CA,,,\n"
			},
			imported: func(k tokens) map[string]string {
				return map[string]string{"oakbarrel-us": k.oak, "maple-ca": k.maple}
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			if !c.probe {
				e.withoutSellerIDProbe()
			}
			addSellers(t, e)
			k := tokens{oak: e.Sim.IssueRefreshToken(oakbarrel), oak2: e.Sim.IssueRefreshToken(oakbarrel), maple: e.Sim.IssueRefreshToken(maple)}
			if c.before != nil {
				c.before(t, e, k)
			}
			cfg := c.cfg
			cfg.Source = "sellers.csv"
			rep, err := e.run(cfg, header+c.file(k))
			must(t, err)
			got := map[int]string{}
			for _, r := range rep.Rejected {
				got[r.Line] = r.Reason
			}
			if len(got) != len(c.rejected) {
				t.Errorf("rejected %v, want lines %v", got, c.rejected)
			}
			for line, want := range c.rejected {
				if !strings.Contains(got[line], want) {
					t.Errorf("line %d: reason %q, want %q", line, got[line], want)
				}
			}
			var imported map[string]string
			if c.imported != nil {
				imported = c.imported(k)
			}
			for id, tok := range imported {
				rt, err := e.Vault.Get(e.Ctx, id, authz.RegionNA)
				if err != nil || rt.Token.Reveal() != tok {
					t.Errorf("%s: vault %v, or it holds another token", id, err)
				}
				if a := e.get(id, authz.RegionNA); a.Status != authz.StatusActive {
					t.Errorf("%s is %s, want active", id, a.Status)
				}
			}
			for id, seller := range c.gone {
				if _, err := e.Store.Get(e.Ctx, id, authz.RegionNA); !errors.Is(err, authz.ErrNotFound) {
					t.Errorf("%s: a record was written (%v)", id, err)
				}
				if _, err := e.Vault.Get(e.Ctx, id, authz.RegionNA); !errors.Is(err, vault.ErrNotFound) {
					t.Errorf("%s: a token was stored (%v)", id, err)
				}
				if seller == "" {
					continue
				}
				if bound, err := e.Store.SellerBinding(e.Ctx, authz.RegionNA, seller); err != nil || bound == id {
					t.Errorf("seller %s is bound to %q (%v), the rejected row's connection", seller, bound, err)
				}
			}
			if c.untouched != "" {
				if a := e.get(c.untouched, authz.RegionNA); a.Status != authz.StatusPending || a.Version != 1 {
					t.Errorf("%s was written: %s, version %d", c.untouched, a.Status, a.Version)
				}
				if _, err := e.Vault.Get(e.Ctx, c.untouched, authz.RegionNA); !errors.Is(err, vault.ErrNotFound) {
					t.Errorf("%s: a token was stored (%v)", c.untouched, err)
				}
			}
			e.noToken("logs", []byte(e.Logs.String()))
		})
	}
}

// TestSameTokenFarApartIsRefused: the second row of a token is refused even when the
// first is long finished, its ids no longer in flight.
func TestSameTokenFarApartIsRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t).withoutSellerIDProbe()
	addSellers(t, e)
	tok := e.Sim.IssueRefreshToken(oakbarrel)
	head := header + "oakbarrel-us,na," + tok + "," + oakbarrel + ",US,,,\n"
	var tail strings.Builder
	for i := range 300 { // more rows than the reader runs ahead
		fmt.Fprintf(&tail, "filler-%d,na,%s,,US,,,\n", i, e.Sim.IssueRefreshToken(fmt.Sprintf("A1FILLER%04d", i)))
	}
	tail.WriteString("oakbarrel-ca,na," + tok + "," + maple + ",US,,,\n")
	file, release := gatedFile(head, tail.String())
	im := importer.New(importer.Config{MaxPerSecond: 1000, BatchSize: 1}, importer.Deps{Ledger: e.Store, Tokens: e.Vault, Writer: e.writes,
		LWA: e.lwa, Accounts: e.accounts, Clock: e.Clock, Log: testLogger(e), ProgressEvery: time.Millisecond,
		Progress: func(p importer.Progress) {
			if p.Processed() >= 1 {
				release()
			}
		}})
	rep, err := im.Run(context.Background(), file)
	must(t, err)
	if rep.Imported() != 301 || len(rep.Rejected) != 1 || rep.Rejected[0].Line != 303 ||
		!strings.Contains(rep.Rejected[0].Reason, "the same refresh token is on line 2") {
		t.Fatalf("counts %v, rejected %+v", rep.Counts, rep.Rejected)
	}
	if _, err := e.Vault.Get(e.Ctx, "oakbarrel-ca", authz.RegionNA); !errors.Is(err, vault.ErrNotFound) {
		t.Errorf("the token was stored for a second connection: %v", err)
	}
}

// TestDryRunRefusesARepeatedToken: a dry run reports the rows an import would refuse
// for a token already on an earlier row.
func TestDryRunRefusesARepeatedToken(t *testing.T) {
	t.Parallel()
	tok, other := "Atzr|a-well-formed-token-for-a-dry-run", "Atzr|another-well-formed-token-here"
	file := header + "a,eu," + tok + ",,,,,\n" + "b,eu," + other + ",,,,,\n" + "c,eu," + tok + ",,,,,\n" + "a,na," + tok + ",,,,,\n"
	rep, err := importer.New(importer.Config{DryRun: true}, importer.Deps{}).Run(context.Background(), strings.NewReader(file))
	must(t, err)
	if rep.Counts[importer.OutcomeValid] != 2 || len(rep.Rejected) != 2 || rep.Rejected[0].Line != 4 || rep.Rejected[1].Line != 5 ||
		!strings.Contains(rep.Rejected[0].Reason, "the same refresh token is on line 2") {
		t.Errorf("dry run: %v, rejected %+v", rep.Counts, rep.Rejected)
	}
}
