package amazonsim_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/spapi-auth-keeper/keeper/infra/amazonsim"
	"github.com/spapi-auth-keeper/keeper/infra/testenv"
)

// The notifications go to the SQS emulator, as Amazon's go to the vendor's queue.
func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

// queue is an SQS emulator queue registered as the app's notification destination.
type queue struct {
	client *sqs.Client
	url    string
}

func registerQueue(t *testing.T, e *env) queue {
	t.Helper()
	q := queue{client: testenv.SQS(t), url: testenv.NewQueue(t, "notifications")}
	e.sim.SetNotificationDestination(q.client, q.url)
	return q
}

// receive takes every message on the queue.
func (q queue) receive(t *testing.T) []amazonsim.Notification {
	t.Helper()
	var out []amazonsim.Notification
	for {
		res, err := q.client.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(q.url),
			MaxNumberOfMessages: 10, WaitTimeSeconds: 0})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Messages) == 0 {
			return out
		}
		for _, m := range res.Messages {
			var n amazonsim.Notification
			if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &n); err != nil {
				t.Fatalf("notification is not JSON: %v", err)
			}
			out = append(out, n)
			if _, err := q.client.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: aws.String(q.url), ReceiptHandle: m.ReceiptHandle}); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func (e *env) grantless(t *testing.T, scope string) string {
	t.Helper()
	return e.token(t, url.Values{"grant_type": {"client_credentials"}, "scope": {scope}}).wantOK(t).Access
}

