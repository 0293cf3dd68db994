package reminder_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/spapi-auth-keeper/keeper/infra/testenv"
	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/config"
	"github.com/spapi-auth-keeper/keeper/shared/metrics"
	"github.com/spapi-auth-keeper/keeper/shared/reminder"
	"github.com/spapi-auth-keeper/keeper/shared/store"
)

// The sender's decisions on in-memory fakes: the ledger and the mail service answer
// what each case needs, and the tests read what the sender did with the answers. The
// same decisions against DynamoDB Local and the SES emulator are in sender_test.go.

// ledger is the reminder stages of one authorization, as the store keeps them: a
// stage is claimed, sent or rejected; claimErr, when set, is the store's answer to
// every claim.
type ledger struct {
	mu       sync.Mutex
	a        authz.Authorization
	claimErr error
	markErrs []error // the answers to the next MarkReminderSent calls, then nil
	state    map[string]string
	sentID   map[string]string
	rejected map[string]string
	released int
	marks    int
	appNotes []string
}

func newLedger(a authz.Authorization) *ledger {
	return &ledger{a: a, state: map[string]string{}, sentID: map[string]string{}, rejected: map[string]string{}}
}

func (l *ledger) ClaimReminder(_ context.Context, c store.ReminderClaim, _ time.Duration) (authz.Authorization, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.claimErr != nil {
		return authz.Authorization{}, l.claimErr
	}
	switch l.state[c.Key] {
	case "sent", "rejected":
		return authz.Authorization{}, store.ErrReminderDone
	case "claimed":
		return authz.Authorization{}, store.ErrReminderClaimed
	}
	l.state[c.Key] = "claimed"
	return l.a, nil
}

func (l *ledger) MarkReminderSent(_ context.Context, c store.ReminderClaim, messageID string, _ time.Time) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.marks++
	if len(l.markErrs) > 0 {
		err := l.markErrs[0]
		l.markErrs = l.markErrs[1:]
		if err != nil {
			return err
		}
	}
	l.state[c.Key], l.sentID[c.Key] = "sent", messageID
	return nil
}

func (l *ledger) ReleaseReminder(_ context.Context, c store.ReminderClaim) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.released++
	delete(l.state, c.Key)
	return nil
}

func (l *ledger) RejectReminder(_ context.Context, c store.ReminderClaim, reason string, _ time.Time) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.state[c.Key], l.rejected[c.Key] = "rejected", reason
	return nil
}

func (l *ledger) RecordAppNotification(_ context.Context, c store.ReminderClaim, id, errText string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.appNotes = append(l.appNotes, c.Key+":"+id+errText)
	return nil
}

// mailbox is a mail service that accepts every message but those to an address in
// fail, which it answers with that error.
type mailbox struct {
	mu   sync.Mutex
	fail map[string]error
	sent []reminder.Message
	seen int // every Send, accepted or not
}

func (m *mailbox) Send(_ context.Context, msg reminder.Message) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.seen++
	if err := m.fail[msg.To]; err != nil {
		return "", err
	}
	m.sent = append(m.sent, msg)
	return fmt.Sprintf("ses-%d", len(m.sent)), nil
}

// notifier is the Seller Central channel, counting its posts.
type notifier struct {
	mu    sync.Mutex
	posts []string
}

func (n *notifier) Post(_ context.Context, a authz.Authorization, _, url string) (string, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.posts = append(n.posts, a.ConnectionID)
	return "note-1", nil
}

type fakeRig struct {
	ledgers map[string]*ledger // by connection id
	mail    *mailbox
	notes   *notifier
	metrics *testenv.Buffer
	sender  *reminder.Sender
}

// multiLedger routes each claim to its connection's ledger.
type multiLedger map[string]*ledger

func (m multiLedger) of(c store.ReminderClaim) (*ledger, error) {
	if l, ok := m[c.ConnectionID]; ok {
		return l, nil
	}
	return nil, fmt.Errorf("%w: %s", authz.ErrNotFound, c.ConnectionID)
}

