package refresh_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/metrics"
	"github.com/spapi-auth-keeper/keeper/shared/refresh"
	"github.com/spapi-auth-keeper/keeper/shared/secret"
	"github.com/spapi-auth-keeper/keeper/shared/stages"
)

// The worker's own tests: every collaborator is a small in-memory fake of the
// interface refresh declares. The same decisions run against the emulators and the
// LWA simulator in refresh_test.go.

var fakeNow = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

func memKey(conn string, r authz.Region) string { return conn + "/" + string(r) }

// memLedger is the Store: records and history in maps, writes conditional on version.
type memLedger struct {
	mu     sync.Mutex
	recs   map[string]authz.Authorization
	events []authz.Event
}

func (l *memLedger) Get(_ context.Context, conn string, r authz.Region) (authz.Authorization, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	a, ok := l.recs[memKey(conn, r)]
	if !ok {
		return authz.Authorization{}, authz.ErrNotFound
	}
	return a, nil
}

func (l *memLedger) Update(_ context.Context, a authz.Authorization, events ...authz.Event) (authz.Authorization, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	cur, ok := l.recs[a.Key()]
	if !ok {
		return authz.Authorization{}, authz.ErrNotFound
	}
	if cur.Version != a.Version {
		return authz.Authorization{}, authz.ErrVersionConflict
	}
	a.Version++
	l.recs[a.Key()] = a
	l.events = append(l.events, events...)
	return a, nil
}

func (l *memLedger) BySlot(_ context.Context, slot int, fn func(authz.Authorization) error) error {
	l.mu.Lock()
	var in []authz.Authorization
	for _, a := range l.recs {
		if a.RefreshSlot == slot {
			in = append(in, a)
		}
	}
	l.mu.Unlock()
	for _, a := range in {
		if err := fn(a); err != nil {
			return err
		}
	}
	return nil
}

func (l *memLedger) History(_ context.Context, conn string, limit int) ([]authz.Event, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []authz.Event
	for i := len(l.events) - 1; i >= 0 && len(out) < limit; i-- { // newest first
		if l.events[i].ConnectionID == conn {
			out = append(out, l.events[i])
		}
	}
	return out, nil
}

func (l *memLedger) record(t *testing.T, conn string) authz.Authorization {
	t.Helper()
	a, err := l.Get(context.Background(), conn, authz.RegionEU)
	if err != nil {
		t.Fatalf("record %s: %v", conn, err)
	}
	return a
}

func (l *memLedger) kinds() []authz.EventKind {
	l.mu.Lock()
	defer l.mu.Unlock()
	var k []authz.EventKind
	for _, e := range l.events {
		k = append(k, e.Kind)
	}
	return k
}

// memVault is the Vault: one refresh token per authorization.
type memVault struct {
	mu     sync.Mutex
	tokens map[string]authz.RefreshToken
	puts   int
}

func (v *memVault) Get(_ context.Context, conn string, r authz.Region) (authz.RefreshToken, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	rt, ok := v.tokens[memKey(conn, r)]
	if !ok {
		return authz.RefreshToken{}, fmt.Errorf("read %s: %w", conn, authz.ErrSecretNotFound)
	}
	return rt, nil
}

func (v *memVault) Put(_ context.Context, conn string, r authz.Region, rt authz.RefreshToken) (string, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	rt.SecretID = v.SecretName(conn, r)
	v.tokens[memKey(conn, r)] = rt
	v.puts++
	return rt.SecretID, nil
}

func (v *memVault) SecretName(conn string, r authz.Region) string {
	return "keeper/" + conn + "/" + string(r)
}

func (v *memVault) token(conn string) string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.tokens[memKey(conn, authz.RegionEU)].Token.Reveal()
}

// lwaStub is the TokenRefresher: a refresh token's answer is set per token, already
// classified as the LWA adapter classifies LWA's errors.
type lwaStub struct {
	mu      sync.Mutex
	answers map[string]lwaAnswer
	calls   int
}

type lwaAnswer struct {
	err     error
	rotated string // a refresh token LWA hands back in place of the one given
}

func (l *lwaStub) Refresh(_ context.Context, rt secret.Value) (authz.Tokens, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls++
	ans, ok := l.answers[rt.Reveal()]
	if !ok {
		return authz.Tokens{}, authz.Classified(authz.ErrInvalidGrant, errors.New("lwa: invalid_grant: unknown refresh token"))
	}
	if ans.err != nil {
		return authz.Tokens{}, ans.err
	}
	back := rt
	if ans.rotated != "" {
		back = secret.Value(ans.rotated)
	}
	return authz.Tokens{AccessToken: secret.Value("Atza|access-for-" + rt.Reveal()), RefreshToken: back, TokenType: "bearer", ExpiresIn: time.Hour}, nil
}

func (l *lwaStub) set(rt string, a lwaAnswer) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.answers[rt] = a
}

func (l *lwaStub) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.calls
}

// accountsStub is the AccountReader: the account behind each access token.
type accountsStub struct {
	mu       sync.Mutex
	accounts map[string]authz.Account
	err      error
	calls    int
}

