package refresh_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/spapi-auth-keeper/keeper/infra/amazonsim"
	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/refresh"
	"github.com/spapi-auth-keeper/keeper/shared/reminder"
	"github.com/spapi-auth-keeper/keeper/shared/secret"
	"github.com/spapi-auth-keeper/keeper/shared/vault"
)

const day = 24 * time.Hour

// TestFaultMatrix runs each LWA failure kind, on the first try and after retries, and
// a Secrets Manager read failure, through the refresh queue and the real handler, and
// checks what a vendor would see: the record's status, the metric, where the message
// ended up, and that no refresh token was lost or written.
func TestFaultMatrix(t *testing.T) {
	t.Parallel()
	lwaFaults := func(fs ...amazonsim.Fault) func(e *env) {
		return func(e *env) {
			for _, f := range fs {
				e.Sim.InjectFault(amazonsim.GrantRefreshToken, f)
			}
		}
	}
	always := func(f amazonsim.Fault) func(e *env) {
		return func(e *env) { e.Sim.InjectFaults(amazonsim.GrantRefreshToken, f, 100) }
	}
	hang := amazonsim.Timeout(time.Second)
	tests := []struct {
		name         string
		pastExpiry   bool // the record's expiresAt has passed (the expiry scan has not run yet)
		inject       func(e *env)
		wantStatus   authz.Status
		wantReason   string // "" when the refresh succeeds
		wantDLQ      int
		wantRevoked  bool // a reconnect email is queued
		wantNoChange bool // the record is left exactly as it was
	}{
		{name: "no fault", inject: func(*env) {}, wantStatus: authz.StatusActive},

		{name: "invalid_grant on the first try", inject: lwaFaults(amazonsim.InvalidGrant()),
			wantStatus: authz.StatusRevoked, wantReason: refresh.ReasonRevoked, wantRevoked: true},
		{name: "invalid_grant after retries", inject: lwaFaults(amazonsim.ServerError(), amazonsim.Throttled(), amazonsim.InvalidGrant()),
			wantStatus: authz.StatusRevoked, wantReason: refresh.ReasonRevoked, wantRevoked: true},
		{name: "invalid_grant past expiry on the first try", pastExpiry: true, inject: lwaFaults(amazonsim.InvalidGrant()),
			wantStatus: authz.StatusExpired, wantReason: refresh.ReasonExpired},
		{name: "invalid_grant past expiry after retries", pastExpiry: true, inject: lwaFaults(amazonsim.Unavailable(), amazonsim.Unavailable(), amazonsim.InvalidGrant()),
			wantStatus: authz.StatusExpired, wantReason: refresh.ReasonExpired},

		{name: "invalid_client once, then the re-read credentials work", inject: lwaFaults(amazonsim.InvalidClient()),
			wantStatus: authz.StatusActive},
		{name: "invalid_client before and after re-reading the credentials", inject: lwaFaults(amazonsim.InvalidClient(), amazonsim.InvalidClient()),
			wantStatus: authz.StatusActive, wantReason: refresh.ReasonClient, wantDLQ: 1, wantNoChange: true},
		{name: "invalid_client after retries", inject: lwaFaults(amazonsim.ServerError(), amazonsim.ServerError(), amazonsim.InvalidClient(), amazonsim.InvalidClient()),
			wantStatus: authz.StatusActive, wantReason: refresh.ReasonClient, wantDLQ: 1, wantNoChange: true},
		{name: "unauthorized_client", inject: lwaFaults(amazonsim.UnauthorizedClient(), amazonsim.UnauthorizedClient()),
			wantStatus: authz.StatusActive, wantReason: refresh.ReasonClient, wantDLQ: 1, wantNoChange: true},
		{name: "invalid_request", inject: always(amazonsim.InvalidRequest()),
			wantStatus: authz.StatusActive, wantReason: refresh.ReasonBadRequest, wantDLQ: 1, wantNoChange: true},

		{name: "429 on the first try", inject: lwaFaults(amazonsim.Throttled()), wantStatus: authz.StatusActive},
		{name: "429 on every try", inject: always(amazonsim.Throttled()),
			wantStatus: authz.StatusActive, wantReason: refresh.ReasonThrottled, wantDLQ: 1, wantNoChange: true},
		{name: "500 on the first try", inject: lwaFaults(amazonsim.ServerError()), wantStatus: authz.StatusActive},
		{name: "500 on every try", inject: always(amazonsim.ServerError()),
			wantStatus: authz.StatusActive, wantReason: refresh.ReasonUnavailable, wantDLQ: 1, wantNoChange: true},
		{name: "503 on the first try", inject: lwaFaults(amazonsim.Unavailable()), wantStatus: authz.StatusActive},
		{name: "503 on every try", inject: always(amazonsim.Unavailable()),
			wantStatus: authz.StatusActive, wantReason: refresh.ReasonUnavailable, wantDLQ: 1, wantNoChange: true},
		{name: "timeout on the first try", inject: lwaFaults(hang), wantStatus: authz.StatusActive},
		{name: "timeout on every try", inject: always(hang),
			wantStatus: authz.StatusActive, wantReason: refresh.ReasonUnavailable, wantDLQ: 1, wantNoChange: true},

		{name: "Secrets Manager read fails once", inject: func(e *env) { e.Secrets.FailNext("GetSecretValue", 1, "InternalServiceError") },
			wantStatus: authz.StatusActive},
		// The SDK tries each read three times; the message is delivered maxReceive times.
		{name: "Secrets Manager read fails every time", inject: func(e *env) { e.Secrets.FailNext("GetSecretValue", 3*maxReceive, "InternalServiceError") },
			wantStatus: authz.StatusActive, wantReason: refresh.ReasonUnavailable, wantDLQ: 1, wantNoChange: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, func(o *options) { o.attemptLimit = 100 * time.Millisecond })
			ago := 100 * day
			status := authz.StatusActive
			if tc.pastExpiry {
				ago, status = 366*day, authz.StatusExpiring
			}
			s := e.seed("conn-1", status, ago)
			writes := e.secretWrites()
			tc.inject(e)

			e.enqueue("conn-1")
			e.deliver(e.handler)

			a := e.record("conn-1")
			if a.Status != tc.wantStatus {
				t.Errorf("status %s, want %s", a.Status, tc.wantStatus)
			}
			if tc.wantNoChange && a.Version != s.Version {
				t.Errorf("record written (version %d → %d), want it untouched", s.Version, a.Version)
			}
			if tc.wantReason == "" {
				if !a.LastRefreshAt.Equal(e.Clock.Now()) || a.LastRefreshError != "" || a.RefreshFailures != 0 {
					t.Errorf("after a good refresh: lastRefreshAt %v lastRefreshError %q failures %d", a.LastRefreshAt, a.LastRefreshError, a.RefreshFailures)
				}
				if got := e.metricCount(refresh.MetricSucceeded, ""); got != 1 {
					t.Errorf("RefreshSucceeded = %v, want 1", got)
				}
			} else {
				if got := e.metricCount(refresh.MetricFailed, tc.wantReason); got < 1 {
					t.Errorf("RefreshFailed{Reason=%s} = %v, want at least 1\n%s", tc.wantReason, got, e.Metrics.String())
				}
				if got := e.metricCount(refresh.MetricSucceeded, ""); got != 0 {
					t.Errorf("RefreshSucceeded = %v after a failure", got)
				}
			}
			if got := e.depth(e.refreshDLQ); got != tc.wantDLQ {
				t.Errorf("DLQ depth %d, want %d", got, tc.wantDLQ)
			}
			if got := e.depth(e.refreshURL); got != 0 {
				t.Errorf("refresh queue depth %d, want 0", got)
			}
			if got := len(e.reconnectJobs()); got != map[bool]int{true: 1}[tc.wantRevoked] {
				t.Errorf("reconnect jobs %d, want revoked=%v", got, tc.wantRevoked)
			}
			if got := e.secretWrites() - writes; got != 0 {
				t.Errorf("Secrets Manager writes %d, want 0", got)
			}
			if got := e.storedToken("conn-1"); got != s.token {
				t.Error("the stored refresh token changed")
			}
			e.wantNoSecretsLogged("conn-1")
		})
	}
}

