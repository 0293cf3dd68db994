package appmgmt_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/spapi-auth-keeper/keeper/infra/amazonsim"
	"github.com/spapi-auth-keeper/keeper/infra/testenv"
	"github.com/spapi-auth-keeper/keeper/shared/appmgmt"
	"github.com/spapi-auth-keeper/keeper/shared/lwa"
	"github.com/spapi-auth-keeper/keeper/shared/secret"
)

func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

const (
	clientID     = "amzn1.application-oa2-client.appmgmt"
	clientSecret = "amzn1.oa2-cs.v1.appmgmt-current-secret"
)

type env struct {
	sim    *amazonsim.Sim
	url    string
	clock  *testenv.Clock
	logs   *testenv.Buffer
	client *appmgmt.Client
}

// newEnv is the simulator (LWA and the SP-API endpoint on one server) with the app's
// new-secret queue registered on the SQS emulator when enrolled, and the client.
func newEnv(t *testing.T, enrolled bool, timeout time.Duration) *env {
	t.Helper()
	c := testenv.NewClock(time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC))
	sim := amazonsim.New(amazonsim.Config{AppID: "amzn1.sp.solution.appmgmt", ClientID: clientID, ClientSecret: clientSecret, Clock: c.Now})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	if enrolled {
		sim.SetNotificationDestination(testenv.SQS(t), testenv.NewQueue(t, "new-secret"))
	}
	e := &env{sim: sim, url: srv.URL, clock: c, logs: &testenv.Buffer{}}
	log := slog.New(slog.NewJSONHandler(e.logs, nil))
	tokens := lwa.NewClient(lwa.Config{Endpoint: srv.URL + "/auth/o2/token", Logger: log, MaxAttempts: 2, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond,
		Credentials: lwa.StaticCredentials{ClientID: clientID, ClientSecret: secret.Value(clientSecret)}})
	e.client = appmgmt.New(appmgmt.Config{Endpoint: srv.URL, Tokens: tokens, Clock: c.Now, Logger: log, Timeout: timeout})
	return e
}

func TestRotateClientSecret(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		enrolled     bool
		timeout      time.Duration
		setup        func(e *env)
		wantKind     error
		wantStatus   int
		wantRotated  int
		wantRequests int // calls that reached the endpoint
	}{
		{name: "rotated", enrolled: true, wantRotated: 1, wantRequests: 1},
		{name: "no queue registered", setup: func(*env) {}, wantKind: appmgmt.ErrNotEnrolled, wantStatus: 400, wantRequests: 1},
		{name: "LWA refuses the current secret", enrolled: true, setup: func(e *env) { e.sim.SetClientSecrets("amzn1.oa2-cs.v1.someone-elses") },
			wantKind: appmgmt.ErrClient},
		{name: "LWA unavailable", enrolled: true, setup: func(e *env) {
			e.sim.InjectFaults(amazonsim.GrantClientCredentials, amazonsim.Unavailable(), 2)
		}, wantKind: appmgmt.ErrUnavailable},
		{name: "500", enrolled: true, setup: func(e *env) { e.sim.InjectFault(amazonsim.FaultRotation, amazonsim.ServerError()) },
			wantKind: appmgmt.ErrUnavailable, wantStatus: 500, wantRequests: 1},
		{name: "503", enrolled: true, setup: func(e *env) { e.sim.InjectFault(amazonsim.FaultRotation, amazonsim.Unavailable()) },
			wantKind: appmgmt.ErrUnavailable, wantStatus: 503, wantRequests: 1},
		{name: "429 from Amazon", enrolled: true, setup: func(e *env) { e.sim.InjectFault(amazonsim.FaultRotation, amazonsim.Throttled()) },
			wantKind: appmgmt.ErrThrottled, wantStatus: 429, wantRequests: 1},
		{name: "403", enrolled: true, setup: func(e *env) {
			e.sim.InjectFault(amazonsim.FaultRotation, amazonsim.Fault{Kind: "forbidden", Status: 403})
		}, wantKind: appmgmt.ErrForbidden, wantStatus: 403, wantRequests: 1},
		{name: "no answer after the request left", enrolled: true, timeout: 200 * time.Millisecond,
			setup:    func(e *env) { e.sim.InjectFault(amazonsim.FaultRotation, amazonsim.Timeout(2*time.Second)) },
			wantKind: appmgmt.ErrUnknownOutcome, wantRotated: 1, wantRequests: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, tc.enrolled, tc.timeout)
			if tc.setup != nil {
				tc.setup(e)
			}
			err := e.client.RotateClientSecret(context.Background())
			if tc.wantKind == nil {
				if err != nil {
					t.Fatal(err)
				}
			} else {
				if !errors.Is(err, tc.wantKind) {
					t.Fatalf("error %v, want %v", err, tc.wantKind)
				}
				var ae *appmgmt.Error
				if !errors.As(err, &ae) || ae.Status != tc.wantStatus {
					t.Fatalf("error %#v, want an *appmgmt.Error with HTTP %d", err, tc.wantStatus)
				}
				if tc.wantStatus != 0 && ae.RequestID == "" {
					t.Errorf("no request id in %v", err)
				}
			}
			if tc.wantKind == appmgmt.ErrClient && !errors.Is(err, lwa.ErrClient) {
				t.Errorf("the LWA error is not kept: %v", err)
			}
			deadline := time.Now().Add(5 * time.Second)
			for e.sim.Rotations() < tc.wantRotated && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond) // a held request finishes after the client gave up
			}
			if got := e.sim.Rotations(); got != tc.wantRotated {
				t.Errorf("rotations %d, want %d", got, tc.wantRotated)
			}
			if got := e.sim.RotationRequests(); got != tc.wantRequests {
				t.Errorf("requests %d, want %d", got, tc.wantRequests)
			}
			if err != nil && strings.Contains(err.Error(), clientSecret) || strings.Contains(e.logs.String(), clientSecret) {
				t.Fatal("the client secret leaked")
			}
		})
	}
}

