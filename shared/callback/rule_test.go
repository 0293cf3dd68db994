package callback_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/spapi-auth-keeper/keeper/infra/amazonsim"
	"github.com/spapi-auth-keeper/keeper/infra/operator"
	"github.com/spapi-auth-keeper/keeper/shared/app"
	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/clientcreds"
	"github.com/spapi-auth-keeper/keeper/shared/config"
	"github.com/spapi-auth-keeper/keeper/shared/renewal"
	"github.com/spapi-auth-keeper/keeper/shared/secret"
	"github.com/spapi-auth-keeper/keeper/shared/store"
	"github.com/spapi-auth-keeper/keeper/shared/vault"
)

// The rule: a refresh token is stored on a connection only with positive evidence that
// it belongs to that connection's Amazon account. These tests try it on every path a
// new token takes through the callback (the emailed link, the Login URI, self-service
// onboarding, and the parked-token repair after either), for every state a connection
// can be in, with every kind of evidence an honest seller or an attacker can bring.

// The paths.
const (
	pathLink        = "link"         // the renewal link in the vendor's email, in the contact's browser
	pathLogin       = "login"        // Seller Central's Renew through the Login URI
	pathOnboarding  = "onboarding"   // the Login URI with self-service onboarding on
	pathParkedLink  = "parked-link"  // the link, SP-API down at the callback, then the sweep's repair
	pathParkedLogin = "parked-login" // the Login URI, SP-API down at the callback, then the sweep's repair
)

// The states of the victim's connection.
const (
	statePending       = "pending"         // created by the vendor, never authorized
	stateHealthy       = "healthy"         // active, fingerprinted, its token works
	stateFailing       = "failing"         // active, fingerprinted, its last refresh failed
	stateExpired       = "expired"         // past its year, fingerprinted, its token dead
	stateRevoked       = "revoked"         // revoked at Amazon, fingerprinted
	stateForgotten     = "forgotten"       // the vendor forgot it: no record
	stateBoundElse     = "bound-elsewhere" // names the seller, who is bound to another connection
	stateVendor        = "vendor"          // a Vendor Central account: no Sellers API, no fingerprint
	stateNoFingerprint = "no-fingerprint"  // expired, made before fingerprints existed
)

// The evidence the new token brings. The first two are the connection's own seller;
// the others are another account, which on the Login URI paths rewrites Amazon's
// unsigned selling_partner_id to the victim's.
const (
	evVerifiedID  = "verified-id"     // VERIFY_SELLER_ID on: SP-API names the seller id
	evFingerprint = "fingerprint"     // VERIFY_SELLER_ID off: store name and marketplaces
	evStoreName   = "store-name-only" // a look-alike store (same name, a shared marketplace); the probe answers 403
	evNone        = "none"            // an account SP-API will not describe (403 on the Sellers API)
	evDifferent   = "different"       // the attacker's own seller account
)

var (
	rulePaths    = []string{pathLink, pathLogin, pathOnboarding, pathParkedLink, pathParkedLogin}
	ruleStates   = []string{statePending, stateHealthy, stateFailing, stateExpired, stateRevoked, stateForgotten, stateBoundElse, stateVendor, stateNoFingerprint}
	ruleEvidence = []string{evVerifiedID, evFingerprint, evStoreName, evNone, evDifferent}
)

// expectStored says whether the new token must be stored, and on which connection:
// the victim's ("victim"), a self-service one ("sp-"), or none ("").
func expectStored(path, state, ev string) string {
	loginPath := path == pathLogin || path == pathOnboarding || path == pathParkedLogin
	honest := ev == evVerifiedID || ev == evFingerprint
	switch {
	case state == stateForgotten || (state == statePending && loginPath):
		// The seller is unknown to the Login URI: only a verified self-service
		// onboarding connects, and never on another account's word.
		if path == pathOnboarding && ev == evVerifiedID {
			return "sp-"
		}
		return ""
	case state == stateBoundElse:
		return ""
	case !loginPath && state == statePending:
		// The vendor's link in the contact's browser: the first authorization is
		// the contact's choice of account.
		return "victim"
	case !honest:
		return ""
	case !loginPath:
		return "victim"
	case state == stateVendor:
		return ""
	case ev == evVerifiedID:
		// Anyone can call the Login URI with the victim's id, and a store name can
		// be copied: only a verified seller id counts there.
		return "victim"
	}
	return ""
}

