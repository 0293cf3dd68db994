package callback_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/config"
	"github.com/spapi-auth-keeper/keeper/shared/i18n"
)

// TestPagesSpeakTheSellersLanguage: the success page is in the record's language,
// with the store's name and the date as that language writes it; a page shown before
// the record is known follows the browser's Accept-Language; every page carries the
// vendor's support contact with the reference.
func TestPagesSpeakTheSellersLanguage(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *config.Config) { c.SupportEmail = "help@keeper.example.com"; c.BrandColor = "#2a6f97" })
	a := e.onboard("acme", seller, 3)
	a.Locale = "de-DE"
	_, err := e.Store.Update(e.Ctx, a)
	must(t, err)
	back := e.consentAs(e.consentURL(e.link("acme", 45*24*time.Hour)), seller, "confirm")
	until := i18n.Date("de", e.Clock.Now().Add(authz.Lifetime), i18n.Location("DE"))
	e.get(back).want(http.StatusOK, `lang="de"`, "Ihre Amazon-Verbindung ist verlängert", "bis zum "+until, "Acme Outdoor",
		"help@keeper.example.com", "#2a6f97")

	tests := []struct {
		lang, path, want string
		status           int
	}{
		{"de-CH,de;q=0.9,en;q=0.5", "/authorize?t=cut-short", "Dieser Verlängerungslink ist ungültig", http.StatusBadRequest},
		{"ja", "/authorize?t=cut-short", "この更新リンクは無効です", http.StatusBadRequest},
		{"fr-FR", "/nowhere", "Page introuvable", http.StatusNotFound},
		{"nl-NL,en;q=0.8", "/authorize?t=cut-short", "This renewal link is not valid", http.StatusBadRequest},
	}
	for _, tc := range tests {
		req, _ := http.NewRequest(http.MethodGet, e.server.URL+tc.path, nil)
		req.Header.Set("Accept-Language", tc.lang)
		res, err := e.browser.Do(req)
		must(t, err)
		var b strings.Builder
		buf := make([]byte, 64<<10)
		for {
			n, err := res.Body.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				break
			}
		}
		res.Body.Close()
		if res.StatusCode != tc.status || !strings.Contains(b.String(), tc.want) || (tc.status != http.StatusNotFound && !strings.Contains(b.String(), "help@keeper.example.com")) {
			t.Errorf("Accept-Language %s %s: status %d, page:\n%s", tc.lang, tc.path, res.StatusCode, b.String())
		}
	}
}
