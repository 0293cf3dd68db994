package reminder_test

import (
	"errors"
	"html"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/consent"
	"github.com/spapi-auth-keeper/keeper/shared/reminder"
	"github.com/spapi-auth-keeper/keeper/shared/secret"
)

const testStateKey = "reminder-test-state-key-0123456789abcdef0123456789"

var expiresAt = time.Date(2027, 2, 15, 9, 30, 0, 0, time.UTC)

func testSigner(t testing.TB) *consent.Signer {
	t.Helper()
	s, err := consent.NewSigner(secret.Value(testStateKey))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func testRenderer(t testing.TB, appName string) *reminder.Renderer {
	t.Helper()
	r, err := reminder.NewRenderer(reminder.RenderConfig{AppName: appName, BaseURL: "https://keeper.example.com/", LinkTTL: 45 * 24 * time.Hour}, testSigner(t))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func seller(connID string) authz.Authorization {
	return authz.Authorization{ConnectionID: connID, Region: authz.RegionEU, AccountType: authz.AccountSeller, Marketplace: "DE",
		SellingPartnerID: "A1SELLER", ContactEmail: connID + "@example.com", Locale: "en-GB", Status: authz.StatusExpiring,
		AuthorizedAt: expiresAt.Add(-authz.Lifetime), ExpiresAt: expiresAt, Version: 3}
}

func job(a authz.Authorization, stage string) reminder.Job {
	return reminder.Job{ConnectionID: a.ConnectionID, Region: a.Region, Stage: stage, ExpiresAt: a.ExpiresAt}
}

var linkPattern = regexp.MustCompile(`https://keeper\.example\.com/authorize\?t=[A-Za-z0-9_\-.]+`)

func TestEmailContent(t *testing.T) {
	t.Parallel()
	r := testRenderer(t, "Keeper Test App")
	a := seller("acme-01")
	tests := []struct {
		name     string
		stage    string
		now      time.Time
		subject  string
		inBoth   []string
		notInAny []string
	}{
		{
			name: "thirty days before", stage: "-30", now: time.Date(2027, 1, 16, 6, 0, 0, 0, time.UTC),
			subject:  "Action needed: renew Keeper Test App's access to your Amazon account by 15 Feb 2027",
			inBoth:   []string{"expires on 15 Feb 2027, in 30 days", "orders", "inventory", "prices", "acme-01"},
			notInAny: []string{"suspended", "reconnect"},
		},
		{
			name: "the day before", stage: "-1", now: time.Date(2027, 2, 14, 6, 0, 0, 0, time.UTC),
			subject: "Action needed: renew Keeper Test App's access to your Amazon account by 15 Feb 2027",
			inBoth:  []string{"expires tomorrow, 15 Feb 2027"},
		},
		{
			name: "expiry day, before the hour", stage: "0", now: time.Date(2027, 2, 15, 6, 0, 0, 0, time.UTC),
			subject: "Action needed: renew Keeper Test App's access to your Amazon account by 15 Feb 2027",
			inBoth:  []string{"expires today, 15 Feb 2027"},
		},
		{
			name: "a week after", stage: "+7", now: time.Date(2027, 2, 22, 6, 0, 0, 0, time.UTC),
			subject:  "Action needed: Keeper Test App's access to your Amazon account expired on 15 Feb 2027, renew to restore it",
			inBoth:   []string{"expired on 15 Feb 2027", "suspended, not deleted", "restores", "orders", "inventory", "prices"},
			notInAny: []string{"in 30 days", "expires on"},
		},
		{
			name: "revoked", stage: reminder.StageReconnect, now: time.Date(2026, 12, 1, 6, 0, 0, 0, time.UTC),
			subject: "Action needed: reconnect Keeper Test App to your Amazon account",
			inBoth:  []string{"can no longer reach", "reconnecting restores", "orders"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			j := job(a, tt.stage)
			if tt.stage == reminder.StageReconnect {
				j.RevokedAt = tt.now
			}
			e, err := r.Render(a, j, tt.now)
			if err != nil {
				t.Fatal(err)
			}
			if e.To != "acme-01@example.com" {
				t.Errorf("To = %q", e.To)
			}
			if e.Subject != tt.subject {
				t.Errorf("Subject = %q\nwant      %q", e.Subject, tt.subject)
			}
			if e.HTML == "" || e.Text == "" {
				t.Fatalf("a part is empty: html %d bytes, text %d bytes", len(e.HTML), len(e.Text))
			}
			htmlText := html.UnescapeString(e.HTML)
			action := "Renew"
			if tt.stage == reminder.StageReconnect {
				action = "Reconnect" // a removed app is not in Manage Your Apps to renew
			}
			for _, s := range append(tt.inBoth, "Manage Your Apps", "https://sellercentral.amazon.de", action) {
				if !strings.Contains(e.Text, s) {
					t.Errorf("text part lacks %q:\n%s", s, e.Text)
				}
				if !strings.Contains(htmlText, s) {
					t.Errorf("HTML part lacks %q", s)
				}
			}
			for _, s := range tt.notInAny {
				if strings.Contains(e.Text, s) || strings.Contains(htmlText, s) {
					t.Errorf("email says %q", s)
				}
			}
			// One renewal link, the same in both parts, that /authorize will accept for
			// this authorization until LINK_TTL from now.
			textLinks := linkPattern.FindAllString(e.Text, -1)
			htmlLinks := linkPattern.FindAllString(htmlText, -1)
			if len(textLinks) != 1 || len(htmlLinks) != 1 || textLinks[0] != htmlLinks[0] {
				t.Fatalf("renewal links: text %v, html %v; want one, the same", textLinks, htmlLinks)
			}
			u, _ := url.Parse(textLinks[0])
			l, err := testSigner(t).VerifyLink(u.Query().Get("t"), tt.now.Add(44*24*time.Hour))
			if err != nil || l.ConnectionID != a.ConnectionID || l.Region != a.Region {
				t.Fatalf("link verifies as %+v, %v", l, err)
			}
			if _, err := testSigner(t).VerifyLink(u.Query().Get("t"), tt.now.Add(46*24*time.Hour)); !errors.Is(err, consent.ErrExpired) {
				t.Errorf("link still valid after LINK_TTL: %v", err)
			}
			if strings.Contains(e.Text, a.ContactEmail) || strings.Contains(e.HTML, "A1SELLER") {
				t.Error("the email repeats the contact address or the seller id")
			}
		})
	}
}

func TestVendorAccountsAreSentToVendorCentral(t *testing.T) {
	t.Parallel()
	a := seller("vendor-01")
	a.AccountType, a.Marketplace = authz.AccountVendor, "GB"
	e, err := testRenderer(t, "Keeper").Render(a, job(a, "-9"), expiresAt.AddDate(0, 0, -9))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(e.Text, "Vendor Central account") || !strings.Contains(e.Text, "https://vendorcentral.amazon.co.uk") {
		t.Fatalf("vendor email:\n%s", e.Text)
	}
}

// TestEmailEscapesEverything: an app name full of markup is text in the HTML part,
// never markup, and the subject stays one line.
func TestEmailEscapesEverything(t *testing.T) {
	t.Parallel()
	r := testRenderer(t, `Tom & Jerry's <script>alert(1)</script> "Sync"`)
	a := seller("o'brien.shop")
	e, err := r.Render(a, job(a, "-30"), expiresAt.AddDate(0, 0, -30))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(e.HTML, "<script>") || strings.Contains(e.HTML, `"Sync"`) {
		t.Fatalf("HTML part renders the app name unescaped:\n%s", e.HTML)
	}
	if !strings.Contains(e.HTML, "Tom &amp; Jerry&#39;s &lt;script&gt;") {
		t.Fatalf("HTML part lacks the escaped app name:\n%s", e.HTML)
	}
	if !strings.Contains(e.Text, `Tom & Jerry's <script>alert(1)</script> "Sync"`) {
		t.Error("text part altered the app name")
	}
	if strings.ContainsAny(e.Subject, "\r\n") {
		t.Errorf("subject has a line break: %q", e.Subject)
	}
}

// TestNoHeaderInjection: nothing that reaches a header can carry a line break. A
// contact address that is not one plain address is refused (and recorded by the
// sender), never cleaned up and sent.
func TestNoHeaderInjection(t *testing.T) {
	t.Parallel()
	r := testRenderer(t, "Keeper")
	for _, addr := range []string{
		"seller@example.com\r\nBcc: attacker@example.net",
		"seller@example.com\nSubject: free money",
		"seller@example.com\r",
		"Seller <seller@example.com>",
		"seller@example.com, attacker@example.net",
		"seller@example.com (comment)",
		"not-an-address",
		"",
		strings.Repeat("a", 320) + "@example.com",
	} {
		a := seller("acme-02")
		a.ContactEmail = addr
		if _, err := r.Render(a, job(a, "-30"), expiresAt.AddDate(0, 0, -30)); !errors.Is(err, reminder.ErrBadAddress) {
			t.Errorf("contact %q: %v, want ErrBadAddress", addr, err)
		}
	}
	for _, name := range []string{"Keeper\r\nBcc: attacker@example.net", "Keeper\n", ""} {
		if _, err := reminder.NewRenderer(reminder.RenderConfig{AppName: name, BaseURL: "https://k.example.com", LinkTTL: time.Hour}, testSigner(t)); err == nil {
			t.Errorf("APP_NAME %q accepted", name)
		}
	}
	for _, from := range []string{"reminders@k.example.com\r\nBcc: attacker@example.net", "Keeper\n <r@k.example.com>", "nobody"} {
		if got, err := reminder.FormatSender(from); err == nil {
			t.Errorf("SENDER_EMAIL %q accepted as %q", from, got)
		}
	}
	tests := map[string]string{
		"reminders@k.example.com":             "reminders@k.example.com",
		"Keeper Reminders <r@k.example.com>":  `"Keeper Reminders" <r@k.example.com>`,
		`"Tom, Jerry & Co" <r@k.example.com>`: `"Tom, Jerry & Co" <r@k.example.com>`,
		"Café Sync <r@k.example.com>":         "=?utf-8?q?Caf=C3=A9_Sync?= <r@k.example.com>",
	}
	for in, want := range tests {
		if got, err := reminder.FormatSender(in); err != nil || got != want {
			t.Errorf("FormatSender(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

// TestUnknownLocaleFallsBackToTheMarketplaceThenEnglish: a locale without a catalog
// takes the marketplace's language, and a marketplace without one takes English.
func TestUnknownLocaleFallsBackToTheMarketplaceThenEnglish(t *testing.T) {
	t.Parallel()
	tests := []struct{ marketplace, subject, days string }{
		{"DE", "Handlungsbedarf: Verlängern Sie bis zum 15. Februar 2027", "in 3 Tagen"},
		{"NL", "Action needed: renew Keeper", "in 3 days"},
	}
	for _, tc := range tests {
		a := seller("acme-03")
		a.Locale, a.Marketplace = "xx-YY", tc.marketplace
		e, err := testRenderer(t, "Keeper").Render(a, job(a, "-3"), expiresAt.AddDate(0, 0, -3))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(e.Subject, tc.subject) || !strings.Contains(e.Text, tc.days) {
			t.Errorf("%s: subject %q, text:\n%s", tc.marketplace, e.Subject, e.Text)
		}
	}
}

func TestImportedWithoutAGrantDateAsksToConfirm(t *testing.T) {
	t.Parallel()
	r, err := reminder.NewRenderer(reminder.RenderConfig{AppName: "Shelfwise", BaseURL: "https://keeper.example.com", LinkTTL: 45 * 24 * time.Hour},
		testSigner(t))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC)
	a := authz.Authorization{ConnectionID: "imported-1", Region: authz.RegionEU, AccountType: authz.AccountSeller, Marketplace: "DE",
		ContactEmail: "seller@shop.example", Locale: "en-GB", Status: authz.StatusActive, ExpiryUnknown: true, ExpiresAt: now.Add(30 * 24 * time.Hour)}
	e, err := r.Render(a, reminder.Job{ConnectionID: a.ConnectionID, Region: a.Region, Stage: "-30", ExpiresAt: a.ExpiresAt}, now)
	if err != nil {
		t.Fatal(err)
	}
	if e.Subject != "Please confirm your Amazon connection to Shelfwise" || !strings.Contains(e.Text, "we do not know when yours was last renewed") ||
		!strings.Contains(e.HTML, "Confirm your connection") || !strings.Contains(e.Text, "https://keeper.example.com/authorize?t=") {
		t.Errorf("confirm email:\nsubject %q\n%s", e.Subject, e.Text)
	}
	a.ExpiryUnknown = false
	e, err = r.Render(a, reminder.Job{ConnectionID: a.ConnectionID, Region: a.Region, Stage: "-30", ExpiresAt: a.ExpiresAt}, now)
	if err != nil || strings.Contains(e.Subject, "confirm") {
		t.Errorf("a known expiry got the confirm email: %q %v", e.Subject, err)
	}
}