// ruleCase is one cell: an isolated keeper with the victim's connection in state.
type ruleCase struct {
	path, state, ev string
}

func (c ruleCase) name() string { return c.path + "/" + c.state + "/" + c.ev }

const (
	victimConn = "victim"
	victim     = "A1VICTIMSELLER"
	lookalike  = "A3LOOKALIKE"
	faceless   = "A4FACELESS"
	attacker   = "A5ATTACKER"
	otherConn  = "other"
)

func TestTokenLandsOnlyOnItsOwnAccount(t *testing.T) {
	t.Parallel()
	cells := 0
	for _, path := range rulePaths {
		for _, state := range ruleStates {
			for _, ev := range ruleEvidence {
				c := ruleCase{path, state, ev}
				cells++
				t.Run(c.name(), func(t *testing.T) {
					t.Parallel()
					runRuleCase(t, c)
				})
			}
		}
	}
	t.Logf("%d cells: %d paths × %d states × %d kinds of evidence", cells, len(rulePaths), len(ruleStates), len(ruleEvidence))
}

// ruleEnv builds the keeper of one cell: VERIFY_SELLER_ID and self-service onboarding
// as the cell needs them, and the accounts at the simulator.
func ruleEnv(t *testing.T, c ruleCase) *env {
	verify := c.ev == evVerifiedID || c.ev == evStoreName || c.ev == evDifferent
	e := newEnv(t, func(cfg *config.Config) {
		cfg.VerifySellerID = verify
		cfg.SelfServiceOnboarding = c.path == pathOnboarding
	})
	victimType := ""
	if c.state == stateVendor {
		victimType = amazonsim.AccountVendor
	}
	for _, sl := range []amazonsim.Seller{
		{ID: victim, Name: "Alpenblick Outdoor", CountryCodes: []string{"DE", "FR"}, AccountType: victimType},
		{ID: lookalike, Name: "Alpenblick  outdoor", CountryCodes: []string{"DE"}},
		{ID: faceless, Name: "Faceless", CountryCodes: []string{"DE"}, AccountType: amazonsim.AccountVendor},
		{ID: attacker, Name: "Attacker Shop", CountryCodes: []string{"IT"}},
	} {
		must(t, e.Sim.AddSeller(sl))
	}
	if c.ev == evStoreName {
		e.Sim.SetRoles("Product Listing") // the app no longer has the Pricing role: the probe answers 403
	}
	return e
}

// victimFingerprint is what the victim's first authorization recorded.
func victimFingerprint(e *env, verified bool) authz.Account {
	acct := authz.Account{StoreName: "Alpenblick Outdoor", MarketplaceIDs: []string{"A13V1IB3VIYZZH", "A1PA6795UKMFR9"}, TakenAt: e.Clock.Now().AddDate(-1, 0, 0)}
	if verified {
		acct.SellerID, acct.SellerIDVerified = victim, true
	}
	return acct
}

