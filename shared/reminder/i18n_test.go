package reminder_test

import (
	"errors"
	"html"
	"strings"
	"testing"
	"time"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/i18n"
	"github.com/spapi-auth-keeper/keeper/shared/pages"
	"github.com/spapi-auth-keeper/keeper/shared/reminder"
)

// TestEveryEmailInEveryLanguage renders each kind of email in each language: nothing
// missing, no placeholder left, the date as the language writes it in the
// marketplace's time zone, both parts carrying the same text.
func TestEveryEmailInEveryLanguage(t *testing.T) {
	t.Parallel()
	r, err := reminder.NewRenderer(reminder.RenderConfig{AppName: "Keeper Test App", BaseURL: "https://keeper.example.com", LinkTTL: 45 * 24 * time.Hour,
		Brand: pages.Brand{LogoURL: "https://cdn.example.com/logo.png", Color: "#123abc", SupportEmail: "help@keeper.example.com"}}, testSigner(t))
	if err != nil {
		t.Fatal(err)
	}
	markets := map[string]string{"en": "GB", "de": "DE", "fr": "FR", "it": "IT", "es": "ES", "ja": "JP"}
	dates := map[string]string{"en": "15 Feb 2027", "de": "15. Februar 2027", "fr": "15 février 2027", "it": "15 febbraio 2027",
		"es": "15 de febrero de 2027", "ja": "2027年2月15日"}
	kinds := []struct {
		stage string
		now   time.Time
	}{
		{"-30", expiresAt.AddDate(0, 0, -30)}, {"-1", expiresAt.AddDate(0, 0, -1)}, {"0", expiresAt.Add(-time.Hour)},
		{"+7", expiresAt.AddDate(0, 0, 7)}, {reminder.StageReconnect, expiresAt.AddDate(0, -2, 0)},
	}
	for _, lang := range i18n.Languages() {
		for _, k := range kinds {
			a := seller("acme-" + lang)
			a.Locale, a.Marketplace = lang, markets[lang]
			if lang == "ja" {
				a.Region = authz.RegionFE
			}
			a.DisplayName = "Shop " + strings.ToUpper(lang)
			j := job(a, k.stage)
			if k.stage == reminder.StageReconnect {
				j.RevokedAt = k.now
			}
			e, err := r.Render(a, j, k.now)
			if err != nil {
				t.Fatalf("%s %s: %v", lang, k.stage, err)
			}
			body := html.UnescapeString(e.HTML)
			for part, s := range map[string]string{"subject": e.Subject, "text": e.Text, "html": body} {
				if strings.Contains(s, "{") || strings.Contains(s, "<no value>") || strings.Contains(s, "map[") {
					t.Errorf("%s %s %s has an unfilled placeholder:\n%s", lang, k.stage, part, s)
				}
			}
			if k.stage != reminder.StageReconnect && !strings.Contains(e.Subject+e.Text, dates[lang]) {
				t.Errorf("%s %s: no %q in:\n%s\n%s", lang, k.stage, dates[lang], e.Subject, e.Text)
			}
			for _, want := range []string{"Shop " + strings.ToUpper(lang), "help@keeper.example.com", "https://sellercentral.amazon."} {
				if !strings.Contains(e.Text, want) || !strings.Contains(body, want) {
					t.Errorf("%s %s: a part lacks %q", lang, k.stage, want)
				}
			}
			if strings.Contains(e.Text, a.ConnectionID) {
				t.Errorf("%s %s: the internal connection id shows although a display name is set", lang, k.stage)
			}
			if !strings.Contains(e.HTML, `lang="`+lang+`"`) || !strings.Contains(e.HTML, "#123abc") || !strings.Contains(e.HTML, "https://cdn.example.com/logo.png") {
				t.Errorf("%s %s: HTML lacks its language or the brand", lang, k.stage)
			}
			if lang != "en" && strings.Contains(e.Text, "Amazon asks you") {
				t.Errorf("%s %s: English text in a %s email", lang, k.stage, lang)
			}
		}
	}
}

func TestBrandIsChecked(t *testing.T) {
	t.Parallel()
	for _, b := range []pages.Brand{
		{Color: "red;background:url(x)"}, {LogoURL: "javascript:alert(1)"}, {LogoURL: "http://cdn.example.com/logo.png"},
		{SupportEmail: "Help <help@example.com>"}, {SupportURL: "ftp://example.com"}, {ConnectURL: "https://x.example/\"><script>"},
	} {
		if _, err := reminder.NewRenderer(reminder.RenderConfig{AppName: "A", BaseURL: "https://k.example", LinkTTL: time.Hour, Brand: b}, testSigner(t)); err == nil {
			t.Errorf("brand %+v accepted", b)
		}
	}
}

func TestNoEmailToABouncingOrComplainedContact(t *testing.T) {
	t.Parallel()
	r := testRenderer(t, "Keeper")
	for _, st := range []authz.ContactStatus{authz.ContactBouncing, authz.ContactComplained} {
		a := seller("acme-b")
		a.ContactStatus = st
		_, err := r.Render(a, job(a, "-9"), expiresAt.AddDate(0, 0, -9))
		if !errors.Is(err, reminder.ErrContactUnreachable) || !errors.Is(err, reminder.ErrBadAddress) {
			t.Errorf("%s: %v, want ErrContactUnreachable (a kind of ErrBadAddress)", st, err)
		}
	}
}
