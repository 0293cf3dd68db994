package app_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/spapi-auth-keeper/keeper/infra/amazonsim"
	"github.com/spapi-auth-keeper/keeper/infra/testenv"
	"github.com/spapi-auth-keeper/keeper/infra/testenv/deploy"
	"github.com/spapi-auth-keeper/keeper/shared/app"
	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/awsclients"
	"github.com/spapi-auth-keeper/keeper/shared/config"
	"github.com/spapi-auth-keeper/keeper/shared/metrics"
	"github.com/spapi-auth-keeper/keeper/shared/refresh"
	"github.com/spapi-auth-keeper/keeper/shared/rotation"
	"github.com/spapi-auth-keeper/keeper/shared/secret"
	"github.com/spapi-auth-keeper/keeper/shared/store"
	"github.com/spapi-auth-keeper/keeper/shared/vault"
)

const (
	rotAppID        = "amzn1.sp.solution.rotation-e2e"
	rotClientID     = "amzn1.application-oa2-client.rotatione2e"
	rotClientSecret = "amzn1.oa2-cs.v1.rotation-e2e-first-secret"
	rotSeller       = "A1ROTATIONSELLER"
	rotConn         = "rotation-e2e"
	rotDay          = 24 * time.Hour
)

func rotMust(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestClientSecretRotationEndToEnd runs the credentials function and the token
// refresh function of one deployment, built as their mains build them, against the
// emulators and the Amazon simulator: the client secret nears expiry, the daily check
// requests a rotation, Amazon's notification arrives on the queue, the new secret is
// verified and stored, a seller's refresh works with it, and seven days later the
// simulator retires the old secret while nothing fails: the refresh function, still
// holding the old secret in its cache, re-reads the lwa-client secret on the one
// invalid_client and carries on.
func TestClientSecretRotationEndToEnd(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := testenv.NewClock(time.Date(2027, 3, 1, 6, 20, 0, 0, time.UTC))
	sim := amazonsim.New(amazonsim.Config{AppID: rotAppID, ClientID: rotClientID, ClientSecret: rotClientSecret, Clock: clock.Now})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)

	ddb, sq, sm := testenv.DynamoDB(t), testenv.SQS(t), testenv.SecretsManager(t)
	notifications, notificationsDLQ := testenv.NewQueueWithDLQ(t, "client-secret", 5)
	refreshQ, refreshDLQ := testenv.NewQueueWithDLQ(t, "refresh", 4)
	sim.SetNotificationDestination(sq, notifications) // the vendor registered the queue in the Developer Console
	cfg := config.Config{TableName: testenv.NewTable(t), SecretPrefix: testenv.Prefix(t), LWAEndpoint: srv.URL + "/auth/o2/token",
		RefreshQueueURL: refreshQ, ReminderQueueURL: testenv.NewQueue(t, "reminders"), RefreshInterval: 24 * time.Hour,
		RefreshMaxPerSecond: 100, ReminderStages: config.DefaultReminderStages}
	quiet := slog.New(slog.DiscardHandler)
	v := vault.New(sm, cfg.SecretPrefix, "").WithLogger(quiet)
	expires := clock.Now().Add(25 * rotDay)
	sim.SetClientSecretExpiry(rotClientSecret, expires)
	rotMust(t, v.PutClientCredentials(ctx, vault.ClientCredentials{ClientID: rotClientID, ClientSecret: rotClientSecret, ClientSecretExpiresAt: expires}))

	// One seller, authorized two months ago.
	authorizedAt := clock.Now().AddDate(0, -2, 0)
	_, err := v.Put(ctx, rotConn, authz.RegionEU, vault.RefreshToken{Token: secret.Value(sim.IssueRefreshToken(rotSeller)),
		SellingPartnerID: rotSeller, Region: authz.RegionEU, AuthorizedAt: authorizedAt})
	rotMust(t, err)
	st := store.New(ddb, cfg.TableName)
	_, err = st.Create(ctx, authz.Authorization{ConnectionID: rotConn, Region: authz.RegionEU, AccountType: authz.AccountSeller,
		SellingPartnerID: rotSeller, Status: authz.StatusActive, AuthorizedAt: authorizedAt, ExpiresAt: authorizedAt.Add(authz.Lifetime),
		RefreshSlot: authz.SlotFor(rotConn, authz.RegionEU, authz.DefaultRefreshSlots), SecretID: v.SecretName(rotConn, authz.RegionEU)})
	rotMust(t, err)

	// Both functions log and emit metrics where the test can read every line.
	logs, emf := &testenv.Buffer{}, &testenv.Buffer{}
	deps := app.Deps{Config: cfg, Clients: awsclients.Clients{DynamoDB: ddb, Secrets: sm},
		Log: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})), Metrics: metrics.New(emf).WithClock(clock.Now), Clock: clock}
	credentials, _ := deploy.Credentials(deps, deploy.CredentialsOptions{SPAPIEndpoint: srv.URL})
	_, refresher, err := deploy.TokenRefresh(deps, sq, nil, refresh.Config{})
	rotMust(t, err)
	refreshNow := func(when string) {
		t.Helper()
		if o := refresher.Refresh(ctx, refresh.Request{ConnectionID: rotConn, Region: authz.RegionEU}); o.Result != refresh.ResultRefreshed {
			t.Fatalf("%s: the seller's refresh: %+v", when, o)
		}
	}
	refreshNow("before the rotation") // caches the first secret in the refresh function

	// The daily check: 25 days left, within ROTATE_BEFORE.
	var check rotation.Result
	out, err := credentials.Invoke(ctx, rotScheduledEvent(clock.Now()))
	rotMust(t, err)
	rotMust(t, json.Unmarshal(out, &check))
	if check.Result != rotation.ResultRequested || *check.DaysLeft != 25 || sim.Rotations() != 1 {
		t.Fatalf("daily check: %s", out)
	}
	newSecret := sim.CurrentClientSecret()

	// Amazon's notification, as Lambda's event source mapping delivers it.
	clock.Advance(time.Minute)
	if failed := rotDeliver(t, sq, notifications, credentials); failed != 0 {
		t.Fatalf("%d notifications failed", failed)
	}
	c, err := v.ClientCredentials(ctx)
	rotMust(t, err)
	if c.ClientSecret.Reveal() != newSecret || !c.ClientSecretExpiresAt.Equal(clock.Now().Add(-time.Minute).Add(180*rotDay)) {
		t.Fatalf("the lwa-client secret was not rotated (expires %v)", c.ClientSecretExpiresAt)
	}

	refreshNow("during the grace period, with the old secret still cached")

	// Seven days after the rotation the simulator refuses the old secret. The refresh
	// function still holds it in its cache: LWA refuses it once, the function re-reads
	// the lwa-client secret, and the seller's refresh succeeds with the new secret.
	clock.Advance(7 * rotDay)
	if status := rotTokenStatus(t, srv.URL, rotClientSecret); status != 401 {
		t.Fatalf("the old secret after its grace period: HTTP %d, want 401", status)
	}
	if status := rotTokenStatus(t, srv.URL, newSecret); status != 200 {
		t.Fatalf("the new secret: HTTP %d, want 200", status)
	}
	refreshNow("after the grace period")
	// A new Lambda environment reads the new secret from the start.
	_, fresh, err := deploy.TokenRefresh(deps, sq, nil, refresh.Config{})
	rotMust(t, err)
	if o := fresh.Refresh(ctx, refresh.Request{ConnectionID: rotConn, Region: authz.RegionEU}); o.Result != refresh.ResultRefreshed {
		t.Fatalf("a new refresh function: %+v", o)
	}
	out, err = credentials.Invoke(ctx, rotScheduledEvent(clock.Now()))
	rotMust(t, err)
	rotMust(t, json.Unmarshal(out, &check))
	if check.Result != rotation.ResultNotDue || *check.DaysLeft != 172 {
		t.Fatalf("the next daily check: %s", out)
	}

	// Nothing failed anywhere, and no secret reached a log line.
	if sim.RotationRequests() != 1 || testenv.QueueDepth(t, sq, notificationsDLQ) != 0 || testenv.QueueDepth(t, sq, refreshDLQ) != 0 {
		t.Fatalf("rotation requests %d, DLQs %d/%d", sim.RotationRequests(), testenv.QueueDepth(t, sq, notificationsDLQ), testenv.QueueDepth(t, sq, refreshDLQ))
	}
	for _, line := range strings.Split(strings.TrimSpace(emf.String()), "\n") {
		if strings.Contains(line, refresh.MetricFailed) || strings.Contains(line, rotation.MetricFailed) {
			t.Errorf("a failure metric: %s", line)
		}
	}
	if strings.Contains(logs.String(), `"level":"ERROR"`) {
		t.Errorf("an error was logged:\n%s", logs.String())
	}
	all := logs.String() + emf.String()
	for _, s := range append([]string{rotClientSecret, newSecret}, sim.IssuedSecrets()...) {
		if strings.Contains(all, s) {
			t.Errorf("a secret appears in the logs: %s…", s[:12])
		}
	}
	if !strings.Contains(logs.String(), "reading them again") {
		t.Error("the refresh function did not re-read the credentials on invalid_client")
	}
}

