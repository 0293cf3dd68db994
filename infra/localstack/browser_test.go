package localstack_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/spapi-auth-keeper/keeper/infra/localstack"
	"github.com/spapi-auth-keeper/keeper/infra/operator"
	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/i18n"
)

// chromium finds Debian's Chromium (or another Chrome) on PATH.
func chromium() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// chromeAllocator starts a headless Chromium of its own (its own profile) at chrome.
func chromeAllocator(ctx context.Context, chrome string, width, height int) (context.Context, context.CancelFunc) {
	return chromedp.NewExecAllocator(ctx, append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chrome), chromedp.NoSandbox, chromedp.WindowSize(width, height), chromedp.Flag("disable-dev-shm-usage", true))...)
}

// testBrowserJourney is the seller's journey in headless Chromium: the mail page, the
// reminder, its renewal link, Confirm on the consent page, the success page and the
// ledger; then Cancel (nothing changes, a clear page), then the same Amazon redirect
// opened twice (already used) and the renewal link opened again (a fresh consent).
// Each page is saved as a screenshot under test-artifacts/browser/.
func testBrowserJourney(t *testing.T, s *localstack.Stack, cli func(...string) (int, string, string)) {
	chrome := chromium()
	if chrome == "" {
		t.Skip("Chromium is not installed, so the real-browser journey is skipped: install it with `apt-get install chromium` on Debian (`make test` does this when run as root)")
	}
	root, err := localstack.FindRoot(".")
	must(t, err)
	shots := filepath.Join(root, "test-artifacts", "browser")
	must(t, os.MkdirAll(shots, 0o755))

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	alloc, cancelAlloc := chromeAllocator(ctx, chrome, 1200, 1000)
	defer cancelAlloc()
	browser, closeBrowser := chromedp.NewContext(alloc)
	defer closeBrowser()

	shot := func(name string) chromedp.Action {
		return chromedp.ActionFunc(func(ctx context.Context) error {
			var png []byte
			if err := chromedp.FullScreenshot(&png, 100).Do(ctx); err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(shots, name+".png"), png, 0o644)
		})
	}
	// landed waits until the keeper's page after Amazon's redirect has loaded. While
	// the redirects run, evaluating in the page fails (the document is being
	// replaced): those errors only mean "not yet".
	landed := func(path string) chromedp.Action {
		return chromedp.ActionFunc(func(ctx context.Context) error {
			expr := `document.location.pathname === "` + path + `" && document.readyState === "complete" && !!document.querySelector("h1")`
			deadline := time.Now().Add(30 * time.Second)
			for {
				var ok bool
				err := chromedp.Evaluate(expr, &ok).Do(ctx)
				if err == nil && ok {
					return nil
				}
				if time.Now().After(deadline) {
					return fmt.Errorf("page %s did not load: %v", path, err)
				}
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(100 * time.Millisecond):
				}
			}
		})
	}
	seller := localstack.DemoSellers[1] // lapsed five days ago; its email says so
	mails := mailTo(t, s, seller.Email)
	if len(mails) == 0 {
		t.Fatalf("no reminder to %s", seller.Email)
	}
	id := mails[len(mails)-1].MessageID

	// The mail page: open the reminder's HTML view and take its renewal link, as a
	// mail client opens a link in a new tab.
	var link string
	must(t, chromedp.Run(browser,
		chromedp.Navigate(s.MailURL),
		chromedp.WaitVisible(`button[onclick="toggle('`+id+`-html')"]`, chromedp.ByQuery),
		showHTML(id),
		shot("01-mail-page-reminder"),
		chromedp.Evaluate(`[...document.querySelectorAll('iframe[id="`+id+`-html-iframe"]')].map(f => f.contentDocument.querySelector('a[href*="/authorize?t="]')).find(a => a).href`, &link),
	))
	if !strings.HasPrefix(link, s.FrontURL+"/authorize?t=") {
		t.Fatalf("the reminder's link is %q", link)
	}

	// Cancel first: nothing changes, and the page says so.
	code, out, _ := cli("show", seller.ConnectionID, "--json")
	var before operator.Detail
	if code != 0 || json.Unmarshal([]byte(out), &before) != nil {
		t.Fatalf("keeperctl show: exit %d %s", code, out)
	}
	var page string
	must(t, chromedp.Run(browser,
		chromedp.Navigate(link),
		chromedp.WaitVisible(`button[value="cancel"]`, chromedp.ByQuery),
		chromedp.SetValue(`#selling_partner_id`, seller.SellingPartnerID, chromedp.ByQuery),
		chromedp.Click(`button[value="cancel"]`, chromedp.ByQuery),
		landed("/callback"),
		chromedp.Text("body", &page, chromedp.ByQuery),
		shot("02-cancelled"),
	))
	if !strings.Contains(page, "Nothing was changed") || looksLikeACrash(page) {
		t.Errorf("page after Cancel:\n%s", page)
	}
	// Opening a link is counted on the record (the funnel); the authorization itself
	// must stay as it was.
	unchanged := func(what string) {
		t.Helper()
		_, out, _ := cli("show", seller.ConnectionID, "--json")
		var now operator.Detail
		if json.Unmarshal([]byte(out), &now) != nil || now.Status != before.Status || !now.ExpiresAt.Equal(before.ExpiresAt) ||
			now.SellingPartnerID != before.SellingPartnerID {
			t.Errorf("%s changed the authorization: %+v → %s", what, before.Row, out)
		}
	}
	unchanged("Cancel")

	// A consent URL forwarded to someone else: opened and confirmed in a second
	// browser (its own cookies, as another person's), it changes nothing.
	var forwarded string
	must(t, chromedp.Run(browser,
		chromedp.Navigate(link),
		chromedp.WaitVisible(`button[value="confirm"]`, chromedp.ByQuery),
		chromedp.Location(&forwarded),
	))
	// Another person's browser: a Chromium of its own, with its own profile.
	otherAlloc, cancelOtherAlloc := chromeAllocator(ctx, chrome, 1200, 1000)
	defer cancelOtherAlloc()
	other, closeOther := chromedp.NewContext(otherAlloc)
	defer closeOther()
	must(t, chromedp.Run(other,
		chromedp.Navigate(forwarded),
		chromedp.WaitVisible(`button[value="confirm"]`, chromedp.ByQuery),
		chromedp.SetValue(`#selling_partner_id`, seller.SellingPartnerID, chromedp.ByQuery),
		chromedp.Click(`button[value="confirm"]`, chromedp.ByQuery),
		landed("/callback"),
		chromedp.Text("body", &page, chromedp.ByQuery),
		shot("03-forwarded-consent-in-another-browser"),
	))
	if !strings.Contains(page, "started in another browser") || looksLikeACrash(page) {
		t.Errorf("a forwarded consent URL confirmed in another browser:\n%s", page)
	}
	unchanged("the forwarded consent")

	// Confirm, in the browser that opened the link.
	var consentText, renewedAt string
	must(t, chromedp.Run(browser,
		chromedp.Navigate(link),
		chromedp.WaitVisible(`button[value="confirm"]`, chromedp.ByQuery),
		chromedp.Text("main", &consentText, chromedp.ByQuery),
		chromedp.SetValue(`#selling_partner_id`, seller.SellingPartnerID, chromedp.ByQuery),
		shot("04-consent-page"),
		chromedp.Click(`button[value="confirm"]`, chromedp.ByQuery),
		landed("/callback"),
		chromedp.Text("body", &page, chromedp.ByQuery),
		chromedp.Location(&renewedAt),
		shot("05-renewed"),
	))
	if !strings.Contains(consentText, "Authorize "+localstack.AppName) || !strings.Contains(consentText, seller.Name) {
		t.Errorf("consent page:\n%s", consentText)
	}
	code, out, _ = cli("show", seller.ConnectionID, "--json")
	var d operator.Detail
	if code != 0 || json.Unmarshal([]byte(out), &d) != nil {
		t.Fatalf("keeperctl show: exit %d %s", code, out)
	}
	if d.Status != authz.StatusActive || d.DaysLeft == nil || *d.DaysLeft < 364 {
		t.Errorf("ledger after the browser renewal: %+v", d.Row)
	}
	// The page writes the date on the seller's calendar: the marketplace's time zone.
	until := d.ExpiresAt.In(i18n.Location(d.Marketplace)).Format("2 January 2006")
	if !strings.Contains(page, "renewed") || !strings.Contains(page, "until "+until) {
		t.Errorf("success page does not say renewed until %s:\n%s", until, page)
	}

	// The completed redirect opened twice, then the renewal link again: it has done
	// its job and says so.
	must(t, chromedp.Run(browser,
		chromedp.Navigate(renewedAt),
		landed("/callback"),
		chromedp.Text("body", &page, chromedp.ByQuery),
		shot("06-already-used"),
	))
	if !strings.Contains(page, "already used") || looksLikeACrash(page) {
		t.Errorf("the redirect opened twice:\n%s", page)
	}
	must(t, chromedp.Run(browser,
		chromedp.Navigate(link),
		landed("/authorize"),
		chromedp.Text("body", &page, chromedp.ByQuery),
		shot("07-old-link-already-renewed"),
	))
	if !strings.Contains(page, "already renewed") || !strings.Contains(page, until) || looksLikeACrash(page) {
		t.Errorf("the renewal link opened after the renewal:\n%s", page)
	}
	t.Logf("screenshots in %s", shots)
}

// showHTML clicks the email's "Toggle HTML view" until its HTML shows. The mail page
// polls for new mail and may render an email twice when two polls overlap; a click
// then toggles one copy while the other stays hidden, so it looks at every copy.
func showHTML(id string) chromedp.Action {
	return chromedp.ActionFunc(func(ctx context.Context) error {
		shown := `[...document.querySelectorAll('div[id="` + id + `-html"]')].some(d => d.style.display !== "none")`
		var err error
		for range 5 {
			if err = chromedp.Click(`button[onclick="toggle('`+id+`-html')"]`, chromedp.ByQuery).Do(ctx); err != nil {
				return err
			}
			var ok bool
			if err = chromedp.Poll(shown, &ok, chromedp.WithPollingTimeout(2*time.Second)).Do(ctx); err == nil {
				return nil
			}
		}
		return fmt.Errorf("the email's HTML view never showed: %w", err)
	})
}
