package reminder_test

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/spapi-auth-keeper/keeper/infra/amazonsim"
	"github.com/spapi-auth-keeper/keeper/infra/testenv"
	"github.com/spapi-auth-keeper/keeper/shared/appnotify"
	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/config"
	"github.com/spapi-auth-keeper/keeper/shared/lwa"
	"github.com/spapi-auth-keeper/keeper/shared/reminder"
	"github.com/spapi-auth-keeper/keeper/shared/secret"
	"github.com/spapi-auth-keeper/keeper/shared/sesmail"
)

type refreshTokens struct {
	lwa *lwa.Client
	rt  string
}

func (r refreshTokens) Token(ctx context.Context, _ string, _ authz.Region) (secret.Value, error) {
	t, err := r.lwa.Refresh(ctx, secret.Value(r.rt))
	return t.AccessToken, err
}

// sellerCentralChannel is the Seller Central channel on, against a simulator where
// a's seller is signed up and the app's template RENEW is approved.
func (e *senderEnv) sellerCentralChannel(t *testing.T, a authz.Authorization) (*amazonsim.Sim, *appnotify.Channel) {
	t.Helper()
	sim := amazonsim.New(amazonsim.Config{AppID: "amzn1.sp.solution.test", AppName: "Keeper", ClientID: "cid", ClientSecret: "csecret",
		RedirectURIs: []string{"https://keeper.example.com/callback"}, Sellers: []amazonsim.Seller{{ID: a.SellingPartnerID, Name: "Acme"}}})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	sim.ApproveNotificationTemplate("RENEW", appnotify.ParamExpiryDate, appnotify.ParamRenewalURL)
	tokens := refreshTokens{lwa: lwa.NewClient(lwa.Config{Endpoint: srv.URL + "/auth/o2/token", Credentials: lwa.StaticCredentials{ClientID: "cid", ClientSecret: "csecret"}}),
		rt: sim.IssueRefreshToken(a.SellingPartnerID)}
	ch := appnotify.NewChannel("RENEW", &appnotify.Client{Endpoint: srv.URL}, tokens, e.clock, nil, nil)
	return sim, ch
}

// TestSellerCentralChannelPostsOncePerStage: with the channel on, a pre-expiry stage
// posts one app notification under the email's claim and records its id on the
// stage; a duplicate delivery of the job posts nothing more; after expiry nothing is
// posted (Amazon refuses calls for a lapsed authorization).
func TestSellerCentralChannelPostsOncePerStage(t *testing.T) {
	t.Parallel()
	e := newSenderEnv(t)
	a := e.seed("acme-notes")
	sim, ch := e.sellerCentralChannel(t, a)
	emu, _ := testenv.SESv2(t)
	s, err := reminder.NewSender(reminder.SenderConfig{From: "reminders@keeper.example.com", AppNotifier: ch,
		Schedule: reminder.MustParseSchedule(config.DefaultReminderStages), RatePerSecond: 1000, RetryDelay: time.Millisecond},
		e.store, sesmail.New(emu, ""), testRenderer(t, "Keeper Test App"), e.clock, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	e.deliver(s, jobFor(a, "-30"), jobFor(a, "-30"))
	notes := sim.AppNotifications(a.SellingPartnerID)
	if len(notes) != 1 {
		t.Fatalf("%d app notifications, want 1", len(notes))
	}
	if got := e.record(a.ConnectionID).Reminders["-30"].Delivery.AppNotificationID; got != notes[0].ID {
		t.Errorf("stage records app notification %q, Amazon has %q", got, notes[0].ID)
	}
	if notes[0].Parameters[appnotify.ParamExpiryDate] != "15 Feb 2027" {
		t.Errorf("parameters %v", notes[0].Parameters)
	}
	e.clock.Set(expiresAt.AddDate(0, 0, 7))
	e.deliver(s, jobFor(a, "+7"))
	if n := len(sim.AppNotifications(a.SellingPartnerID)); n != 1 {
		t.Errorf("%d app notifications after the +7 stage, want still 1", n)
	}
}

// TestBouncingContactStillGetsTheSellerCentralNotice: once the contact address
// bounced, no email goes to it, but the stage's app notification is still posted:
// Seller Central is then the only place the reminder reaches the seller.
func TestBouncingContactStillGetsTheSellerCentralNotice(t *testing.T) {
	t.Parallel()
	e := newSenderEnv(t)
	a := e.seed("acme-bouncing")
	a.ContactStatus = authz.ContactBouncing
	a, err := e.store.Update(e.ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	sim, ch := e.sellerCentralChannel(t, a)
	emu, mailbox := testenv.SESv2(t)
	s, err := reminder.NewSender(reminder.SenderConfig{From: "reminders@keeper.example.com", AppNotifier: ch,
		Schedule: reminder.MustParseSchedule(config.DefaultReminderStages), RatePerSecond: 1000, RetryDelay: time.Millisecond},
		e.store, sesmail.New(emu, ""), testRenderer(t, "Keeper Test App"), e.clock, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	e.deliver(s, jobFor(a, "-30"))
	notes := sim.AppNotifications(a.SellingPartnerID)
	if len(notes) != 1 || notes[0].Parameters[appnotify.ParamRenewalURL] == "" {
		t.Fatalf("app notifications = %+v, want one with the renewal link", notes)
	}
	if got := mailbox.SentTo(t, a.ContactEmail); len(got) != 0 {
		t.Fatalf("%d emails to a bouncing address", len(got))
	}
	m := e.record(a.ConnectionID).Reminders["-30"]
	if m.Error == "" || m.Delivery.AppNotificationID != notes[0].ID {
		t.Fatalf("stage = %+v, want the email refused and the notification's id", m)
	}
}
