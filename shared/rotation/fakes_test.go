package rotation_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/metrics"
	"github.com/spapi-auth-keeper/keeper/shared/rotation"
)

// The rotation's own tests: the vault, the state, Amazon's rotation API and LWA's
// verification are small in-memory fakes of the interfaces rotation declares. The
// same decisions run against the emulators and the Amazon simulator in
// rotation_test.go.

var rotNow = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

// memState is the Store: the state and its history, saves conditional on version.
type memState struct {
	mu     sync.Mutex
	st     rotation.State
	events []rotation.Event
}

func (m *memState) Load(context.Context) (rotation.State, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.st, nil
}

func (m *memState) Save(_ context.Context, next rotation.State, events ...rotation.Event) (rotation.State, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if next.Version != m.st.Version {
		return rotation.State{}, rotation.ErrConflict
	}
	next.Version++
	m.st = next
	m.events = append(m.events, events...)
	return next, nil
}

func (m *memState) AddEvent(_ context.Context, e rotation.Event) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.events = append(m.events, e)
	return nil
}

func (m *memState) Events(_ context.Context, limit int) ([]rotation.Event, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.events[max(0, len(m.events)-limit):], nil
}

func (m *memState) kinds() []rotation.EventKind {
	m.mu.Lock()
	defer m.mu.Unlock()
	var k []rotation.EventKind
	for _, e := range m.events {
		k = append(k, e.Kind)
	}
	return k
}

// credsVault is the Vault: the lwa-client secret.
type credsVault struct {
	mu   sync.Mutex
	c    authz.ClientCredentials
	puts int
}

func (v *credsVault) ClientCredentials(context.Context) (authz.ClientCredentials, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.c, nil
}

func (v *credsVault) PutClientCredentials(_ context.Context, c authz.ClientCredentials) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.c = c
	v.puts++
	return nil
}

// rotatorStub is Amazon's rotation API: it answers err, already classified as the
// adapter classifies the Application Management API's errors.
type rotatorStub struct {
	err   error
	calls int
}

func (r *rotatorStub) RotateClientSecret(context.Context) error {
	r.calls++
	return r.err
}

// verifierStub is LWA's proof of a client secret.
type verifierStub struct {
	err      error
	verified []authz.ClientCredentials
}

func (v *verifierStub) Verify(_ context.Context, c authz.ClientCredentials) error {
	v.verified = append(v.verified, c)
	return v.err
}

type cacheStub struct{ dropped int }

func (c *cacheStub) Invalidate() { c.dropped++ }

// rotWorld is one rotation service over fakes, at rotNow, with the current secret
// expiring in expiresIn.
type rotWorld struct {
	state    *memState
	vault    *credsVault
	rotator  *rotatorStub
	verifier *verifierStub
	cache    *cacheStub
	logs     *bytes.Buffer
	metrics  *bytes.Buffer
	svc      *rotation.Service
}

func newRotWorld(expiresIn time.Duration) *rotWorld {
	w := &rotWorld{
		state:    &memState{},
		vault:    &credsVault{c: authz.ClientCredentials{ClientID: clientID, ClientSecret: clientSecret, ClientSecretExpiresAt: rotNow.Add(expiresIn)}},
		rotator:  &rotatorStub{},
		verifier: &verifierStub{},
		cache:    &cacheStub{},
		logs:     &bytes.Buffer{},
		metrics:  &bytes.Buffer{},
	}
	w.svc = rotation.New(rotation.Config{AppID: appID}, rotation.Deps{
		Vault: w.vault, Store: w.state, Rotator: w.rotator, Verifier: w.verifier, Cache: w.cache,
		Clock:   authz.ClockFunc(func() time.Time { return rotNow }),
		Log:     slog.New(slog.NewJSONHandler(w.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Metrics: metrics.New(w.metrics).WithClock(func() time.Time { return rotNow }),
	})
	return w
}

// noSecretIn fails the test if a client secret reached the logs, the metrics or the
// history.
func (w *rotWorld) noSecretIn(t *testing.T, secrets ...string) {
	t.Helper()
	out := w.logs.String() + w.metrics.String()
	for _, e := range w.state.events {
		out += e.Detail
	}
	for _, s := range secrets {
		if strings.Contains(out, s) {
			t.Fatalf("client secret %q in the logs, metrics or history", s)
		}
	}
}
