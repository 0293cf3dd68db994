package importer_test

import (
	"bytes"
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

const header = "connectionId,region,refreshToken,sellingPartnerId,marketplace,contactEmail,locale,authorizedAt\n"

func TestImportEveryOutcome(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// The row names Germany: the seller's account sells there, as SP-API says.
	must(t, e.Sim.AddSeller(amazonsim.Seller{ID: "A1GOODSELLER", Name: "Good Seller", CountryCodes: []string{"DE"}}))
	good := e.Sim.IssueRefreshToken("A1GOODSELLER")
	unknown := e.Sim.IssueRefreshToken("A1UNKNOWNEXP")
	revoked := e.Sim.IssueRefreshToken("A1REVOKEDSEL")
	e.Sim.Revoke(revoked)
	lapsed := e.Sim.IssueRefreshToken("A1LAPSEDSELL")
	e.Sim.ExpireSeller("A1LAPSEDSELL")
	renewed := e.Sim.IssueRefreshToken("A1RENEWEDSEL")
	dup := e.Sim.IssueRefreshToken("A1DUPLICATED")
	file := header +
		"good,eu," + good + ",A1GOODSELLER,DE,good@shop.example,de-DE,2026-09-01\n" + // line 2
		"unknown,na," + unknown + ",,US,unknown@shop.example,,\n" + // 3
		"gone,fe," + revoked + ",,JP,gone@shop.example,,2026-10-01\n" + // 4
		"lapsed,eu," + lapsed + ",,,lapsed@shop.example,,2025-12-01\n" + // 5
		"renewed,eu," + renewed + ",,,r@shop.example,,2025-06-01\n" + // 6: a year ago, yet LWA accepts
		"badregion,xx," + good + ",,,,,\n" + // 7
		"bademail,eu," + dup + ",,,not an email,,\n" + // 8
		"good,eu," + dup + ",,,,,\n" + // 9: the same connection again
		"other,eu," + dup + ",A1GOODSELLER,,,,\n" + // 10: the same seller again
		"notoken,eu,hello-this-is-not-a-token,,,,,\n" + // 11
		"Atzr|leaked-into-the-wrong-column-xx,eu," + dup + ",,,,,\n" + // 12
		"future,eu," + dup + ",,,,,2099-01-01\n" + // 13
		"short,eu\n" // 14

	rep, err := e.run(importer.Config{Source: "sellers.csv", Concurrency: 3}, file)
	must(t, err)
	want := map[importer.Outcome]int{
		importer.OutcomeActive: 1, importer.OutcomeUnknownExpiry: 2, importer.OutcomeRevoked: 1,
		importer.OutcomeExpired: 1, importer.OutcomeRejected: 8,
	}
	for _, o := range importer.Outcomes {
		if rep.Counts[o] != want[o] {
			t.Errorf("%s = %d, want %d", o, rep.Counts[o], want[o])
		}
	}
	if rep.Rows != 13 || rep.LWACalls != 5 {
		t.Errorf("rows = %d, LWA calls = %d; want 13, 5", rep.Rows, rep.LWACalls)
	}
	var lines []int
	for _, r := range rep.Rejected {
		lines = append(lines, r.Line)
	}
	if fmt.Sprint(lines) != "[7 8 9 10 11 12 13 14]" {
		t.Errorf("rejected lines = %v", lines)
	}

	a := e.get("good", authz.RegionEU)
	if a.Status != authz.StatusActive || a.ExpiryUnknown || !a.ExpiresAt.Equal(time.Date(2027, 9, 1, 0, 0, 0, 0, time.UTC)) ||
		a.SellingPartnerID != "A1GOODSELLER" || a.Locale != "de-DE" || a.Marketplace != "DE" || a.SecretID == "" || a.LastRefreshAt.IsZero() {
		t.Errorf("good = %+v", a)
	}
	u := e.get("unknown", authz.RegionNA)
	if u.Status != authz.StatusActive || !u.ExpiryUnknown || !u.ExpiresAt.Equal(now.Add(30*24*time.Hour)) || u.ExpiryDay() != "2027-03-31" {
		t.Errorf("unknown = status %s, expiryUnknown %t, expires %s", u.Status, u.ExpiryUnknown, u.ExpiresAt)
	}
	if r := e.get("renewed", authz.RegionEU); !r.ExpiryUnknown || r.Status != authz.StatusActive {
		t.Errorf("renewed = status %s, expiryUnknown %t", r.Status, r.ExpiryUnknown)
	}
	if g := e.get("gone", authz.RegionFE); g.Status != authz.StatusRevoked {
		t.Errorf("gone = %s, want revoked", g.Status)
	}
	if l := e.get("lapsed", authz.RegionEU); l.Status != authz.StatusExpired || l.ExpiryDay() != "2026-12-01" {
		t.Errorf("lapsed = %s expiring %s, want expired 2026-12-01", l.Status, l.ExpiryDay())
	}
	rt, err := e.Vault.Get(e.Ctx, "good", authz.RegionEU)
	must(t, err)
	if rt.Token.Reveal() != good || rt.SellingPartnerID != "A1GOODSELLER" {
		t.Errorf("stored token for good is not the file's")
	}
	if _, err := e.Store.Get(e.Ctx, "other", authz.RegionEU); !errors.Is(err, authz.ErrNotFound) {
		t.Errorf("rejected row other was written: %v", err)
	}
	h, err := e.Store.History(e.Ctx, "unknown", 0)
	must(t, err)
	if len(h) != 1 || h[0].Kind != authz.EventImported || !strings.Contains(h[0].Detail, "expiry unknown") || !strings.Contains(h[0].Detail, "sellers.csv line 3") {
		t.Errorf("history of unknown = %+v", h)
	}

	var text, js bytes.Buffer
	must(t, rep.WriteText(&text))
	must(t, rep.WriteJSON(&js))
	for _, want := range []string{"line 7 (badregion): region \"xx\"", "line 9 (good): connection good/eu appears again (first on line 2)",
		"line 10 (other): seller A1GOODSELLER in region eu appears again", "line 12: connectionId", "line 13 (future): authorizedAt 2099-01-01 is in the future",
		"line 14: 2 fields, the header has 8", "imported, active, expiry unknown"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, text.String())
		}
	}
	e.noToken("text report", text.Bytes())
	e.noToken("JSON report", js.Bytes())
	e.noToken("logs", []byte(e.Logs.String()))
}