// TestOutcomes covers each record state the sweep meets.
func TestOutcomes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		setup       func(e *env) // seeds conn-1
		wantResult  string
		wantReason  string
		wantStatus  authz.Status
		wantLWA     int
		wantEvent   authz.EventKind // the newest history event, if one is written
		wantRetry   bool
		wantExpires func(e *env) time.Time
	}{
		{name: "active", setup: func(e *env) { e.seed("conn-1", authz.StatusActive, 10*day) },
			wantResult: refresh.ResultRefreshed, wantStatus: authz.StatusActive, wantLWA: 1},
		{name: "expiring stays expiring", setup: func(e *env) { e.seed("conn-1", authz.StatusExpiring, 340*day) },
			wantResult: refresh.ResultRefreshed, wantStatus: authz.StatusExpiring, wantLWA: 1},
		{name: "revoked but accepted again is restored", setup: func(e *env) {
			e.seed("conn-1", authz.StatusRevoked, 10*day, func(a *authz.Authorization) { a.RefreshFailures = 1 })
		}, wantResult: refresh.ResultRestored, wantStatus: authz.StatusActive, wantLWA: 1, wantEvent: authz.EventRestored},
		{name: "revoked, still refused", setup: func(e *env) {
			s := e.seed("conn-1", authz.StatusRevoked, 10*day, func(a *authz.Authorization) { a.RefreshFailures = 1 })
			e.Sim.Revoke(s.token)
		}, wantResult: refresh.ResultRevoked, wantReason: refresh.ReasonStillRevoked, wantStatus: authz.StatusRevoked, wantLWA: 1},
		{name: "confirmed revocation is not sent to LWA", setup: func(e *env) {
			e.seed("conn-1", authz.StatusRevoked, 10*day, func(a *authz.Authorization) { a.RefreshFailures = refresh.DefaultConfirmRevokedAfter })
		}, wantResult: refresh.ResultChecked, wantStatus: authz.StatusRevoked},
		{name: "expired is not sent to LWA", setup: func(e *env) { e.seed("conn-1", authz.StatusExpired, 400*day) },
			wantResult: refresh.ResultChecked, wantStatus: authz.StatusExpired},
		{name: "pending without a secret", setup: func(e *env) {
			_, err := e.Store.Create(e.Ctx, authz.Authorization{ConnectionID: "conn-1", Region: authz.RegionEU, Status: authz.StatusPending,
				AccountType: authz.AccountSeller, Marketplace: "DE", ContactEmail: "c@example.com"})
			must(e.T, err)
		}, wantResult: refresh.ResultChecked, wantStatus: authz.StatusPending},
		{name: "first authorization whose record write failed is repaired", setup: func(e *env) {
			// The callback stored the secret; the record still says pending.
			_, err := e.Store.Create(e.Ctx, authz.Authorization{ConnectionID: "conn-1", Region: authz.RegionEU, Status: authz.StatusPending,
				AccountType: authz.AccountSeller, Marketplace: "DE", ContactEmail: "c@example.com"})
			must(e.T, err)
			e.putSecret("conn-1", "A1FIRSTSELLER", e.Clock.Now().Add(-2*time.Hour))
		}, wantResult: refresh.ResultRepaired, wantStatus: authz.StatusActive, wantLWA: 1, wantEvent: authz.EventAuthorized,
			wantExpires: func(e *env) time.Time { return e.Clock.Now().Add(-2 * time.Hour).Add(authz.Lifetime) }},
		{name: "renewal of an expired record whose record write failed is repaired", setup: func(e *env) {
			s := e.seed("conn-1", authz.StatusExpired, 400*day)
			e.putSecret("conn-1", s.seller, e.Clock.Now().Add(-time.Hour))
		}, wantResult: refresh.ResultRepaired, wantStatus: authz.StatusActive, wantLWA: 1, wantEvent: authz.EventRenewed,
			wantExpires: func(e *env) time.Time { return e.Clock.Now().Add(-time.Hour).Add(authz.Lifetime) }},
		{name: "active record without a secret", setup: func(e *env) {
			_, err := e.Store.Create(e.Ctx, authz.Authorization{ConnectionID: "conn-1", Region: authz.RegionEU, Status: authz.StatusActive,
				AccountType: authz.AccountSeller, Marketplace: "DE", AuthorizedAt: e.Clock.Now().Add(-day), ExpiresAt: e.Clock.Now().Add(300 * day)})
			must(e.T, err)
		}, wantResult: refresh.ResultFailed, wantReason: refresh.ReasonNoSecret, wantStatus: authz.StatusActive},
		{name: "deleted since it was queued", setup: func(e *env) {}, wantResult: refresh.ResultNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			tc.setup(e)
			o := e.refresh("conn-1")
			if o.Result != tc.wantResult || o.Reason != tc.wantReason || o.Retry != tc.wantRetry {
				t.Fatalf("outcome %+v, want result %s reason %q retry %v", o, tc.wantResult, tc.wantReason, tc.wantRetry)
			}
			if got := e.Sim.Refreshes(); got != tc.wantLWA {
				t.Errorf("LWA refreshes %d, want %d", got, tc.wantLWA)
			}
			if tc.wantResult == refresh.ResultNotFound {
				return
			}
			a := e.record("conn-1")
			if a.Status != tc.wantStatus || o.Status != tc.wantStatus {
				t.Errorf("status %s (outcome %s), want %s", a.Status, o.Status, tc.wantStatus)
			}
			if tc.wantExpires != nil {
				if want := tc.wantExpires(e); !a.ExpiresAt.Equal(want) {
					t.Errorf("expiresAt %v, want %v", a.ExpiresAt, want)
				}
				if a.SellingPartnerID == "" || a.SecretID == "" {
					t.Errorf("repaired record lacks sellingPartnerId or secretId: %+v", a)
				}
			}
			if tc.wantEvent != "" {
				h, err := e.Store.History(e.Ctx, "conn-1", 1)
				must(t, err)
				if len(h) == 0 || h[0].Kind != tc.wantEvent {
					t.Errorf("newest event %+v, want %s", h, tc.wantEvent)
				}
			}
			if tc.wantReason == refresh.ReasonNoSecret && (a.LastRefreshError == "" || a.RefreshFailures != 1) {
				t.Errorf("record does not say the token is missing: %+v", a)
			}
		})
	}
}