// setUpState makes the victim's connection and returns the token its entry holds ("" if none).
func setUpState(t *testing.T, e *env, c ruleCase) string {
	t.Helper()
	verifiedOnRecord := c.ev != evFingerprint && c.ev != evNone
	put := func(a authz.Authorization, token string) {
		create := func() (authz.Authorization, error) { return e.Store.CreateBound(e.Ctx, a, e.Clock.Now()) }
		if a.SellingPartnerID == "" {
			create = func() (authz.Authorization, error) { return e.Store.Create(e.Ctx, a) }
		}
		created, err := create()
		must(t, err)
		if token != "" {
			id, err := e.Vault.Put(e.Ctx, a.ConnectionID, a.Region, vault.RefreshToken{Token: secret.Value(token), SellingPartnerID: a.SellingPartnerID, Region: a.Region, AuthorizedAt: a.AuthorizedAt})
			must(t, err)
			created.SecretID = id
			_, err = e.Store.Update(e.Ctx, created)
			must(t, err)
		}
	}
	now := e.Clock.Now()
	base := authz.Authorization{ConnectionID: victimConn, Region: authz.RegionEU, AccountType: authz.AccountSeller, Marketplace: "DE",
		SellingPartnerID: victim, ContactEmail: "owner@alpenblick.example", Locale: "en-GB", Status: authz.StatusActive,
		AuthorizedAt: now.AddDate(0, -5, 0), RefreshSlot: 3}
	base.ExpiresAt = base.AuthorizedAt.Add(authz.Lifetime)
	base.Account = victimFingerprint(e, verifiedOnRecord)
	token := ""
	switch c.state {
	case statePending:
		base.SellingPartnerID, base.Status, base.Account = "", authz.StatusPending, authz.Account{}
		base.AuthorizedAt, base.ExpiresAt = time.Time{}, time.Time{}
	case stateHealthy:
		token = e.Sim.IssueRefreshToken(victim)
	case stateFailing:
		token = e.Sim.IssueRefreshToken(victim)
		base.RefreshFailures, base.LastRefreshError = 1, "server_error"
	case stateExpired, stateNoFingerprint:
		token = e.Sim.IssueRefreshTokenAt(victim, now.AddDate(-1, 0, -5))
		base.AuthorizedAt = now.AddDate(-1, 0, -5)
		base.ExpiresAt, base.Status = base.AuthorizedAt.Add(authz.Lifetime), authz.StatusExpired
		if c.state == stateNoFingerprint {
			base.Account = authz.Account{}
		}
	case stateRevoked:
		token = e.Sim.IssueRefreshToken(victim)
		e.Sim.Revoke(token)
		base.Status = authz.StatusRevoked
	case stateForgotten:
		return ""
	case stateBoundElse:
		other := base
		other.ConnectionID = otherConn
		put(other, e.Sim.IssueRefreshToken(victim))
		base.Status, base.Account = authz.StatusPending, authz.Account{}
		base.AuthorizedAt, base.ExpiresAt = time.Time{}, time.Time{}
		created, err := e.Store.Create(e.Ctx, base) // names the seller, who is bound to "other"
		must(t, err)
		_ = created
		return ""
	case stateVendor:
		base.AccountType, base.Account = authz.AccountVendor, authz.Account{}
		token = e.Sim.IssueRefreshToken(victim)
	}
	put(base, token)
	return token
}

// consenting is the account that signs in on Amazon's consent page.
func consenting(ev string) string {
	switch ev {
	case evStoreName:
		return lookalike
	case evNone:
		return faceless
	case evDifferent:
		return attacker
	}
	return victim
}

// play runs the cell's round trip in a browser of its own and returns the final page.
func play(t *testing.T, e *env, c ruleCase) response {
	t.Helper()
	e.browser = newBrowser(t)
	who := consenting(c.ev)
	var consentPage *url.URL
	switch c.path {
	case pathLink, pathParkedLink:
		r := e.get(e.link(victimConn, time.Hour))
		if r.status != http.StatusFound {
			return r // a forgotten connection's link ends here
		}
		consentPage = mustURL(t, r.location)
	default:
		// The Login URI is called with the victim's id, whoever calls it; Seller
		// Central Germany names the region.
		r := e.get(e.server.URL + "/login?" + url.Values{"amazon_callback_uri": {"https://sellercentral.amazon.de/apps/authorize/confirm/" + appID},
			"amazon_state": {"amz-" + c.ev}, "selling_partner_id": {victim}}.Encode()).want(http.StatusFound)
		st := mustURL(t, r.location).Query().Get("state")
		consentPage = mustURL(t, e.SimURL+"/apps/authorize/consent?"+url.Values{"application_id": {appID}, "state": {st},
			"version": {"beta"}, "redirect_uri": {e.server.URL + "/callback"}}.Encode())
	}
	back := mustURL(t, e.consentAs(consentPage, who, "confirm"))
	if c.path != pathLink && c.path != pathParkedLink && who != victim {
		// Amazon's redirect parameters are not signed: the attacker names the victim.
		q := back.Query()
		q.Set("selling_partner_id", victim)
		back.RawQuery = q.Encode()
	}
	if c.path == pathParkedLink || c.path == pathParkedLogin {
		e.Sim.InjectFaults(amazonsim.FaultSellers, amazonsim.Unavailable(), 3) // every attempt of the evidence call
	}
	return e.get(back.String())
}