func (s *accountsStub) Account(_ context.Context, _ authz.Region, access secret.Value) (authz.Account, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.err != nil {
		return authz.Account{}, s.err
	}
	return s.accounts[access.Reveal()], nil
}

// credsStub is the cached lwa-client secret.
type credsStub struct{ c authz.ClientCredentials }

func (c credsStub) Full(context.Context) (authz.ClientCredentials, error) { return c.c, nil }

// queueStub is a Sender that keeps the bodies it was given.
type queueStub struct {
	mu     sync.Mutex
	bodies []string
	err    error
}

func (q *queueStub) Send(_ context.Context, bodies []string) (int, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.err != nil {
		return 0, q.err
	}
	q.bodies = append(q.bodies, bodies...)
	return len(bodies), nil
}

func (q *queueStub) jobs(t *testing.T) []stages.Job {
	t.Helper()
	q.mu.Lock()
	defer q.mu.Unlock()
	var jobs []stages.Job
	for _, b := range q.bodies {
		j, err := stages.ParseJob(b)
		if err != nil {
			t.Fatalf("reminder queue body %q: %v", b, err)
		}
		jobs = append(jobs, j)
	}
	return jobs
}

// noPace lets every call go at once: the budget is not what these tests check.
type noPace struct{}

func (noPace) Reserve(int)                {}
func (noPace) Wait(context.Context) error { return nil }

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// world is one refresh service over fakes, at fakeNow.
type world struct {
	t        *testing.T
	ledger   *memLedger
	vault    *memVault
	lwa      *lwaStub
	accounts *accountsStub
	refreshQ *queueStub
	remindQ  *queueStub
	logs     *lockedBuffer
	metrics  *lockedBuffer
	svc      *refresh.Service
}

func newWorld(t *testing.T) *world {
	w := &world{
		t:        t,
		ledger:   &memLedger{recs: map[string]authz.Authorization{}},
		vault:    &memVault{tokens: map[string]authz.RefreshToken{}},
		lwa:      &lwaStub{answers: map[string]lwaAnswer{}},
		accounts: &accountsStub{accounts: map[string]authz.Account{}},
		refreshQ: &queueStub{},
		remindQ:  &queueStub{},
		logs:     &lockedBuffer{},
		metrics:  &lockedBuffer{},
	}
	w.svc = refresh.New(refresh.Config{}, refresh.Deps{
		Store: w.ledger, Vault: w.vault, LWA: w.lwa, Accounts: w.accounts,
		Credentials:  credsStub{authz.ClientCredentials{ClientID: "client", ClientSecret: "cs", ClientSecretExpiresAt: fakeNow.Add(100 * 24 * time.Hour)}},
		RefreshQueue: w.refreshQ, ReminderQueue: w.remindQ,
		Clock:   authz.ClockFunc(func() time.Time { return fakeNow }),
		Log:     slog.New(slog.NewJSONHandler(w.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Metrics: metrics.New(w.metrics).WithClock(func() time.Time { return fakeNow }),
		Pacer:   noPace{},
	})
	return w
}

// authorized seeds an authorization granted at authorizedAt with its token in the
// vault, LWA accepting it; status and fingerprint as given.
func (w *world) authorized(conn string, status authz.Status, authorizedAt time.Time, fp authz.Account) string {
	token := "Atzr|refresh-" + conn
	a := authz.Authorization{
		ConnectionID: conn, Region: authz.RegionEU, AccountType: authz.AccountSeller, SellingPartnerID: "A1SELLER" + strings.ToUpper(conn),
		Status: status, AuthorizedAt: authorizedAt, ExpiresAt: authorizedAt.Add(365 * 24 * time.Hour),
		SecretID: w.vault.SecretName(conn, authz.RegionEU), Account: fp, Version: 1,
	}
	w.ledger.recs[a.Key()] = a
	w.vault.tokens[a.Key()] = authz.RefreshToken{Token: secret.Value(token), SellingPartnerID: a.SellingPartnerID, Region: authz.RegionEU,
		AuthorizedAt: authorizedAt, SecretID: a.SecretID}
	w.lwa.answers[token] = lwaAnswer{}
	return token
}

func (w *world) refresh(conn string) refresh.Outcome {
	return w.svc.Refresh(context.Background(), refresh.Request{ConnectionID: conn, Region: authz.RegionEU, QueuedAt: fakeNow.Add(-time.Minute)})
}

// failedCount is RefreshFailed{Reason=reason} as emitted.
func (w *world) failedCount(reason string) int {
	return strings.Count(w.metrics.String(), `"Reason":"`+reason+`"`)
}

// noSecretIn fails the test if a token reached the logs or the metrics.
func (w *world) noSecretIn(tokens ...string) {
	w.t.Helper()
	out := w.logs.String() + w.metrics.String()
	for _, tok := range tokens {
		if tok != "" && strings.Contains(out, tok) {
			w.t.Fatalf("token %q in the logs or metrics", tok)
		}
	}
}