// TestConcurrentCallbackWins refreshes while a seller renews: the callback writes the
// new secret and the renewed record while LWA is answering the refresh of the old
// token. The renewal must stand and the new token must survive, whatever LWA says
// about the old one.
func TestConcurrentCallbackWins(t *testing.T) {
	t.Parallel()
	for _, oldTokenRefused := range []bool{false, true} {
		t.Run(fmt.Sprintf("old token refused %v", oldTokenRefused), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			s := e.seed("conn-1", authz.StatusExpiring, 350*day)
			if oldTokenRefused {
				e.Sim.Revoke(s.token)
			}
			// Long enough for the callback's vault write and record update to land while
			// LWA answers, on a loaded machine too (a packed write takes a lease first).
			e.Sim.SetLatency(1500 * time.Millisecond)
			done := make(chan refresh.Outcome)
			go func() { done <- e.refresh("conn-1") }()
			waitFor(t, func() bool { return e.Sim.Refreshes() == 1 }) // the refresh has read the record and the secret

			// The callback, as renewal.Service does it: secret first, then the record.
			renewedAt := e.Clock.Now()
			newToken := e.Sim.IssueRefreshToken(s.seller)
			_, err := e.Vault.Put(e.Ctx, "conn-1", authz.RegionEU, vault.RefreshToken{Token: secret.Value(newToken), SellingPartnerID: s.seller, Region: authz.RegionEU, AuthorizedAt: renewedAt})
			must(t, err)
			a := e.record("conn-1")
			a.Renew(renewedAt, s.seller)
			renewed, err := e.Store.Update(e.Ctx, a, authz.Event{ConnectionID: "conn-1", Region: authz.RegionEU, At: renewedAt, Kind: authz.EventRenewed})
			must(t, err)

			o := <-done
			if o.Result != refresh.ResultSuperseded {
				t.Fatalf("outcome %+v, want superseded", o)
			}
			got := e.record("conn-1")
			if got.Version != renewed.Version || got.Status != authz.StatusActive || !got.ExpiresAt.Equal(renewedAt.Add(authz.Lifetime)) {
				t.Fatalf("record after the race %+v, want the renewal's (version %d)", got, renewed.Version)
			}
			if e.storedToken("conn-1") != newToken {
				t.Fatal("the renewal's refresh token was lost")
			}
			if jobs := e.reconnectJobs(); len(jobs) != 0 {
				t.Fatalf("reconnect queued for a renewed authorization: %+v", jobs)
			}
		})
	}
}