func runRuleCase(t *testing.T, c ruleCase) {
	e := ruleEnv(t, c)
	before := setUpState(t, e, c)
	page := play(t, e, c)
	if page.status >= 500 {
		t.Fatalf("the round trip crashed: %d\n%s", page.status, page.body)
	}
	if c.path == pathParkedLink || c.path == pathParkedLogin {
		res, err := e.Deps.Renewal(e.Vault, e.Signer, e.sealer).RepairParked(e.Ctx)
		must(t, err)
		if res.Waiting != 0 {
			t.Fatalf("parked tokens still waiting after the repair: %+v", res)
		}
	}
	if parked, err := e.Store.ParkedTokens(e.Ctx); err != nil || len(parked) != 0 {
		t.Fatalf("parked tokens left: %d %v", len(parked), err)
	}
	who := consenting(c.ev)
	want := expectStored(c.path, c.state, c.ev)
	got := whoseToken(t, e, victimConn)
	switch want {
	case "victim":
		if got != who {
			t.Fatalf("the victim's connection holds a token of %q, want the new one of %q; page %d:\n%s", got, who, page.status, pageText(page))
		}
		a, err := e.Store.Get(e.Ctx, victimConn, authz.RegionEU)
		must(t, err)
		if a.Status != authz.StatusActive || a.DaysLeft(e.Clock.Now()) != 365 || a.LinkGeneration != 1 {
			t.Fatalf("record after the renewal: %+v", a)
		}
		if bound, err := e.Store.SellerBinding(e.Ctx, authz.RegionEU, a.SellingPartnerID); err != nil || bound != victimConn {
			t.Fatalf("seller %s bound to %q (%v)", a.SellingPartnerID, bound, err)
		}
	default:
		if tok := tokenOf(e, victimConn); tok != before {
			t.Fatalf("the victim's connection changed its token (now of %q); page %d:\n%s", got, page.status, pageText(page))
		}
		if a, err := e.Store.Get(e.Ctx, victimConn, authz.RegionEU); err == nil && a.LinkGeneration != 0 {
			t.Fatalf("the victim's record was renewed: %+v", a)
		}
	}
	if want == "sp-" {
		if got := whoseToken(t, e, "sp-"+victim); got != victim {
			t.Fatalf("the self-service connection holds a token of %q", got)
		}
	} else if tokenOf(e, "sp-"+victim) != "" {
		t.Fatalf("a self-service connection was made")
	}
	// The other account's token is nowhere but where the rule allowed it.
	for _, conn := range []string{victimConn, otherConn, "sp-" + victim} {
		if got := whoseToken(t, e, conn); got != "" && got != "dead" && got != victim && !(conn == victimConn && want == "victim") {
			t.Errorf("%s holds a token of %s", conn, got)
		}
	}
	// Bindings name only connections that hold the seller's own token.
	for _, s := range []string{lookalike, faceless, attacker} {
		if bound, _ := e.Store.SellerBinding(e.Ctx, authz.RegionEU, s); bound != "" && !(bound == victimConn && want == "victim" && who == s) {
			t.Errorf("seller %s bound to %s", s, bound)
		}
	}
	e.wantNoSecretsLogged(victimConn, otherConn)
}

