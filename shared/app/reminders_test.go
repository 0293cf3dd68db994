package app_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/spapi-auth-keeper/keeper/infra/amazonsim"
	"github.com/spapi-auth-keeper/keeper/infra/testenv"
	"github.com/spapi-auth-keeper/keeper/infra/testenv/deploy"
	"github.com/spapi-auth-keeper/keeper/shared/app"
	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/awsclients"
	"github.com/spapi-auth-keeper/keeper/shared/config"
	"github.com/spapi-auth-keeper/keeper/shared/metrics"
	"github.com/spapi-auth-keeper/keeper/shared/queue"
	"github.com/spapi-auth-keeper/keeper/shared/reminder"
	"github.com/spapi-auth-keeper/keeper/shared/secret"
	"github.com/spapi-auth-keeper/keeper/shared/store"
	"github.com/spapi-auth-keeper/keeper/shared/vault"
)

func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

const (
	e2eAppID        = "amzn1.sp.solution.reminders-e2e"
	e2eClientID     = "amzn1.application-oa2-client.reminderse2e"
	e2eClientSecret = "amzn1.oa2-cs.v1.reminders-e2e-client-secret"
	e2eStateKey     = "reminders-e2e-state-key-0123456789abcdef0123456789"
)

// settable is a clock shared by the keeper and the Amazon simulator.
type settable struct {
	mu  sync.Mutex
	now time.Time
}

