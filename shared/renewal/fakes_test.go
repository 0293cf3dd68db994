package renewal_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/consent"
	"github.com/spapi-auth-keeper/keeper/shared/renewal"
	"github.com/spapi-auth-keeper/keeper/shared/secret"
)

// The renewal round trip's own tests: every collaborator is a small in-memory fake of
// the interface renewal declares; the signer is the real one (it is pure code). The
// same decisions run against the emulators and the Amazon simulator in
// shared/callback.

const (
	appID    = "amzn1.sp.solution.test"
	redirect = "https://keeper.example/callback"
	sellerA  = "A1SELLERAAAA"
	sellerB  = "B2SELLERBBBB"
)

var t0 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

type nonceItem struct {
	conn   string
	region authz.Region
	exp    time.Time
}

// ledger is the Store: records, nonces, bindings, history and parked tokens in maps.
type ledger struct {
	mu       sync.Mutex
	recs     map[string]authz.Authorization
	nonces   map[string]nonceItem
	bindings map[string]string
	events   []authz.Event
	parked   map[string]authz.Parked
	calls    *[]string // shared with the vault: the order of writes

	getErr    error  // every Get fails with it
	parkErr   error  // every Park fails with it
	claimErr  error  // every ClaimBinding fails with it
	onClaim   func() // runs before a ClaimBinding decides
	conflicts int    // UpdateBound answers ErrVersionConflict this many times first
}

func key(conn string, r authz.Region) string { return conn + "/" + string(r) }

func (l *ledger) Get(_ context.Context, conn string, r authz.Region) (authz.Authorization, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.getErr != nil {
		return authz.Authorization{}, l.getErr
	}
	a, ok := l.recs[key(conn, r)]
	if !ok {
		return authz.Authorization{}, authz.ErrNotFound
	}
	return a, nil
}

func (l *ledger) Create(_ context.Context, a authz.Authorization, events ...authz.Event) (authz.Authorization, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.recs[a.Key()]; ok {
		return authz.Authorization{}, authz.ErrAlreadyExists
	}
	a.Version = 1
	l.recs[a.Key()] = a
	l.events = append(l.events, events...)
	return a, nil
}

func (l *ledger) UpdateBound(_ context.Context, a authz.Authorization, _ time.Time, events ...authz.Event) (authz.Authorization, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	*l.calls = append(*l.calls, "record")
	cur, ok := l.recs[a.Key()]
	if l.conflicts > 0 {
		l.conflicts--
		cur.Version++
		l.recs[a.Key()] = cur
		return authz.Authorization{}, authz.ErrVersionConflict
	}
	if !ok || cur.Version != a.Version {
		return authz.Authorization{}, authz.ErrVersionConflict
	}
	bk := string(a.Region) + "#" + a.SellingPartnerID
	if other := l.bindings[bk]; other != "" && other != a.ConnectionID {
		return authz.Authorization{}, &authz.SellerBoundError{SellingPartnerID: a.SellingPartnerID, Region: a.Region, ConnectionID: other}
	}
	l.bindings[bk] = a.ConnectionID
	a.Version++
	l.recs[a.Key()] = a
	l.events = append(l.events, authz.EventsWith(a, events)...)
	return a, nil
}

func (l *ledger) FindBySeller(_ context.Context, id string) ([]authz.Authorization, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []authz.Authorization
	for _, a := range l.recs {
		if a.SellingPartnerID == id {
			out = append(out, a)
		}
	}
	return out, nil
}

func (l *ledger) SellerBinding(_ context.Context, r authz.Region, id string) (string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.bindings[string(r)+"#"+id], nil
}

func (l *ledger) ClaimBinding(_ context.Context, r authz.Region, id, conn string, _ time.Time) error {
	if l.onClaim != nil {
		l.onClaim()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	*l.calls = append(*l.calls, "claim")
	if l.claimErr != nil {
		return l.claimErr
	}
	if other := l.bindings[string(r)+"#"+id]; other != "" && other != conn {
		return &authz.SellerBoundError{SellingPartnerID: id, Region: r, ConnectionID: other}
	}
	l.bindings[string(r)+"#"+id] = conn
	return nil
}

func (l *ledger) AddEvent(_ context.Context, e authz.Event) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, e)
	return nil
}

