package delivery_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/spapi-auth-keeper/keeper/infra/testenv"
	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/config"
	"github.com/spapi-auth-keeper/keeper/shared/consent"
	"github.com/spapi-auth-keeper/keeper/shared/delivery"
	"github.com/spapi-auth-keeper/keeper/shared/metrics"
	"github.com/spapi-auth-keeper/keeper/shared/reminder"
	"github.com/spapi-auth-keeper/keeper/shared/secret"
	"github.com/spapi-auth-keeper/keeper/shared/sesmail"
	"github.com/spapi-auth-keeper/keeper/shared/store"
)

func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

var (
	now       = time.Date(2027, 1, 20, 9, 0, 0, 0, time.UTC)
	expiresAt = time.Date(2027, 2, 15, 12, 0, 0, 0, time.UTC)
)

type env struct {
	t       *testing.T
	ctx     context.Context
	store   *store.Store
	svc     *delivery.Service
	metrics *testenv.Buffer
	logs    *testenv.Buffer
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, ctx: context.Background(), store: store.New(testenv.DynamoDB(t), testenv.NewTable(t)), metrics: &testenv.Buffer{}, logs: &testenv.Buffer{}}
	e.svc = delivery.New(e.store, testenv.NewClock(now), slog.New(slog.NewJSONHandler(e.logs, nil)), metrics.New(e.metrics))
	return e
}