func (m multiLedger) ClaimReminder(ctx context.Context, c store.ReminderClaim, d time.Duration) (authz.Authorization, error) {
	l, err := m.of(c)
	if err != nil {
		return authz.Authorization{}, err
	}
	return l.ClaimReminder(ctx, c, d)
}

func (m multiLedger) MarkReminderSent(ctx context.Context, c store.ReminderClaim, id string, at time.Time) error {
	l, err := m.of(c)
	if err != nil {
		return err
	}
	return l.MarkReminderSent(ctx, c, id, at)
}

func (m multiLedger) ReleaseReminder(ctx context.Context, c store.ReminderClaim) error {
	l, err := m.of(c)
	if err != nil {
		return err
	}
	return l.ReleaseReminder(ctx, c)
}

func (m multiLedger) RejectReminder(ctx context.Context, c store.ReminderClaim, reason string, at time.Time) error {
	l, err := m.of(c)
	if err != nil {
		return err
	}
	return l.RejectReminder(ctx, c, reason, at)
}

func (m multiLedger) RecordAppNotification(ctx context.Context, c store.ReminderClaim, id, errText string) error {
	l, err := m.of(c)
	if err != nil {
		return err
	}
	return l.RecordAppNotification(ctx, c, id, errText)
}

// newFakeRig builds a sender over one ledger per seller, sending one message at a
// time so that "the rest of the batch" is well defined.
func newFakeRig(t *testing.T, sellers ...authz.Authorization) *fakeRig {
	t.Helper()
	r := &fakeRig{ledgers: map[string]*ledger{}, mail: &mailbox{fail: map[string]error{}}, notes: &notifier{}, metrics: &testenv.Buffer{}}
	for _, a := range sellers {
		r.ledgers[a.ConnectionID] = newLedger(a)
	}
	s, err := reminder.NewSender(reminder.SenderConfig{From: "Keeper Reminders <reminders@keeper.example.com>", AppNotifier: r.notes, Parallel: 1,
		Schedule: reminder.MustParseSchedule(config.DefaultReminderStages), RatePerSecond: 1000, RetryDelay: time.Millisecond},
		multiLedger(r.ledgers), r.mail, testRenderer(t, "Keeper Test App"), authz.ClockFunc(func() time.Time { return scanDay }), nil, metrics.New(r.metrics))
	if err != nil {
		t.Fatal(err)
	}
	r.sender = s
	return r
}

// handle runs one batch and returns which of its messages were handed back.
func (r *fakeRig) handle(t *testing.T, jobs ...reminder.Job) []bool {
	t.Helper()
	ev := events.SQSEvent{}
	for i, j := range jobs {
		ev.Records = append(ev.Records, events.SQSMessage{MessageId: fmt.Sprint("m", i), Body: j.Marshal()})
	}
	resp, err := r.sender.Handle(context.Background(), ev)
	if err != nil {
		t.Fatalf("Handle: %v; a batch never fails whole", err)
	}
	back := make([]bool, len(jobs))
	for _, f := range resp.BatchItemFailures {
		var i int
		fmt.Sscanf(f.ItemIdentifier, "m%d", &i)
		back[i] = true
	}
	return back
}

func TestFakeSenderSendsAStageOnceWithTheEmailAsRendered(t *testing.T) {
	t.Parallel()
	a := seller("once")
	r := newFakeRig(t, a)
	back := r.handle(t, job(a, "-30"), job(a, "-30"))
	if back[0] || back[1] {
		t.Fatalf("handed back %v, want neither", back)
	}
	if len(r.mail.sent) != 1 {
		t.Fatalf("%d emails, want 1", len(r.mail.sent))
	}
	m := r.mail.sent[0]
	if m.From != `"Keeper Reminders" <reminders@keeper.example.com>` || m.To != a.ContactEmail || !strings.Contains(m.Subject, "15 Feb 2027") ||
		!strings.Contains(m.Text, "/authorize?t=") || !strings.Contains(m.HTML, "/authorize?t=") || len(m.Tags) == 0 {
		t.Errorf("message %+v: want the formatted sender, the contact, the rendered email and its tags", m)
	}
	if l := r.ledgers["once"]; l.sentID["-30"] != "ses-1" {
		t.Errorf("recorded message id %q, want the mail service's ses-1", l.sentID["-30"])
	}
	if len(r.notes.posts) != 1 {
		t.Errorf("%d Seller Central posts, want 1", len(r.notes.posts))
	}
}

