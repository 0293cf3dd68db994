package rotation_test

import (
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spapi-auth-keeper/keeper/infra/amazonsim"
	"github.com/spapi-auth-keeper/keeper/infra/testenv"
	"github.com/spapi-auth-keeper/keeper/shared/rotation"
)

// TestRotationEndToEnd follows one rotation as the daily check starts it: the secret
// nears expiry, the check requests a rotation, Amazon's new secret arrives on the
// queue, it is verified and stored with the old one as AWSPREVIOUS, and LWA accepts
// it. Every log line of the run is checked for the secrets.
func TestRotationEndToEnd(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 20*day)
	r := e.check()
	if r.Result != rotation.ResultRequested || r.Trigger != rotation.TriggerSchedule || *r.DaysLeft != 20 {
		t.Fatalf("check: %+v", r)
	}
	if e.Sim.Rotations() != 1 || !e.state().Pending(e.Clock.Now(), time.Hour) {
		t.Fatalf("rotations %d, state %+v", e.Sim.Rotations(), e.state())
	}
	if e.stored().ClientSecret != clientSecret {
		t.Fatal("the secret changed before the new one arrived")
	}
	newSecret := e.Sim.CurrentClientSecret()

	e.Clock.Advance(2 * time.Minute)
	if failures := e.deliver(); failures != 0 {
		t.Fatalf("%d delivery failures", failures)
	}
	c := e.stored()
	if c.ClientSecret.Reveal() != newSecret || c.ClientID != clientID {
		t.Fatal("the lwa-client secret does not hold the new secret")
	}
	wantExpiry := e.Clock.Now().Add(-2 * time.Minute).Add(180 * day)
	if !c.ClientSecretExpiresAt.Equal(wantExpiry) {
		t.Fatalf("clientSecretExpiresAt %v, want %v", c.ClientSecretExpiresAt, wantExpiry)
	}
	if e.previous() != clientSecret {
		t.Fatal("the old secret is not AWSPREVIOUS")
	}
	st := e.state()
	if st.Pending(e.Clock.Now(), 48*time.Hour) || !st.LastRotatedAt.Equal(e.Clock.Now()) || !st.SecretExpiresAt.Equal(wantExpiry) {
		t.Fatalf("state after the rotation %+v", st)
	}
	if got := e.kinds(); got != "rotated,rotation_requested" {
		t.Fatalf("history %s", got)
	}
	for _, m := range []string{rotation.MetricRequested, rotation.MetricRotated} {
		if e.metricCount(m, "") != 1 {
			t.Fatalf("%s = %v\n%s", m, e.metricCount(m, ""), e.Metrics.String())
		}
	}
	if e.metricCount(rotation.MetricDaysLeft, "") != 20+179 { // 20 before, 179 after (180 days less 2 minutes)
		t.Fatalf("days left metrics %v", e.metricCount(rotation.MetricDaysLeft, ""))
	}
	// Nothing more to do: the next check finds the new expiry far away.
	if r := e.check(); r.Result != rotation.ResultNotDue || *r.DaysLeft != 179 {
		t.Fatalf("check after the rotation: %+v", r)
	}
	if e.Sim.RotationRequests() != 1 {
		t.Fatalf("rotation requests %d", e.Sim.RotationRequests())
	}
	e.wantNoSecretsLogged(newSecret)
}

func TestCheck(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		expiresIn time.Duration
		want      string
		rotations int
	}{
		{"far from expiry", 100 * day, rotation.ResultNotDue, 0},
		{"a day outside ROTATE_BEFORE", 31 * day, rotation.ResultNotDue, 0},
		{"exactly ROTATE_BEFORE", 30 * day, rotation.ResultRequested, 1},
		{"close to expiry", 3 * day, rotation.ResultRequested, 1},
		{"already expired: LWA refuses the secret", -time.Hour, rotation.ResultFailed, 0},
		{"no expiry recorded", 0, rotation.ResultUnknownExpiry, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, tc.expiresIn)
			r := e.check()
			if r.Result != tc.want || e.Sim.Rotations() != tc.rotations {
				t.Fatalf("check %+v, rotations %d; want %s, %d", r, e.Sim.Rotations(), tc.want, tc.rotations)
			}
			if tc.expiresIn != 0 && (r.DaysLeft == nil || e.metricCount(rotation.MetricDaysLeft, "") != float64(*r.DaysLeft)) {
				t.Fatalf("days left %v, metric %v", r.DaysLeft, e.metricCount(rotation.MetricDaysLeft, ""))
			}
			if tc.want == rotation.ResultFailed && (r.Reason != rotation.ReasonClient || r.Retry || e.state().Pending(e.Clock.Now(), day)) {
				t.Fatalf("an expired secret: %+v, state %+v", r, e.state())
			}
		})
	}
}