// TestConcurrentWriterIsKept refreshes while another writer (a reminder claim, the
// expiry scan) updates the record: the refresh re-reads and applies its outcome on
// top, losing neither write.
func TestConcurrentWriterIsKept(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.seed("conn-1", authz.StatusActive, 300*day)
	e.Sim.SetLatency(300 * time.Millisecond)
	done := make(chan refresh.Outcome)
	go func() { done <- e.refresh("conn-1") }()
	waitFor(t, func() bool { return e.Sim.Refreshes() == 1 })
	a := e.record("conn-1")
	a.Status = authz.StatusExpiring
	a.Reminders = map[string]authz.ReminderMark{"-30": {ClaimedAt: e.Clock.Now()}}
	_, err := e.Store.Update(e.Ctx, a)
	must(t, err)

	o := <-done
	got := e.record("conn-1")
	if o.Result != refresh.ResultRefreshed || got.Version != a.Version+2 {
		t.Fatalf("outcome %+v, record version %d; want refreshed on top of version %d", o, got.Version, a.Version+1)
	}
	if got.Status != authz.StatusExpiring || got.Reminders["-30"].ClaimedAt.IsZero() || !got.LastRefreshAt.Equal(e.Clock.Now()) {
		t.Fatalf("a write was lost: %+v", got)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestReconnectQueuedOncePerRevocation: the reconnect email is queued when the
// revocation is found, not again while the seller stays revoked, and again for a new
// revocation after the seller reconnected.
func TestReconnectQueuedOncePerRevocation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.seed("conn-1", authz.StatusActive, 100*day)
	e.Sim.Revoke(s.token)

	first := e.refresh("conn-1")
	if first.Result != refresh.ResultRevoked || first.Reason != refresh.ReasonRevoked || !first.ReconnectQueued {
		t.Fatalf("first refresh %+v", first)
	}
	for range 2 { // the next sweeps, until the revocation is confirmed
		e.Clock.Advance(day)
		if o := e.refresh("conn-1"); o.Reason != refresh.ReasonStillRevoked || o.ReconnectQueued {
			t.Fatalf("later refresh %+v", o)
		}
	}
	e.Clock.Advance(day)
	if o := e.refresh("conn-1"); o.Result != refresh.ResultChecked {
		t.Fatalf("after confirmation: %+v, want checked without LWA", o)
	}
	jobs := e.reconnectJobs()
	if len(jobs) != 1 {
		t.Fatalf("reconnect jobs %d, want 1", len(jobs))
	}
	j := jobs[0]
	if j.Stage != reminder.StageReconnect || j.ConnectionID != "conn-1" || !j.RevokedAt.Equal(e.Clock.Now().Add(-3*day)) || !j.ExpiresAt.Equal(s.ExpiresAt) {
		t.Fatalf("job %+v", j)
	}
	if got := e.metricCount(refresh.MetricFailed, refresh.ReasonRevoked); got != 1 {
		t.Fatalf("RefreshFailed{revoked} = %v, want 1 (the alarm fires once per revocation)", got)
	}

	// The seller reconnects, and later revokes again: a new email.
	token := e.Sim.IssueRefreshToken(s.seller)
	_, err := e.Vault.Put(e.Ctx, "conn-1", authz.RegionEU, vault.RefreshToken{Token: secret.Value(token), SellingPartnerID: s.seller, Region: authz.RegionEU, AuthorizedAt: e.Clock.Now()})
	must(t, err)
	a := e.record("conn-1")
	a.Renew(e.Clock.Now(), s.seller)
	_, err = e.Store.Update(e.Ctx, a)
	must(t, err)
	e.Clock.Advance(day)
	e.Sim.Revoke(token)
	if o := e.refresh("conn-1"); !o.ReconnectQueued {
		t.Fatalf("second revocation %+v", o)
	}
	if jobs := e.reconnectJobs(); len(jobs) != 1 || !jobs[0].RevokedAt.Equal(e.Clock.Now()) {
		t.Fatalf("second revocation jobs %+v", jobs)
	}
}

// TestReconnectRequeuedAfterFailedEnqueue: the revocation is recorded but the
// reminder queue refuses the job; the message is retried, and the retry (on another
// worker) queues the email with the same revocation time. A later sweep queues none.
func TestReconnectRequeuedAfterFailedEnqueue(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(o *options) { o.reminderURL = "http://127.0.0.1:1/000000000000/no-such-queue" })
	s := e.seed("conn-1", authz.StatusActive, 100*day)
	e.Sim.Revoke(s.token)
	queuedAt := e.Clock.Now()
	req := refresh.Request{ConnectionID: "conn-1", Region: authz.RegionEU, QueuedAt: queuedAt}
	e.Clock.Advance(time.Minute)

	first := e.svc.Refresh(e.Ctx, req)
	if first.Result != refresh.ResultRevoked || first.ReconnectQueued || !first.Retry {
		t.Fatalf("first attempt %+v, want revoked, not queued, retry", first)
	}
	revokedAt := e.Clock.Now()
	if a := e.record("conn-1"); a.Status != authz.StatusRevoked {
		t.Fatalf("status %s", a.Status)
	}

	e.Clock.Advance(time.Minute)
	svc, _ := e.build(options{service: refresh.Config{MaxPerSecond: 1000}, lwaEndpoint: e.lwaURL, reminderURL: e.reminderURL, attemptLimit: time.Second})
	retry := svc.Refresh(e.Ctx, req)
	if !retry.ReconnectQueued || retry.Retry {
		t.Fatalf("retry %+v, want the reconnect queued", retry)
	}
	e.Clock.Advance(day)
	if o := svc.Refresh(e.Ctx, refresh.Request{ConnectionID: "conn-1", Region: authz.RegionEU, QueuedAt: e.Clock.Now()}); o.ReconnectQueued {
		t.Fatalf("next day's sweep queued the email again: %+v", o)
	}
	jobs := e.reconnectJobs()
	if len(jobs) != 1 || !jobs[0].RevokedAt.Equal(revokedAt) {
		t.Fatalf("jobs %+v, want one with revokedAt %v", jobs, revokedAt)
	}
}

