package callback

import (
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/i18n"
	"github.com/spapi-auth-keeper/keeper/shared/metrics"
	"github.com/spapi-auth-keeper/keeper/shared/pages"
	"github.com/spapi-auth-keeper/keeper/shared/renewal"
)

// HandlerWith is Handler with the vendor's brand and support contact on every page
// (LOGO_URL, BRAND_COLOR, SUPPORT_EMAIL, SUPPORT_URL, CONNECT_URL).
func HandlerWith(svc Renewer, log *slog.Logger, m *metrics.Emitter, brand pages.Brand) http.Handler {
	return handlerWith(svc, log, m, brand)
}

// requestLanguage is the language of a page shown before the authorization is known:
// the browser's first language the keeper speaks (Accept-Language), else English.
func requestLanguage(r *http.Request) string {
	for _, part := range strings.Split(r.Header.Get("Accept-Language"), ",") {
		tag, _, _ := strings.Cut(strings.TrimSpace(part), ";")
		if tag == "" || tag == "*" {
			continue
		}
		if lang := i18n.LanguageFor(tag, ""); lang != i18n.Default || strings.HasPrefix(strings.ToLower(tag), "en") {
			return lang
		}
	}
	return i18n.Default
}

// pageLanguage is the language of a page about a: the record's locale when the
// keeper speaks it, else the browser's (Accept-Language). Unlike an email, a page is
// read in a browser that says which language its reader prefers, so the marketplace
// is not consulted.
func pageLanguage(a authz.Authorization, r *http.Request) string {
	if lang := i18n.LanguageFor(a.Locale, ""); lang != i18n.Default || strings.HasPrefix(strings.ToLower(a.Locale), "en") {
		return lang
	}
	return requestLanguage(r)
}

// localize writes p in lang: the catalog's page.{reason}.title, .lead and .detail
// where it has them (the page keeps its status and tone), the manual steps of the
// expired-link page, and the "connect first" page from CONNECT_URL, never invented
// steps.
func (h *handler) localize(p *pages.Page, reason, lang string, err error) {
	app := h.svc.AppName()
	p.Lang, p.Brand = lang, h.brand
	if lang == i18n.Default && reason != "unknown_seller" {
		return // the English pages are written in pageFor; the catalog's English mirrors them
	}
	vars := i18n.Vars{"app": app, "central": "Seller Central"}
	msg := func(key string) (string, bool) {
		m, e := i18n.Message(lang, "page."+reason+"."+key, vars)
		return m, e == nil
	}
	if m, ok := msg("title"); ok {
		p.Title = m
	}
	if m, ok := msg("lead"); ok {
		p.Lead = m
	}
	if m, ok := msg("detail"); ok {
		p.Details = []string{m}
	}
	var le *renewal.LinkError
	switch {
	case reason == "link_expired" && errors.As(err, &le):
		central := le.CentralURL
		if central == "" {
			central = "https://sellercentral.amazon.com"
		}
		if steps, e := pages.Steps(lang, pages.StepsRenew, "Seller Central", central, app); e == nil {
			p.Steps, p.Details = steps, nil
		}
	case reason == "unknown_seller":
		p.Steps = nil
		if h.brand.ConnectURL != "" {
			m, _ := msg("connect")
			label, _ := msg("action")
			p.Details, p.ActionURL, p.ActionLabel = []string{m}, h.brand.ConnectURL, label
		} else if m, ok := msg("none"); ok {
			p.Details = []string{m}
		}
	}
}

// successPage is the page after a renewal, in the record's language: the store's
// name where SP-API gave one, the new expiry in the marketplace's time zone.
func (h *handler) successPage(a authz.Authorization, kind authz.EventKind, ref string, r *http.Request) pages.Page {
	lang := pageLanguage(a, r)
	account := a.SellingPartnerID
	if name := a.Account.StoreName; name != "" {
		account = name + ", " + account
	}
	date := i18n.Date(lang, a.ExpiresAt, i18n.Location(a.Marketplace))
	if lang == i18n.Default {
		date = a.ExpiresAt.In(i18n.Location(a.Marketplace)).Format("2 January 2006")
	}
	vars := i18n.Vars{"app": h.svc.AppName(), "account": "(" + account + ")", "date": date}
	title := "page.success.title.renewed"
	if kind == authz.EventAuthorized {
		title = "page.success.title.connected"
	}
	p := pages.Page{Tone: pages.ToneOK, AppName: h.svc.AppName(), Reference: ref, Lang: lang, Brand: h.brand}
	p.Title, _ = i18n.Message(lang, title, vars)
	p.Lead, _ = i18n.Message(lang, "page.success.lead", vars)
	d1, _ := i18n.Message(lang, "page.success.detail1", vars)
	d2, _ := i18n.Message(lang, "page.success.detail2", vars)
	p.Details = []string{d1, d2}
	return p
}