// TestAtMostOncePerWindow: while a rotation is pending, the schedule, an expiry
// notification and the operator all leave it alone; once the window passes with no
// new secret, the next trigger asks again and the lost rotation is alarmed.
func TestAtMostOncePerWindow(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 10*day)
	// Amazon's notifications go to a queue nobody reads: the new secret never arrives.
	e.Sim.SetNotificationDestination(e.sqs, testenv.NewQueue(t, "elsewhere"))
	if r := e.check(); r.Result != rotation.ResultRequested {
		t.Fatalf("first check %+v", r)
	}
	e.Clock.Advance(time.Hour)
	if r := e.check(); r.Result != rotation.ResultPending || r.PendingSince.IsZero() {
		t.Fatalf("second check %+v", r)
	}
	var op rotation.Result
	must(t, json.Unmarshal(e.invoke(`{"action":"rotate"}`), &op))
	if op.Result != rotation.ResultPending || op.Trigger != rotation.TriggerOperator {
		t.Fatalf("operator rotate %+v", op)
	}
	e.send(expiryBody(clientID, e.stored().ClientSecretExpiresAt))
	if failures := e.deliver(); failures != 0 {
		t.Fatalf("the expiry notice was retried %d times", failures)
	}
	if e.Sim.RotationRequests() != 1 {
		t.Fatalf("rotation requests %d while pending, want 1", e.Sim.RotationRequests())
	}
	e.Clock.Advance(rotation.DefaultPendingTimeout)
	if r := e.check(); r.Result != rotation.ResultRequested {
		t.Fatalf("check after the window %+v", r)
	}
	if e.Sim.RotationRequests() != 2 || e.metricCount(rotation.MetricFailed, rotation.ReasonNoNotification) != 1 {
		t.Fatalf("requests %d, no_notification %v", e.Sim.RotationRequests(), e.metricCount(rotation.MetricFailed, rotation.ReasonNoNotification))
	}
	if got := e.kinds(); got != "rotation_requested,rotation_failed,rotation_requested" {
		t.Fatalf("history %s", got)
	}
}

// TestConcurrentTriggers: the schedule, an expiry notice and an operator at the same
// moment make one rotation request between them.
func TestConcurrentTriggers(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 10*day)
	results := make(chan rotation.Result, 6)
	var wg sync.WaitGroup
	for _, trig := range []rotation.Trigger{rotation.TriggerSchedule, rotation.TriggerExpiryNotification, rotation.TriggerOperator,
		rotation.TriggerSchedule, rotation.TriggerExpiryNotification, rotation.TriggerOperator} {
		wg.Go(func() { results <- e.svc.Rotate(e.Ctx, trig) })
	}
	wg.Wait()
	close(results)
	count := map[string]int{}
	for r := range results {
		count[r.Result]++
	}
	if count[rotation.ResultRequested] != 1 || count[rotation.ResultPending] != 5 || e.Sim.RotationRequests() != 1 {
		t.Fatalf("results %v, rotation requests %d", count, e.Sim.RotationRequests())
	}
}