// seed stores an authorization whose stage -30 was sent as SES message mid.
func (e *env) seed(connID, contact, mid string) authz.Authorization {
	e.t.Helper()
	sent := now.Add(-time.Hour)
	a, err := e.store.Create(e.ctx, authz.Authorization{
		ConnectionID: connID, Region: authz.RegionEU, AccountType: authz.AccountSeller, Marketplace: "DE",
		SellingPartnerID: "A1" + strings.ToUpper(connID), ContactEmail: contact, Locale: "de-DE",
		Status: authz.StatusExpiring, AuthorizedAt: expiresAt.Add(-authz.Lifetime), ExpiresAt: expiresAt,
		Reminders: map[string]authz.ReminderMark{"-30": {ClaimedAt: sent, SentAt: sent, MessageID: mid}},
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return a
}

func (e *env) record(connID string) authz.Authorization {
	e.t.Helper()
	a, err := e.store.Get(e.ctx, connID, authz.RegionEU)
	if err != nil {
		e.t.Fatal(err)
	}
	return a
}

// sesEvent builds the EventBridge event SES publishes for a message with the
// keeper's tags; body adds the type's own object.
func sesEvent(typ, mid string, tags map[string]string, to string, body map[string]any) []byte {
	t := map[string][]string{"ses:configuration-set": {"keeper"}}
	for k, v := range tags {
		t[k] = []string{v}
	}
	rec := map[string]any{"eventType": typ, "mail": map[string]any{
		"timestamp": now.Format(time.RFC3339Nano), "messageId": mid, "destination": []string{to}, "tags": t,
	}}
	for k, v := range body {
		rec[k] = v
	}
	b, _ := json.Marshal(map[string]any{"version": "0", "id": "e1", "detail-type": "Email " + typ, "source": "aws.ses",
		"account": "123456789012", "time": now.Format(time.RFC3339), "region": "eu-west-1", "detail": rec})
	return b
}

func bounceBody(typ, to string) map[string]any {
	return map[string]any{"bounce": map[string]any{"bounceType": typ, "bounceSubType": "General", "timestamp": now.Add(time.Minute).Format(time.RFC3339Nano),
		"bouncedRecipients": []map[string]string{{"emailAddress": to, "status": "5.1.1", "diagnosticCode": "smtp; 550 5.1.1 user unknown"}}}}
}

func TestEachEventTypeLandsOnItsEntryOnce(t *testing.T) {
	t.Parallel()
	at := now.Add(time.Minute).Format(time.RFC3339Nano)
	tests := []struct {
		name    string
		typ     string
		body    func(to string) map[string]any
		metric  string
		check   func(d authz.Delivery) bool
		contact authz.ContactStatus
		history authz.EventKind
		counter string
	}{
		{"send", delivery.TypeSend, func(string) map[string]any { return map[string]any{"send": map[string]any{}} }, "",
			func(d authz.Delivery) bool { return d.AcceptedAt.Equal(now) }, "", "", "sent:-30"},
		{"delivery", delivery.TypeDelivery, func(to string) map[string]any {
			return map[string]any{"delivery": map[string]any{"timestamp": at, "recipients": []string{to}}}
		}, "ReminderDelivered", func(d authz.Delivery) bool { return d.DeliveredAt.Equal(now.Add(time.Minute)) }, "", "", "delivered:-30"},
		{"permanent bounce", delivery.TypeBounce, func(to string) map[string]any { return bounceBody("Permanent", to) }, "ReminderBounced",
			func(d authz.Delivery) bool {
				return !d.BouncedAt.IsZero() && strings.Contains(d.Detail, "Permanent/General") && strings.Contains(d.Detail, "5.1.1")
			}, authz.ContactBouncing, authz.EventReminderBounced, "bounced:-30"},
		{"transient bounce is only recorded", delivery.TypeBounce, func(to string) map[string]any { return bounceBody("Transient", to) }, "ReminderSoftBounced",
			func(d authz.Delivery) bool { return !d.SoftBounceAt.IsZero() && d.BouncedAt.IsZero() }, "", "", ""},
		{"complaint", delivery.TypeComplaint, func(to string) map[string]any {
			return map[string]any{"complaint": map[string]any{"timestamp": at, "complaintFeedbackType": "abuse",
				"complainedRecipients": []map[string]string{{"emailAddress": to}}}}
		}, "ReminderComplained", func(d authz.Delivery) bool { return !d.ComplainedAt.IsZero() }, authz.ContactComplained, authz.EventReminderComplained, "complained:-30"},
		{"delivery delay", delivery.TypeDeliveryDelay, func(string) map[string]any {
			return map[string]any{"deliveryDelay": map[string]any{"timestamp": at, "delayType": "MailboxFull"}}
		}, "ReminderDelayed", func(d authz.Delivery) bool { return !d.DelayedAt.IsZero() }, "", "", ""},
		{"reject", delivery.TypeReject, func(string) map[string]any { return map[string]any{"reject": map[string]any{"reason": "Bad content"}} },
			"ReminderDeliveryFailed", func(d authz.Delivery) bool { return !d.FailedAt.IsZero() && strings.Contains(d.Detail, "Bad content") }, "", "", ""},
		{"rendering failure", delivery.TypeRenderingFailure, func(string) map[string]any {
			return map[string]any{"failure": map[string]any{"errorMessage": "Attribute 'x' is not present", "templateName": "t"}}
		}, "ReminderDeliveryFailed", func(d authz.Delivery) bool {
			return !d.FailedAt.IsZero() && strings.Contains(d.Detail, "rendering failed")
		}, "", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			contact := "owner@" + strings.ReplaceAll(tc.name, " ", "-") + ".example"
			a := e.seed("conn.x@1", contact, "mid-1")
			ev := sesEvent(tc.typ, "mid-1", delivery.Tags(a.ConnectionID, a.Region, "-30"), contact, tc.body(contact))
			for i := 0; i < 3; i++ { // SES delivers at least once: the repeats change nothing
				if err := e.svc.Handle(e.ctx, ev); err != nil {
					t.Fatalf("delivery %d: %v", i, err)
				}
			}
			got := e.record(a.ConnectionID)
			if !tc.check(got.Reminders["-30"].Delivery) {
				t.Errorf("entry %+v", got.Reminders["-30"].Delivery)
			}
			if got.Reminders["-30"].MessageID != "mid-1" || !got.Reminders["-30"].SentAt.Equal(a.Reminders["-30"].SentAt) {
				t.Errorf("the sender's fields changed: %+v", got.Reminders["-30"])
			}
			if got.ContactStatus != tc.contact {
				t.Errorf("contact status %q, want %q", got.ContactStatus, tc.contact)
			}
			if got.ContactEmail != contact {
				t.Errorf("contact address changed to %q", got.ContactEmail)
			}
			if tc.metric != "" {
				if n := testenv.MetricSum(t, e.metrics.String(), tc.metric, ""); n != 1 {
					t.Errorf("%s = %v, want 1 for three deliveries of one event", tc.metric, n)
				}
			}
			hist, err := e.store.History(e.ctx, a.ConnectionID, 0)
			if err != nil {
				t.Fatal(err)
			}
			var kinds []authz.EventKind
			for _, h := range hist {
				if h.Kind == authz.EventReminderBounced || h.Kind == authz.EventReminderComplained {
					kinds = append(kinds, h.Kind)
					if strings.Contains(h.Detail, contact) {
						t.Errorf("history holds the address: %q", h.Detail)
					}
				}
			}
			if (tc.history == "" && len(kinds) != 0) || (tc.history != "" && (len(kinds) != 1 || kinds[0] != tc.history)) {
				t.Errorf("history %v, want one %q", kinds, tc.history)
			}
			days, _, err := e.store.FunnelDays(e.ctx, now.AddDate(0, 0, -1), now.AddDate(0, 0, 1))
			if err != nil {
				t.Fatal(err)
			}
			var n int64
			for _, d := range days {
				n += d.Counts[tc.counter]
			}
			if tc.counter != "" && n != 1 {
				t.Errorf("funnel %s = %d, want 1", tc.counter, n)
			}
			if tc.contact != "" && testenv.MetricSum(t, e.metrics.String(), "SellerUnreachable", "") != 1 {
				t.Errorf("SellerUnreachable not counted for a seller 26 days before expiry")
			}
		})
	}
}

func TestEventsThatAreNotOursChangeNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.seed("acme", "owner@acme.example", "mid-ours")
	tags := delivery.Tags(a.ConnectionID, a.Region, "-30")
	tests := []struct {
		name   string
		event  []byte
		reason string
	}{
		{"another message id on our entry", sesEvent(delivery.TypeBounce, "mid-forged", tags, a.ContactEmail, bounceBody("Permanent", a.ContactEmail)), delivery.ReasonUnknownMessage},
		{"a stage never sent", sesEvent(delivery.TypeBounce, "mid-ours", delivery.Tags(a.ConnectionID, a.Region, "-9"), a.ContactEmail, bounceBody("Permanent", a.ContactEmail)), delivery.ReasonUnknownMessage},
		{"an unknown connection", sesEvent(delivery.TypeBounce, "mid-ours", delivery.Tags("ghost", a.Region, "-30"), a.ContactEmail, bounceBody("Permanent", a.ContactEmail)), delivery.ReasonUnknownMessage},
		{"no keeper tags", sesEvent(delivery.TypeBounce, "mid-ours", nil, a.ContactEmail, bounceBody("Permanent", a.ContactEmail)), delivery.ReasonNotOurs},
		{"tags that do not decode", sesEvent(delivery.TypeBounce, "mid-ours", map[string]string{delivery.TagConnection: "%%%", delivery.TagRegion: "eu", delivery.TagStage: "LTMw"}, a.ContactEmail, bounceBody("Permanent", a.ContactEmail)), delivery.ReasonMalformed},
		{"an invalid connection id in the tag", sesEvent(delivery.TypeBounce, "mid-ours", map[string]string{delivery.TagConnection: "YS9i", delivery.TagRegion: "eu", delivery.TagStage: "LTMw"}, a.ContactEmail, bounceBody("Permanent", a.ContactEmail)), delivery.ReasonMalformed},
		{"an event type the keeper does not track", sesEvent("Open", "mid-ours", tags, a.ContactEmail, map[string]any{"open": map[string]any{}}), delivery.ReasonUnknownType},
		{"not JSON", []byte(`{"source":`), delivery.ReasonMalformed},
		{"an EventBridge event from another source", []byte(`{"source":"aws.s3","detail":{}}`), delivery.ReasonMalformed},
		{"a bounce without its bounce object", sesEvent(delivery.TypeBounce, "mid-ours", tags, a.ContactEmail, nil), delivery.ReasonMalformed},
	}
	for _, tc := range tests {
		before := testenv.MetricSum(t, e.metrics.String(), "DeliveryEventIgnored", tc.reason)
		if err := e.svc.Handle(e.ctx, tc.event); err != nil {
			t.Errorf("%s: Handle = %v, want nil (dropped, not retried)", tc.name, err)
		}
		if got := testenv.MetricSum(t, e.metrics.String(), "DeliveryEventIgnored", tc.reason) - before; got != 1 {
			t.Errorf("%s: DeliveryEventIgnored{%s} +%v, want +1", tc.name, tc.reason, got)
		}
	}
	got := e.record(a.ConnectionID)
	if got.ContactStatus != "" || got.Version != a.Version || !got.Reminders["-30"].Delivery.BouncedAt.IsZero() {
		t.Errorf("record changed: contact %q, version %d→%d, entry %+v", got.ContactStatus, a.Version, got.Version, got.Reminders["-30"])
	}
}

