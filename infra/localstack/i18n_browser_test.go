package localstack_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/spapi-auth-keeper/keeper/infra/localstack"
	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/consent"
	"github.com/spapi-auth-keeper/keeper/shared/i18n"
	"github.com/spapi-auth-keeper/keeper/shared/pages"
	"github.com/spapi-auth-keeper/keeper/shared/reminder"
	"github.com/spapi-auth-keeper/keeper/shared/secret"
)

// TestPagesAndEmailsInABrowserInTwoLanguages opens a renewal page and a reminder
// email in German and in Japanese in headless Chromium, checks the language the
// browser sees and the translated heading, and saves screenshots under
// test-artifacts/i18n/.
func TestPagesAndEmailsInABrowserInTwoLanguages(t *testing.T) {
	chrome := chromium()
	if chrome == "" {
		t.Skip("Chromium is not installed, so the real-browser check of the languages is skipped: install it with `apt-get install chromium` on Debian (`make test` does this when run as root)")
	}
	brand := pages.Brand{Color: "#2a6f97", SupportEmail: "help@keeper.example.com"}
	signer, err := consent.NewSigner(secret.Value("0123456789abcdef0123456789abcdef"))
	must(t, err)
	r, err := reminder.NewRenderer(reminder.RenderConfig{AppName: "Keeper Demo", BaseURL: "https://keeper.example.com", LinkTTL: 45 * 24 * time.Hour, Brand: brand}, signer)
	must(t, err)
	expires := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	sellers := map[string]authz.Authorization{
		"de": {ConnectionID: "alpen", Region: authz.RegionEU, AccountType: authz.AccountSeller, Marketplace: "DE", ContactEmail: "o@alpen.example", DisplayName: "Alpenblick Outdoor", ExpiresAt: expires},
		"ja": {ConnectionID: "sakura", Region: authz.RegionFE, AccountType: authz.AccountSeller, Marketplace: "JP", ContactEmail: "o@sakura.example", DisplayName: "さくら商店", ExpiresAt: expires},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /page/{lang}", func(w http.ResponseWriter, req *http.Request) {
		lang := req.PathValue("lang")
		date := i18n.Date(lang, expires.AddDate(1, 0, 0), i18n.Location(sellers[lang].Marketplace))
		vars := i18n.Vars{"app": "Keeper Demo", "account": sellers[lang].DisplayName, "date": date}
		title, _ := i18n.Message(lang, "page.success.title.renewed", vars)
		lead, _ := i18n.Message(lang, "page.success.lead", vars)
		d1, _ := i18n.Message(lang, "page.success.detail1", vars)
		d2, _ := i18n.Message(lang, "page.success.detail2", vars)
		pages.Render(w, pages.Page{Tone: pages.ToneOK, Title: title, Lead: lead, Details: []string{d1, d2}, Reference: "20261201-abc123",
			AppName: "Keeper Demo", Lang: lang, Brand: brand})
	})
	mux.HandleFunc("GET /email/{lang}", func(w http.ResponseWriter, req *http.Request) {
		a := sellers[req.PathValue("lang")]
		e, err := r.Render(a, reminder.Job{ConnectionID: a.ConnectionID, Region: a.Region, Stage: "-9", ExpiresAt: a.ExpiresAt}, expires.AddDate(0, 0, -9))
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(e.HTML))
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	root, err := localstack.FindRoot(".")
	must(t, err)
	shots := filepath.Join(root, "test-artifacts", "i18n")
	must(t, os.MkdirAll(shots, 0o755))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	alloc, cancelAlloc := chromeAllocator(ctx, chrome, 900, 900)
	defer cancelAlloc()
	browser, closeBrowser := chromedp.NewContext(alloc)
	defer closeBrowser()

	want := map[string]struct{ heading, email string }{
		"de": {"Ihre Amazon-Verbindung ist verlängert", "läuft am 4. Dezember 2026 ab, also in 9 Tagen"},
		"ja": {"Amazonとの接続が更新されました", "2026年12月4日(あと9日)"},
	}
	for _, lang := range []string{"de", "ja"} {
		var docLang, heading, ref, emailText string
		var pagePNG, emailPNG []byte
		err := chromedp.Run(browser,
			chromedp.Navigate(srv.URL+"/page/"+lang),
			chromedp.WaitVisible("h1", chromedp.ByQuery),
			chromedp.Evaluate(`document.documentElement.lang`, &docLang),
			chromedp.Text("h1", &heading, chromedp.ByQuery),
			chromedp.Text(".ref", &ref, chromedp.ByQuery),
			chromedp.FullScreenshot(&pagePNG, 100),
			chromedp.Navigate(srv.URL+"/email/"+lang),
			chromedp.WaitVisible("body", chromedp.ByQuery),
			chromedp.Text("body", &emailText, chromedp.ByQuery),
			chromedp.FullScreenshot(&emailPNG, 100),
		)
		must(t, err)
		must(t, os.WriteFile(filepath.Join(shots, "page-renewed-"+lang+".png"), pagePNG, 0o644))
		must(t, os.WriteFile(filepath.Join(shots, "email-stage-9-"+lang+".png"), emailPNG, 0o644))
		if docLang != lang || heading != want[lang].heading {
			t.Errorf("%s page: lang %q, heading %q; want %q", lang, docLang, heading, want[lang].heading)
		}
		if !strings.Contains(ref, "20261201-abc123") || !strings.Contains(ref, "help@keeper.example.com") {
			t.Errorf("%s page: the reference line %q lacks the reference or the support address", lang, ref)
		}
		if !strings.Contains(emailText, want[lang].email) {
			t.Errorf("%s email lacks %q:\n%s", lang, want[lang].email, emailText)
		}
	}
}