// rotatingLWA stands in front of the simulator and answers each refresh with a new
// refresh token for the same seller, as LWA would if it ever rotated them.
func rotatingLWA(t *testing.T, e *env, seller string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		res, err := http.Post(e.lwaURL, r.Header.Get("Content-Type"), strings.NewReader(string(body)))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer res.Body.Close()
		var ans map[string]any
		_ = json.NewDecoder(res.Body).Decode(&ans)
		if form, _ := url.ParseQuery(string(body)); res.StatusCode == 200 && form.Get("grant_type") == "refresh_token" {
			ans["refresh_token"] = e.Sim.IssueRefreshToken(seller)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(res.StatusCode)
		_ = json.NewEncoder(w).Encode(ans)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestRotatedRefreshTokenIsStored(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.seed("conn-1", authz.StatusActive, 10*day)
	svc, _ := e.build(options{service: refresh.Config{MaxPerSecond: 1000}, lwaEndpoint: rotatingLWA(t, e, s.seller), reminderURL: e.reminderURL, attemptLimit: time.Second})
	writes := e.secretWrites()
	o := svc.Refresh(e.Ctx, refresh.Request{ConnectionID: "conn-1", Region: authz.RegionEU})
	if o.Result != refresh.ResultRefreshed || !o.SecretWritten {
		t.Fatalf("outcome %+v", o)
	}
	if got := e.secretWrites() - writes; got != 1 {
		t.Fatalf("Secrets Manager writes %d, want 1", got)
	}
	rt, err := e.Vault.Get(e.Ctx, "conn-1", authz.RegionEU)
	must(t, err)
	if rt.Token.Reveal() == s.token || !rt.AuthorizedAt.Equal(s.AuthorizedAt) || rt.SellingPartnerID != s.seller {
		t.Fatalf("vault after rotation: new token %v, authorizedAt %v, seller %s", rt.Token.Reveal() != s.token, rt.AuthorizedAt, rt.SellingPartnerID)
	}
	// The stored token is the one LWA just gave: refreshing with it works.
	if o := e.refresh("conn-1"); o.Result != refresh.ResultRefreshed {
		t.Fatalf("refresh with the rotated token: %+v", o)
	}
	e.wantNoSecretsLogged("conn-1")
}

// TestInvalidClientRereadsCredentials: the vendor rotated the LWA client secret a
// moment ago; a worker's cached credentials are refused once, re-read, and work.
func TestInvalidClientRereadsCredentials(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.seed("conn-1", authz.StatusActive, 10*day)
	e.seed("conn-2", authz.StatusActive, 10*day)
	if o := e.refresh("conn-1"); o.Result != refresh.ResultRefreshed {
		t.Fatalf("before rotation: %+v", o)
	}
	must(t, e.Vault.PutClientCredentials(e.Ctx, vault.ClientCredentials{ClientID: clientID, ClientSecret: "rotated-client-secret", ClientSecretExpiresAt: e.Clock.Now().AddDate(0, 6, 0)}))
	e.Sim.SetClientSecrets("rotated-client-secret")
	reads := e.Secrets.Calls("GetSecretValue")
	if o := e.refresh("conn-2"); o.Result != refresh.ResultRefreshed {
		t.Fatalf("after rotation: %+v", o)
	}
	if got := e.Sim.Refreshes(); got != 3 {
		t.Fatalf("LWA refreshes %d, want 3 (one refused with the old secret)", got)
	}
	// The token, and the re-read client credentials; in the packed layout conn-2's
	// token comes from the bucket read for conn-1, kept in memory.
	want := 2
	if e.Vault.Layout() == vault.LayoutPacked {
		want = 1
	}
	if got := e.Secrets.Calls("GetSecretValue") - reads; got != want {
		t.Fatalf("secret reads %d, want %d (the token unless its bucket is in memory, the re-read client credentials)", got, want)
	}
	if got := e.metricCount(refresh.MetricFailed, refresh.ReasonClient); got != 0 {
		t.Fatalf("RefreshFailed{client} = %v, want 0: nobody is paged for a rotation", got)
	}
}

func TestSlotsAt(t *testing.T) {
	t.Parallel()
	at := func(h int) time.Time {
		return time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC).Add(time.Duration(h) * time.Hour)
	}
	hour0 := int(at(0).Unix() / 3600)
	tests := []struct {
		interval time.Duration
		slots    int
	}{
		{24 * time.Hour, 24}, {12 * time.Hour, 24}, {time.Hour, 24}, {48 * time.Hour, 24}, {5 * time.Hour, 24}, {36 * time.Hour, 24}, {24 * time.Hour, 60},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s over %d slots", tc.interval, tc.slots), func(t *testing.T) {
			t.Parallel()
			svc := refresh.New(refresh.Config{Interval: tc.interval, Slots: tc.slots}, refresh.Deps{})
			hours := int(tc.interval / time.Hour)
			seen := map[int]int{}
			perHour := map[int]bool{}
			for h := 0; h < hours; h++ {
				got := svc.SlotsAt(at(h).Add(37 * time.Minute))
				perHour[len(got)] = true
				for _, s := range got {
					seen[s]++
				}
			}
			for s := range tc.slots {
				if seen[s] != 1 {
					t.Errorf("slot %d swept %d times in one interval, want once", s, seen[s])
				}
			}
			// Even load: hours differ by at most one slot (none when the interval is longer than the slots).
			lo, hi := 1<<30, 0
			for n := range perHour {
				lo, hi = min(lo, n), max(hi, n)
			}
			if hi-lo > 1 {
				t.Errorf("hours sweep between %d and %d slots", lo, hi)
			}
			// The next interval repeats the same order.
			if a, b := svc.SlotsAt(at(3)), svc.SlotsAt(at(3+hours)); fmt.Sprint(a) != fmt.Sprint(b) {
				t.Errorf("hour 3 sweeps %v, one interval later %v", a, b)
			}
			_ = hour0
		})
	}
}