// tokenOf is the refresh token conn's vault entry holds ("" if none).
func tokenOf(e *env, conn string) string {
	rt, err := e.Vault.Get(e.Ctx, conn, authz.RegionEU)
	if err != nil {
		return ""
	}
	return rt.Token.Reveal()
}

// whoseToken asks the simulator, through LWA as the keeper would, whose account the
// token in conn's entry is ("" if none; "dead" if LWA refuses it).
func whoseToken(t *testing.T, e *env, conn string) string {
	t.Helper()
	tok := tokenOf(e, conn)
	if tok == "" {
		return ""
	}
	tokens, err := e.Deps.LWA(clientcreds.New(e.Vault, 0)).Refresh(e.Ctx, secret.Value(tok))
	if err != nil {
		return "dead"
	}
	seller, ok := e.Sim.AccessTokenSeller(tokens.AccessToken.Reveal())
	if !ok {
		t.Fatalf("the simulator does not know the access token it just issued")
	}
	return seller
}

func pageText(r response) string {
	if i := strings.Index(r.body, "<main"); i >= 0 {
		return r.body[i:min(len(r.body), i+600)]
	}
	return r.body
}

// TestRandomHonestAndAttackerInterleaving plays, from a seed, an honest seller and an
// attacker taking turns on every path, with the victim's token dying and coming back
// and SP-API failing on the way, and checks after every step that the victim's
// connection holds only the victim's token.
func TestRandomHonestAndAttackerInterleaving(t *testing.T) {
	t.Parallel()
	const seeds, steps = 4, 40
	total := 0
	for seed := uint64(1); seed <= seeds; seed++ {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(seed, 0x5eed))
			verify := rng.IntN(2) == 0
			e := ruleEnv(t, ruleCase{path: pathOnboarding, ev: map[bool]string{true: evVerifiedID, false: evFingerprint}[verify]})
			c := ruleCase{path: pathLink, state: stateHealthy, ev: evFingerprint}
			if verify {
				c.ev = evVerifiedID
			}
			setUpState(t, e, c)
			for step := 0; step < steps; step++ {
				path := rulePaths[rng.IntN(len(rulePaths))]
				actor := []string{victim, attacker, lookalike, faceless}[rng.IntN(4)]
				var did string
				switch rng.IntN(6) {
				case 0: // the victim's token dies (revoked or expired at Amazon)
					e.Sim.RevokeSeller(victim)
					did = "victim revoked"
				case 1: // the sweep repairs what was parked
					_, err := e.Deps.Renewal(e.Vault, e.Signer, e.sealer).RepairParked(e.Ctx)
					must(t, err)
					did = "sweep"
				default:
					ev := map[string]string{victim: c.ev, attacker: evDifferent, lookalike: evStoreName, faceless: evNone}[actor]
					page := play(t, e, ruleCase{path: path, state: stateHealthy, ev: ev})
					if page.status >= 500 {
						t.Fatalf("step %d: %s by %s crashed: %d", step, path, actor, page.status)
					}
					did = fmt.Sprintf("%s by %s: %d", path, actor, page.status)
				}
				if got := whoseToken(t, e, victimConn); got != victim && got != "dead" {
					t.Fatalf("seed %d step %d (%s): the victim's connection holds a token of %q", seed, step, did, got)
				}
				if got := whoseToken(t, e, "sp-"+victim); got != "" && got != victim {
					t.Fatalf("seed %d step %d (%s): a self-service connection holds a token of %q", seed, step, did, got)
				}
			}
		})
		total += steps
	}
	t.Logf("%d randomized steps over %d seeds", total, seeds)
}

