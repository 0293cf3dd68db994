package importer_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/importer"
	"github.com/spapi-auth-keeper/keeper/shared/vault"
)

// gatedFile streams head, then waits for release before it streams tail: an import
// of it finishes head's rows before it reads tail's, as if they were far apart in a
// large file.
func gatedFile(head, tail string) (io.Reader, func()) {
	pr, pw := io.Pipe()
	release := make(chan struct{})
	var once sync.Once
	go func() {
		_, _ = io.WriteString(pw, head)
		<-release
		_, _ = io.WriteString(pw, tail)
		pw.Close()
	}()
	return pr, func() { once.Do(func() { close(release) }) }
}

// blindLedger answers every seller binding check with "none", as a check that ran just
// before another writer bound the seller would: only the record's transaction can then
// refuse the row.
type blindLedger struct{ importer.Ledger }

func (blindLedger) SellerBinding(context.Context, authz.Region, string) (string, error) {
	return "", nil
}

// TestDuplicatesInTheFileAreRefused: the importer keeps no index of the rows it read.
// A row repeating a connection or seller of a row still in flight is rejected from
// the ids in flight; one repeating a finished row meets its record or seller binding.
func TestDuplicatesInTheFileAreRefused(t *testing.T) {
	t.Parallel()
	const one, two = "A1SELLERONE1", "A1SELLERTWO2"
	type tokens struct{ one, oneAgain, two string }
	cases := []struct {
		name       string
		head, tail func(tokens) string // tail is read once head's rows are done, if far
		far, blind bool
		imported   int
		unchanged  int
		reason     string // of the one rejected row ("" for none)
		lwaCalls   int
		// want maps connection → the token the vault must hold ("" for none and no record).
		want func(tokens) map[string]string
	}{
		{name: "connection twice, both in flight",
			head: func(k tokens) string { return "c1,eu," + k.one + ",,,,,\n" + "c1,eu," + k.two + ",,,,,\n" },
			tail: func(tokens) string { return "" }, imported: 1, reason: "line 3 (c1): connection c1/eu appears again (first on line 2)", lwaCalls: 1,
			want: func(k tokens) map[string]string { return map[string]string{"c1": k.one} }},
		{name: "connection twice, far apart, another token",
			head: func(k tokens) string { return "c1,eu," + k.one + ",,,,,\n" }, tail: func(k tokens) string { return "c1,eu," + k.two + ",,,,,\n" },
			far: true, imported: 1, reason: "line 3 (c1): connection c1/eu is already in the ledger (active) with another refresh token: not overwritten", lwaCalls: 1,
			want: func(k tokens) map[string]string { return map[string]string{"c1": k.one} }},
		{name: "connection twice, far apart, the same row",
			head: func(k tokens) string { return "c1,eu," + k.one + ",,,,,\n" }, tail: func(k tokens) string { return "c1,eu," + k.one + ",,,,,\n" },
			far: true, imported: 1, unchanged: 1, lwaCalls: 1,
			want: func(k tokens) map[string]string { return map[string]string{"c1": k.one} }},
		{name: "seller under two connections, both in flight",
			head: func(k tokens) string {
				return "c1,eu," + k.one + "," + one + ",,,,\n" + "c2,eu," + k.oneAgain + "," + one + ",,,,\n"
			},
			tail: func(tokens) string { return "" }, imported: 1, reason: "line 3 (c2): seller " + one + " in region eu appears again (first on line 2)", lwaCalls: 1,
			want: func(k tokens) map[string]string { return map[string]string{"c1": k.one, "c2": ""} }},
		{name: "seller under two connections, far apart",
			head: func(k tokens) string { return "c1,eu," + k.one + "," + one + ",,,,\n" },
			tail: func(k tokens) string { return "c2,eu," + k.oneAgain + "," + one + ",,,,\n" },
			far:  true, imported: 1, reason: "line 3 (c2): seller " + one + " is already connected as c1 in region eu", lwaCalls: 1,
			want: func(k tokens) map[string]string { return map[string]string{"c1": k.one, "c2": ""} }},
		{name: "seller SP-API names under two connections, far apart",
			head: func(k tokens) string { return "c1,eu," + k.one + ",,,,,\n" }, tail: func(k tokens) string { return "c2,eu," + k.oneAgain + ",,,,,\n" },
			far: true, imported: 1, reason: "line 3 (c2): seller " + one + " is already connected as c1 in region eu", lwaCalls: 2,
			want: func(k tokens) map[string]string { return map[string]string{"c1": k.one, "c2": ""} }},
		{name: "seller bound meanwhile: the record's transaction refuses it, and its token goes",
			head: func(k tokens) string { return "c1,eu," + k.one + "," + one + ",,,,\n" },
			tail: func(k tokens) string { return "c2,eu," + k.oneAgain + "," + one + ",,,,\n" },
			far:  true, blind: true, imported: 1, reason: "line 3 (c2): seller " + one + " is already connected as c1 in region eu", lwaCalls: 2,
			want: func(k tokens) map[string]string { return map[string]string{"c1": k.one, "c2": ""} }},
		{name: "one seller in two regions is no duplicate",
			head: func(k tokens) string {
				return "c1,eu," + k.one + "," + one + ",,,,\n" + "c1,na," + k.oneAgain + "," + one + ",,,,\n"
			},
			tail: func(tokens) string { return "" }, imported: 2, lwaCalls: 2,
			want: func(k tokens) map[string]string { return map[string]string{"c1": k.one} }},
		{name: "two sellers, two connections",
			head: func(k tokens) string { return "c1,eu," + k.one + ",,,,,\n" + "c2,eu," + k.two + ",,,,,\n" },
			tail: func(tokens) string { return "" }, imported: 2, lwaCalls: 2,
			want: func(k tokens) map[string]string { return map[string]string{"c1": k.one, "c2": k.two} }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			k := tokens{one: e.Sim.IssueRefreshToken(one), oneAgain: e.Sim.IssueRefreshToken(one), two: e.Sim.IssueRefreshToken(two)}
			head, tail := c.head(k), c.tail(k)
			file, release := gatedFile(header+head, tail)
			if !c.far {
				release()
			}
			ledger := importer.Ledger(e.Store)
			if c.blind {
				ledger = blindLedger{e.Store}
			}
			cfg := importer.Config{MaxPerSecond: 1000}
			if c.far {
				cfg.BatchSize = 1 // head's rows are stored at once, not in 5 s
			}
			headRows := strings.Count(head, "\n")
			im := importer.New(cfg, importer.Deps{Ledger: ledger, Tokens: e.Vault, Writer: e.writes, LWA: e.lwa, Accounts: e.accounts,
				Clock: e.Clock, Log: testLogger(e), ProgressEvery: time.Millisecond, Progress: func(p importer.Progress) {
					if p.Processed() >= headRows {
						release()
					}
				}})
			rep, err := im.Run(e.Ctx, file)
			must(t, err)
			rejected := ""
			for _, r := range rep.Rejected {
				rejected += fmt.Sprintf("line %d (%s): %s", r.Line, r.ConnectionID, r.Reason)
			}
			if rep.Imported() != c.imported || rep.Counts[importer.OutcomeUnchanged] != c.unchanged || !strings.HasPrefix(rejected, c.reason) ||
				(c.reason == "" && rejected != "") || len(rep.Rejected) > 1 || rep.LWACalls != c.lwaCalls {
				t.Errorf("counts %v, LWA calls %d (want %d imported, %d unchanged, %d calls), rejected %q, want %q",
					rep.Counts, rep.LWACalls, c.imported, c.unchanged, c.lwaCalls, rejected, c.reason)
			}
			for id, want := range c.want(k) {
				rt, err := e.Vault.Get(e.Ctx, id, authz.RegionEU)
				_, gerr := e.Store.Get(e.Ctx, id, authz.RegionEU)
				switch {
				case want == "" && (!errors.Is(err, vault.ErrNotFound) || !errors.Is(gerr, authz.ErrNotFound)):
					t.Errorf("%s: vault %v, ledger %v; want neither a token nor a record", id, err, gerr)
				case want != "" && (err != nil || gerr != nil):
					t.Errorf("%s: vault %v, ledger %v", id, err, gerr)
				case want != "" && rt.Token.Reveal() != want:
					t.Errorf("%s: the vault holds another row's token", id)
				}
			}
			if c.blind && e.writes.deletes.Load() != 1 {
				t.Errorf("vault deletes = %d, want 1 (the refused row's token)", e.writes.deletes.Load())
			}
			e.noToken("logs", []byte(e.Logs.String()))
		})
	}
}