// TestRotationRequestFaults: what a failed rotateApplicationClientSecret leaves: no
// rotation pending (so a later trigger tries again), except when Amazon may have
// rotated; retried only when trying later may help.
func TestRotationRequestFaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		setup       func(e *env)
		reason      string
		retry       bool
		keepPending bool
	}{
		{name: "LWA refuses the old secret", setup: func(e *env) { e.Sim.SetClientSecrets("amzn1.oa2-cs.v1.rotated-elsewhere") }, reason: rotation.ReasonClient},
		{name: "429", setup: func(e *env) { e.Sim.InjectFault(amazonsim.FaultRotation, amazonsim.Throttled()) }, reason: rotation.ReasonThrottled, retry: true},
		{name: "500", setup: func(e *env) { e.Sim.InjectFault(amazonsim.FaultRotation, amazonsim.ServerError()) }, reason: rotation.ReasonUnavailable, retry: true},
		{name: "no queue registered", setup: func(e *env) { e.Sim.SetNotificationDestination(nil, "") }, reason: rotation.ReasonNotEnrolled},
		{name: "403", setup: func(e *env) {
			e.Sim.InjectFault(amazonsim.FaultRotation, amazonsim.Fault{Kind: "forbidden", Status: 403})
		}, reason: rotation.ReasonForbidden},
		{name: "LWA unavailable", setup: func(e *env) {
			e.Sim.InjectFaults(amazonsim.GrantClientCredentials, amazonsim.Unavailable(), 2)
		}, reason: rotation.ReasonUnavailable, retry: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, 5*day)
			tc.setup(e)
			r := e.check()
			if r.Result != rotation.ResultFailed || r.Reason != tc.reason || r.Retry != tc.retry {
				t.Fatalf("check %+v, want failed %s retry %t", r, tc.reason, tc.retry)
			}
			if e.state().Pending(e.Clock.Now(), day) != tc.keepPending {
				t.Fatalf("state %+v", e.state())
			}
			if e.metricCount(rotation.MetricFailed, tc.reason) != 1 || e.stored().ClientSecret != clientSecret {
				t.Fatalf("metric %v, or the stored secret changed", e.metricCount(rotation.MetricFailed, tc.reason))
			}
			if got := e.kinds(); got != "rotation_failed" {
				t.Fatalf("history %s", got)
			}
			e.wantNoSecretsLogged()
		})
	}
}

// TestThrottledExpiryNoticeComesBack: an expiry notification whose rotation is
// throttled goes back to the queue, to be tried after the visibility timeout; the next
// delivery rotates. The 429 costs no tight loop: one call per delivery.
func TestThrottledExpiryNoticeComesBack(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 80*day)
	e.Sim.InjectFault(amazonsim.FaultRotation, amazonsim.Throttled())
	e.send(expiryBody(clientID, e.stored().ClientSecretExpiresAt))
	resp, ok := e.deliverOnce()
	if !ok || len(resp.BatchItemFailures) != 1 || e.Sim.RotationRequests() != 1 {
		t.Fatalf("first delivery: %+v, requests %d", resp, e.Sim.RotationRequests())
	}
	e.Clock.Advance(6 * time.Minute) // the queue's visibility timeout
	resp, ok = e.deliverOnce()
	if !ok || len(resp.BatchItemFailures) != 0 || e.Sim.Rotations() != 1 {
		t.Fatalf("second delivery: %+v, rotations %d", resp, e.Sim.Rotations())
	}
	if e.deliver() != 0 || e.stored().ClientSecret.Reveal() != e.Sim.CurrentClientSecret() {
		t.Fatal("the new secret was not stored")
	}
	if e.metricCount(rotation.MetricFailed, rotation.ReasonThrottled) != 1 || e.metricCount(rotation.MetricRotated, "") != 1 {
		t.Fatalf("metrics %s", e.Metrics.String())
	}
}