// TestMigrationAndMoveKeepEachTokenOnItsAccount: the two operator paths that move
// tokens or bindings. A vault migration, both ways, leaves every entry holding its
// own account's token; after keeperctl move, the moved seller's token is on no
// connection until the seller authorizes the target, and the Login URI cannot put an
// attacker's token on either connection meanwhile.
func TestMigrationAndMoveKeepEachTokenOnItsAccount(t *testing.T) {
	t.Parallel()
	c := ruleCase{path: pathLogin, state: stateHealthy, ev: evVerifiedID}
	e := ruleEnv(t, c)
	setUpState(t, e, c)
	// A second connection, the attacker's own, connected honestly.
	e.onboard("attackers-own", "", 0)
	e.browser = newBrowser(t)
	e.get(e.consentAs(e.consentURL(e.link("attackers-own", time.Hour)), attacker, "confirm")).want(http.StatusOK)
	owners := map[string]string{victimConn: victim, "attackers-own": attacker}
	check := func(when string) {
		t.Helper()
		for conn, want := range owners {
			if got := whoseToken(t, e, conn); got != want {
				t.Fatalf("%s: %s holds a token of %q, want %q", when, conn, got, want)
			}
		}
	}
	check("before")
	for _, to := range []vault.Layout{vault.LayoutPerAuthorization, vault.LayoutPacked} {
		m, err := e.Vault.WithTable(e.DDB, e.Table, to, vault.Packing{}).Migrate(e.Ctx, vault.MigrateOptions{To: to, RecoveryDays: 7})
		must(t, err)
		if m.Verified == 0 {
			t.Fatalf("migration to %s moved nothing: %+v", to, m)
		}
		check("after migrating to " + string(to))
	}

	// The operator moves the victim's seller to a new connection of the victim's.
	e.onboard("victim-new", "", 0)
	op := operator.New(operator.Config{BaseURL: e.server.URL}, e.Store, e.Vault, nil, e.Clock)
	if _, err := op.MoveSeller(e.Ctx, victim, authz.RegionEU, "victim-new", true); err != nil {
		t.Fatal(err)
	}
	owners[victimConn] = "" // its token, the seller's, was deleted with the move
	check("after the move")
	// The attacker tries the Login URI with the moved seller's id: nothing lands.
	page := play(t, e, ruleCase{path: pathLogin, state: stateHealthy, ev: evDifferent})
	if page.status == http.StatusOK {
		t.Fatalf("the Login URI attack after the move succeeded:\n%s", pageText(page))
	}
	check("after the attack")
	if whoseToken(t, e, "victim-new") != "" {
		t.Fatal("the move's target holds a token before its seller authorized it")
	}
	// The seller authorizes the target from its link: accepted.
	e.browser = newBrowser(t)
	e.get(e.consentAs(e.consentURL(e.link("victim-new", time.Hour)), victim, "confirm")).want(http.StatusOK)
	owners["victim-new"] = victim
	check("after the seller authorized the target")
}

// bindsMeanwhile is the ledger with another connection binding the seller after the
// callback's check, as a concurrent renewal or import can.
type bindsMeanwhile struct {
	*store.Store
	meanwhile func()
}

func (b bindsMeanwhile) ClaimBinding(ctx context.Context, region authz.Region, sellerID, connectionID string, at time.Time) error {
	b.meanwhile()
	return b.Store.ClaimBinding(ctx, region, sellerID, connectionID, at)
}

