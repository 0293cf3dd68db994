package rotation_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/rotation"
)

// TestCheckDecisions: the daily check rotates only once the secret expires within
// RotateBefore, and only when no rotation is pending.
func TestCheckDecisions(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name         string
		expiresIn    time.Duration
		pendingSince time.Time
		wantResult   string
		wantCalls    int
		wantDays     int
		wantPending  time.Time
		wantEvents   []rotation.EventKind
	}{
		{name: "not due", expiresIn: 60 * day, wantResult: rotation.ResultNotDue, wantDays: 60},
		{name: "due", expiresIn: 10 * day, wantResult: rotation.ResultRequested, wantCalls: 1, wantDays: 10, wantPending: rotNow,
			wantEvents: []rotation.EventKind{rotation.EventRequested}},
		{name: "due, a rotation pending", expiresIn: 10 * day, pendingSince: rotNow.Add(-time.Hour), wantResult: rotation.ResultPending,
			wantDays: 10, wantPending: rotNow.Add(-time.Hour)},
		{name: "due, the pending one timed out", expiresIn: 10 * day, pendingSince: rotNow.Add(-2 * day), wantResult: rotation.ResultRequested,
			wantCalls: 1, wantDays: 10, wantPending: rotNow, wantEvents: []rotation.EventKind{rotation.EventFailed, rotation.EventRequested}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newRotWorld(tc.expiresIn)
			w.state.st.PendingSince = tc.pendingSince

			r := w.svc.Check(context.Background())

			if r.Result != tc.wantResult || r.DaysLeft == nil || *r.DaysLeft != tc.wantDays {
				t.Fatalf("check = %s, daysLeft %v; want %s, %d (%s)", r.Result, r.DaysLeft, tc.wantResult, tc.wantDays, r.Error)
			}
			if w.rotator.calls != tc.wantCalls {
				t.Errorf("rotation requests = %d, want %d", w.rotator.calls, tc.wantCalls)
			}
			if got := w.state.st.PendingSince; !got.Equal(tc.wantPending) {
				t.Errorf("pending since %v, want %v", got, tc.wantPending)
			}
			if k := w.state.kinds(); !slices.Equal(k, tc.wantEvents) {
				t.Errorf("history %v, want %v", k, tc.wantEvents)
			}
		})
	}
}

// TestRotateFailures: how each refusal of the rotation request is reported, whether it
// is tried again, and whether the rotation window stays claimed (only when Amazon may
// have rotated).
func TestRotateFailures(t *testing.T) {
	t.Parallel()
	amazon := func(kind error, msg string) error { return authz.Classified(kind, errors.New(msg)) }
	cases := []struct {
		name           string
		err            error
		wantReason     string
		wantRetry      bool
		wantPending    bool
		wantRetryAfter string
	}{
		{name: "throttled, with a wait", err: authz.Classified(rotation.ErrThrottled,
			&rotation.RetryAfterError{RetryAfter: 30 * time.Second, Err: errors.New("appmgmt: throttled: HTTP 429")}),
			wantReason: rotation.ReasonThrottled, wantRetry: true, wantRetryAfter: "30s"},
		{name: "no answer", err: amazon(rotation.ErrOutcomeUnknown, "appmgmt: no answer"), wantReason: rotation.ReasonUnknownOutcome, wantPending: true},
		{name: "client refused", err: amazon(authz.ErrClientRejected, "appmgmt: invalid_client"), wantReason: rotation.ReasonClient},
		{name: "not enrolled", err: amazon(rotation.ErrNotEnrolled, "appmgmt: no queue"), wantReason: rotation.ReasonNotEnrolled},
		{name: "forbidden", err: amazon(rotation.ErrForbidden, "appmgmt: HTTP 403"), wantReason: rotation.ReasonForbidden},
		{name: "bad request", err: amazon(rotation.ErrBadRequest, "appmgmt: HTTP 400"), wantReason: rotation.ReasonBadRequest},
		{name: "unavailable", err: errors.New("appmgmt: HTTP 503"), wantReason: rotation.ReasonUnavailable, wantRetry: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newRotWorld(10 * day)
			w.rotator.err = tc.err

			r := w.svc.Rotate(context.Background(), rotation.TriggerOperator)

			if r.Result != rotation.ResultFailed || r.Reason != tc.wantReason || r.Retry != tc.wantRetry || r.RetryAfter != tc.wantRetryAfter {
				t.Fatalf("rotate = %s/%s retry=%v retryAfter=%q; want failed/%s retry=%v retryAfter=%q", r.Result, r.Reason, r.Retry, r.RetryAfter,
					tc.wantReason, tc.wantRetry, tc.wantRetryAfter)
			}
			if pending := !w.state.st.PendingSince.IsZero(); pending != tc.wantPending {
				t.Errorf("window claimed = %v, want %v", pending, tc.wantPending)
			}
			if k := w.state.kinds(); !slices.Equal(k, []rotation.EventKind{rotation.EventFailed}) {
				t.Errorf("history %v, want one %s", k, rotation.EventFailed)
			}
			// A second trigger asks Amazon again only if the window was given back.
			w.svc.Rotate(context.Background(), rotation.TriggerSchedule)
			if want := map[bool]int{true: 1, false: 2}[tc.wantPending]; w.rotator.calls != want {
				t.Errorf("rotation requests after a second trigger = %d, want %d", w.rotator.calls, want)
			}
		})
	}
}

