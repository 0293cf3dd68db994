// Package pages renders the pages a seller's browser sees during the renewal round
// trip: success, a decline, and every failure, each with what to do next and a
// reference id that support can find in the logs.
package pages

import (
	"bytes"
	"embed"
	"errors"
	"html/template"
	"net/http"
	"strconv"
	"strings"

	"github.com/spapi-auth-keeper/keeper/shared/i18n"
)

//go:embed templates/*.html
var files embed.FS

var page = template.Must(template.New("page.html").Funcs(template.FuncMap{
	// around splits a line at its {support} placeholder, so that the contact between
	// the two halves can be a link.
	"around": func(line string) []string {
		before, after, _ := strings.Cut(line, "{support}")
		return []string{before, after}
	},
}).ParseFS(files, "templates/page.html"))

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
	// Lang is the page's language (i18n; default English), Brand the vendor's look
	// and support contact.
	Lang  string
	Brand Brand
}

// chrome is what the page template shows around a page: its texts in p.Lang.
type chrome struct {
	Page
	RefBefore, RefAfter, SupportLine, SupportHref, Support string
}

// Render writes p with headers that keep the page out of caches and keep its URL
// (which may carry a state or a link token) out of Referer headers.
func Render(w http.ResponseWriter, p Page) {
	if p.Status == 0 {
		p.Status = http.StatusOK
	}
	if p.Lang == "" {
		p.Lang = i18n.Default
	}
	c := chrome{Page: p}
	contact, kind := p.Brand.Support()
	// The reference (in <code>, where support and tests find it) and the contact (a
	// link) are cut out of their lines at their placeholders.
	vars := i18n.Vars{"ref": "{ref}", "app": p.AppName, "support": "{support}"}
	ref, err1 := i18n.Message(p.Lang, "page.reference", vars)
	support, err2 := i18n.Message(p.Lang, "page.support."+kind, vars)
	if err := errors.Join(err1, err2); err != nil {
		http.Error(w, "internal error rendering page, reference "+p.Reference, http.StatusInternalServerError)
		return
	}
	c.RefBefore, c.RefAfter, _ = strings.Cut(ref, "{ref}")
	// The contact becomes a link: the line is split around its placeholder.
	c.SupportLine, c.Support = support, contact
	switch kind {
	case "email":
		c.SupportHref = "mailto:" + contact
	case "url":
		c.SupportHref = contact
	}
	var buf bytes.Buffer
	if err := page.Execute(&buf, c); err != nil {
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
	csp := "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; form-action 'none'"
	if o := p.Brand.logoOrigin(); o != "" {
		csp += "; img-src " + o
	}
	h.Set("Content-Security-Policy", csp)
	w.WriteHeader(p.Status)
	_, _ = w.Write(buf.Bytes())
}

// ManualRenewalSteps is the fallback Amazon itself documents for sellers, in
// English: renew from Seller Central's Manage Your Apps page. Steps gives them in
// every language.
func ManualRenewalSteps(centralURL, appName string) []string {
	steps, err := Steps(i18n.Default, StepsRenew, "Seller Central", centralURL, appName)
	if err != nil {
		panic(err) // the English catalog is compiled in; its tests cover every key
	}
	return steps
}