func TestRerunChangesNothingAndCallsNoLWA(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var b strings.Builder
	b.WriteString(header)
	for i := range 12 {
		fmt.Fprintf(&b, "shop-%d,eu,%s,,,,,\n", i, e.Sim.IssueRefreshToken(fmt.Sprintf("A1SELLER%04d", i)))
	}
	first, err := e.run(importer.Config{}, b.String())
	must(t, err)
	if first.Imported() != 12 {
		t.Fatalf("first run imported %d, want 12", first.Imported())
	}
	before := e.get("shop-3", authz.RegionEU)
	refreshes, writes := e.Sim.Refreshes(), e.writes.n.Load()

	second, err := e.run(importer.Config{}, b.String())
	must(t, err)
	if second.Counts[importer.OutcomeUnchanged] != 12 || second.LWACalls != 0 || e.Sim.Refreshes() != refreshes || e.writes.n.Load() != writes {
		t.Errorf("re-run: %v, LWA calls %d (sim %d → %d), secret writes %d → %d; want 12 unchanged and no call or write",
			second.Counts, second.LWACalls, refreshes, e.Sim.Refreshes(), writes, e.writes.n.Load())
	}
	if after := e.get("shop-3", authz.RegionEU); after.Version != before.Version {
		t.Errorf("re-run moved the record's version %d → %d", before.Version, after.Version)
	}
}

