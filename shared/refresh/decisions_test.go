package refresh_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/refresh"
	"github.com/spapi-auth-keeper/keeper/shared/stages"
)

// TestWorkerDecisions: what one refresh does to the record, the history, the vault
// and the reminder queue, for each answer LWA (or the vault) gives.
func TestWorkerDecisions(t *testing.T) {
	t.Parallel()
	const yearAgo = 365 * 24 * time.Hour
	lwaErr := func(kind error, msg string) error { return authz.Classified(kind, errors.New(msg)) }
	cases := []struct {
		name         string
		status       authz.Status
		failures     int
		authorizedAt time.Time
		answer       *lwaAnswer // nil: LWA accepts
		noSecret     bool
		wantResult   string
		wantReason   string
		wantRetry    bool
		wantStatus   authz.Status
		wantFailures int
		wantEvents   []authz.EventKind
		wantRefresh  bool // LastRefreshAt set to now
		wantLWA      int
		wantUnwrote  bool // the record is left as it was
		wantReminder bool // a reconnect email queued
	}{
		{name: "accepted", status: authz.StatusActive, authorizedAt: fakeNow.Add(-100 * 24 * time.Hour),
			wantResult: refresh.ResultRefreshed, wantStatus: authz.StatusActive, wantRefresh: true, wantLWA: 1},
		{name: "invalid_grant before expiry is a revocation", status: authz.StatusActive, authorizedAt: fakeNow.Add(-100 * 24 * time.Hour),
			answer:     &lwaAnswer{err: lwaErr(authz.ErrInvalidGrant, "lwa: invalid_grant: The request has an invalid grant parameter")},
			wantResult: refresh.ResultRevoked, wantReason: refresh.ReasonRevoked, wantStatus: authz.StatusRevoked, wantFailures: 1,
			wantEvents: []authz.EventKind{authz.EventRevoked}, wantLWA: 1, wantReminder: true},
		{name: "invalid_grant at expiry is an expiry", status: authz.StatusExpiring, authorizedAt: fakeNow.Add(-yearAgo),
			answer:     &lwaAnswer{err: lwaErr(authz.ErrInvalidGrant, "lwa: invalid_grant")},
			wantResult: refresh.ResultExpired, wantReason: refresh.ReasonExpired, wantStatus: authz.StatusExpired, wantFailures: 1,
			wantEvents: []authz.EventKind{authz.EventExpired}, wantLWA: 1},
		{name: "a revocation seen again is not a new one", status: authz.StatusRevoked, failures: 1, authorizedAt: fakeNow.Add(-100 * 24 * time.Hour),
			answer:     &lwaAnswer{err: lwaErr(authz.ErrInvalidGrant, "lwa: invalid_grant")},
			wantResult: refresh.ResultRevoked, wantReason: refresh.ReasonStillRevoked, wantStatus: authz.StatusRevoked, wantFailures: 2, wantLWA: 1},
		{name: "accepted again after a revocation restores", status: authz.StatusRevoked, failures: 1, authorizedAt: fakeNow.Add(-100 * 24 * time.Hour),
			wantResult: refresh.ResultRestored, wantStatus: authz.StatusActive, wantEvents: []authz.EventKind{authz.EventRestored}, wantRefresh: true, wantLWA: 1},
		{name: "a confirmed revocation is not sent to LWA", status: authz.StatusRevoked, failures: refresh.DefaultConfirmRevokedAfter,
			authorizedAt: fakeNow.Add(-100 * 24 * time.Hour), wantResult: refresh.ResultChecked, wantStatus: authz.StatusRevoked,
			wantFailures: refresh.DefaultConfirmRevokedAfter, wantUnwrote: true},
		{name: "client refused", status: authz.StatusActive, authorizedAt: fakeNow.Add(-100 * 24 * time.Hour),
			answer:     &lwaAnswer{err: lwaErr(authz.ErrClientRejected, "lwa: invalid_client: Client authentication failed")},
			wantResult: refresh.ResultFailed, wantReason: refresh.ReasonClient, wantRetry: true, wantStatus: authz.StatusActive, wantLWA: 1, wantUnwrote: true},
		{name: "client not configured", status: authz.StatusActive, authorizedAt: fakeNow.Add(-100 * 24 * time.Hour),
			answer:     &lwaAnswer{err: errors.Join(errors.New("read lwa-client"), authz.ErrClientNotConfigured)},
			wantResult: refresh.ResultFailed, wantReason: refresh.ReasonClient, wantRetry: true, wantStatus: authz.StatusActive, wantLWA: 1, wantUnwrote: true},
		{name: "throttled is retried", status: authz.StatusActive, authorizedAt: fakeNow.Add(-100 * 24 * time.Hour),
			answer:     &lwaAnswer{err: lwaErr(authz.ErrThrottled, "lwa: throttled: HTTP 429")},
			wantResult: refresh.ResultFailed, wantReason: refresh.ReasonThrottled, wantRetry: true, wantStatus: authz.StatusActive, wantLWA: 1, wantUnwrote: true},
		{name: "unavailable is retried", status: authz.StatusActive, authorizedAt: fakeNow.Add(-100 * 24 * time.Hour),
			answer:     &lwaAnswer{err: errors.New("lwa: unavailable: HTTP 503")},
			wantResult: refresh.ResultFailed, wantReason: refresh.ReasonUnavailable, wantRetry: true, wantStatus: authz.StatusActive, wantLWA: 1, wantUnwrote: true},
		{name: "malformed request", status: authz.StatusActive, authorizedAt: fakeNow.Add(-100 * 24 * time.Hour),
			answer:     &lwaAnswer{err: lwaErr(authz.ErrBadRequest, "lwa: invalid_request")},
			wantResult: refresh.ResultFailed, wantReason: refresh.ReasonBadRequest, wantRetry: true, wantStatus: authz.StatusActive, wantLWA: 1, wantUnwrote: true},
		{name: "no refresh token in the vault", status: authz.StatusActive, authorizedAt: fakeNow.Add(-100 * 24 * time.Hour), noSecret: true,
			wantResult: refresh.ResultFailed, wantReason: refresh.ReasonNoSecret, wantStatus: authz.StatusActive, wantFailures: 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			token := w.authorized("acme", tc.status, tc.authorizedAt, authz.Account{StoreName: "Acme"})
			rec := w.ledger.recs[memKey("acme", authz.RegionEU)]
			rec.RefreshFailures = tc.failures
			w.ledger.recs[rec.Key()] = rec
			if tc.answer != nil {
				w.lwa.set(token, *tc.answer)
			}
			if tc.noSecret {
				delete(w.vault.tokens, rec.Key())
			}

			o := w.refresh("acme")

			if o.Result != tc.wantResult || o.Reason != tc.wantReason || o.Retry != tc.wantRetry {
				t.Fatalf("outcome = %s/%q retry=%v, want %s/%q retry=%v (%s)", o.Result, o.Reason, o.Retry, tc.wantResult, tc.wantReason, tc.wantRetry, o.Error)
			}
			got := w.ledger.record(t, "acme")
			if tc.wantUnwrote && got.Version != rec.Version {
				t.Errorf("record version %d, want %d: a failure that decides nothing writes nothing", got.Version, rec.Version)
			}
			if got.Status != tc.wantStatus || got.RefreshFailures != tc.wantFailures {
				t.Errorf("record status %s, failures %d; want %s, %d", got.Status, got.RefreshFailures, tc.wantStatus, tc.wantFailures)
			}
			if tc.wantRefresh != got.LastRefreshAt.Equal(fakeNow) {
				t.Errorf("lastRefreshAt = %v, want set to now: %v", got.LastRefreshAt, tc.wantRefresh)
			}
			if k := w.ledger.kinds(); !slices.Equal(k, tc.wantEvents) {
				t.Errorf("history %v, want %v", k, tc.wantEvents)
			}
			if n := w.lwa.count(); n != tc.wantLWA {
				t.Errorf("LWA calls = %d, want %d", n, tc.wantLWA)
			}
			jobs := w.remindQ.jobs(t)
			switch {
			case tc.wantReminder:
				want := stages.Job{ConnectionID: "acme", Region: authz.RegionEU, Stage: stages.StageReconnect, ExpiresAt: rec.ExpiresAt, RevokedAt: fakeNow}
				if len(jobs) != 1 || jobs[0] != want || !o.ReconnectQueued {
					t.Errorf("reminder queue %+v (reconnectQueued=%v), want one %+v", jobs, o.ReconnectQueued, want)
				}
			case len(jobs) > 0:
				t.Errorf("reminder queue %+v, want nothing", jobs)
			}
			if tc.wantReason != "" && w.failedCount(tc.wantReason) != 1 {
				t.Errorf("RefreshFailed{Reason=%s} not emitted once:\n%s", tc.wantReason, w.metrics.String())
			}
			w.noSecretIn(token, "Atza|access-for-"+token)
		})
	}
}