// TestSellerNamedBySPAPITwiceInFlight: two rows without a seller id whose tokens SP-API
// says are one seller's, both in flight: one is imported, the other rejected, and the
// rejected one leaves neither a record nor a token.
func TestSellerNamedBySPAPITwiceInFlight(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.Sim.SetLatency(20 * time.Millisecond)
	a, b := e.Sim.IssueRefreshToken("A1SELLERONE1"), e.Sim.IssueRefreshToken("A1SELLERONE1")
	rep, err := e.run(importer.Config{}, header+"c1,eu,"+a+",,,,,\nc2,eu,"+b+",,,,,\n")
	must(t, err)
	if rep.Imported() != 1 || len(rep.Rejected) != 1 || !strings.Contains(rep.Rejected[0].Reason, "seller A1SELLERONE1") {
		t.Fatalf("report = %+v", rep)
	}
	gone := rep.Rejected[0].ConnectionID
	if _, err := e.Vault.Get(e.Ctx, gone, authz.RegionEU); !errors.Is(err, vault.ErrNotFound) {
		t.Errorf("%s's token was stored: %v", gone, err)
	}
	if got, err := e.Store.SellerBinding(e.Ctx, authz.RegionEU, "A1SELLERONE1"); err != nil || got == gone || got == "" {
		t.Errorf("binding = %q, %v; want the imported connection", got, err)
	}
}

func TestDryRunRefusesDuplicatesAnywhereInTheFile(t *testing.T) {
	t.Parallel()
	tok := "Atzr|a-well-formed-token-for-a-dry-run"
	var b strings.Builder
	b.WriteString(header)
	fmt.Fprintf(&b, "first,eu,%s,A1SELLERONE1,,,,\n", tok)
	for i := range 2000 { // far apart: no in-flight window in a dry run anyway
		fmt.Fprintf(&b, "filler-%d,eu,%s-%d,,,,,\n", i, tok, i)
	}
	fmt.Fprintf(&b, "first,eu,%s-a,,,,,\nsecond,eu,%s-b,A1SELLERONE1,,,,\nfirst,na,%s-c,A1SELLERONE1,,,,\n", tok, tok, tok)
	rep, err := importer.New(importer.Config{DryRun: true}, importer.Deps{}).Run(context.Background(), strings.NewReader(b.String()))
	must(t, err)
	if rep.Counts[importer.OutcomeValid] != 2002 || len(rep.Rejected) != 2 ||
		!strings.Contains(rep.Rejected[0].Reason, "connection first/eu appears again (first on line 2)") ||
		!strings.Contains(rep.Rejected[1].Reason, "seller A1SELLERONE1 in region eu appears again (first on line 2)") {
		t.Errorf("dry run: %v, rejected %+v", rep.Counts, rep.Rejected)
	}
}