func TestInterruptedImportResumes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.Sim.SetLatency(5 * time.Millisecond)
	const n = 40
	var b strings.Builder
	b.WriteString(header)
	for i := range n {
		fmt.Fprintf(&b, "shop-%d,na,%s,,,,,\n", i, e.Sim.IssueRefreshToken(fmt.Sprintf("A1SELLER%04d", i)))
	}
	ctx, cancel := context.WithCancel(e.Ctx)
	defer cancel()
	im := importer.New(importer.Config{MaxPerSecond: 200, Concurrency: 4, BatchSize: 4}, importer.Deps{
		Ledger: e.Store, Tokens: e.Vault, Writer: e.writes, LWA: e.lwa, Clock: e.Clock,
		ProgressEvery: time.Millisecond,
		Progress: func(p importer.Progress) {
			if p.Processed() >= 10 {
				cancel() // Ctrl-C half way
			}
		},
	})
	first, err := im.Run(ctx, strings.NewReader(b.String()))
	must(t, err)
	if !first.Interrupted || first.Imported() >= n || first.Imported() < 10 {
		t.Fatalf("interrupted run: interrupted %t, imported %d", first.Interrupted, first.Imported())
	}
	if first.DoneThroughLine < 1 || first.DoneThroughLine > first.Imported()+1+first.Counts[importer.OutcomeFailed] {
		t.Errorf("doneThroughLine %d after %d imported", first.DoneThroughLine, first.Imported())
	}
	calls := e.Sim.Refreshes()
	second, err := e.run(importer.Config{Concurrency: 4}, b.String())
	must(t, err)
	if got := second.Imported() + second.Counts[importer.OutcomeUnchanged]; got != n || second.Counts[importer.OutcomeUnchanged] != first.Imported() {
		t.Errorf("resumed run: %v; want %d unchanged and the rest imported", second.Counts, first.Imported())
	}
	if extra := e.Sim.Refreshes() - calls; extra != second.Imported() {
		t.Errorf("resumed run called LWA %d times for %d rows left", extra, second.Imported())
	}
	for i := range n {
		if a := e.get(fmt.Sprintf("shop-%d", i), authz.RegionNA); a.Status != authz.StatusActive {
			t.Errorf("shop-%d is %s", i, a.Status)
		}
	}
}

func TestFileRefusedBeforeAnyRow(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.Sim.IssueRefreshToken("A1SELLER0001")
	for name, file := range map[string]string{
		"unknown column":     "connectionId,region,refreshToken,password\nshop,eu," + tok + ",x\n",
		"missing column":     "connectionId,region\nshop,eu\n",
		"case matters":       "ConnectionId,region,refreshToken\nshop,eu," + tok + "\n",
		"repeated column":    "connectionId,region,refreshToken,region\nshop,eu," + tok + ",eu\n",
		"empty":              "  \n\n",
		"no header, data":    "shop,eu," + tok + "\n",
		"line too long":      "connectionId,region,refreshToken\n" + strings.Repeat("x", importer.MaxLineBytes+10) + "\n",
		"quoted field bomb":  "connectionId,region,refreshToken\n\"" + strings.Repeat("y\n", importer.MaxLineBytes),
		"jsonl line too big": `{"connectionId":"` + strings.Repeat("z", importer.MaxLineBytes) + `"}` + "\n",
	} {
		rep, err := e.run(importer.Config{}, file)
		if !errors.Is(err, importer.ErrBadFile) {
			t.Errorf("%s: err = %v, want ErrBadFile", name, err)
		}
		if rep != nil && rep.Imported() > 0 {
			t.Errorf("%s: imported %d rows", name, rep.Imported())
		}
		if strings.Contains(fmt.Sprint(err), tok) {
			t.Errorf("%s: the error quotes the token", name)
		}
	}
	if e.Sim.Refreshes() != 0 || e.writes.n.Load() != 0 {
		t.Errorf("LWA refreshes %d, secret writes %d; want none", e.Sim.Refreshes(), e.writes.n.Load())
	}
}

func TestJSONLines(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.Sim.IssueRefreshToken("A1JSONSELLER")
	file := fmt.Sprintf(`{"connectionId":"js-1","region":"EU","refreshToken":%q,"authorizedAt":"2026-12-24T10:00:00Z","accountType":"vendor","displayName":"Jolly Shop"}`+"\n\n"+
		`{"connectionId":"js-2","region":"eu","refreshToken":%q,"password":"x"}`+"\n"+
		`{"connectionId":"js-3","region":"eu","refreshToken":7}`+"\n"+
		`not json at all`+"\n", tok, tok)
	rep, err := e.run(importer.Config{}, file)
	must(t, err)
	if rep.Format != "jsonl" || rep.Counts[importer.OutcomeActive] != 1 || rep.Counts[importer.OutcomeRejected] != 3 {
		t.Fatalf("report = %+v", rep)
	}
	if l := rep.Rejected; l[0].Line != 3 || !strings.Contains(l[0].Reason, `unknown key "password"`) || l[1].Line != 4 || l[2].Line != 5 {
		t.Errorf("rejected = %+v", l)
	}
	a := e.get("js-1", authz.RegionEU)
	if a.AccountType != authz.AccountVendor || a.DisplayName != "Jolly Shop" || a.ExpiryDay() != "2027-12-24" {
		t.Errorf("js-1 = %+v", a)
	}
}