// slotHour returns an hour whose sweep reads slot (24 slots, 24 h).
func slotHour(slot int) time.Time {
	base := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	h := base.Unix() / 3600
	return base.Add(time.Duration((int64(slot)-h%24+24)%24) * time.Hour)
}

// connsInSlot returns n connection ids whose refresh slot is slot.
func connsInSlot(prefix string, slot, n int) []string {
	var ids []string
	for i := 0; len(ids) < n; i++ {
		id := fmt.Sprintf("%s-%d", prefix, i)
		if authz.SlotFor(id, authz.RegionEU, authz.DefaultRefreshSlots) == slot {
			ids = append(ids, id)
		}
	}
	return ids
}

func TestSweepReadsOnlyItsSlot(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	due := connsInSlot("due", 5, 4)
	for _, id := range due {
		e.seed(id, authz.StatusActive, 10*day)
	}
	e.seed(connsInSlot("pending", 5, 1)[0], authz.StatusPending, 0) // checked by a worker, not refreshed inline
	for _, slot := range []int{4, 6, 17} {
		for _, id := range connsInSlot(fmt.Sprintf("other%d", slot), slot, 2) {
			e.seed(id, authz.StatusActive, 10*day)
		}
	}
	res, err := e.svc.Sweep(e.Ctx, slotHour(5).Add(2*time.Minute))
	must(t, err)
	if fmt.Sprint(res.Slots) != "[5]" || res.Read != 5 || res.Queued != 4 || res.Canary == nil || res.Canary.Result != refresh.ResultRefreshed {
		t.Fatalf("sweep %+v, want slot 5 read (5 records), 1 refreshed inline and 4 queued", res)
	}
	var queued []string
	for _, b := range e.queued(e.refreshURL) {
		r, err := refresh.ParseRequest([]byte(b))
		must(t, err)
		if authz.SlotFor(r.ConnectionID, r.Region, authz.DefaultRefreshSlots) != 5 || r.QueuedAt.IsZero() {
			t.Errorf("queued %+v", r)
		}
		queued = append(queued, r.ConnectionID)
	}
	if len(queued) != 4 || strings.Contains(strings.Join(queued, ","), res.Canary.ConnectionID) {
		t.Fatalf("queued %v (canary %s)", queued, res.Canary.ConnectionID)
	}
	if res.ClientSecretDaysLeft == nil || *res.ClientSecretDaysLeft != 100 {
		t.Fatalf("client secret days left %v, want 100", res.ClientSecretDaysLeft)
	}
	if got := e.metricCount(refresh.MetricClientDaysLeft, ""); got != 100 {
		t.Fatalf("ClientSecretDaysLeft metric %v", got)
	}
	if got := e.metricCount(refresh.MetricQueued, ""); got != 4 {
		t.Fatalf("RefreshQueued metric %v", got)
	}
}