func (l *ledger) PutNonce(_ context.Context, nonce, conn string, r authz.Region, exp time.Time) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.nonces[nonce] = nonceItem{conn, r, exp}
	return nil
}

func (l *ledger) ConsumeNonce(_ context.Context, nonce string, now time.Time) (string, authz.Region, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n, ok := l.nonces[nonce]
	if !ok {
		return "", "", authz.ErrNonceNotFound
	}
	delete(l.nonces, nonce)
	if !now.Before(n.exp) {
		return "", "", authz.ErrNonceExpired
	}
	return n.conn, n.region, nil
}

func (l *ledger) Park(_ context.Context, p authz.Parked) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.parkErr != nil {
		return l.parkErr
	}
	l.parked[key(p.ConnectionID, p.Region)] = p
	return nil
}

func (l *ledger) ParkedTokens(context.Context) ([]authz.Parked, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []authz.Parked
	for _, p := range l.parked {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ConnectionID < out[j].ConnectionID })
	return out, nil
}

func (l *ledger) Unpark(_ context.Context, conn string, r authz.Region, at time.Time) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if p, ok := l.parked[key(conn, r)]; ok && p.ParkedAt.Equal(at) {
		delete(l.parked, key(conn, r))
	}
	return nil
}

func (l *ledger) record(t *testing.T, conn string) authz.Authorization {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.recs[key(conn, authz.RegionEU)]
}

func (l *ledger) kinds(conn string) []authz.EventKind {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []authz.EventKind
	for _, e := range l.events {
		if e.ConnectionID == conn {
			out = append(out, e.Kind)
		}
	}
	return out
}

func (l *ledger) parkedOf(conn string) (authz.Parked, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	p, ok := l.parked[key(conn, authz.RegionEU)]
	return p, ok
}

// vault keeps refresh tokens in a map; putErr makes every Put fail.
type vault struct {
	mu     sync.Mutex
	tokens map[string]authz.RefreshToken
	putErr error
	calls  *[]string
}

func (v *vault) Get(_ context.Context, conn string, r authz.Region) (authz.RefreshToken, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	rt, ok := v.tokens[key(conn, r)]
	if !ok {
		return authz.RefreshToken{}, errors.New("vault: no such entry")
	}
	return rt, nil
}

func (v *vault) Put(_ context.Context, conn string, r authz.Region, rt authz.RefreshToken) (string, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	*v.calls = append(*v.calls, "vault")
	if v.putErr != nil {
		return "", v.putErr
	}
	v.tokens[key(conn, r)] = rt
	return "secret/" + key(conn, r), nil
}

func (v *vault) token(conn string) string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.tokens[key(conn, authz.RegionEU)].Token.Reveal()
}

// lwaFake is LWA: codes and refresh tokens it issued, and the errors it answers.
type lwaFake struct {
	mu          sync.Mutex
	codes       map[string]string // code → refresh token
	live        map[string]bool   // refresh tokens that still work
	exchangeErr error
	exchanges   int
}

func (f *lwaFake) issue(code, refreshToken string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.codes[code] = refreshToken
	f.live[refreshToken] = true
}

func (f *lwaFake) ExchangeCode(_ context.Context, code, redirectURI string) (authz.Tokens, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.exchanges++
	if f.exchangeErr != nil {
		return authz.Tokens{}, f.exchangeErr
	}
	rt, ok := f.codes[code]
	if !ok || redirectURI != redirect {
		return authz.Tokens{}, fmt.Errorf("code refused: %w", authz.ErrInvalidGrant)
	}
	delete(f.codes, code)
	return authz.Tokens{AccessToken: secret.Value("access:" + rt), RefreshToken: secret.Value(rt)}, nil
}

func (f *lwaFake) Refresh(_ context.Context, rt secret.Value) (authz.Tokens, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.live[rt.Reveal()] {
		return authz.Tokens{}, fmt.Errorf("refresh refused: %w", authz.ErrInvalidGrant)
	}
	return authz.Tokens{AccessToken: secret.Value("access:" + rt.Reveal()), RefreshToken: rt}, nil
}