func TestExistingConnectionIsNeverOverwritten(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	old := e.Sim.IssueRefreshToken("A1ORIGINAL01")
	_, err := e.run(importer.Config{}, header+"acme,eu,"+old+",A1ORIGINAL01,,,,\n")
	must(t, err)
	before := e.get("acme", authz.RegionEU)
	// A pending record (keeperctl onboard) takes the imported token.
	_, err = e.Store.Create(e.Ctx, authz.Authorization{ConnectionID: "waiting", Region: authz.RegionNA, AccountType: authz.AccountSeller,
		ContactEmail: "w@shop.example", Locale: "en-US", Status: authz.StatusPending})
	must(t, err)

	other, another := e.Sim.IssueRefreshToken("A1INTRUDER01"), e.Sim.IssueRefreshToken("A1INTRUDER01")
	fresh := e.Sim.IssueRefreshToken("A1ORIGINAL01")
	pending := e.Sim.IssueRefreshToken("A1WAITING001")
	rep, err := e.run(importer.Config{}, header+
		"acme,eu,"+other+",A1INTRUDER01,,,,\n"+
		"acme-two,eu,"+another+",A1ORIGINAL01,,,,\n"+
		"waiting,na,"+pending+",,,,,\n")
	must(t, err)
	again, err := e.run(importer.Config{}, header+"acme,eu,"+fresh+",,,,,\n")
	must(t, err)
	rep.Rejected = append(rep.Rejected, again.Rejected...)
	if len(rep.Rejected) != 3 || rep.Counts[importer.OutcomeUnknownExpiry] != 1 {
		t.Fatalf("counts = %v, rejected %+v", rep.Counts, rep.Rejected)
	}
	for i, want := range []string{"exists with seller A1ORIGINAL01, the file says A1INTRUDER01: not overwritten",
		"seller A1ORIGINAL01 is already connected as acme in region eu", "already in the ledger (active) with another refresh token"} {
		if !strings.Contains(rep.Rejected[i].Reason, want) {
			t.Errorf("rejection %d = %q, want %q", i, rep.Rejected[i].Reason, want)
		}
	}
	if after := e.get("acme", authz.RegionEU); after.Version != before.Version {
		t.Errorf("acme was rewritten")
	}
	rt, err := e.Vault.Get(e.Ctx, "acme", authz.RegionEU)
	must(t, err)
	if rt.Token.Reveal() != old {
		t.Errorf("acme's stored token was replaced")
	}
	if w := e.get("waiting", authz.RegionNA); w.Status != authz.StatusActive || w.ContactEmail != "w@shop.example" || w.Version != 2 {
		t.Errorf("pending record after import = %+v", w)
	}
}

func TestTokenOfAnotherApp(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.Sim.IssueRefreshToken("A1SELLER0001")
	ok := e.Sim.IssueRefreshToken("A1SELLER0002")
	e.Sim.InjectFault(amazonsim.GrantRefreshToken, amazonsim.Fault{Kind: "unauthorized_client", Status: 400, Code: "unauthorized_client",
		Description: "The client is not authorized for this refresh token."})
	rep, err := e.run(importer.Config{Concurrency: 1}, header+"foreign,eu,"+tok+",,,,,\nmine,eu,"+ok+",,,,,\n")
	must(t, err)
	if rep.Counts[importer.OutcomeRejected] != 1 || !strings.Contains(rep.Rejected[0].Reason, "belongs to another app") || rep.Imported() != 1 {
		t.Errorf("report = %+v", rep)
	}
	if _, err := e.Vault.Get(e.Ctx, "foreign", authz.RegionEU); !errors.Is(err, vault.ErrNotFound) {
		t.Errorf("another app's token was stored: %v", err)
	}
}