func TestSweepStopsEarlyOnInvalidClient(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, id := range connsInSlot("due", 9, 6) {
		e.seed(id, authz.StatusActive, 10*day)
	}
	e.Sim.InjectFaults(amazonsim.GrantRefreshToken, amazonsim.InvalidClient(), 2)
	clientReads := e.Secrets.Calls("GetSecretValue")
	res, err := e.svc.Sweep(e.Ctx, slotHour(9))
	must(t, err)
	if res.Stopped == "" || res.Queued != 0 || res.Canary == nil || res.Canary.Reason != refresh.ReasonClient || res.Read != 1 {
		t.Fatalf("sweep %+v, want stopped after the first record, nothing queued", res)
	}
	if got := e.Sim.Refreshes(); got != 2 {
		t.Fatalf("LWA refreshes %d, want 2 (before and after re-reading the client credentials)", got)
	}
	// lwa-client read for the expiry check, the token, and the re-read after invalid_client.
	if got := e.Secrets.Calls("GetSecretValue") - clientReads; got != 3 {
		t.Fatalf("secret reads %d, want 3", got)
	}
	if got := e.metricCount(refresh.MetricFailed, refresh.ReasonClient); got != 1 {
		t.Fatalf("RefreshFailed{client} = %v, want 1", got)
	}
	if len(e.queued(e.refreshURL)) != 0 || len(e.reconnectJobs()) != 0 {
		t.Fatal("messages queued by a stopped sweep")
	}
	for _, id := range connsInSlot("due", 9, 6) {
		if a := e.record(id); a.Status != authz.StatusActive || a.LastRefreshError != "" {
			t.Fatalf("a seller was blamed for the vendor's credentials: %+v", a)
		}
	}
}

func TestClientSecretDaysLeft(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		expires func(now time.Time) time.Time
		want    *int
	}{
		{"plenty", func(now time.Time) time.Time { return now.AddDate(0, 0, 150) }, ptr(150)},
		{"under the alarm threshold", func(now time.Time) time.Time { return now.Add(13*day + time.Hour) }, ptr(13)},
		{"expired yesterday", func(now time.Time) time.Time { return now.Add(-day) }, ptr(-1)},
		{"not recorded", func(time.Time) time.Time { return time.Time{} }, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			must(t, e.Vault.PutClientCredentials(e.Ctx, vault.ClientCredentials{ClientID: clientID, ClientSecret: clientSecret, ClientSecretExpiresAt: tc.expires(e.Clock.Now())}))
			res, err := e.svc.Sweep(e.Ctx, e.Clock.Now())
			must(t, err)
			switch {
			case tc.want == nil:
				if res.ClientSecretDaysLeft != nil || strings.Contains(e.Metrics.String(), refresh.MetricClientDaysLeft) {
					t.Fatalf("days left %v emitted for an unknown expiry", res.ClientSecretDaysLeft)
				}
				if !strings.Contains(e.Logs.String(), "clientSecretExpiresAt") {
					t.Fatal("the missing expiry is not logged")
				}
			case res.ClientSecretDaysLeft == nil || *res.ClientSecretDaysLeft != *tc.want:
				t.Fatalf("days left %v, want %d", res.ClientSecretDaysLeft, *tc.want)
			case e.metricCount(refresh.MetricClientDaysLeft, "") != float64(*tc.want):
				t.Fatalf("metric %v, want %d", e.metricCount(refresh.MetricClientDaysLeft, ""), *tc.want)
			}
		})
	}
}

func ptr(n int) *int { return &n }

