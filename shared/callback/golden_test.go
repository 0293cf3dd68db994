package callback

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/i18n"
	"github.com/spapi-auth-keeper/keeper/shared/pages"
	"github.com/spapi-auth-keeper/keeper/shared/renewal"
)

// go test ./shared/callback -run PagesAreByteForByte -args -update.pages
var updatePages = flag.Bool("update.pages", false, "rewrite testdata/pages from the pages as rendered now")

// goldenApp is the app name every golden page shows: an ampersand, an apostrophe and
// quotes, which the pages must escape.
const goldenApp = `Acme & Co's "Sync"`

type goldenRenewer struct{}

func (goldenRenewer) AppName() string { return goldenApp }
func (goldenRenewer) StartFromLink(context.Context, string) (renewal.Start, error) {
	return renewal.Start{}, errors.New("not served in the golden pages")
}
func (goldenRenewer) StartFromLogin(context.Context, renewal.LoginRequest) (renewal.Start, error) {
	return renewal.Start{}, errors.New("not served in the golden pages")
}
func (goldenRenewer) Complete(context.Context, renewal.CallbackRequest) (renewal.Result, error) {
	return renewal.Result{}, errors.New("not served in the golden pages")
}

// TestPagesAreByteForByteTheGoldenPages renders every page a seller can see (each
// failure reason pageFor knows, on the routes that change it, the success pages and
// the not-found page) in every language, plain and with each kind of brand, and
// requires the status, headers and body to be the bytes in testdata/pages.
func TestPagesAreByteForByteTheGoldenPages(t *testing.T) {
	t.Parallel()
	expires := time.Date(2027, 2, 15, 9, 30, 0, 0, time.UTC)
	linkErr := func(err error, central string, at time.Time) error {
		return &renewal.LinkError{Err: err, CentralURL: central, ExpiresAt: at, Marketplace: "DE"}
	}
	failures := []struct {
		name, route string
		err         error
	}{
		{"link_expired", "authorize", linkErr(renewal.ErrLinkExpired, "https://sellercentral.amazon.de", time.Time{})},
		{"link_expired_no_central", "authorize", linkErr(renewal.ErrLinkExpired, "", time.Time{})},
		{"link_superseded", "authorize", linkErr(renewal.ErrLinkSuperseded, "", expires)},
		{"link_superseded_no_date", "authorize", linkErr(renewal.ErrLinkSuperseded, "", time.Time{})},
		{"browser_mismatch", "callback", renewal.ErrBrowserMismatch},
		{"account_mismatch", "callback", renewal.ErrAccountMismatch},
		{"account_unverified", "callback", renewal.ErrAccountUnverified},
		{"seller_bound", "callback", renewal.ErrSellerBound},
		{"parked", "callback", renewal.ErrParked},
		{"link_invalid", "authorize", renewal.ErrLinkInvalid},
		{"unknown_connection", "authorize", authz.ErrNotFound},
		{"missing_parameter", "callback", renewal.ErrMissingParameter},
		{"state_expired", "callback", renewal.ErrStateExpired},
		{"state_replayed", "callback", renewal.ErrStateReplayed},
		{"state_invalid", "callback", renewal.ErrStateInvalid},
		{"mismatched_seller", "callback", renewal.ErrSellerMismatch},
		{"declined", "callback", renewal.ErrDeclined},
		{"code_rejected", "callback", renewal.ErrCodeRejected},
		{"bad_callback_uri", "login", renewal.ErrBadCallbackURI},
		{"unknown_seller", "login", renewal.ErrUnknownSeller},
		{"record_pending", "callback", renewal.ErrRecordPending},
		{"client", "callback", renewal.ErrVendorCredentials},
		{"unavailable", "authorize", renewal.ErrUnavailable},
		{"unavailable_retry", "callback", renewal.ErrUnavailable},
		{"internal", "callback", errors.New("something unforeseen")},
	}
	brands := []struct {
		name  string
		brand pages.Brand
	}{
		{"plain", pages.Brand{}},
		{"logo-email-connect", pages.Brand{LogoURL: "https://cdn.shop.example/logo.png?v=1&s=2", Color: "#2a6f97",
			SupportEmail: "help@shop.example", ConnectURL: "https://app.shop.example/settings/amazon?from=keeper&x=1"}},
		{"support-url", pages.Brand{SupportURL: "https://shop.example/help?a=1&b=2", Color: "#abc"}},
	}
	acceptLanguage := map[string]string{"en": "en-GB,en;q=0.9", "de": "de-DE", "fr": "fr-FR", "it": "it-IT", "es": "es-ES", "ja": "ja"}
	for _, b := range brands {
		for _, lang := range i18n.Languages() {
			t.Run(b.name+"/"+lang, func(t *testing.T) {
				t.Parallel()
				h := &handler{svc: goldenRenewer{}, log: slog.New(slog.NewTextHandler(io.Discard, nil)), brand: b.brand}
				request := func(path string) *http.Request {
					r := httptest.NewRequest(http.MethodGet, "https://keeper.example.com"+path, nil)
					r.Header.Set("Accept-Language", acceptLanguage[lang])
					return r
				}
				var doc strings.Builder
				page := func(name string, serve func(w http.ResponseWriter)) {
					rec := httptest.NewRecorder()
					serve(rec)
					fmt.Fprintf(&doc, "==== %s\nstatus %d\n", name, rec.Code)
					keys := make([]string, 0, len(rec.Header()))
					for k := range rec.Header() {
						keys = append(keys, k)
					}
					sort.Strings(keys)
					for _, k := range keys {
						fmt.Fprintf(&doc, "%s: %s\n", k, strings.Join(rec.Header()[k], ", "))
					}
					doc.WriteString("\n")
					doc.WriteString(rec.Body.String())
				}
				for _, f := range failures {
					page(f.name, func(w http.ResponseWriter) {
						h.fail(w, request("/"+f.route+"?state=s-1&code=c"), "20270215-0a1b2c3d4e5f", f.route, f.err)
					})
				}
				a := authz.Authorization{ConnectionID: "acme-1", Region: authz.RegionEU, Marketplace: "DE", Locale: lang,
					SellingPartnerID: "A1SELLER", ExpiresAt: expires.AddDate(1, 0, 0), Account: authz.Account{StoreName: "Acme <Outdoor> & Co"}}
				for _, kind := range []authz.EventKind{authz.EventRenewed, authz.EventAuthorized} {
					page("success_"+string(kind), func(w http.ResponseWriter) {
						pages.Render(w, h.successPage(a, kind, "20270215-0a1b2c3d4e5f", request("/callback")))
					})
				}
				a.Locale, a.Account.StoreName = "", ""
				page("success_browser_language_no_store", func(w http.ResponseWriter) {
					pages.Render(w, h.successPage(a, authz.EventRenewed, "20270215-0a1b2c3d4e5f", request("/callback")))
				})
				page("not_found", func(w http.ResponseWriter) { h.notFound(w, request("/nowhere")) })
				checkGolden(t, filepath.Join("testdata", "pages", b.name+"-"+lang+".txt"), doc.String())
			})
		}
	}
}

func checkGolden(t *testing.T, path, got string) {
	t.Helper()
	if *updatePages {
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
		t.Fatalf("%v (go test -run PagesAreByteForByte -args -update.pages writes it)", err)
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