// TestNotificationsThatChangeNothing: bad input on the notifications queue is logged
// without the secret, counted, recorded, and leaves the lwa-client secret untouched.
func TestNotificationsThatChangeNothing(t *testing.T) {
	t.Parallel()
	const bogus = "amzn1.oa2-cs.v1.a-secret-lwa-never-issued"
	tests := []struct {
		name   string
		body   func(e *env) string
		reason string
		retry  bool
	}{
		{name: "not JSON", body: func(*env) string {
			return `{"notificationType": "APPLICATION_OAUTH_CLIENT_NEW_SECRET", "payload": {` + bogus
		}, reason: rotation.ReasonMalformed, retry: true},
		{name: "new secret without payload", body: func(*env) string {
			return `{"notificationVersion":"1.0","notificationType":"APPLICATION_OAUTH_CLIENT_NEW_SECRET","payload":{}}`
		}, reason: rotation.ReasonMalformed, retry: true},
		{name: "new secret of the wrong type", body: func(*env) string {
			return `{"notificationType":"APPLICATION_OAUTH_CLIENT_NEW_SECRET","payload":{"applicationOAuthClientNewSecret":{"clientId":"x","newClientSecret":42}}}`
		}, reason: rotation.ReasonMalformed, retry: true},
		{name: "an unknown notification type", body: func(*env) string {
			return `{"notificationVersion":"1.0","notificationType":"ORDER_CHANGE","payload":{"orderChangeNotification":{}}}`
		}, reason: rotation.ReasonUnknownType},
		{name: "a new secret for another application", body: func(e *env) string {
			return newSecretBody("amzn1.application-oa2-client.someone-else", bogus, e.Clock.Now().Add(180*day), e.Clock.Now().Add(7*day), "n-other")
		}, reason: rotation.ReasonOtherClient},
		{name: "an expiry notice for another application", body: func(e *env) string {
			return expiryBody("amzn1.application-oa2-client.someone-else", e.Clock.Now().Add(10*day))
		}, reason: rotation.ReasonOtherClient},
		{name: "the stored secret again", body: func(e *env) string {
			c := e.stored()
			return newSecretBody(clientID, clientSecret, c.ClientSecretExpiresAt, c.ClientSecretExpiresAt, "n-same")
		}, reason: rotation.ReasonDuplicate},
		{name: "an older secret than the stored one", body: func(e *env) string {
			return newSecretBody(clientID, bogus, e.stored().ClientSecretExpiresAt.Add(-day), e.Clock.Now(), "n-old")
		}, reason: rotation.ReasonDuplicate},
		// Kept until the DLQ: the secret in it is never lost, and a person is alarmed.
		// Malformed messages above go there too rather than being deleted unread.
		{name: "a secret LWA refuses", body: func(e *env) string {
			return newSecretBody(clientID, bogus, e.Clock.Now().Add(180*day), e.Clock.Now().Add(7*day), "n-bogus")
		}, reason: rotation.ReasonUnverified, retry: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, 60*day)
			before := e.stored()
			writes := e.secretWrites()
			e.send(tc.body(e))
			failures := e.deliver()
			wantFailures, wantDLQ := 0, 0
			if tc.retry {
				wantFailures, wantDLQ = maxReceive, 1
			}
			if failures != wantFailures || e.depth(e.dlqURL) != wantDLQ {
				t.Fatalf("failures %d, DLQ depth %d; want %d, %d", failures, e.depth(e.dlqURL), wantFailures, wantDLQ)
			}
			if got := e.metricCount(rotation.MetricFailed, tc.reason); got != float64(max(1, wantFailures)) {
				t.Fatalf("%s{Reason=%s} = %v\n%s", rotation.MetricFailed, tc.reason, got, e.Metrics.String())
			}
			after := e.stored()
			if after.ClientSecret != before.ClientSecret || !after.ClientSecretExpiresAt.Equal(before.ClientSecretExpiresAt) || e.secretWrites() != writes {
				t.Fatal("the lwa-client secret was written")
			}
			if e.Sim.Rotations() != 0 || e.metricCount(rotation.MetricRotated, "") != 0 {
				t.Fatal("something was rotated")
			}
			h := e.history()
			if len(h) == 0 || h[0].Kind != rotation.EventRejected || !strings.Contains(h[0].Detail, tc.reason) {
				t.Fatalf("history %+v", h)
			}
			if !strings.Contains(e.Logs.String(), `"level":"ERROR"`) {
				t.Fatal("not logged as an error")
			}
			e.wantNoSecretsLogged(bogus)
		})
	}
}