// TestFakeSenderFollowsTheClaim: what the ledger answers to the claim decides whether
// anything is sent and whether the message goes back to the queue.
func TestFakeSenderFollowsTheClaim(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		claimErr error
		back     bool
		reason   string // ReminderFailed reason counted, "" none
	}{
		{"already sent", store.ErrReminderDone, false, ""},
		{"renewed since", fmt.Errorf("%w (job for an older expiry)", store.ErrReminderStale), false, ""},
		{"claimed by another sender", fmt.Errorf("%w at now", store.ErrReminderClaimed), true, ""},
		{"ledger unavailable", fmt.Errorf("%w: throttled", store.ErrUnavailable), true, ""},
		{"authorization gone", authz.ErrNotFound, false, reminder.ReasonUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := seller("claim")
			r := newFakeRig(t, a)
			r.ledgers["claim"].claimErr = tt.claimErr
			if back := r.handle(t, job(a, "-30")); back[0] != tt.back {
				t.Errorf("handed back %v, want %v", back[0], tt.back)
			}
			if r.mail.seen != 0 || len(r.notes.posts) != 0 {
				t.Errorf("sent %d emails, %d posts; want none", r.mail.seen, len(r.notes.posts))
			}
			if l := r.ledgers["claim"]; l.released != 0 || len(l.rejected) != 0 || l.marks != 0 {
				t.Errorf("wrote to the ledger without a claim: %d releases, %v rejected, %d marks", l.released, l.rejected, l.marks)
			}
			if tt.reason != "" {
				if got := testenv.MetricSum(t, r.metrics.String(), "ReminderFailed", tt.reason); got != 1 {
					t.Errorf("ReminderFailed{%s} = %v, want 1", tt.reason, got)
				}
			}
		})
	}
}

// TestFakeSenderActsOnTheMailerKind: each kind of sending failure has its fate.
func TestFakeSenderActsOnTheMailerKind(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		err      error
		back     bool
		rejected bool
		reason   string
	}{
		{"throttled", fmt.Errorf("%w: TooManyRequestsException: Maximum sending rate exceeded.", reminder.ErrThrottled), true, false, reminder.ReasonThrottled},
		{"rejected", fmt.Errorf("%w: MessageRejected: Address blacklisted.", reminder.ErrRejected), false, true, reminder.ReasonRejected},
		{"paused", fmt.Errorf("%w: SendingPausedException", reminder.ErrPaused), true, false, reminder.ReasonPaused},
		{"unavailable", fmt.Errorf("%w: InternalFailure", reminder.ErrUnavailable), true, false, reminder.ReasonUnavailable},
		{"of no kind", errors.New("connection reset"), true, false, reminder.ReasonUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := seller("kind")
			r := newFakeRig(t, a)
			r.mail.fail[a.ContactEmail] = tt.err
			if back := r.handle(t, job(a, "-30")); back[0] != tt.back {
				t.Errorf("handed back %v, want %v", back[0], tt.back)
			}
			l := r.ledgers["kind"]
			if got := l.rejected["-30"]; tt.rejected != (got != "") || tt.rejected && got != tt.err.Error() {
				t.Errorf("recorded rejection %q, want %v (with the mail service's words)", got, tt.rejected)
			}
			if !tt.rejected && (l.released != 1 || l.state["-30"] != "") {
				t.Errorf("claim %q after %d releases: a retried stage must be free for the retry", l.state["-30"], l.released)
			}
			if got := testenv.MetricSum(t, r.metrics.String(), "ReminderFailed", tt.reason); got != 1 {
				t.Errorf("ReminderFailed{%s} = %v, want 1", tt.reason, got)
			}
			if len(r.notes.posts) != 0 {
				t.Errorf("%d Seller Central posts for an email not sent", len(r.notes.posts))
			}
		})
	}
}

