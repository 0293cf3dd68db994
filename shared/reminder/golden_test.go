package reminder

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/i18n"
	"github.com/spapi-auth-keeper/keeper/shared/pages"
)

// go test ./shared/reminder -run EmailsAreByteForByte -args -update.emails
var updateEmails = flag.Bool("update.emails", false, "rewrite testdata/emails from the emails as rendered now")

// TestEmailsAreByteForByteTheGoldenEmails renders every reminder stage (each kind of
// email and each lead of the "before" kind) in every language, plain and with each
// kind of brand, for a seller account (and a vendor's, plain), and requires the subject, tags,
// link, date and both bodies to be the bytes in testdata/emails.
func TestEmailsAreByteForByteTheGoldenEmails(t *testing.T) {
	t.Parallel()
	expires := time.Date(2027, 2, 15, 9, 30, 0, 0, time.UTC)
	markets := map[string]string{"en": "GB", "de": "DE", "fr": "FR", "it": "IT", "es": "ES", "ja": "JP"}
	stages := []struct {
		name, stage string
		now         time.Time
		unknown     bool
	}{
		{"before-30", "-30", expires.AddDate(0, 0, -30), false},
		{"before-1", "-1", expires.AddDate(0, 0, -1), false},
		{"expiry-day", "0", expires.Add(-time.Hour), false},
		{"expired+7", "+7", expires.AddDate(0, 0, 7), false},
		{"reconnect", StageReconnect, expires.AddDate(0, -2, 0), false},
		{"confirm", "-30", expires.AddDate(0, 0, -30), true},
	}
	brands := []struct {
		name  string
		brand pages.Brand
	}{
		{"plain", pages.Brand{}},
		{"logo-email", pages.Brand{LogoURL: "https://cdn.shop.example/logo.png?v=1&s=2", Color: "#123abc", SupportEmail: "help@shop.example"}},
		{"support-url", pages.Brand{SupportURL: "https://shop.example/help?a=1&b=2", Color: "#abc"}},
	}
	for _, b := range brands {
		r, err := NewRenderer(RenderConfig{AppName: `Acme & Co's "Sync" <Shop>`, BaseURL: "https://keeper.example.com", LinkTTL: 45 * 24 * time.Hour,
			SellerCentralURL: "", Brand: b.brand}, fixedSigner{})
		if err != nil {
			t.Fatal(err)
		}
		for _, lang := range i18n.Languages() {
			t.Run(b.name+"/"+lang, func(t *testing.T) {
				t.Parallel()
				var doc strings.Builder
				accounts := []authz.AccountType{authz.AccountSeller}
				if b.name == "plain" {
					accounts = append(accounts, authz.AccountVendor) // Vendor Central's name and address
				}
				for _, account := range accounts {
					for _, s := range stages {
						region := authz.RegionEU
						if lang == "ja" {
							region = authz.RegionFE
						}
						a := authz.Authorization{ConnectionID: "acme-1", Region: region, AccountType: account, Marketplace: markets[lang], Locale: lang,
							ContactEmail: "ops@acme.example", ExpiresAt: expires, ExpiryUnknown: s.unknown, DisplayName: `Acme <Outdoor> & Co's "EU"`}
						job := Job{ConnectionID: a.ConnectionID, Region: a.Region, Stage: s.stage, ExpiresAt: expires}
						if s.stage == StageReconnect {
							job.RevokedAt = s.now
						}
						e, err := r.Render(a, job, s.now)
						if err != nil {
							t.Fatalf("%s %s: %v", account, s.name, err)
						}
						tags := make([]string, 0, len(e.Tags))
						for k, v := range e.Tags {
							tags = append(tags, k+"="+v)
						}
						sort.Strings(tags)
						fmt.Fprintf(&doc, "==== %s %s\nTo: %s\nSubject: %s\nTags: %s\nLink: %s\nExpiryDate: %s\n---- text\n%s---- html\n%s",
							account, s.name, e.To, e.Subject, strings.Join(tags, " "), e.Link, e.ExpiryDate, e.Text, e.HTML)
					}
				}
				checkGoldenEmails(t, filepath.Join("testdata", "emails", b.name+"-"+lang+".txt"), doc.String())
			})
		}
	}
}

func checkGoldenEmails(t *testing.T, path, got string) {
	t.Helper()
	if *updateEmails {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -run EmailsAreByteForByte -args -update.emails writes it)", err)
	}
	if got == string(want) {
		return
	}
	g, w := strings.Split(got, "\n"), strings.Split(string(want), "\n")
	for i := 0; i < len(g) || i < len(w); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			t.Fatalf("%s differs from line %d:\n got: %q\nwant: %q", path, i+1, gl, wl)
		}
	}
}