// TestSecretsManagerFailsAfterVerification: the new secret works, but writing it
// fails. The message comes back and the next delivery stores it; the secret was never
// lost and never logged.
func TestSecretsManagerFailsAfterVerification(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 10*day)
	if r := e.check(); r.Result != rotation.ResultRequested {
		t.Fatalf("check %+v", r)
	}
	newSecret := e.Sim.CurrentClientSecret()
	e.Secrets.FailNext("PutSecretValue", 3, "InternalServiceError") // the SDK's three attempts
	resp, _ := e.deliverOnce()
	if len(resp.BatchItemFailures) != 1 || e.stored().ClientSecret != clientSecret || len(e.peek(e.queueURL)) != 1 {
		t.Fatalf("after the failed write: %+v", resp)
	}
	if e.metricCount(rotation.MetricFailed, rotation.ReasonStore) != 1 || !e.state().Pending(e.Clock.Now(), day) {
		t.Fatalf("metrics %s", e.Metrics.String())
	}
	if e.deliver() != 0 || e.stored().ClientSecret.Reveal() != newSecret || e.depth(e.dlqURL) != 0 {
		t.Fatal("the redelivery did not store the new secret")
	}
	if e.state().Pending(e.Clock.Now(), day) || e.metricCount(rotation.MetricRotated, "") != 1 {
		t.Fatalf("state %+v", e.state())
	}
	e.wantNoSecretsLogged(newSecret)
}

// TestStoredButNotRecorded: an earlier delivery stored the secret and failed before
// recording the rotation; the redelivery completes the record without writing the
// secret again, and a further duplicate changes nothing.
func TestStoredButNotRecorded(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 10*day)
	e.check()
	bodies := e.peek(e.queueURL)
	if len(bodies) != 1 {
		t.Fatalf("%d notifications", len(bodies))
	}
	n, err := rotation.ParseNotification([]byte(bodies[0]))
	must(t, err)
	c := e.stored()
	c.ClientSecret, c.ClientSecretExpiresAt = n.NewSecret.ClientSecret, n.NewSecret.ExpiresAt
	must(t, e.Vault.PutClientCredentials(e.Ctx, c))
	writes := e.secretWrites()
	e.Clock.Advance(time.Minute)
	e.deliver()
	if e.secretWrites() != writes || e.state().Pending(e.Clock.Now(), day) || e.kinds() != "rotated,rotation_requested" {
		t.Fatalf("writes %d → %d, state %+v, history %s", writes, e.secretWrites(), e.state(), e.kinds())
	}
	e.send(bodies[0])
	e.deliver()
	if e.metricCount(rotation.MetricFailed, rotation.ReasonDuplicate) != 1 || e.secretWrites() != writes {
		t.Fatal("the duplicate was not recognised")
	}
}

// TestExpiryNoticeAboutAReplacedSecret: after a rotation Amazon may still warn about
// the old secret; that starts no new rotation.
func TestExpiryNoticeAboutAReplacedSecret(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 10*day)
	e.check()
	e.deliver()
	e.send(expiryBody(clientID, e.Clock.Now().Add(7*day)))
	if e.deliver() != 0 || e.Sim.RotationRequests() != 1 {
		t.Fatalf("rotation requests %d", e.Sim.RotationRequests())
	}
	if !strings.Contains(e.Logs.String(), `"result":"superseded"`) {
		t.Fatal("not logged as superseded")
	}
}

