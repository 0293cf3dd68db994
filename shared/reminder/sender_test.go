package reminder_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/spapi-auth-keeper/keeper/infra/testenv"
	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/config"
	"github.com/spapi-auth-keeper/keeper/shared/metrics"
	"github.com/spapi-auth-keeper/keeper/shared/reminder"
	"github.com/spapi-auth-keeper/keeper/shared/sesmail"
	"github.com/spapi-auth-keeper/keeper/shared/store"
)

func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

// sesFaults sits in front of aws-ses-v2-local: mail to an address with a fault set
// gets that recorded SES answer; everything else goes through to the emulator.
type sesFaults struct {
	mu       sync.Mutex
	faults   map[string]sesAnswer
	attempts map[string]int
	proxy    *httputil.ReverseProxy
}

func (f *sesFaults) set(addr string, a sesAnswer) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults[addr] = a
}

func (f *sesFaults) clear(addr string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.faults, addr)
}

// calls is how many SendEmail requests reached SES for addr (SDK retries included).
func (f *sesFaults) calls(addr string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.attempts[addr]
}

func (f *sesFaults) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	var in struct {
		Destination struct{ ToAddresses []string }
	}
	_ = json.Unmarshal(body, &in)
	f.mu.Lock()
	var fault *sesAnswer
	for _, to := range in.Destination.ToAddresses {
		f.attempts[to]++
		if a, ok := f.faults[to]; ok {
			fault = &a
		}
	}
	f.mu.Unlock()
	if fault == nil {
		f.proxy.ServeHTTP(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if fault.errorType != "" {
		w.Header().Set("x-amzn-ErrorType", fault.errorType)
	}
	w.WriteHeader(fault.status)
	_, _ = w.Write([]byte(fault.body))
}

// senderEnv is one sender over its own table, the shared SES emulator (behind a fault
// proxy) and a fixed clock.
type senderEnv struct {
	t       *testing.T
	ctx     context.Context
	store   *store.Store
	mail    *testenv.SESStore
	faults  *sesFaults
	clock   *testenv.Clock
	logs    *testenv.Buffer
	metrics *testenv.Buffer
	sender  *reminder.Sender
	newOne  func() *reminder.Sender
}

var scanDay = time.Date(2027, 1, 16, 6, 0, 0, 0, time.UTC) // 30 days before expiresAt

func newSenderEnv(t *testing.T) *senderEnv {
	t.Helper()
	emuClient, mail := testenv.SESv2(t)
	emu, err := url.Parse(aws.ToString(emuClient.Options().BaseEndpoint))
	if err != nil {
		t.Fatal(err)
	}
	faults := &sesFaults{faults: map[string]sesAnswer{}, attempts: map[string]int{}, proxy: httputil.NewSingleHostReverseProxy(emu)}
	proxy := httptest.NewServer(faults)
	t.Cleanup(proxy.Close)
	e := &senderEnv{t: t, ctx: context.Background(), store: store.New(testenv.DynamoDB(t), testenv.NewTable(t)), mail: mail,
		faults: faults, clock: testenv.NewClock(scanDay), logs: &testenv.Buffer{}, metrics: &testenv.Buffer{}}
	ses := sesmail.New(sesClient(proxy.URL), "")
	e.newOne = func() *reminder.Sender {
		s, err := reminder.NewSender(reminder.SenderConfig{
			From:     "Keeper Reminders <reminders@keeper.example.com>",
			Schedule: reminder.MustParseSchedule(config.DefaultReminderStages), RatePerSecond: 1000, RetryDelay: time.Millisecond,
		}, e.store, ses, testRenderer(t, "Keeper Test App"), e.clock,
			slog.New(slog.NewJSONHandler(e.logs, nil)), metrics.New(e.metrics))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	e.sender = e.newOne()
	return e
}

// seed stores an authorization expiring on expiresAt, its contact a recipient no other
// test uses.
func (e *senderEnv) seed(connID string) authz.Authorization {
	e.t.Helper()
	a, err := e.store.Create(e.ctx, authz.Authorization{
		ConnectionID: connID, Region: authz.RegionEU, AccountType: authz.AccountSeller, Marketplace: "DE",
		SellingPartnerID: "A1" + strings.ToUpper(connID), ContactEmail: testenv.NewRecipient(e.t), Locale: "en-GB",
		Status: authz.StatusExpiring, AuthorizedAt: expiresAt.Add(-authz.Lifetime), ExpiresAt: expiresAt,
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return a
}

func (e *senderEnv) record(connID string) authz.Authorization {
	e.t.Helper()
	a, err := e.store.Get(e.ctx, connID, authz.RegionEU)
	if err != nil {
		e.t.Fatal(err)
	}
	return a
}

var msgSeq atomic.Int64

// message wraps a body as SQS would deliver it.
func message(body string) events.SQSMessage {
	return events.SQSMessage{MessageId: fmt.Sprintf("msg-%06d", msgSeq.Add(1)), Body: body, EventSource: "aws:sqs"}
}

func jobFor(a authz.Authorization, stage string) string { return job(a, stage).Marshal() }

// deliver hands the bodies to the sender as one batch and returns the ids it asked to
// retry, and the messages.
func (e *senderEnv) deliver(s *reminder.Sender, bodies ...string) (retry map[string]bool, msgs []events.SQSMessage) {
	e.t.Helper()
	ev := events.SQSEvent{}
	for _, b := range bodies {
		ev.Records = append(ev.Records, message(b))
	}
	resp, err := s.Handle(e.ctx, ev)
	if err != nil {
		e.t.Fatalf("Handle returned %v; a batch never fails as a whole", err)
	}
	retry = map[string]bool{}
	for _, f := range resp.BatchItemFailures {
		retry[f.ItemIdentifier] = true
	}
	return retry, ev.Records
}

func TestSenderSendsAStageOnceAndRecordsIt(t *testing.T) {
	t.Parallel()
	e := newSenderEnv(t)
	a := e.seed("acme")
	retry, _ := e.deliver(e.sender, jobFor(a, "-30"))
	if len(retry) != 0 {
		t.Fatalf("retry %v, want none", retry)
	}
	mail := e.mail.SentTo(t, a.ContactEmail)
	if len(mail) != 1 {
		t.Fatalf("%d emails to the seller, want 1", len(mail))
	}
	m := mail[0]
	if m.Subject != "Action needed: renew Keeper Test App's access to your Amazon account by 15 Feb 2027" {
		t.Errorf("subject %q", m.Subject)
	}
	if m.From != `"Keeper Reminders" <reminders@keeper.example.com>` {
		t.Errorf("from %q", m.From)
	}
	if !strings.Contains(m.Text, "/authorize?t=") || !strings.Contains(m.HTML, "/authorize?t=") {
		t.Error("the email has no renewal link")
	}
	rec := e.record("acme")
	mark := rec.Reminders["-30"]
	if mark.MessageID != m.MessageID || !mark.SentAt.Equal(scanDay) || mark.Error != "" {
		t.Fatalf("record mark %+v, want SES message id %s sent at %s", mark, m.MessageID, scanDay)
	}
	h, err := e.store.History(e.ctx, "acme", 10)
	if err != nil || len(h) != 1 || h[0].Kind != authz.EventReminded || !strings.Contains(h[0].Detail, m.MessageID) {
		t.Fatalf("history %+v, %v; want one reminded event naming the SES message", h, err)
	}
	if got := testenv.MetricSum(t, e.metrics.String(), "RemindersSent", ""); got != 1 {
		t.Errorf("RemindersSent = %v, want 1", got)
	}
	if strings.Contains(e.logs.String(), "authorize?t=") || strings.Contains(e.logs.String(), testStateKey) || strings.Contains(e.logs.String(), a.ContactEmail) {
		t.Error("the log shows the renewal link, the state key or the seller's address")
	}

	// Duplicate deliveries, in the same batch and later: nothing more is sent.
	e.clock.Advance(time.Hour)
	retry, _ = e.deliver(e.sender, jobFor(a, "-30"), jobFor(a, "-30"))
	if len(retry) != 0 {
		t.Fatalf("duplicates retried: %v", retry)
	}
	if n := len(e.mail.SentTo(t, a.ContactEmail)); n != 1 {
		t.Fatalf("%d emails after duplicate deliveries, want 1", n)
	}
	if e.record("acme").Version != rec.Version {
		t.Error("a duplicate delivery wrote to the record")
	}
}

// TestSendersRacingSendOnce: two senders (two concurrent invocations) get the same job
// at the same moment, several times over: the seller gets one email.
func TestSendersRacingSendOnce(t *testing.T) {
	t.Parallel()
	e := newSenderEnv(t)
	a := e.seed("race")
	senders := []*reminder.Sender{e.sender, e.newOne(), e.newOne()}
	var wg sync.WaitGroup
	for _, s := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.deliver(s, jobFor(a, "-9"), jobFor(a, "-9"))
		}()
	}
	wg.Wait()
	if n := len(e.mail.SentTo(t, a.ContactEmail)); n != 1 {
		t.Fatalf("%d emails, want exactly 1", n)
	}
	// Whoever lost while the winner was still sending asked for a retry; that retry
	// finds the stage sent and drops it.
	retry, _ := e.deliver(e.sender, jobFor(a, "-9"))
	if len(retry) != 0 || len(e.mail.SentTo(t, a.ContactEmail)) != 1 {
		t.Fatal("the retry after the race sent again or asked to retry")
	}
}

// TestCrashedClaimIsReleasedAfterTheTimeout: a sender claimed the stage and died before
// sending. Redelivered before the claim timeout, the job waits (retry); after it, the
// reminder is sent, once.
func TestCrashedClaimIsReleasedAfterTheTimeout(t *testing.T) {
	t.Parallel()
	e := newSenderEnv(t)
	a := e.seed("crash")
	crashed := store.ReminderClaim{ConnectionID: "crash", Region: authz.RegionEU, Key: "-30", ExpiresAt: expiresAt, ClaimedAt: scanDay}
	if _, err := e.store.ClaimReminder(e.ctx, crashed, reminder.DefaultClaimTimeout); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Minute)
	retry, msgs := e.deliver(e.sender, jobFor(a, "-30"))
	if !retry[msgs[0].MessageId] || len(e.mail.SentTo(t, a.ContactEmail)) != 0 {
		t.Fatal("a fresh claim of another sender did not make the job wait")
	}
	e.clock.Set(scanDay.Add(reminder.DefaultClaimTimeout + time.Second))
	retry, _ = e.deliver(e.sender, jobFor(a, "-30"))
	if len(retry) != 0 || len(e.mail.SentTo(t, a.ContactEmail)) != 1 {
		t.Fatalf("after the claim timeout: retry %v, %d emails; want sent once", retry, len(e.mail.SentTo(t, a.ContactEmail)))
	}
	if m := e.record("crash").Reminders["-30"]; m.SentAt.IsZero() || !m.ClaimedAt.After(scanDay) {
		t.Fatalf("mark %+v: want sent under the new claim", m)
	}
}

// TestThrottlingIsRetriedLater: SES throttles → the message is a batch item failure,
// the claim is released, the rest of the batch is handed back unsent, and the retry
// sends it once SES accepts again.
func TestThrottlingIsRetriedLater(t *testing.T) {
	t.Parallel()
	for _, answer := range []string{"rate exceeded", "daily quota"} {
		t.Run(answer, func(t *testing.T) {
			t.Parallel()
			e := newSenderEnv(t)
			e.sender = func() *reminder.Sender { // one at a time, so "the rest of the batch" is well defined
				s, err := reminder.NewSender(reminder.SenderConfig{From: "reminders@keeper.example.com", Parallel: 1,
					Schedule: reminder.MustParseSchedule(config.DefaultReminderStages), RatePerSecond: 1000},
					e.store, sesmail.New(sesClient(proxyURL(t, e)), ""), testRenderer(t, "Keeper"), e.clock, slog.New(slog.NewJSONHandler(e.logs, nil)), metrics.New(e.metrics))
				if err != nil {
					t.Fatal(err)
				}
				return s
			}()
			first, second := e.seed("thr-a"), e.seed("thr-b")
			e.faults.set(first.ContactEmail, recordedSESErrors[answer])
			retry, msgs := e.deliver(e.sender, jobFor(first, "-30"), jobFor(second, "-30"))
			if len(retry) != 2 || !retry[msgs[0].MessageId] || !retry[msgs[1].MessageId] {
				t.Fatalf("retry %v, want both messages", retry)
			}
			if e.faults.calls(second.ContactEmail) != 0 {
				t.Error("the sender kept sending after SES throttled")
			}
			if _, claimed := e.record("thr-a").Reminders["-30"]; claimed {
				t.Error("the throttled stage is still claimed; its retry would wait for the timeout")
			}
			if got := testenv.MetricSum(t, e.metrics.String(), "ReminderFailed", "throttled"); got != 1 {
				t.Errorf("ReminderFailed{throttled} = %v, want 1", got)
			}
			e.faults.clear(first.ContactEmail)
			retry, _ = e.deliver(e.sender, jobFor(first, "-30"), jobFor(second, "-30"))
			if len(retry) != 0 || len(e.mail.SentTo(t, first.ContactEmail)) != 1 || len(e.mail.SentTo(t, second.ContactEmail)) != 1 {
				t.Fatalf("after SES recovered: retry %v", retry)
			}
		})
	}
}

func proxyURL(t *testing.T, e *senderEnv) string {
	t.Helper()
	srv := httptest.NewServer(e.faults)
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestPermanentRejectionIsRecordedNotRetried: MessageRejected, a suppressed address or
// a missing configuration set are recorded on the record and counted; the message is
// removed and the stage never tried again.
func TestPermanentRejectionIsRecordedNotRetried(t *testing.T) {
	t.Parallel()
	for _, answer := range []string{"suppressed address", "recipient not verified (sandbox)", "configuration set missing"} {
		t.Run(answer, func(t *testing.T) {
			t.Parallel()
			e := newSenderEnv(t)
			a := e.seed("rej")
			e.faults.set(a.ContactEmail, recordedSESErrors[answer])
			retry, _ := e.deliver(e.sender, jobFor(a, "-30"))
			if len(retry) != 0 {
				t.Fatalf("a permanent rejection was retried: %v", retry)
			}
			mark := e.record("rej").Reminders["-30"]
			if mark.Error == "" || !mark.SentAt.IsZero() || !strings.Contains(mark.Error, "rejected") {
				t.Fatalf("mark %+v, want the rejection recorded", mark)
			}
			h, _ := e.store.History(e.ctx, "rej", 10)
			if len(h) != 1 || h[0].Kind != authz.EventReminderRejected {
				t.Fatalf("history %+v, want reminder_rejected", h)
			}
			if got := testenv.MetricSum(t, e.metrics.String(), "ReminderFailed", "rejected"); got != 1 {
				t.Errorf("ReminderFailed{rejected} = %v, want 1", got)
			}
			calls := e.faults.calls(a.ContactEmail)
			e.deliver(e.sender, jobFor(a, "-30"))
			if e.faults.calls(a.ContactEmail) != calls {
				t.Error("a redelivery of a rejected stage called SES again")
			}
		})
	}
}

// TestMalformedMessagesAreHandedBackAndCounted: bad JSON, a stage not in the schedule:
// logged with the message id, counted, handed back for the dead-letter queue (see
// TestMalformedJobsWaitInTheDLQ), nothing written; an unknown connection is removed.
func TestMalformedMessagesAreHandedBackAndCounted(t *testing.T) {
	t.Parallel()
	e := newSenderEnv(t)
	a := e.seed("known")
	unknown := a
	unknown.ConnectionID = "nobody"
	tests := []struct {
		name, body, reason string
	}{
		{"not JSON", `{"connectionId":`, reminder.ReasonMalformed},
		{"not a job", `{"hello":"world"}`, reminder.ReasonMalformed},
		{"bad connection id", `{"connectionId":"a#b","region":"eu","stage":"-30","expiresAt":"2027-02-15T09:30:00Z"}`, reminder.ReasonMalformed},
		{"bad region", `{"connectionId":"known","region":"xx","stage":"-30","expiresAt":"2027-02-15T09:30:00Z"}`, reminder.ReasonMalformed},
		{"stage not in the schedule", jobFor(a, "-31"), reminder.ReasonMalformed},
		{"unknown connection", jobFor(unknown, "-30"), reminder.ReasonUnknown},
	}
	var bodies []string
	for _, tt := range tests {
		bodies = append(bodies, tt.body)
	}
	retry, msgs := e.deliver(e.sender, bodies...)
	for i, tt := range tests {
		if want := tt.reason == reminder.ReasonMalformed; retry[msgs[i].MessageId] != want {
			t.Errorf("%s: handed back %v, want %v (malformed messages go to the DLQ, never deleted unread)", tt.name, retry[msgs[i].MessageId], want)
		}
	}
	for i, tt := range tests {
		if !strings.Contains(e.logs.String(), msgs[i].MessageId) {
			t.Errorf("%s: the log does not name message %s", tt.name, msgs[i].MessageId)
		}
	}
	if got := testenv.MetricSum(t, e.metrics.String(), "ReminderFailed", reminder.ReasonMalformed); got != 5 {
		t.Errorf("ReminderFailed{malformed} = %v, want 5", got)
	}
	if got := testenv.MetricSum(t, e.metrics.String(), "ReminderFailed", reminder.ReasonUnknown); got != 1 {
		t.Errorf("ReminderFailed{unknown_connection} = %v, want 1", got)
	}
	if rec := e.record("known"); rec.Version != a.Version || len(rec.Reminders) != 0 {
		t.Fatalf("record written: version %d → %d, reminders %+v", a.Version, rec.Version, rec.Reminders)
	}
	if h, _ := e.store.History(e.ctx, "known", 10); len(h) != 0 {
		t.Fatalf("history written: %+v", h)
	}
	if n := e.faults.calls(a.ContactEmail); n != 0 {
		t.Fatalf("SES called %d times", n)
	}
}

// TestBadContactAddressIsRejectedBeforeSES: an address that would inject headers never
// reaches SES; the stage is recorded as rejected.
func TestBadContactAddressIsRejectedBeforeSES(t *testing.T) {
	t.Parallel()
	e := newSenderEnv(t)
	a := e.seed("inject")
	a.ContactEmail = "inject@example.com\r\nBcc: attacker@example.net"
	a, err := e.store.Update(e.ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	retry, _ := e.deliver(e.sender, jobFor(a, "-30"))
	if len(retry) != 0 {
		t.Fatalf("retried: %v", retry)
	}
	if n := e.faults.calls("attacker@example.net") + e.faults.calls("inject@example.com"); n != 0 {
		t.Fatalf("SES was called %d times", n)
	}
	if m := e.record("inject").Reminders["-30"]; m.Error == "" {
		t.Fatalf("mark %+v, want the bad address recorded", m)
	}
	if got := testenv.MetricSum(t, e.metrics.String(), "ReminderFailed", reminder.ReasonNoAddress); got != 1 {
		t.Errorf("ReminderFailed{bad_address} = %v, want 1", got)
	}
}

// TestJobForARenewedAuthorizationIsDropped: the seller renewed after the scan queued
// the job; the stage belongs to the old expiry and nothing is sent.
func TestJobForARenewedAuthorizationIsDropped(t *testing.T) {
	t.Parallel()
	e := newSenderEnv(t)
	a := e.seed("renewed")
	stale := jobFor(a, "-30")
	a.Renew(scanDay, a.SellingPartnerID)
	if _, err := e.store.Update(e.ctx, a); err != nil {
		t.Fatal(err)
	}
	retry, _ := e.deliver(e.sender, stale)
	if len(retry) != 0 || len(e.mail.SentTo(t, a.ContactEmail)) != 0 {
		t.Fatalf("stale job: retry %v, emails %d", retry, len(e.mail.SentTo(t, a.ContactEmail)))
	}
}

// TestReconnectEmail: the token refresh queues a reconnect job when LWA says
// invalid_grant; it is sent once per revocation.
func TestReconnectEmail(t *testing.T) {
	t.Parallel()
	e := newSenderEnv(t)
	a := e.seed("revoked")
	a.Status = authz.StatusRevoked
	if a, _ = e.store.Update(e.ctx, a); a.Status != authz.StatusRevoked {
		t.Fatal("could not revoke")
	}
	j := reminder.Job{ConnectionID: a.ConnectionID, Region: a.Region, Stage: reminder.StageReconnect, ExpiresAt: a.ExpiresAt, RevokedAt: scanDay.Add(-time.Hour)}
	e.deliver(e.sender, j.Marshal(), j.Marshal())
	mail := e.mail.SentTo(t, a.ContactEmail)
	if len(mail) != 1 || mail[0].Subject != "Action needed: reconnect Keeper Test App to your Amazon account" {
		t.Fatalf("emails %+v, want one reconnect email", mail)
	}
	if _, ok := e.record("revoked").Reminders[j.Key()]; !ok {
		t.Fatalf("reconnect not recorded under %s", j.Key())
	}
}