func TestHandlerTellsEventsApart(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.seed("conn-1", authz.StatusActive, 10*day)
	tests := []struct {
		name    string
		payload string
		check   func(t *testing.T, out []byte, err error)
	}{
		{"direct", `{"connectionId":"conn-1","region":"eu"}`, func(t *testing.T, out []byte, err error) {
			var o refresh.Outcome
			must(t, err)
			must(t, json.Unmarshal(out, &o))
			if o.Result != refresh.ResultRefreshed || o.ConnectionID != "conn-1" || o.Status != authz.StatusActive {
				t.Fatalf("outcome %s", out)
			}
			if strings.Contains(string(out), s.token) {
				t.Fatal("the outcome holds the refresh token")
			}
		}},
		{"direct with a bad region", `{"connectionId":"conn-1","region":"xx"}`, func(t *testing.T, _ []byte, err error) {
			if !errors.Is(err, refresh.ErrBadMessage) {
				t.Fatalf("err %v", err)
			}
		}},
		{"scheduled", `{"version":"0","id":"x","detail-type":"Scheduled Event","source":"aws.events","time":"2026-11-23T09:00:00Z","detail":{}}`,
			func(t *testing.T, out []byte, err error) {
				var r refresh.SweepResult
				must(t, err)
				must(t, json.Unmarshal(out, &r))
				if !r.At.Equal(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)) || len(r.Slots) != 1 {
					t.Fatalf("sweep %s", out)
				}
			}},
		{"sqs with a malformed message", `{"Records":[{"messageId":"m1","body":"not json","eventSource":"aws:sqs"}]}`,
			func(t *testing.T, out []byte, err error) {
				must(t, err)
				if string(out) != `{"batchItemFailures":[{"itemIdentifier":"m1"}]}` {
					t.Fatalf("a malformed message must be handed back for the dead-letter queue, not deleted: %s", out)
				}
			}},
		{"unknown", `{"hello":"world"}`, func(t *testing.T, _ []byte, err error) {
			if !errors.Is(err, refresh.ErrUnknownEvent) {
				t.Fatalf("err %v", err)
			}
		}},
		{"not JSON", `]`, func(t *testing.T, _ []byte, err error) {
			if !errors.Is(err, refresh.ErrUnknownEvent) {
				t.Fatalf("err %v", err)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := e.handler.Invoke(e.Ctx, []byte(tc.payload))
			tc.check(t, out, err)
		})
	}
}

// TestNoTokenInLogs captures every log line and metric of a full run, sweep and
// workers, with each kind of outcome, and looks for every secret the run touched.
func TestNoTokenInLogs(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(o *options) { o.attemptLimit = 100 * time.Millisecond })
	ids := connsInSlot("leak", 3, 8)
	var tokens []string
	for i, id := range ids {
		status := authz.StatusActive
		if i == 7 {
			status = authz.StatusExpiring
		}
		s := e.seed(id, status, 10*day)
		tokens = append(tokens, s.token)
	}
	e.Sim.Revoke(tokens[1])
	e.Sim.Revoke(tokens[2])
	// Faults reach whichever refreshes come first; every kind shows up in the logs.
	for _, f := range []amazonsim.Fault{amazonsim.Throttled(), amazonsim.ServerError(), amazonsim.Timeout(time.Second),
		amazonsim.InvalidRequest(), amazonsim.InvalidGrant(), amazonsim.InvalidClient()} {
		e.Sim.InjectFault(amazonsim.GrantRefreshToken, f)
	}
	e.Secrets.FailNext("GetSecretValue", 4, "ThrottlingException")
	_, err := e.svc.Sweep(e.Ctx, slotHour(3))
	must(t, err)
	e.deliver(e.handler)
	// The next day the vendor's client credentials are refused: the sweep stops.
	e.Clock.Advance(day)
	e.Sim.InjectFaults(amazonsim.GrantRefreshToken, amazonsim.InvalidClient(), 2)
	res, err := e.svc.Sweep(e.Ctx, slotHour(3))
	must(t, err)
	if res.Stopped == "" {
		t.Fatalf("second sweep %+v, want stopped", res)
	}
	if !strings.Contains(e.Logs.String(), "refresh revoked") || !strings.Contains(e.Logs.String(), `"reason":"client"`) {
		t.Fatalf("the run did not cover revocations and client failures:\n%s", e.Logs.String())
	}
	e.wantNoSecretsLogged(ids...)
	for _, tok := range tokens {
		if strings.Contains(e.Logs.String(), tok) {
			t.Fatal("a seeded refresh token appears in the logs")
		}
	}
}

// TestBatchReturnsBeforeTheDeadline: when LWA is slow, a batch gives back what it
// could not finish before Lambda's deadline instead of being cut off, which would
// deliver every message again, done or not.
func TestBatchReturnsBeforeTheDeadline(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ids := connsInSlot("slow", 2, 10)
	ev := events.SQSEvent{}
	for _, id := range ids {
		e.seed(id, authz.StatusActive, 10*day)
		ev.Records = append(ev.Records, events.SQSMessage{MessageId: "m-" + id, EventSource: "aws:sqs",
			Body: refresh.Request{ConnectionID: id, Region: authz.RegionEU, QueuedAt: e.Clock.Now()}.Marshal()})
	}
	e.Sim.SetLatency(time.Minute)
	deadline := time.Now().Add(refresh.ReturnMargin + 500*time.Millisecond)
	ctx, cancel := context.WithDeadline(e.Ctx, deadline)
	defer cancel()
	resp := e.handler.HandleSQS(ctx, ev)
	if time.Now().After(deadline) {
		t.Fatal("the batch returned after the invocation's deadline")
	}
	if len(resp.BatchItemFailures) != len(ids) {
		t.Fatalf("%d messages to deliver again, want all %d", len(resp.BatchItemFailures), len(ids))
	}
	for _, id := range ids {
		if a := e.record(id); a.Version != 1 || a.Status != authz.StatusActive {
			t.Fatalf("%s changed: %+v", id, a)
		}
	}
}
