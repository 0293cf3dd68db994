package importer_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/importer"
	"github.com/spapi-auth-keeper/keeper/shared/vault"
)

// TestTokensAreStoredInBatches: with the packed vault, an import writes each bucket
// secret about twice (Secrets Manager refuses a secret's 101st version within 24
// hours), not once per row, and every row still gets its own token and a bound record.
func TestTokensAreStoredInBatches(t *testing.T) {
	t.Parallel()
	e, calls := packedEnv(t)
	const n = 120
	var b strings.Builder
	b.WriteString(header)
	toks := make([]string, n)
	for i := range n {
		toks[i] = e.Sim.IssueRefreshToken(fmt.Sprintf("A1SELLER%04d", i))
		fmt.Fprintf(&b, "shop-%d,eu,%s,A1SELLER%04d,,,,\n", i, toks[i], i)
	}
	w := &countingWriter{w: e.Vault}
	rep, err := importer.New(importer.Config{MaxPerSecond: 1000}, importer.Deps{
		Ledger: e.Store, Tokens: e.Vault, Writer: w, LWA: e.lwa, Clock: e.Clock}).Run(e.Ctx, strings.NewReader(b.String()))
	must(t, err)
	if rep.Imported() != n {
		t.Fatalf("imported %d of %d: %v", rep.Imported(), n, rep.Counts)
	}
	t.Logf("%d batches:\n%s", w.batches.Load(), calls)
	// 120 rows: at least 3 batches of at most 50 (fewer rows in one when its 5 s ran
	// out first), each writing the open bucket and, when it fills, the next one.
	if got := secretWrites(calls); got > 2*int(w.batches.Load()) || w.batches.Load() > n/10 {
		t.Errorf("Secrets Manager writes %d in %d batches for %d rows; want at most two a batch, and batches of many rows", got, w.batches.Load(), n)
	}
	for i := range n {
		id := fmt.Sprintf("shop-%d", i)
		rt, err := e.Vault.Get(e.Ctx, id, authz.RegionEU)
		must(t, err)
		a := e.get(id, authz.RegionEU)
		if rt.Token.Reveal() != toks[i] || a.SecretID != rt.SecretID || a.Status != authz.StatusActive {
			t.Fatalf("%s: token matches %t, record's secret %q vs the vault's %q, status %s", id, rt.Token.Reveal() == toks[i], a.SecretID, rt.SecretID, a.Status)
		}
		if bound, err := e.Store.SellerBinding(e.Ctx, authz.RegionEU, fmt.Sprintf("A1SELLER%04d", i)); err != nil || bound != id {
			t.Fatalf("seller of %s bound to %q, %v", id, bound, err)
		}
	}
}

// TestInterruptedPackedImportLosesNoRow: an import stopped half way (Ctrl-C) with the
// packed vault and its batches: every row LWA answered is stored (token, then record),
// no record lacks its token, no token lacks its record, and the next run does the rest
// with one LWA call each.
func TestInterruptedPackedImportLosesNoRow(t *testing.T) {
	t.Parallel()
	e, _ := packedEnv(t)
	const n = 150
	var b strings.Builder
	b.WriteString(header)
	toks := make([]string, n)
	for i := range n {
		toks[i] = e.Sim.IssueRefreshToken(fmt.Sprintf("A1SELLER%04d", i))
		fmt.Fprintf(&b, "shop-%d,na,%s,,,,,\n", i, toks[i])
	}
	ctx, cancel := context.WithCancel(e.Ctx)
	defer cancel()
	im := importer.New(importer.Config{MaxPerSecond: 300, Concurrency: 8}, importer.Deps{
		Ledger: e.Store, Tokens: e.Vault, Writer: e.Vault, LWA: e.lwa, Clock: e.Clock, ProgressEvery: 1,
		Progress: func(p importer.Progress) {
			if p.LWACalls >= 60 {
				cancel() // Ctrl-C with rows proven and not yet stored
			}
		},
	})
	first, err := im.Run(ctx, strings.NewReader(b.String()))
	must(t, err)
	if !first.Interrupted || first.Imported() == 0 || first.Imported() >= n {
		t.Fatalf("interrupted run: interrupted %t, imported %d, LWA calls %d", first.Interrupted, first.Imported(), first.LWACalls)
	}
	records := 0
	for i := range n {
		id := fmt.Sprintf("shop-%d", i)
		_, gerr := e.Store.Get(e.Ctx, id, authz.RegionNA)
		rt, verr := e.Vault.Get(e.Ctx, id, authz.RegionNA)
		switch {
		case gerr == nil && verr != nil:
			t.Errorf("%s: a record without its token (%v)", id, verr)
		case gerr == nil && rt.Token.Reveal() != toks[i]:
			t.Errorf("%s: the vault holds another token", id)
		case gerr == nil:
			records++
		case !errors.Is(gerr, authz.ErrNotFound):
			t.Fatal(gerr)
		case !errors.Is(verr, vault.ErrNotFound):
			t.Errorf("%s: a token without its record (%v)", id, verr)
		}
	}
	if records != first.Imported() {
		t.Errorf("%d records, the report counts %d imported", records, first.Imported())
	}
	calls := e.Sim.Refreshes()
	second, err := importer.New(importer.Config{MaxPerSecond: 300}, importer.Deps{
		Ledger: e.Store, Tokens: e.Vault, Writer: e.Vault, LWA: e.lwa, Clock: e.Clock}).Run(e.Ctx, strings.NewReader(b.String()))
	must(t, err)
	if second.Counts[importer.OutcomeUnchanged] != first.Imported() || second.Imported() != n-first.Imported() || e.Sim.Refreshes()-calls != n-first.Imported() {
		t.Errorf("resumed run: %v, %d LWA calls; want %d unchanged and %d imported with a call each", second.Counts, e.Sim.Refreshes()-calls, first.Imported(), n-first.Imported())
	}
}