// sp is SP-API: the account behind each refresh token's access tokens.
type sp struct {
	mu       sync.Mutex
	accounts map[string]authz.Account // refresh token → account
	err      error                    // every call fails with it
}

func (s *sp) Fingerprint(_ context.Context, _ authz.Region, access secret.Value) (authz.Account, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return authz.Account{}, s.err
	}
	acct, ok := s.accounts[strings.TrimPrefix(access.Reveal(), "access:")]
	if !ok {
		return authz.Account{}, fmt.Errorf("fingerprint: %w", authz.ErrAccessDenied)
	}
	return acct, nil
}

func (s *sp) set(refreshToken string, a authz.Account) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.accounts[refreshToken] = a
}

// sealer "encrypts" by reversing the bytes and checks the encryption context.
type sealer struct{ broken bool }

func (s *sealer) Seal(_ context.Context, plain secret.Value, ec map[string]string) ([]byte, error) {
	if s.broken {
		return nil, errors.New("kms unavailable")
	}
	b := []byte(ec["connectionId"] + "|" + plain.Reveal())
	for i, j := 0, len(b)-1; i < j; i, j = i+1, j-1 {
		b[i], b[j] = b[j], b[i]
	}
	return b, nil
}

func (s *sealer) Open(_ context.Context, ct []byte, ec map[string]string) (secret.Value, error) {
	b := bytes.Clone(ct)
	for i, j := 0, len(b)-1; i < j; i, j = i+1, j-1 {
		b[i], b[j] = b[j], b[i]
	}
	conn, plain, ok := strings.Cut(string(b), "|")
	if !ok || conn != ec["connectionId"] {
		return "", errors.New("kms: encryption context does not match")
	}
	return secret.Value(plain), nil
}

// world is one service and its fakes.
type world struct {
	t      *testing.T
	svc    *renewal.Service
	ledger *ledger
	vault  *vault
	lwa    *lwaFake
	sp     *sp
	sealer *sealer
	signer *consent.Signer
	now    time.Time
	clock  authz.Clock
	calls  []string
	logs   *bytes.Buffer
	codes  int
}

type option func(*renewal.Config)

func newWorld(t *testing.T, opts ...option) *world {
	t.Helper()
	signer, err := consent.NewSigner(secret.Value(strings.Repeat("k", consent.MinKeyLen)))
	if err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, signer: signer, now: t0, logs: &bytes.Buffer{}, sealer: &sealer{}}
	w.ledger = &ledger{recs: map[string]authz.Authorization{}, nonces: map[string]nonceItem{}, bindings: map[string]string{},
		parked: map[string]authz.Parked{}, calls: &w.calls}
	w.vault = &vault{tokens: map[string]authz.RefreshToken{}, calls: &w.calls}
	w.lwa = &lwaFake{codes: map[string]string{}, live: map[string]bool{}}
	w.sp = &sp{accounts: map[string]authz.Account{}}
	w.clock = authz.ClockFunc(func() time.Time { return w.now })
	cfg := renewal.Config{AppID: appID, RedirectURI: redirect, VerifySellerID: true, VaultBudget: 20 * time.Millisecond}
	for _, o := range opts {
		o(&cfg)
	}
	w.svc = renewal.NewService(cfg, renewal.Deps{Store: w.ledger, Vault: w.vault, LWA: w.lwa, Accounts: w.sp, Sealer: w.sealer,
		Signer: signer, Clock: w.clock, Log: slog.New(slog.NewJSONHandler(&syncWriter{buf: w.logs}, nil))})
	return w
}