type spAnswer struct {
	status    int
	requestID string
	rateLimit string
	Errors    []struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"errors"`
}

func (e *env) rotate(t *testing.T, token string) spAnswer {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+amazonsim.RotationPath, nil)
	if token != "" {
		req.Header.Set("x-amz-access-token", token)
	}
	res, err := e.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	a := spAnswer{status: res.StatusCode, requestID: res.Header.Get("x-amzn-RequestId"), rateLimit: res.Header.Get("x-amzn-RateLimit-Limit")}
	if len(b) > 0 {
		if err := json.Unmarshal(b, &a); err != nil {
			t.Fatalf("answer is not the SP-API ErrorList: %s", b)
		}
	}
	return a
}

func (a spAnswer) want(t *testing.T, status int, code string) {
	t.Helper()
	got := ""
	if len(a.Errors) > 0 {
		got = a.Errors[0].Code
	}
	if a.status != status || got != code || a.requestID == "" {
		t.Fatalf("answer %d %q (request id %q), want %d %q", a.status, got, a.requestID, status, code)
	}
}

func TestRotateClientSecretRefusals(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		token  func(t *testing.T, e *env) string
		queue  bool
		fault  *amazonsim.Fault
		status int
		code   string
	}{
		{name: "no access token", token: func(*testing.T, *env) string { return "" }, queue: true, status: 403, code: "Unauthorized"},
		{name: "unknown access token", token: func(*testing.T, *env) string { return "Atza|made-up" }, queue: true, status: 403, code: "Unauthorized"},
		{name: "a seller's token", queue: true, status: 403, code: "Unauthorized", token: func(t *testing.T, e *env) string {
			return e.token(t, refresh(e.sim.IssueRefreshToken("A1SELLERONE"))).wantOK(t).Access
		}},
		{name: "grantless token of another scope", queue: true, status: 403, code: "Unauthorized", token: func(t *testing.T, e *env) string {
			return e.grantless(t, "sellingpartnerapi::notifications")
		}},
		{name: "expired grantless token", queue: true, status: 403, code: "Unauthorized", token: func(t *testing.T, e *env) string {
			tok := e.grantless(t, amazonsim.ScopeRotation)
			e.clock.Advance(amazonsim.AccessTokenLifetime)
			return tok
		}},
		{name: "no queue registered for the new secret", queue: false, status: 400, code: "InvalidInput", token: func(t *testing.T, e *env) string {
			return e.grantless(t, amazonsim.ScopeRotation)
		}},
		{name: "server error", queue: true, fault: &[]amazonsim.Fault{amazonsim.ServerError()}[0], status: 500, code: "InternalFailure",
			token: func(t *testing.T, e *env) string { return e.grantless(t, amazonsim.ScopeRotation) }},
		{name: "unavailable", queue: true, fault: &[]amazonsim.Fault{amazonsim.Unavailable()}[0], status: 503, code: "ServiceUnavailable",
			token: func(t *testing.T, e *env) string { return e.grantless(t, amazonsim.ScopeRotation) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := start(t, nil)
			var q queue
			if tc.queue {
				q = registerQueue(t, e)
			}
			if tc.fault != nil {
				e.sim.InjectFault(amazonsim.FaultRotation, *tc.fault)
			}
			e.rotate(t, tc.token(t, e)).want(t, tc.status, tc.code)
			if e.sim.Rotations() != 0 || e.sim.CurrentClientSecret() != clientSecret {
				t.Fatalf("the secret was rotated by a refused call")
			}
			e.token(t, url.Values{"grant_type": {"client_credentials"}, "scope": {amazonsim.ScopeRotation}}).wantOK(t)
			if tc.queue {
				if n := q.receive(t); len(n) != 0 {
					t.Fatalf("notifications after a refused call: %+v", n)
				}
			}
		})
	}
}

// TestRotateClientSecret follows one rotation as Amazon documents it: 204 with no
// body, the new secret on the registered queue, the old secret accepted for seven
// days and refused after, the new one for 180 days.
func TestRotateClientSecret(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	q := registerQueue(t, e)
	start := e.clock.Now().UTC()

	a := e.rotate(t, e.grantless(t, amazonsim.ScopeRotation))
	if a.status != http.StatusNoContent || a.rateLimit != "0.0167" || a.requestID == "" {
		t.Fatalf("rotation answered %d (rate limit %q, request id %q), want 204", a.status, a.rateLimit, a.requestID)
	}
	got := q.receive(t)
	if len(got) != 1 {
		t.Fatalf("%d notifications, want 1", len(got))
	}
	n := got[0]
	p := n.Payload.NewSecret
	if n.NotificationType != amazonsim.NotificationNewSecret || n.NotificationVersion != "1.0" || n.PayloadVersion != "2023-11-30" ||
		n.NotificationMetadata.ApplicationID != appID || n.NotificationMetadata.NotificationID == "" || p == nil || n.Payload.SecretExpiry != nil {
		t.Fatalf("notification %+v", n)
	}
	if p.ClientID != clientID || !strings.HasPrefix(p.NewClientSecret, "amzn1.oa2-cs.v1.") || p.NewClientSecret == clientSecret {
		t.Fatalf("payload %+v", p)
	}
	if !time.Time(p.OldClientSecretExpiryTime).Equal(start.Add(7*24*time.Hour)) || !time.Time(p.NewClientSecretExpiryTime).Equal(start.Add(180*24*time.Hour)) {
		t.Fatalf("expiries old %v new %v", time.Time(p.OldClientSecretExpiryTime), time.Time(p.NewClientSecretExpiryTime))
	}
	if e.sim.CurrentClientSecret() != p.NewClientSecret || e.sim.Rotations() != 1 || e.sim.NotificationsSent() != 1 {
		t.Fatal("the simulator does not count the rotation")
	}

	grant := url.Values{"grant_type": {"client_credentials"}, "scope": {amazonsim.ScopeRotation}}
	withSecret := func(s string) url.Values {
		v := url.Values{}
		for k, x := range grant {
			v[k] = x
		}
		v.Set("client_secret", s)
		return v
	}
	for _, step := range []struct {
		after      time.Duration
		oldWorks   bool
		newWorks   bool
		annotation string
	}{
		{0, true, true, "right after the rotation"},
		{7*24*time.Hour - time.Second, true, true, "a second before the grace period ends"},
		{7 * 24 * time.Hour, false, true, "when the grace period ends"},
		{180*24*time.Hour - time.Second, false, true, "a second before the new secret's deadline"},
		{180 * 24 * time.Hour, false, false, "at the new secret's deadline"},
	} {
		e.clock.Advance(start.Add(step.after).Sub(e.clock.Now()))
		for secretValue, works := range map[string]bool{clientSecret: step.oldWorks, p.NewClientSecret: step.newWorks} {
			r := e.token(t, withSecret(secretValue))
			if works {
				r.wantOK(t)
			} else {
				r.wantError(t, 401, "invalid_client")
			}
		}
	}
	if strings.Contains(e.logs.String(), p.NewClientSecret) {
		t.Fatal("the simulator logged the new secret")
	}
}

// TestRotationUsagePlan: 0.0167 requests a second, burst 1.
func TestRotationUsagePlan(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	q := registerQueue(t, e)
	e.rotate(t, e.grantless(t, amazonsim.ScopeRotation)).want(t, 204, "")
	for _, wait := range []time.Duration{0, 30 * time.Second, 29 * time.Second} {
		e.clock.Advance(wait)
		e.rotate(t, e.grantless(t, amazonsim.ScopeRotation)).want(t, 429, "QuotaExceeded")
	}
	e.clock.Advance(2 * time.Second) // a full minute since the first call
	e.rotate(t, e.grantless(t, amazonsim.ScopeRotation)).want(t, 204, "")
	if e.sim.Rotations() != 2 || e.sim.RotationRequests() != 5 || len(q.receive(t)) != 2 {
		t.Fatalf("rotations %d of %d requests", e.sim.Rotations(), e.sim.RotationRequests())
	}
}

func TestSecretExpiryNotification(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	ctx := context.Background()
	if err := e.sim.NotifyClientSecretExpiry(ctx); err == nil {
		t.Fatal("sent without a known expiry")
	}
	expires := e.clock.Now().Add(90 * 24 * time.Hour)
	e.sim.SetClientSecretExpiry(clientSecret, expires)
	if err := e.sim.NotifyClientSecretExpiry(ctx); err == nil {
		t.Fatal("sent without a registered queue")
	}
	q := registerQueue(t, e)
	res, err := e.http.Post(e.srv.URL+"/_sim/notify-secret-expiry", "application/json", nil)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("admin notify: %v %v", res, err)
	}
	res.Body.Close()
	got := q.receive(t)
	if len(got) != 1 || got[0].NotificationType != amazonsim.NotificationSecretExpiry || got[0].Payload.SecretExpiry == nil {
		t.Fatalf("notifications %+v", got)
	}
	p := got[0].Payload.SecretExpiry
	if p.ClientID != clientID || !time.Time(p.ClientSecretExpiryTime).Equal(expires) || p.ClientSecretExpiryReason != "PERIODIC_ROTATION" {
		t.Fatalf("payload %+v", p)
	}

	res, err = e.http.Get(e.srv.URL + "/_sim/client-secret")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	var st amazonsim.ClientSecretState
	if err := json.Unmarshal(b, &st); err != nil || !st.QueueRegistered || st.NotificationsSent != 1 || len(st.Secrets) != 1 || !st.Secrets[0].Current {
		t.Fatalf("state %s (%v)", b, err)
	}
	if strings.Contains(string(b), clientSecret) {
		t.Fatal("the admin state shows the client secret")
	}
	// The expiry passes: every grant is refused.
	e.clock.Advance(91 * 24 * time.Hour)
	e.token(t, url.Values{"grant_type": {"client_credentials"}, "scope": {amazonsim.ScopeRotation}}).wantError(t, 401, "invalid_client")
}