// TestNotifyDecisions: what a notification does to the lwa-client secret and the
// rotation state: a new secret is proven at LWA before it replaces the stored one.
func TestNotifyDecisions(t *testing.T) {
	t.Parallel()
	const newSecret = "amzn1.oa2-cs.v1.rotation-test-new-secret"
	newExpiry := rotNow.Add(180 * day)
	cases := []struct {
		name         string
		body         string
		lastID       string
		verifyErr    error
		wantResult   string
		wantReason   string
		wantRetry    bool
		wantVerified int
		wantStored   bool
		wantRotated  int // rotation requests
	}{
		{name: "new secret verified and stored", body: newSecretBody(clientID, newSecret, newExpiry, rotNow.Add(7*day), "n-1"),
			wantResult: rotation.ResultRotated, wantVerified: 1, wantStored: true},
		{name: "new secret LWA refuses", body: newSecretBody(clientID, newSecret, newExpiry, rotNow.Add(7*day), "n-1"),
			verifyErr:  authz.Classified(authz.ErrClientRejected, errors.New("lwa: invalid_client")),
			wantResult: rotation.ResultRejected, wantReason: rotation.ReasonUnverified, wantRetry: true, wantVerified: 1},
		{name: "LWA unavailable to verify", body: newSecretBody(clientID, newSecret, newExpiry, rotNow.Add(7*day), "n-1"),
			verifyErr:  errors.New("lwa: unavailable"),
			wantResult: rotation.ResultFailed, wantReason: rotation.ReasonUnavailable, wantRetry: true, wantVerified: 1},
		{name: "another client's secret", body: newSecretBody("amzn1.application-oa2-client.other", newSecret, newExpiry, rotNow.Add(7*day), "n-1"),
			wantResult: rotation.ResultRejected, wantReason: rotation.ReasonOtherClient},
		{name: "a notification applied already", body: newSecretBody(clientID, newSecret, newExpiry, rotNow.Add(7*day), "n-1"), lastID: "n-1",
			wantResult: rotation.ResultRejected, wantReason: rotation.ReasonDuplicate},
		{name: "an older secret", body: newSecretBody(clientID, newSecret, rotNow.Add(5*day), rotNow.Add(7*day), "n-2"),
			wantResult: rotation.ResultRejected, wantReason: rotation.ReasonDuplicate},
		{name: "expiry notice rotates", body: expiryBody(clientID, rotNow.Add(10*day)), wantResult: rotation.ResultRequested, wantRotated: 1},
		{name: "expiry notice of a replaced secret", body: expiryBody(clientID, rotNow.Add(-30*day)), wantResult: rotation.ResultSuperseded},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newRotWorld(10 * day)
			w.state.st.LastNotificationID = tc.lastID
			w.verifier.err = tc.verifyErr

			r := w.svc.HandleMessage(context.Background(), "m-1", []byte(tc.body))

			if r.Result != tc.wantResult || r.Reason != tc.wantReason || r.Retry != tc.wantRetry {
				t.Fatalf("notification = %s/%s retry=%v; want %s/%s retry=%v (%s)", r.Result, r.Reason, r.Retry, tc.wantResult, tc.wantReason, tc.wantRetry, r.Error)
			}
			if len(w.verifier.verified) != tc.wantVerified {
				t.Fatalf("LWA verifications = %d, want %d", len(w.verifier.verified), tc.wantVerified)
			}
			if tc.wantVerified > 0 && (w.verifier.verified[0].ClientID != clientID || w.verifier.verified[0].ClientSecret.Reveal() != newSecret) {
				t.Errorf("verified %s, want the new secret of %s", w.verifier.verified[0].ClientID, clientID)
			}
			stored := w.vault.c
			switch {
			case tc.wantStored:
				if stored.ClientSecret.Reveal() != newSecret || !stored.ClientSecretExpiresAt.Equal(newExpiry) || stored.ClientID != clientID {
					t.Errorf("lwa-client secret %s expiring %v, want the new secret expiring %v", stored.ClientID, stored.ClientSecretExpiresAt, newExpiry)
				}
				if w.cache.dropped != 1 {
					t.Errorf("cache dropped %d times, want 1", w.cache.dropped)
				}
				if st := w.state.st; st.LastNotificationID != "n-1" || !st.SecretExpiresAt.Equal(newExpiry) || !st.LastRotatedAt.Equal(rotNow) {
					t.Errorf("state %+v, want the rotation recorded", st)
				}
			case w.vault.puts != 0 || stored.ClientSecret.Reveal() != clientSecret:
				t.Errorf("lwa-client secret written %d times: a notification that changes nothing must leave it", w.vault.puts)
			}
			if w.rotator.calls != tc.wantRotated {
				t.Errorf("rotation requests = %d, want %d", w.rotator.calls, tc.wantRotated)
			}
			w.noSecretIn(t, newSecret, clientSecret)
		})
	}
}