// TestClientRefusalPausesLWA: once LWA refused the client credentials, the next
// refreshes fail fast without asking LWA, until the pause is over.
func TestClientRefusalPausesLWA(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	a := w.authorized("acme", authz.StatusActive, fakeNow.Add(-100*24*time.Hour), authz.Account{StoreName: "Acme"})
	w.authorized("bolt", authz.StatusActive, fakeNow.Add(-100*24*time.Hour), authz.Account{StoreName: "Bolt"})
	w.lwa.set(a, lwaAnswer{err: authz.Classified(authz.ErrClientRejected, errors.New("lwa: invalid_client"))})
	if o := w.refresh("acme"); o.Reason != refresh.ReasonClient {
		t.Fatalf("first refresh %s/%s, want failed/client", o.Result, o.Reason)
	}
	o := w.refresh("bolt")
	if o.Reason != refresh.ReasonClient || !o.Retry {
		t.Fatalf("second refresh %s/%s retry=%v, want failed/client, retried", o.Result, o.Reason, o.Retry)
	}
	if n := w.lwa.count(); n != 1 {
		t.Fatalf("LWA calls = %d, want 1: the second refresh must not ask while the client is refused", n)
	}
}

// TestRotatedRefreshTokenKept: a refresh token LWA hands back in place of the stored
// one is written to the vault before the record.
func TestRotatedRefreshTokenKept(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	old := w.authorized("acme", authz.StatusActive, fakeNow.Add(-100*24*time.Hour), authz.Account{StoreName: "Acme"})
	w.lwa.set(old, lwaAnswer{rotated: "Atzr|rotated-by-lwa"})
	o := w.refresh("acme")
	if o.Result != refresh.ResultRefreshed || !o.SecretWritten {
		t.Fatalf("outcome %s secretWritten=%v, want refreshed, written", o.Result, o.SecretWritten)
	}
	if got := w.vault.token("acme"); got != "Atzr|rotated-by-lwa" {
		t.Fatalf("vault holds %q, want LWA's new refresh token", got)
	}
	w.noSecretIn(old, "Atzr|rotated-by-lwa")
}

