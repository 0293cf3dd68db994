// Package pages renders the pages a seller's browser sees during the renewal round
// trip: success, a decline, and every failure, each with what to do next and a
// reference id that support can find in the logs.
package pages

import (
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/spapi-auth-keeper/keeper/shared/i18n"
)

//go:embed templates/page.html
var templates embed.FS

// pageTemplate is every page's document. html/template escapes each value for where
// it goes: text, attribute values, URLs (a javascript:, data: or other unsafe scheme
// becomes "#ZgotmplZ") and the CSS of the button colour.
var pageTemplate = template.Must(template.ParseFS(templates, "templates/page.html"))

// Tone colours the page.
type Tone string

const (
	ToneOK    Tone = "ok"
	ToneInfo  Tone = "info"
	ToneError Tone = "error"
)

// Page is everything one page says. Every field is escaped where it goes (the page
// template); nothing a seller or Amazon sent is ever rendered as markup.
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
	RefBefore, RefAfter string
	// The support line around its contact: SupportBefore, then the contact (a link to
	// SupportHref), then SupportAfter.
	SupportBefore, SupportAfter, SupportHref, Support string
}

// Render writes p with headers that keep the page out of caches and keep its URL
// (which may carry a state or a link token) out of Referer headers.
func Render(w http.ResponseWriter, p Page) {
	c, err := newChrome(p)
	if err != nil {
		http.Error(w, "internal error rendering page, reference "+p.Reference, http.StatusInternalServerError)
		return
	}
	doc, err := c.html()
	if err != nil {
		http.Error(w, "internal error rendering page, reference "+p.Reference, http.StatusInternalServerError)
		return
	}
	p = c.Page
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(doc)))
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
	_, _ = io.WriteString(w, doc)
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

// newChrome fills in p's defaults and the texts around it in its language.
func newChrome(p Page) (chrome, error) {
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
		return chrome{}, err
	}
	c.RefBefore, c.RefAfter, _ = strings.Cut(ref, "{ref}")
	// The support line is split at its {support} placeholder, so that the contact
	// between the two halves can be a link.
	c.SupportBefore, c.SupportAfter, _ = strings.Cut(support, "{support}")
	c.Support = contact
	switch kind {
	case "email":
		c.SupportHref = "mailto:" + contact
	case "url":
		c.SupportHref = contact
	}
	return c, nil
}

// html is the page's document.
func (c chrome) html() (string, error) {
	var b strings.Builder
	if err := pageTemplate.Execute(&b, c); err != nil {
		return "", fmt.Errorf("render page: %w", err)
	}
	return b.String(), nil
}