func (c *settable) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *settable) Advance(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestRemindersEndToEnd seeds authorizations at several distances from expiry, runs
// the expiry scan, delivers the reminder queue to the sender as Lambda's event source
// would, reads the emails from aws-ses-v2-local, follows the renewal link in one of
// them through /authorize and the consent simulator to /callback, and sees the record
// renewed and no further reminder due.
func TestRemindersEndToEnd(t *testing.T) {
	ctx := context.Background()
	clock := &settable{now: time.Date(2027, 1, 16, 6, 0, 0, 0, time.UTC)}

	// Seeds: connection → days from today to expiry (at 09:30 UTC) and the stage due.
	type seed struct {
		days  int
		stage string
	}
	seeds := map[string]seed{
		"e2e-d30": {30, "-30"}, "e2e-d29": {29, ""}, "e2e-d9": {9, "-9"}, "e2e-d0": {0, "0"},
		"e2e-m7": {-7, "+7"}, "e2e-d60": {60, ""}, "e2e-m40": {-40, ""},
	}
	var sellers []amazonsim.Seller
	for id := range seeds {
		sellers = append(sellers, amazonsim.Seller{ID: sellerOf(id), Name: id})
	}

	// The keeper's callback server and the Amazon simulator.
	var handler http.Handler
	keeper := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	t.Cleanup(keeper.Close)
	sim := amazonsim.New(amazonsim.Config{AppID: e2eAppID, AppName: "Keeper E2E", Draft: true,
		RedirectURIs: []string{keeper.URL + "/callback"}, ClientID: e2eClientID, ClientSecret: e2eClientSecret,
		LoginURI: keeper.URL + "/login", Sellers: sellers, Clock: clock.Now})
	simServer := httptest.NewServer(sim)
	t.Cleanup(simServer.Close)

	ddb, sqsClient := testenv.DynamoDB(t), testenv.SQS(t)
	ses, mail := testenv.SESv2(t)
	sm := testenv.SecretsManager(t)
	table := testenv.NewTable(t)
	queueURL, dlqURL := testenv.NewQueueWithDLQ(t, "reminders", 3)
	prefix := testenv.Prefix(t)
	v := vault.New(sm, prefix, "")
	must(t, v.PutStateKey(ctx, secret.Value(e2eStateKey)))
	must(t, v.PutClientCredentials(ctx, vault.ClientCredentials{ClientID: e2eClientID, ClientSecret: secret.Value(e2eClientSecret),
		ClientSecretExpiresAt: clock.Now().AddDate(0, 5, 0)}))

	cfg := config.Config{
		TableName: table, SecretPrefix: prefix, AppID: e2eAppID, AppName: "Keeper E2E", AppIsDraft: true,
		RedirectURI: keeper.URL + "/callback", BaseURL: keeper.URL, LWAEndpoint: simServer.URL + "/auth/o2/token",
		SellerCentralURL: simServer.URL, StateTTL: 15 * time.Minute, LinkTTL: config.DefaultLinkTTL,
		SenderEmail: "Keeper E2E <reminders@keeper.example.com>", SESMaxPerSecond: 50, ReminderQueueURL: queueURL,
		ReminderStages: config.DefaultReminderStages,
	}
	deps := app.Deps{Config: cfg, Clients: awsclients.Clients{DynamoDB: ddb, Secrets: sm},
		Log: slog.New(slog.DiscardHandler), Clock: clock}
	var err error
	handler, err = deploy.Callback(deps, nil)
	must(t, err)
	scan, err := deploy.ExpiryScan(deps, sqsClient)
	must(t, err)
	sender, err := deploy.Reminder(deps, ses)
	must(t, err)

	st := store.New(ddb, table)
	recipients := map[string]string{}
	for id, s := range seeds {
		exp := time.Date(2027, 1, 16+s.days, 9, 30, 0, 0, time.UTC)
		status := authz.StatusActive
		if s.days < 0 {
			status = authz.StatusExpired
		}
		recipients[id] = testenv.NewRecipient(t)
		_, err := st.Create(ctx, authz.Authorization{ConnectionID: id, Region: authz.RegionEU, AccountType: authz.AccountSeller,
			Marketplace: "DE", SellingPartnerID: sellerOf(id), ContactEmail: recipients[id], Locale: "en-GB", Status: status,
			AuthorizedAt: exp.Add(-authz.Lifetime), ExpiresAt: exp, RefreshSlot: authz.SlotFor(id, authz.RegionEU, 24)})
		must(t, err)
	}

	// The daily scan, then the queue drained into the sender.
	res, err := scan.Run(ctx)
	must(t, err)
	if res.Queued != 4 {
		t.Fatalf("scan queued %d, want 4: %+v", res.Queued, res)
	}
	deliverQueue(t, sqsClient, queueURL, sender)
	if n := queueDepth(t, sqsClient, dlqURL); n != 0 {
		t.Fatalf("%d reminders in the dead-letter queue", n)
	}

	// The emails, as the sellers receive them.
	var renewalLink string
	for id, s := range seeds {
		got := mail.SentTo(t, recipients[id])
		if s.stage == "" {
			if len(got) != 0 {
				t.Errorf("%s: %d emails, want none", id, len(got))
			}
			continue
		}
		if len(got) != 1 {
			t.Fatalf("%s: %d emails, want 1", id, len(got))
		}
		e := got[0]
		if !strings.HasPrefix(e.Subject, "Action needed: ") || e.HTML == "" || e.Text == "" {
			t.Errorf("%s: subject %q, html %d bytes, text %d bytes", id, e.Subject, len(e.HTML), len(e.Text))
		}
		rec, err := st.Get(ctx, id, authz.RegionEU)
		must(t, err)
		if rec.Reminders[s.stage].MessageID != e.MessageID {
			t.Errorf("%s: record says message %q, SES has %q", id, rec.Reminders[s.stage].MessageID, e.MessageID)
		}
		if id == "e2e-m7" {
			if !strings.Contains(e.Subject, "expired on 9 Jan 2027") || !strings.Contains(e.Text, "suspended") {
				t.Errorf("after-expiry email: %q\n%s", e.Subject, e.Text)
			}
			renewalLink = regexp.MustCompile(regexp.QuoteMeta(keeper.URL) + `/authorize\?t=[A-Za-z0-9_.\-]+`).FindString(e.Text)
		}
	}
	if m7, _ := st.Get(ctx, "e2e-m7", authz.RegionEU); m7.Status != authz.StatusExpired {
		t.Errorf("e2e-m7 status %s, want expired", m7.Status)
	}

	// The seller of e2e-m7 clicks the link in the email.
	if renewalLink == "" {
		t.Fatal("no renewal link in the after-expiry email")
	}
	clock.Advance(3 * time.Hour)
	jar, err := cookiejar.New(nil) // the state is bound to the browser that opened the link
	if err != nil {
		t.Fatal(err)
	}
	browser := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	consentPage := follow(t, browser, http.MethodGet, renewalLink, nil, http.StatusFound)
	if !strings.HasPrefix(consentPage, simServer.URL+"/apps/authorize/consent?") {
		t.Fatalf("/authorize redirected to %s, want the consent page", consentPage)
	}
	follow(t, browser, http.MethodGet, consentPage, nil, http.StatusOK)
	u, _ := url.Parse(consentPage)
	q := u.Query()
	callback := follow(t, browser, http.MethodPost, simServer.URL+"/apps/authorize/confirm", url.Values{
		"application_id": {q.Get("application_id")}, "state": {q.Get("state")}, "redirect_uri": {q.Get("redirect_uri")},
		"version": {q.Get("version")}, "selling_partner_id": {sellerOf("e2e-m7")}, "action": {"confirm"},
	}, http.StatusFound)
	if !strings.HasPrefix(callback, keeper.URL+"/callback?") {
		t.Fatalf("Amazon redirected to %s, want /callback", callback)
	}
	follow(t, browser, http.MethodGet, callback, nil, http.StatusOK)

	renewed, err := st.Get(ctx, "e2e-m7", authz.RegionEU)
	must(t, err)
	if renewed.Status != authz.StatusActive || !renewed.ExpiresAt.Equal(clock.Now().Add(authz.Lifetime)) || len(renewed.Reminders) != 0 {
		t.Fatalf("after the renewal: status %s, expires %s, reminders %v", renewed.Status, renewed.ExpiresAt, renewed.Reminders)
	}

	// No further reminder is due for it: not from a late redelivery of the old job, nor
	// from any daily scan until a month before its new expiry.
	stale := reminder.Job{ConnectionID: "e2e-m7", Region: authz.RegionEU, Stage: "+7", ExpiresAt: time.Date(2027, 1, 9, 9, 30, 0, 0, time.UTC)}
	resp, err := sender(ctx, events.SQSEvent{Records: []events.SQSMessage{{MessageId: "late", Body: stale.Marshal()}}})
	must(t, err)
	if len(resp.BatchItemFailures) != 0 || len(mail.SentTo(t, recipients["e2e-m7"])) != 1 {
		t.Fatal("a late job for the old expiry was sent or retried")
	}
	schedule := reminder.MustParseSchedule(cfg.ReminderStages)
	newExpiry := reminder.DayOf(renewed.ExpiresAt)
	for d := reminder.DayOf(clock.Now()); d < newExpiry.AddDays(-30); d++ {
		if stage, ok := schedule.LatestDue(newExpiry, d-1, d); ok {
			t.Fatalf("stage %s due on %s for the renewed authorization", stage.Key(), d)
		}
	}
	clock.Advance(24 * time.Hour)
	res, err = scan.Run(ctx)
	must(t, err)
	if res.Queued != 0 { // none of the seeds has a stage on 17 Jan
		t.Errorf("the next day's scan queued %d", res.Queued)
	}
	deliverQueue(t, sqsClient, queueURL, sender)
	if n := len(mail.SentTo(t, recipients["e2e-m7"])); n != 1 {
		t.Fatalf("the renewed seller has %d emails after the next scan, want 1", n)
	}
}

func sellerOf(connID string) string {
	return "A1" + strings.ToUpper(strings.NewReplacer("-", "").Replace(connID))
}

// deliverQueue drains the queue into the sender as Lambda's SQS event source does:
// batches of up to ten, and every message the sender did not report as failed deleted.
func deliverQueue(t *testing.T, client *sqs.Client, queueURL string, sender deploy.ReminderHandler) {
	t.Helper()
	ctx := context.Background()
	for {
		out, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(queueURL), MaxNumberOfMessages: 10,
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameApproximateReceiveCount}})
		must(t, err)
		if len(out.Messages) == 0 {
			return
		}
		ev := events.SQSEvent{}
		receipts := map[string]string{}
		for _, m := range out.Messages {
			id := aws.ToString(m.MessageId)
			receipts[id] = aws.ToString(m.ReceiptHandle)
			ev.Records = append(ev.Records, events.SQSMessage{MessageId: id, ReceiptHandle: receipts[id], Body: aws.ToString(m.Body),
				EventSource: "aws:sqs", EventSourceARN: queueURL})
		}
		resp, err := sender(ctx, ev)
		must(t, err)
		if len(resp.BatchItemFailures) != 0 {
			t.Fatalf("sender asked to retry %v", resp.BatchItemFailures)
		}
		for _, r := range receipts {
			_, err := client.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(queueURL), ReceiptHandle: aws.String(r)})
			must(t, err)
		}
	}
}