// TestFingerprintAtRefresh: a seller connection without an account fingerprint gets
// one with the access token of its next successful refresh; one that has one, a
// vendor account, a failing SP-API and a token that answers for another seller
// leave the record without a new one, and the refresh succeeds all the same.
func TestFingerprintAtRefresh(t *testing.T) {
	t.Parallel()
	fresh := authz.Account{StoreName: "Acme", MarketplaceIDs: []string{"A1PA6795UKMFR9"}, SellerID: "A1SELLERACME", SellerIDVerified: true, TakenAt: fakeNow}
	cases := []struct {
		name      string
		onRecord  authz.Account
		vendor    bool
		answer    authz.Account
		spErr     error
		wantTaken bool
		wantCalls int
	}{
		{name: "none on record: taken", answer: fresh, wantTaken: true, wantCalls: 1},
		{name: "one on record: kept", onRecord: authz.Account{StoreName: "Acme old"}, answer: fresh, wantCalls: 0},
		{name: "vendor account: not asked", vendor: true, answer: fresh, wantCalls: 0},
		{name: "SP-API fails: none, refresh succeeds", spErr: authz.Classified(authz.ErrAccessDenied, errors.New("spapi: 403")), wantCalls: 1},
		{name: "another seller: not stored", answer: authz.Account{StoreName: "Other", SellerID: "A9OTHER", SellerIDVerified: true, TakenAt: fakeNow}, wantCalls: 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			token := w.authorized("acme", authz.StatusActive, fakeNow.Add(-100*24*time.Hour), tc.onRecord)
			if tc.vendor {
				rec := w.ledger.recs[memKey("acme", authz.RegionEU)]
				rec.AccountType = authz.AccountVendor
				w.ledger.recs[rec.Key()] = rec
			}
			w.accounts.accounts["Atza|access-for-"+token] = tc.answer
			w.accounts.err = tc.spErr

			o := w.refresh("acme")

			if o.Result != refresh.ResultRefreshed || o.FingerprintTaken != tc.wantTaken {
				t.Fatalf("outcome %s fingerprintTaken=%v, want refreshed, %v (%s)", o.Result, o.FingerprintTaken, tc.wantTaken, o.Error)
			}
			got := w.ledger.record(t, "acme").Account
			want := tc.onRecord
			if tc.wantTaken {
				want = tc.answer
			}
			if got.StoreName != want.StoreName || got.SellerID != want.SellerID {
				t.Errorf("account on record %+v, want %+v", got, want)
			}
			if w.accounts.calls != tc.wantCalls {
				t.Errorf("SP-API calls = %d, want %d", w.accounts.calls, tc.wantCalls)
			}
			w.noSecretIn(token, "Atza|access-for-"+token)
		})
	}
}

