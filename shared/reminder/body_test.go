package reminder

import (
	"bytes"
	htmltemplate "html/template"
	"strings"
	"testing"
	texttemplate "text/template"
	"time"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/consent"
	"github.com/spapi-auth-keeper/keeper/shared/i18n"
	"github.com/spapi-auth-keeper/keeper/shared/pages"
)

type fixedSigner struct{}

func (fixedSigner) SignLink(consent.Link) string { return "v1.AbC-_xyz" }

// The bodies' original templates are kept in testdata: every kind of email, in every
// language, with hostile names, must read as they made it, byte for byte.
func TestBodiesAreWhatTheTemplatesRendered(t *testing.T) {
	t.Parallel()
	subject := texttemplate.Must(texttemplate.New("subject.txt").Option("missingkey=error").ParseFiles("testdata/subject.txt"))
	text := texttemplate.Must(texttemplate.New("body.txt").Funcs(texttemplate.FuncMap{"inc": func(i int) int { return i + 1 }}).
		Option("missingkey=error").ParseFiles("testdata/body.txt"))
	html := htmltemplate.Must(htmltemplate.New("body.html").Option("missingkey=error").ParseFiles("testdata/body.html"))
	expires := time.Date(2027, 2, 15, 9, 30, 0, 0, time.UTC)
	hostile := `Tom & Jerry's <script>alert("x")</script> +1`
	brands := []pages.Brand{
		{},
		{LogoURL: "https://cdn.example.com/logo.png?a=1&b=(2)é", Color: "#123abc", SupportEmail: "help@keeper.example.com"},
		{SupportURL: "https://help.example.com/a?b=c&d=e"},
	}
	for bi, brand := range brands {
		r, err := NewRenderer(RenderConfig{AppName: "Keeper " + hostile, BaseURL: "https://keeper.example.com", LinkTTL: 45 * 24 * time.Hour, Brand: brand}, fixedSigner{})
		if err != nil {
			t.Fatal(err)
		}
		for _, lang := range i18n.Languages() {
			for _, k := range []struct {
				stage   string
				now     time.Time
				unknown bool
			}{
				{"-30", expires.AddDate(0, 0, -30), false}, {"-1", expires.AddDate(0, 0, -1), false}, {"0", expires.Add(-time.Hour), false},
				{"+7", expires.AddDate(0, 0, 7), false}, {StageReconnect, expires.AddDate(0, -2, 0), false}, {"-30", expires.AddDate(0, 0, -30), true},
			} {
				a := authz.Authorization{ConnectionID: "acme-1", Region: authz.RegionEU, ContactEmail: "ops@acme.example", ExpiresAt: expires,
					Locale: lang, Marketplace: "DE", DisplayName: hostile + "\r\nBcc: x@evil.example", ExpiryUnknown: k.unknown}
				if bi == 2 {
					a.AccountType = authz.AccountVendor
				}
				job := Job{ConnectionID: a.ConnectionID, Region: a.Region, Stage: k.stage, ExpiresAt: expires}
				central, err := consent.CentralURL(a.AccountType, a.Marketplace, a.Region, "")
				if err != nil {
					t.Fatal(err)
				}
				d, _, err := r.data(a, job, k.now, central)
				if err != nil {
					t.Fatalf("%s %s: %v", lang, k.stage, err)
				}
				var s, tx, h bytes.Buffer
				if err := subject.Execute(&s, d); err != nil {
					t.Fatal(err)
				}
				if err := text.Execute(&tx, d); err != nil {
					t.Fatal(err)
				}
				if err := html.Execute(&h, d); err != nil {
					t.Fatal(err)
				}
				name := lang + " " + d.Kind + " " + k.stage
				if s.String() != d.Subject || strings.ContainsAny(d.Subject, "\r\n") {
					t.Errorf("%s: subject %q, template made %q", name, d.Subject, s.String())
				}
				gotText, err := d.text()
				if err != nil {
					t.Fatal(err)
				}
				gotHTML, err := d.html()
				if err != nil {
					t.Fatal(err)
				}
				if got := gotText; got != tx.String() {
					t.Errorf("%s: text body differs:\n got: %q\nwant: %q", name, got, tx.String())
				}
				if got := gotHTML; got != h.String() {
					t.Errorf("%s: HTML body differs:\n got: %s\nwant: %s", name, got, h.String())
				}
			}
		}
	}
}

// A catalog that lacks a message the email shows stops the email, as the templates'
// missingkey=error did, rather than send one with a hole in it.
func TestAnEmailWithAMissingMessageIsNotSent(t *testing.T) {
	t.Parallel()
	d := emailData{Kind: kindBefore, Lang: "de", M: map[string]string{"greeting": "Hallo", "button_note": "b", "text_note": "t"},
		Subject: "s", Lead: "l", Consequence: "c", Button: "b", TextIntro: "t", ManualText: "m", Support: "s"}
	if err := d.complete(); err == nil || !strings.Contains(err.Error(), "email.footer") {
		t.Errorf("complete() = %v, want an error naming email.footer", err)
	}
	d.M["footer"] = "f"
	if err := d.complete(); err != nil {
		t.Errorf("complete() = %v for a whole email", err)
	}
}

// The templates themselves refuse a message that is not there (missingkey=error), so
// even data that skipped complete never renders an email with a hole in it.
func TestTheBodyTemplatesRefuseAMissingMessage(t *testing.T) {
	t.Parallel()
	d := emailData{Kind: kindBefore, Lang: "de", M: map[string]string{"greeting": "Hallo", "button_note": "b", "text_note": "t"},
		Subject: "s", Lead: "l", Consequence: "c", Button: "b", TextIntro: "t", ManualText: "m", Support: "s", Color: "#abc"}
	if _, err := d.html(); err == nil || !strings.Contains(err.Error(), "footer") {
		t.Errorf("html() = %v, want an error naming footer", err)
	}
	if _, err := d.text(); err == nil || !strings.Contains(err.Error(), "footer") {
		t.Errorf("text() = %v, want an error naming footer", err)
	}
}