func TestStatusAndDirectInvocations(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 15*day)
	status := func() (st rotation.Status) {
		must(t, json.Unmarshal(e.invoke(`{"action":"status"}`), &st))
		return st
	}
	st := status()
	if st.ClientID != clientID || *st.DaysLeft != 15 || st.RotateBefore != "30d" || !st.LastRotatedAt.IsZero() || len(st.History) != 0 ||
		!st.RotatesFrom.Equal(e.Clock.Now().Add(-15*day)) {
		t.Fatalf("status before %+v", st)
	}
	var r rotation.Result
	must(t, json.Unmarshal(e.invoke(`{"action":"rotate"}`), &r))
	if r.Result != rotation.ResultRequested || r.Trigger != rotation.TriggerOperator {
		t.Fatalf("rotate %+v", r)
	}
	st = status()
	if st.PendingSince.IsZero() || st.PendingTrigger != rotation.TriggerOperator || st.LastRequestedAt.IsZero() {
		t.Fatalf("status while pending %+v", st)
	}
	e.Clock.Advance(time.Minute)
	e.deliver()
	st = status()
	if !st.PendingSince.IsZero() || !st.LastRotatedAt.Equal(e.Clock.Now()) || *st.DaysLeft != 179 || len(st.History) != 2 {
		t.Fatalf("status after %+v", st)
	}
	out := e.invoke(`{"action":"status"}`)
	if strings.Contains(string(out), e.Sim.CurrentClientSecret()) || strings.Contains(string(out), clientSecret) {
		t.Fatal("status shows a secret")
	}
	for _, bad := range []string{`{"action":"explode"}`, `{"hello":"world"}`, `[1,2]`, `not json`} {
		if _, err := e.handler.Invoke(e.Ctx, []byte(bad)); !errors.Is(err, rotation.ErrUnknownEvent) {
			t.Errorf("%s: %v, want ErrUnknownEvent", bad, err)
		}
	}
}

func TestParseNotification(t *testing.T) {
	t.Parallel()
	const s = "amzn1.oa2-cs.v1.parse-test-secret"
	at := time.Date(2027, 5, 1, 10, 0, 0, 456_000_000, time.UTC)
	tests := []struct {
		name    string
		body    string
		wantErr error
		check   func(t *testing.T, n rotation.Notification)
	}{
		{name: "new secret", body: newSecretBody(clientID, s, at, at.Add(-173*day), "n-1"), check: func(t *testing.T, n rotation.Notification) {
			p := n.NewSecret
			if n.Type != rotation.TypeNewSecret || n.NotificationID != "n-1" || n.ApplicationID != appID || p == nil ||
				p.ClientID != clientID || p.ClientSecret.Reveal() != s || !p.ExpiresAt.Equal(at) || !p.OldExpiresAt.Equal(at.Add(-173*day)) {
				t.Fatalf("%+v", n)
			}
		}},
		{name: "expiry", body: expiryBody(clientID, at), check: func(t *testing.T, n rotation.Notification) {
			if n.Type != rotation.TypeSecretExpiry || n.SecretExpiry == nil || !n.SecretExpiry.ExpiresAt.Equal(at) || n.SecretExpiry.Reason != "PERIODIC_ROTATION" {
				t.Fatalf("%+v", n)
			}
		}},
		{name: "empty", body: ``, wantErr: rotation.ErrMalformed},
		{name: "an array", body: `[]`, wantErr: rotation.ErrMalformed},
		{name: "no type", body: `{"payload":{}}`, wantErr: rotation.ErrMalformed},
		{name: "no secret", body: strings.Replace(newSecretBody(clientID, s, at, at, "n"), s, "", 1), wantErr: rotation.ErrMalformed},
		{name: "no client id", body: strings.Replace(newSecretBody(clientID, s, at, at, "n"), clientID, "", 1), wantErr: rotation.ErrMalformed},
		{name: "a bad time", body: strings.Replace(newSecretBody(clientID, s, at, at, "n"), "2027-05-01T10:00:00.456Z", "next tuesday", 1), wantErr: rotation.ErrMalformed},
		{name: "expiry without payload", body: `{"notificationType":"APPLICATION_OAUTH_CLIENT_SECRET_EXPIRY","payload":{}}`, wantErr: rotation.ErrMalformed},
		{name: "unknown type", body: `{"notificationType":"ANY_OFFER_CHANGED"}`, wantErr: rotation.ErrUnknownType},
		{name: "secret in a syntax error", body: `{"notificationType":"APPLICATION_OAUTH_CLIENT_NEW_SECRET","payload":{"applicationOAuthClientNewSecret":{"newClientSecret":"` + s + `"`, wantErr: rotation.ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			n, err := rotation.ParseNotification([]byte(tc.body))
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("error %v, want %v", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), s) || strings.Contains(err.Error(), "parse-test") {
					t.Fatalf("the error quotes the secret: %v", err)
				}
				return
			}
			must(t, err)
			tc.check(t, n)
		})
	}
}