func rotScheduledEvent(at time.Time) []byte {
	b, _ := json.Marshal(map[string]any{"version": "0", "id": "e2e", "detail-type": "Scheduled Event", "source": "aws.events",
		"time": at.Format(time.RFC3339), "region": testenv.Region, "detail": map[string]any{}})
	return b
}

// rotTokenStatus asks the simulator's LWA for a grantless token with clientSecret and
// returns the HTTP status.
func rotTokenStatus(t *testing.T, base, clientSecret string) int {
	t.Helper()
	res, err := http.PostForm(base+"/auth/o2/token", url.Values{"grant_type": {"client_credentials"}, "scope": {amazonsim.ScopeRotation},
		"client_id": {rotClientID}, "client_secret": {clientSecret}})
	rotMust(t, err)
	res.Body.Close()
	return res.StatusCode
}

// rotDeliver plays the SQS event source mapping over queueURL until it is empty and
// returns how many messages the handler reported as failed.
func rotDeliver(t *testing.T, client *sqs.Client, queueURL string, h *rotation.Handler) int {
	t.Helper()
	ctx := context.Background()
	failed := 0
	for range 20 {
		res, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(queueURL), MaxNumberOfMessages: 10, VisibilityTimeout: 30})
		rotMust(t, err)
		if len(res.Messages) == 0 {
			return failed
		}
		ev := events.SQSEvent{}
		handles := map[string]*string{}
		for _, m := range res.Messages {
			ev.Records = append(ev.Records, events.SQSMessage{MessageId: aws.ToString(m.MessageId), Body: aws.ToString(m.Body), EventSource: "aws:sqs"})
			handles[aws.ToString(m.MessageId)] = m.ReceiptHandle
		}
		payload, err := json.Marshal(ev)
		rotMust(t, err)
		out, err := h.Invoke(ctx, payload)
		rotMust(t, err)
		var resp events.SQSEventResponse
		rotMust(t, json.Unmarshal(out, &resp))
		failed += len(resp.BatchItemFailures)
		for _, f := range resp.BatchItemFailures {
			_, err := client.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(queueURL), ReceiptHandle: handles[f.ItemIdentifier]})
			rotMust(t, err)
			delete(handles, f.ItemIdentifier)
		}
		for _, rh := range handles {
			_, err := client.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(queueURL), ReceiptHandle: rh})
			rotMust(t, err)
		}
	}
	t.Fatal("the notifications queue did not drain")
	return failed
}
