// Package pages renders the pages a seller's browser sees during the renewal round
// trip: success, a decline, and every failure, each with what to do next and a
// reference id that support can find in the logs.
package pages

import (
	"bytes"
	"embed"
	"html/template"
	"net/http"
	"strconv"
)

//go:embed templates/*.html
var files embed.FS

var page = template.Must(template.ParseFS(files, "templates/page.html"))

// Tone colours the page.
type Tone string

const (
	ToneOK    Tone = "ok"
	ToneInfo  Tone = "info"
	ToneError Tone = "error"
)

// Page is everything one page says. Every field is escaped by html/template; nothing
// a seller or Amazon sent is ever rendered as markup.
type Page struct {
	Status      int
	Tone        Tone
	Title       string
	Lead        string
	Details     []string
	Steps       []string // numbered steps, e.g. the manual renewal in Seller Central
	ActionURL   string
	ActionLabel string
	Reference   string
	AppName     string
}

// Render writes p with headers that keep the page out of caches and keep its URL
// (which may carry a state or a link token) out of Referer headers.
func Render(w http.ResponseWriter, p Page) {
	if p.Status == 0 {
		p.Status = http.StatusOK
	}
	var buf bytes.Buffer
	if err := page.Execute(&buf, p); err != nil {
		http.Error(w, "internal error rendering page, reference "+p.Reference, http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; form-action 'none'")
	w.WriteHeader(p.Status)
	_, _ = w.Write(buf.Bytes())
}

// ManualRenewalSteps is the fallback Amazon itself documents for sellers: renew from
// Seller Central's Manage Your Apps page.
func ManualRenewalSteps(centralURL, appName string) []string {
	return []string{
		"Sign in to Seller Central at " + centralURL + " with the account that uses " + appName + ".",
		"Open Settings → User Permissions, then choose “Manage Your Apps” (Apps and Services → Manage Your Apps).",
		"Find " + appName + " in the list and choose Renew (or Enable, if the authorization has already expired).",
		"Confirm on Amazon's consent page. You will come back here and see that the connection is renewed.",
	}
}