// TestSellerBoundMeanwhileLeavesTheVaultEntryAsItWas: the vault is written before the
// record; when the seller is bound to another connection after the callback's check,
// the renewal is refused before the vault write, so the refused token never sits in
// this connection's entry.
func TestSellerBoundMeanwhileLeavesTheVaultEntryAsItWas(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.onboard("first-try", "", 0)
	ledger := bindsMeanwhile{Store: e.Store, meanwhile: func() {
		other := authz.Authorization{ConnectionID: "raced", Region: authz.RegionEU, AccountType: authz.AccountSeller, Marketplace: "DE",
			SellingPartnerID: seller, Status: authz.StatusActive, AuthorizedAt: e.Clock.Now(), ExpiresAt: e.Clock.Now().Add(authz.Lifetime)}
		if _, err := e.Store.CreateBound(e.Ctx, other, e.Clock.Now()); err != nil && !errors.Is(err, authz.ErrAlreadyExists) {
			t.Error(err)
		}
	}}
	svc := renewal.NewService(renewal.Config{AppID: appID, RedirectURI: e.Config.RedirectURI, SellerCentralOverride: e.SimURL},
		renewal.Deps{Store: ledger, Vault: e.Vault, LWA: e.Deps.LWA(clientcreds.New(e.Vault, 0)), Accounts: app.Fingerprints{Client: e.Deps.Accounts()},
			Sealer: e.sealer, Signer: e.Signer, Clock: e.Clock, Log: slog.New(slog.NewJSONHandler(e.Logs, nil))})
	start, err := svc.StartFromLink(e.Ctx, strings.TrimPrefix(e.link("first-try", time.Hour), e.server.URL+"/authorize?t="))
	must(t, err)
	st := mustURL(t, start.URL).Query().Get("state")
	_, err = svc.Complete(e.Ctx, renewal.CallbackRequest{State: st, SellingPartnerID: seller, Code: e.Sim.IssueCode(seller, e.Config.RedirectURI),
		BrowserBindings: []string{start.Binding}})
	if !errors.Is(err, renewal.ErrSellerBound) {
		t.Fatalf("Complete = %v, want ErrSellerBound", err)
	}
	if tok := tokenOf(e, "first-try"); tok != "" {
		t.Fatal("the refused token stayed in the connection's vault entry")
	}
	if a, _ := e.Store.Get(e.Ctx, "first-try", authz.RegionEU); a.Status != authz.StatusPending {
		t.Fatalf("record: %+v", a)
	}
	if bound, _ := e.Store.SellerBinding(e.Ctx, authz.RegionEU, seller); bound != "raced" {
		t.Fatalf("seller bound to %q, want the connection that bound it first", bound)
	}
}

// TestPlainCookieDoesNotBindAStateOverHTTPS: over HTTPS only __Host-keeper-state
// binds a state to a browser. A plain keeper-state cookie can be planted by a sibling
// subdomain or an injected plain-HTTP answer: with it, an attacker's consent URL
// would bind the victim's account to the attacker's pending connection.
func TestPlainCookieDoesNotBindAStateOverHTTPS(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.onboard("attackers-pending", "", 0)
	overHTTPS := func(c *http.Client, rawURL string, cookie *http.Cookie) response {
		req, err := http.NewRequest(http.MethodGet, rawURL, nil)
		must(t, err)
		req.Header.Set("X-Forwarded-Proto", "https")
		if cookie != nil {
			req.AddCookie(cookie)
		}
		res, err := c.Do(req)
		must(t, err)
		defer res.Body.Close()
		b := new(strings.Builder)
		_, _ = io.Copy(b, res.Body)
		return response{t: t, status: res.StatusCode, body: b.String(), location: res.Header.Get("Location"), header: res.Header}
	}
	// The attacker starts the round trip of their own pending connection...
	attackerBrowser := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	r := overHTTPS(attackerBrowser, e.link("attackers-pending", time.Hour), nil).want(http.StatusFound)
	var binding string
	for _, c := range r.header.Values("Set-Cookie") {
		if v, ok := strings.CutPrefix(c, "__Host-keeper-state="); ok {
			binding, _, _ = strings.Cut(v, ";")
		}
	}
	if binding == "" {
		t.Fatalf("no __Host- cookie over HTTPS: %v", r.header.Values("Set-Cookie"))
	}
	// ...plants the binding in the victim's browser under the plain name, and the
	// victim consents on the attacker's consent URL.
	e.browser = newBrowser(t)
	back := e.consentAs(mustURL(t, r.location), seller, "confirm")
	page := overHTTPS(e.browser, back, &http.Cookie{Name: "keeper-state", Value: binding})
	page.want(http.StatusBadRequest, "started in another browser")
	if tok := tokenOf(e, "attackers-pending"); tok != "" {
		t.Fatal("the victim's token was stored on the attacker's connection")
	}
}