// TestFakeSenderStopsTheBatchWhenThrottled: once the mail service throttles, the
// messages after it are handed back without a claim or a send.
func TestFakeSenderStopsTheBatchWhenThrottled(t *testing.T) {
	t.Parallel()
	first, second, third := seller("thr-1"), seller("thr-2"), seller("thr-3")
	r := newFakeRig(t, first, second, third)
	r.mail.fail[first.ContactEmail] = fmt.Errorf("%w: LimitExceededException", reminder.ErrThrottled)
	back := r.handle(t, job(first, "-30"), job(second, "-30"), job(third, "-30"))
	if !back[0] || !back[1] || !back[2] {
		t.Fatalf("handed back %v, want all three", back)
	}
	if r.mail.seen != 1 {
		t.Errorf("the mail service saw %d sends, want only the throttled one", r.mail.seen)
	}
	for _, id := range []string{"thr-1", "thr-2", "thr-3"} {
		if s := r.ledgers[id].state["-30"]; s != "" {
			t.Errorf("%s: stage %q, want unclaimed for the retry", id, s)
		}
	}
}

// TestFakeSenderNeverMailsAnUnreachableContact: a bounced contact, or an address that
// would add headers, is not sent to; the stage is recorded as rejected. The bounced
// seller is still told in Seller Central.
func TestFakeSenderNeverMailsAnUnreachableContact(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		edit  func(*authz.Authorization)
		posts int
	}{
		{"bouncing", func(a *authz.Authorization) { a.ContactStatus = authz.ContactBouncing }, 1},
		{"header injection", func(a *authz.Authorization) { a.ContactEmail = "x@example.com\r\nBcc: attacker@example.net" }, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := seller("unreachable")
			tt.edit(&a)
			r := newFakeRig(t, a)
			if back := r.handle(t, job(a, "-30")); back[0] {
				t.Error("handed back; an address that cannot be sent to is recorded, not retried")
			}
			if r.mail.seen != 0 {
				t.Fatalf("the mail service saw %d sends", r.mail.seen)
			}
			if got := r.ledgers["unreachable"].rejected["-30"]; got == "" {
				t.Error("the stage is not recorded as rejected")
			}
			if len(r.notes.posts) != tt.posts {
				t.Errorf("%d Seller Central posts, want %d", len(r.notes.posts), tt.posts)
			}
			if got := testenv.MetricSum(t, r.metrics.String(), "ReminderFailed", reminder.ReasonNoAddress); got != 1 {
				t.Errorf("ReminderFailed{bad_address} = %v, want 1", got)
			}
		})
	}
}

// TestFakeSenderNeverSendsTwiceWhenTheRecordFails: the mail service has the email;
// recording it is retried, and if the ledger stays unavailable the message is removed
// rather than sent again.
func TestFakeSenderNeverSendsTwiceWhenTheRecordFails(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		markErrs []error
		marks    int
		recorded bool
	}{
		{"recorded on the second try", []error{store.ErrUnavailable}, 2, true},
		{"never recorded", []error{store.ErrUnavailable, store.ErrUnavailable, store.ErrUnavailable}, 3, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := seller("mark")
			r := newFakeRig(t, a)
			r.ledgers["mark"].markErrs = tt.markErrs
			if back := r.handle(t, job(a, "-30")); back[0] {
				t.Error("handed back: the retry would send the email again")
			}
			l := r.ledgers["mark"]
			if len(r.mail.sent) != 1 || l.marks != tt.marks || (l.sentID["-30"] != "") != tt.recorded {
				t.Errorf("%d emails, %d record tries, recorded %q; want 1, %d, %v", len(r.mail.sent), l.marks, l.sentID["-30"], tt.marks, tt.recorded)
			}
		})
	}
}