func TestBounceForAReplacedAddressDoesNotFlagTheNewOne(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.seed("acme", "old@acme.example", "mid-1")
	if _, err := e.store.SetContact(e.ctx, a.ConnectionID, a.Region, "new@acme.example", now); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Handle(e.ctx, sesEvent(delivery.TypeBounce, "mid-1", delivery.Tags(a.ConnectionID, a.Region, "-30"), "old@acme.example", bounceBody("Permanent", "old@acme.example"))); err != nil {
		t.Fatal(err)
	}
	got := e.record(a.ConnectionID)
	if got.ContactStatus != "" || got.Reminders["-30"].Delivery.BouncedAt.IsZero() {
		t.Errorf("contact %q (want unflagged), bounce recorded on the entry: %v", got.ContactStatus, !got.Reminders["-30"].Delivery.BouncedAt.IsZero())
	}
}

func TestEventBeforeTheSenderRecordedItIsRetried(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a, err := e.store.Create(e.ctx, authz.Authorization{ConnectionID: "early", Region: authz.RegionEU, ContactEmail: "o@early.example",
		Status: authz.StatusExpiring, AuthorizedAt: expiresAt.Add(-authz.Lifetime), ExpiresAt: expiresAt,
		Reminders: map[string]authz.ReminderMark{"-30": {ClaimedAt: now}}})
	if err != nil {
		t.Fatal(err)
	}
	err = e.svc.Handle(e.ctx, sesEvent(delivery.TypeSend, "mid-1", delivery.Tags(a.ConnectionID, a.Region, "-30"), a.ContactEmail, map[string]any{"send": map[string]any{}}))
	if !errors.Is(err, store.ErrNotRecordedYet) {
		t.Fatalf("Handle = %v, want ErrNotRecordedYet so that Lambda retries", err)
	}
}