type syncWriter struct {
	mu  sync.Mutex
	buf *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

// account is the fingerprint SP-API gives of a seller's store.
func account(sellerID, store string, verified bool) authz.Account {
	return authz.Account{StoreName: store, MarketplaceIDs: []string{"A1PA6795UKMFR9"}, SellerID: sellerID, SellerIDVerified: verified, TakenAt: t0}
}

// active puts an authorized connection of sellerID in the ledger, with its working
// token in the vault and, where fp is not zero, its fingerprint on record.
func (w *world) active(conn, sellerID string, fp authz.Account) authz.Authorization {
	w.t.Helper()
	a := authz.Authorization{ConnectionID: conn, Region: authz.RegionEU, AccountType: authz.AccountSeller, Marketplace: "DE",
		SellingPartnerID: sellerID, Status: authz.StatusExpiring, AuthorizedAt: t0.Add(-335 * 24 * time.Hour),
		ExpiresAt: t0.Add(30 * 24 * time.Hour), Account: fp, Version: 3, LinkGeneration: 2}
	w.ledger.recs[a.Key()] = a
	w.ledger.bindings["eu#"+sellerID] = conn
	old := "old-token-of-" + conn
	w.vault.tokens[a.Key()] = authz.RefreshToken{Token: secret.Value(old), SellingPartnerID: sellerID, Region: authz.RegionEU}
	w.lwa.live[old] = true
	w.sp.accounts[old] = account(sellerID, "Acme Store", true)
	return a
}

// pending puts a connection the vendor created and nobody authorized yet.
func (w *world) pending(conn string) authz.Authorization {
	a := authz.Authorization{ConnectionID: conn, Region: authz.RegionEU, AccountType: authz.AccountSeller, Marketplace: "DE",
		Status: authz.StatusPending, Version: 1}
	w.ledger.recs[a.Key()] = a
	return a
}

// link is a renewal link token for conn, made for its current link generation.
func (w *world) link(conn string) string {
	return w.signer.SignLink(consent.Link{ConnectionID: conn, Region: authz.RegionEU, Expires: w.now.Add(45 * 24 * time.Hour),
		Generation: w.ledger.record(w.t, conn).LinkGeneration})
}

// started is a round trip started, as the seller's browser holds it.
type started struct {
	state   string
	binding string
}

func (w *world) follow(conn string) started {
	w.t.Helper()
	st, err := w.svc.StartFromLink(context.Background(), w.link(conn))
	if err != nil {
		w.t.Fatalf("StartFromLink(%s): %v", conn, err)
	}
	return started{state: query(w.t, st.URL, "state"), binding: st.Binding}
}

func (w *world) login(sellerID string) started {
	w.t.Helper()
	st, err := w.svc.StartFromLogin(context.Background(), renewal.LoginRequest{
		CallbackURI: "https://sellercentral.amazon.de/apps/authorize/confirm/" + appID, AmazonState: "amzn-state", SellingPartnerID: sellerID})
	if err != nil {
		w.t.Fatalf("StartFromLogin(%s): %v", sellerID, err)
	}
	return started{state: query(w.t, st.URL, "state"), binding: st.Binding}
}

// consent has sellerID consent on Amazon's page: LWA issues a code for a fresh
// refresh token whose account SP-API describes as acct (none: SP-API refuses).
func (w *world) consent(acct *authz.Account) (code, refreshToken string) {
	w.codes++
	code = fmt.Sprintf("code-%d", w.codes)
	refreshToken = fmt.Sprintf("Atzr|new-token-%d", w.codes)
	w.lwa.issue(code, refreshToken)
	if acct != nil {
		w.sp.set(refreshToken, *acct)
	}
	return code, refreshToken
}

func (w *world) complete(s started, sellerID, code string) (renewal.Result, error) {
	return w.svc.Complete(context.Background(), renewal.CallbackRequest{State: s.state, SellingPartnerID: sellerID, Code: code,
		BrowserBindings: []string{s.binding}})
}

// noSecretIn fails the test if a token value appears in the logs or the history.
func (w *world) noSecretIn(tokens ...string) {
	w.t.Helper()
	var hist strings.Builder
	for _, e := range w.ledger.events {
		hist.WriteString(e.Detail + "\n")
	}
	for _, tok := range tokens {
		if tok == "" {
			continue
		}
		if strings.Contains(w.logs.String(), tok) || strings.Contains(hist.String(), tok) {
			w.t.Errorf("token %q appears in the logs or the history", tok)
		}
	}
}

func query(t *testing.T, raw, name string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query().Get(name)
}