func queueDepth(t *testing.T, client *sqs.Client, queueURL string) int {
	t.Helper()
	out, err := client.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(queueURL), MaxNumberOfMessages: 10})
	must(t, err)
	return len(out.Messages)
}

// follow makes one browser request and returns the redirect target (for a 3xx) or
// the body.
func follow(t *testing.T, browser *http.Client, method, rawURL string, form url.Values, want int) string {
	t.Helper()
	var res *http.Response
	var err error
	if method == http.MethodPost {
		res, err = browser.PostForm(rawURL, form)
	} else {
		res, err = browser.Get(rawURL)
	}
	must(t, err)
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		t.Fatalf("%s %s: status %d, want %d\n%s", method, rawURL, res.StatusCode, want, body)
	}
	if loc := res.Header.Get("Location"); loc != "" {
		return loc
	}
	return string(body)
}

// TestThrottledReminderParksInTheDLQ: a reminder SES keeps throttling is retried by
// the queue, its claim released each time, and after maxReceiveCount receives SQS
// moves it to the dead-letter queue (whose depth alarm tells the vendor) instead of
// retrying it forever.
func TestThrottledReminderParksInTheDLQ(t *testing.T) {
	ctx := context.Background()
	throttling := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("x-amzn-ErrorType", "TooManyRequestsException:http://internal.amazon.com/coral/com.amazon.coral.availability/")
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = io.WriteString(w, `{"message":"Maximum sending rate exceeded."}`)
	}))
	t.Cleanup(throttling.Close)
	ses, _ := testenv.SESv2(t)
	ses = sesv2.New(ses.Options(), func(o *sesv2.Options) { o.BaseEndpoint = aws.String(throttling.URL) })

	ddb, sqsClient, sm := testenv.DynamoDB(t), testenv.SQS(t), testenv.SecretsManager(t)
	table := testenv.NewTable(t)
	const maxReceive = 3
	queueURL, dlqURL := testenv.NewQueueWithDLQ(t, "reminders", maxReceive)
	prefix := testenv.Prefix(t)
	must(t, vault.New(sm, prefix, "").PutStateKey(ctx, secret.Value(e2eStateKey)))
	now := time.Date(2027, 1, 16, 6, 0, 0, 0, time.UTC)
	exp := now.AddDate(0, 0, 30)
	st := store.New(ddb, table)
	a, err := st.Create(ctx, authz.Authorization{ConnectionID: "dlq-seller", Region: authz.RegionEU, AccountType: authz.AccountSeller,
		Marketplace: "DE", ContactEmail: testenv.NewRecipient(t), Status: authz.StatusExpiring, AuthorizedAt: exp.Add(-authz.Lifetime), ExpiresAt: exp})
	must(t, err)
	emf := &strings.Builder{}
	var emfMu sync.Mutex
	sender, err := deploy.Reminder(app.Deps{Config: config.Config{TableName: table, SecretPrefix: prefix, AppName: "Keeper",
		BaseURL: "https://keeper.example.com", SenderEmail: "reminders@keeper.example.com", SESMaxPerSecond: 10,
		ReminderStages: config.DefaultReminderStages, LinkTTL: config.DefaultLinkTTL},
		Clients: awsclients.Clients{DynamoDB: ddb, Secrets: sm}, Log: slog.New(slog.DiscardHandler),
		Metrics: metrics.New(writerFunc(func(p []byte) (int, error) { emfMu.Lock(); defer emfMu.Unlock(); return emf.Write(p) })),
		Clock:   authz.ClockFunc(func() time.Time { return now })}, ses)
	must(t, err)
	_, err = queue.NewSender(sqsClient, queueURL).Send(ctx, []string{reminder.Job{ConnectionID: a.ConnectionID, Region: a.Region, Stage: "-30", ExpiresAt: exp}.Marshal()})
	must(t, err)

	// The event source's loop: receive, invoke, delete what succeeded; a failed
	// message becomes visible again (here at once rather than after the timeout).
	receives := 0
	for range maxReceive + 2 {
		out, err := sqsClient.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(queueURL), MaxNumberOfMessages: 10})
		must(t, err)
		if len(out.Messages) == 0 {
			break
		}
		receives++
		m := out.Messages[0]
		resp, err := sender(ctx, events.SQSEvent{Records: []events.SQSMessage{{MessageId: aws.ToString(m.MessageId), Body: aws.ToString(m.Body)}}})
		must(t, err)
		if len(resp.BatchItemFailures) != 1 {
			t.Fatalf("receive %d: the throttled message was not reported as failed", receives)
		}
		_, err = sqsClient.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(queueURL), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0})
		must(t, err)
		if rec, _ := st.Get(ctx, a.ConnectionID, a.Region); len(rec.Reminders) != 0 {
			t.Fatalf("receive %d: the stage stayed claimed: %+v", receives, rec.Reminders)
		}
	}
	if receives != maxReceive {
		t.Fatalf("received %d times, want %d (maxReceiveCount)", receives, maxReceive)
	}
	if n := queueDepth(t, sqsClient, dlqURL); n != 1 {
		t.Fatalf("dead-letter queue holds %d, want the throttled reminder", n)
	}
	emfMu.Lock()
	defer emfMu.Unlock()
	if c := strings.Count(emf.String(), `"Reason":"throttled"`); c != maxReceive {
		t.Fatalf("ReminderFailed{throttled} emitted %d times, want %d", c, maxReceive)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