func TestSNSEnvelope(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.seed("acme", "owner@acme.example", "mid-1")
	var bridge map[string]json.RawMessage
	_ = json.Unmarshal(sesEvent(delivery.TypeComplaint, "mid-1", delivery.Tags(a.ConnectionID, a.Region, "-30"), a.ContactEmail,
		map[string]any{"complaint": map[string]any{"complaintFeedbackType": "abuse"}}), &bridge)
	payload, _ := json.Marshal(map[string]any{"Records": []map[string]any{{"EventSource": "aws:sns", "Sns": map[string]any{"Message": string(bridge["detail"])}}}})
	if err := e.svc.Handle(e.ctx, payload); err != nil {
		t.Fatal(err)
	}
	// No complainedRecipients: the reminder's only recipient is the one who complained.
	if got := e.record(a.ConnectionID); got.ContactStatus != authz.ContactComplained {
		t.Errorf("contact %q, want complained", got.ContactStatus)
	}
}

// TestMailboxSimulatorEndToEnd sends real reminders through the sender to SES's
// mailbox simulator addresses; the events the simulator publishes reach the service
// as the template routes them, and a bouncing contact gets no more email until the
// vendor sets the address again.
func TestMailboxSimulatorEndToEnd(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ses, mail, sim := testenv.SESWithEvents(t, "keeper-events", func(ctx context.Context, ev []byte) error { return e.svc.Handle(ctx, ev) })
	signer, err := consent.NewSigner(secret.Value("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := reminder.NewRenderer(reminder.RenderConfig{AppName: "Keeper Test App", BaseURL: "https://keeper.example.com", LinkTTL: 45 * 24 * time.Hour}, signer)
	if err != nil {
		t.Fatal(err)
	}
	sender, err := reminder.NewSender(reminder.SenderConfig{From: "reminders@keeper.example.com",
		Schedule: reminder.MustParseSchedule(config.DefaultReminderStages), RatePerSecond: 1000, RetryDelay: time.Millisecond},
		e.store, sesmail.New(ses, "keeper-events"), r, testenv.NewClock(now), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	label := strings.ToLower(testenv.Prefix(t))
	label = strings.Map(func(r rune) rune {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			return r
		}
		return -1
	}, label)
	sellers := []struct {
		conn, local string
		contact     authz.ContactStatus
		check       func(authz.Delivery) bool
	}{
		{"sim-success", "success", "", func(d authz.Delivery) bool { return !d.AcceptedAt.IsZero() && !d.DeliveredAt.IsZero() }},
		{"sim-bounce", "bounce", authz.ContactBouncing, func(d authz.Delivery) bool { return !d.BouncedAt.IsZero() && d.DeliveredAt.IsZero() }},
		{"sim-complaint", "complaint", authz.ContactComplained, func(d authz.Delivery) bool { return !d.DeliveredAt.IsZero() && !d.ComplainedAt.IsZero() }},
		{"sim-suppressed", "suppressionlist", authz.ContactBouncing, func(d authz.Delivery) bool {
			return !d.BouncedAt.IsZero() && strings.Contains(d.Detail, "OnAccountSuppressionList")
		}},
	}
	send := func(conn, stage string) reminder.Outcome {
		t.Helper()
		a := e.record(conn)
		out, _ := sender.Process(e.ctx, events.SQSMessage{MessageId: conn + stage, Body: reminder.Job{ConnectionID: conn, Region: a.Region, Stage: stage, ExpiresAt: a.ExpiresAt}.Marshal()})
		return out
	}
	for _, s := range sellers {
		if _, err := e.store.Create(e.ctx, authz.Authorization{ConnectionID: s.conn, Region: authz.RegionEU, AccountType: authz.AccountSeller, Marketplace: "DE",
			ContactEmail: s.local + "+" + label + "@simulator.amazonses.com", Status: authz.StatusExpiring,
			AuthorizedAt: expiresAt.Add(-authz.Lifetime), ExpiresAt: expiresAt}); err != nil {
			t.Fatal(err)
		}
		if out := send(s.conn, "-30"); out != reminder.OutcomeSent {
			t.Fatalf("%s: stage -30 %s, want sent", s.conn, out)
		}
	}
	sim.Wait()
	for _, s := range sellers {
		a := e.record(s.conn)
		if a.ContactStatus != s.contact || !s.check(a.Reminders["-30"].Delivery) {
			t.Errorf("%s: contact %q (want %q), entry %+v", s.conn, a.ContactStatus, s.contact, a.Reminders["-30"].Delivery)
		}
		out := send(s.conn, "-23")
		if want := reminder.OutcomeSent; s.contact != "" {
			want = reminder.OutcomeRejected
			if out != want {
				t.Errorf("%s: stage -23 to a %s contact: %s, want %s", s.conn, s.contact, out, want)
			}
		} else if out != want {
			t.Errorf("%s: stage -23 %s, want sent", s.conn, out)
		}
	}
	if n := len(mail.SentTo(t, "bounce+"+label+"@simulator.amazonses.com")); n != 1 {
		t.Errorf("%d emails to the bouncing address, want only the first", n)
	}
	// The vendor sets a working address: the flag goes, and the next stage is sent.
	fixed := "success+" + label + "-fixed@simulator.amazonses.com"
	if _, err := e.store.SetContact(e.ctx, "sim-bounce", authz.RegionEU, fixed, now); err != nil {
		t.Fatal(err)
	}
	if out := send("sim-bounce", "-16"); out != reminder.OutcomeSent {
		t.Errorf("stage -16 after the address was set again: %s, want sent", out)
	}
	sim.Wait()
	if a := e.record("sim-bounce"); a.ContactStatus != "" || a.Reminders["-16"].Delivery.DeliveredAt.IsZero() {
		t.Errorf("after set: contact %q, -16 %+v", a.ContactStatus, a.Reminders["-16"].Delivery)
	}
	if n := len(mail.SentTo(t, fixed)); n != 1 {
		t.Errorf("%d emails to the new address, want 1", n)
	}
}