func TestWrongClientCredentialsStopTheImport(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.Sim.SetClientSecrets("rotated-away")
	var b strings.Builder
	b.WriteString(header)
	for i := range 30 {
		fmt.Fprintf(&b, "shop-%d,eu,%s,,,,,\n", i, e.Sim.IssueRefreshToken(fmt.Sprintf("A1SELLER%04d", i)))
	}
	rep, err := e.run(importer.Config{Concurrency: 1}, b.String())
	if !errors.Is(err, importer.ErrClientCredentials) {
		t.Fatalf("err = %v, want ErrClientCredentials", err)
	}
	if rep.LWACalls > 5 || rep.Imported() != 0 {
		t.Errorf("LWA calls %d, imported %d: the import should stop after a few refusals", rep.LWACalls, rep.Imported())
	}
}

func TestDryRunTouchesNothing(t *testing.T) {
	t.Parallel()
	tok := "Atzr|a-well-formed-token-for-a-dry-run"
	// No ledger, vault or LWA: a dry run that reached any of them would panic.
	im := importer.New(importer.Config{DryRun: true}, importer.Deps{})
	rep, err := im.Run(context.Background(), strings.NewReader(header+"a,eu,"+tok+",,,,,\nb,eu,"+tok+",,,x@,,\na,eu,"+tok+",,,,,\n"))
	must(t, err)
	if rep.Counts[importer.OutcomeValid] != 1 || rep.Counts[importer.OutcomeRejected] != 2 || rep.LWACalls != 0 {
		t.Errorf("dry run = %+v", rep)
	}
	var text bytes.Buffer
	must(t, rep.WriteText(&text))
	if !strings.Contains(text.String(), "dry run") || strings.Contains(text.String(), tok) {
		t.Errorf("dry-run report:\n%s", text.String())
	}
}

func TestConfirmEmailsArePaced(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var b strings.Builder
	b.WriteString(header)
	for i := range 5 {
		fmt.Fprintf(&b, "shop-%d,eu,%s,,,,,\n", i, e.Sim.IssueRefreshToken(fmt.Sprintf("A1SELLER%04d", i)))
	}
	_, err := e.run(importer.Config{Concurrency: 1, ConfirmPerDay: 2, UnknownExpiry: 10 * 24 * time.Hour}, b.String())
	must(t, err)
	perDay := map[string]int{}
	for i := range 5 {
		perDay[e.get(fmt.Sprintf("shop-%d", i), authz.RegionEU).ExpiryDay()]++
	}
	if fmt.Sprint(perDay) != "map[2027-03-11:2 2027-03-12:2 2027-03-13:1]" {
		t.Errorf("assumed expiry days = %v, want two a day from import+10 days", perDay)
	}
}

func TestAccountFingerprintIsTakenAndChecked(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	mine := e.Sim.IssueRefreshToken("A1REALSELLER")
	theirs := e.Sim.IssueRefreshToken("A1SOMEONEELS")
	rep, err := e.run(importer.Config{}, header+
		"mine,na,"+mine+",,,,,\n"+
		"claimed,na,"+theirs+",A1CLAIMEDSEL,,,,\n")
	must(t, err)
	if rep.Imported() != 1 || len(rep.Rejected) != 1 || !strings.Contains(rep.Rejected[0].Reason, "belongs to seller A1SOMEONEELS, not A1CLAIMEDSEL") {
		t.Fatalf("report = %+v", rep)
	}
	a := e.get("mine", authz.RegionNA)
	if a.Account.IsZero() || a.Account.StoreName == "" || !a.Account.SellerIDVerified || a.SellingPartnerID != "A1REALSELLER" {
		t.Errorf("fingerprint = %+v, seller %q; want SP-API's, with the verified seller id", a.Account, a.SellingPartnerID)
	}
	if _, err := e.Vault.Get(e.Ctx, "claimed", authz.RegionNA); !errors.Is(err, vault.ErrNotFound) {
		t.Errorf("a token of another seller was stored: %v", err)
	}
}
