// Package pages renders the pages a seller's browser sees during the renewal round
// trip: success, a decline, and every failure, each with what to do next and a
// reference id that support can find in the logs.
package pages

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/spapi-auth-keeper/keeper/shared/i18n"
	"github.com/spapi-auth-keeper/keeper/shared/markup"
)

// Tone colours the page.
type Tone string

const (
	ToneOK    Tone = "ok"
	ToneInfo  Tone = "info"
	ToneError Tone = "error"
)

// Page is everything one page says. Every field is escaped where it goes (package
// markup); nothing a seller or Amazon sent is ever rendered as markup.
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
	c, err := newChrome(p)
	if err != nil {
		http.Error(w, "internal error rendering page, reference "+p.Reference, http.StatusInternalServerError)
		return
	}
	p = c.Page
	doc := c.html()
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

const pageStyle = `<style>
 body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#f6f7f9;color:#1b1f24;margin:0}
 main{max-width:40rem;margin:3rem auto;background:#fff;border-radius:8px;padding:2rem 2.5rem;box-shadow:0 1px 3px rgba(0,0,0,.12)}
 h1{font-size:1.5rem;margin-top:0}
 .ok h1{color:#0a7a32}.error h1{color:#b3261e}.info h1{color:#1d4ed8}
 .lead{font-size:1.1rem}
 a.button{display:inline-block;background:`

const pageStyleEnd = `;color:#111;padding:.7rem 1.2rem;border-radius:6px;text-decoration:none;font-weight:600}
 ol li{margin:.4rem 0}
 .ref{color:#5f6b7a;font-size:.85rem;margin-top:2rem}
 .logo{display:block;max-height:48px;max-width:12rem;margin-bottom:1.5rem}
</style>
</head>
<body>
`

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
	c.SupportLine, c.Support = support, contact
	switch kind {
	case "email":
		c.SupportHref = "mailto:" + contact
	case "url":
		c.SupportHref = contact
	}
	return c, nil
}

// html is the page's document.
func (c chrome) html() string {
	var b markup.Builder
	b.Raw("<!doctype html>\n<html lang=\"").Text(c.Lang).Raw("\">\n<head>\n<meta charset=\"utf-8\">\n" +
		"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n" +
		"<meta name=\"referrer\" content=\"no-referrer\">\n<title>").Text(c.Title)
	if c.AppName != "" {
		b.Raw(" · ").Text(c.AppName)
	}
	b.Raw("</title>\n").Raw(pageStyle).Color(c.Brand.AccentColor(), DefaultColor).Raw(pageStyleEnd)
	b.Raw("<main class=\"").Text(string(c.Tone)).Raw("\">\n")
	if c.Brand.LogoURL != "" {
		b.Raw("<img class=\"logo\" src=\"").URL(c.Brand.LogoURL).Raw("\" alt=\"\">\n")
	}
	b.Raw("<h1>").Text(c.Title).Raw("</h1>\n<p class=\"lead\">").Text(c.Lead).Raw("</p>\n")
	for _, d := range c.Details {
		b.Raw("<p>").Text(d).Raw("</p>\n")
	}
	if len(c.Steps) > 0 {
		b.Raw("<ol>\n")
		for _, s := range c.Steps {
			b.Raw("<li>").Text(s).Raw("</li>\n")
		}
		b.Raw("</ol>\n")
	}
	if c.ActionURL != "" {
		b.Raw("<p><a class=\"button\" href=\"").URL(c.ActionURL).Raw("\">").Text(c.ActionLabel).Raw("</a></p>\n")
	}
	if c.Reference != "" {
		// The support line is split at its {support} placeholder, so that the contact
		// between the two halves can be a link.
		before, after, _ := strings.Cut(c.SupportLine, "{support}")
		b.Raw("<p class=\"ref\">").Text(c.RefBefore).Raw("<code>").Text(c.Reference).Raw("</code>").Text(c.RefAfter).Raw(" ").Text(before)
		if c.SupportHref != "" {
			b.Raw("<a href=\"").URL(c.SupportHref).Raw("\">").Text(c.Support).Raw("</a>")
		}
		b.Text(after).Raw("</p>\n")
	}
	b.Raw("</main>\n</body>\n</html>\n")
	return b.String()
}