// TestBatchRetriesTransientFailures: of a batch, the messages whose refresh failed
// for a reason that may pass (throttled, unavailable) and the malformed ones go back
// to the queue; decided ones (refreshed, revoked) are done.
func TestBatchRetriesTransientFailures(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	for _, c := range []string{"ok", "gone", "slow", "down"} {
		w.authorized(c, authz.StatusActive, fakeNow.Add(-100*24*time.Hour), authz.Account{StoreName: c})
	}
	w.lwa.set("Atzr|refresh-gone", lwaAnswer{err: authz.Classified(authz.ErrInvalidGrant, errors.New("lwa: invalid_grant"))})
	w.lwa.set("Atzr|refresh-slow", lwaAnswer{err: authz.Classified(authz.ErrThrottled, errors.New("lwa: throttled"))})
	w.lwa.set("Atzr|refresh-down", lwaAnswer{err: errors.New("lwa: unavailable: timeout")})
	var ev events.SQSEvent
	for _, c := range []string{"ok", "gone", "slow", "down"} {
		ev.Records = append(ev.Records, events.SQSMessage{MessageId: "m-" + c, Body: refresh.Request{ConnectionID: c, Region: authz.RegionEU, QueuedAt: fakeNow}.Marshal()})
	}
	ev.Records = append(ev.Records, events.SQSMessage{MessageId: "m-junk", Body: `{"connectionId":"../x"}`})

	resp := refresh.NewHandler(w.svc).HandleSQS(context.Background(), ev)

	var got []string
	for _, f := range resp.BatchItemFailures {
		got = append(got, f.ItemIdentifier)
	}
	slices.Sort(got)
	if want := []string{"m-down", "m-junk", "m-slow"}; !slices.Equal(got, want) {
		t.Fatalf("messages handed back %v, want %v", got, want)
	}
	if s := w.ledger.record(t, "gone").Status; s != authz.StatusRevoked {
		t.Errorf("revoked connection's status %s, want revoked", s)
	}
}