// TestUsagePlanKeptOnThisSide: one call a minute. A caller that loops gets
// ErrThrottled at once, with how long to wait, and Amazon sees no extra call.
func TestUsagePlanKeptOnThisSide(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true, 0)
	ctx := context.Background()
	if err := e.client.RotateClientSecret(ctx); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100; i++ {
		err := e.client.RotateClientSecret(ctx)
		var ae *appmgmt.Error
		if !errors.Is(err, appmgmt.ErrThrottled) || !errors.As(err, &ae) || ae.RetryAfter <= 0 || ae.RetryAfter > time.Minute {
			t.Fatalf("call %d within the minute: %v", i, err)
		}
	}
	if got := e.sim.RotationRequests(); got != 1 {
		t.Fatalf("Amazon saw %d calls, want 1", got)
	}
	e.clock.Advance(30 * time.Second)
	var ae *appmgmt.Error
	if err := e.client.RotateClientSecret(ctx); !errors.As(err, &ae) || ae.RetryAfter < 29*time.Second || ae.RetryAfter > 31*time.Second {
		t.Fatalf("after 30 s: %v", err)
	}
	e.clock.Advance(30 * time.Second)
	if err := e.client.RotateClientSecret(ctx); err != nil {
		t.Fatalf("after a minute: %v", err)
	}
	if e.sim.Rotations() != 2 {
		t.Fatalf("rotations %d, want 2", e.sim.Rotations())
	}
}

func TestUnreachable(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	sim := amazonsim.New(amazonsim.Config{ClientID: clientID, ClientSecret: clientSecret})
	lwaSrv := httptest.NewServer(sim)
	t.Cleanup(lwaSrv.Close)
	tokens := lwa.NewClient(lwa.Config{Endpoint: lwaSrv.URL + "/auth/o2/token",
		Credentials: lwa.StaticCredentials{ClientID: clientID, ClientSecret: secret.Value(clientSecret)}})
	err := appmgmt.New(appmgmt.Config{Endpoint: url, Tokens: tokens}).RotateClientSecret(context.Background())
	if !errors.Is(err, appmgmt.ErrUnavailable) || errors.Is(err, appmgmt.ErrUnknownOutcome) {
		t.Fatalf("unreachable endpoint: %v, want ErrUnavailable (nothing was sent)", err)
	}
}

func TestEndpoint(t *testing.T) {
	t.Parallel()
	for region, want := range map[string]string{"na": "https://sellingpartnerapi-na.amazon.com", "EU": "https://sellingpartnerapi-eu.amazon.com",
		"fe": "https://sellingpartnerapi-fe.amazon.com", "xx": ""} {
		got, err := appmgmt.Endpoint(region)
		if got != want || (want == "") != (err != nil) {
			t.Errorf("Endpoint(%q) = %q, %v; want %q", region, got, err, want)
		}
	}
}
