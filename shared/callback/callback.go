// Package callback is the HTTP face of the renewal round trip: /authorize (the
// renewal link in an email), /login (the app's Login URI) and /callback (the redirect
// URI Amazon sends the seller back to). It only translates requests into calls on the
// renewal service and its answers into redirects and pages.
package callback

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/i18n"
	"github.com/spapi-auth-keeper/keeper/shared/metrics"
	"github.com/spapi-auth-keeper/keeper/shared/pages"
	"github.com/spapi-auth-keeper/keeper/shared/renewal"
)

// Renewer is the round trip as the handler uses it.
type Renewer interface {
	AppName() string
	StartFromLink(ctx context.Context, token string) (renewal.Start, error)
	StartFromLogin(ctx context.Context, r renewal.LoginRequest) (renewal.Start, error)
	Complete(ctx context.Context, r renewal.CallbackRequest) (renewal.Result, error)
}

// Handler serves the three routes. m may be nil.
func Handler(svc Renewer, log *slog.Logger, m *metrics.Emitter) http.Handler {
	return handlerWith(svc, log, m, pages.Brand{})
}

func handlerWith(svc Renewer, log *slog.Logger, m *metrics.Emitter, brand pages.Brand) http.Handler {
	h := &handler{svc: svc, log: log, metrics: m, brand: brand}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /authorize", withRedirectURI(h.authorize))
	mux.HandleFunc("GET /login", withRedirectURI(h.login))
	mux.HandleFunc("GET /callback", withRedirectURI(h.callback))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("/", h.notFound)
	return strictTransport(mux)
}

// strictTransport adds HSTS to every answer: the pages carry states and renewal
// links, which must never travel over plain HTTP.
func strictTransport(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
		next.ServeHTTP(w, r)
	})
}

type handler struct {
	svc     Renewer
	log     *slog.Logger
	metrics *metrics.Emitter
	brand   pages.Brand // i18n.go: the vendor's look and support contact
}

func (h *handler) authorize(w http.ResponseWriter, r *http.Request) {
	ref := newRef()
	ctx := r.Context()
	start, err := h.svc.StartFromLink(ctx, r.URL.Query().Get("t"))
	if err != nil {
		h.fail(w, r, ref, "authorize", err)
		return
	}
	bindBrowser(w, r, start.Binding)
	redirect(w, start.URL)
}

func (h *handler) login(w http.ResponseWriter, r *http.Request) {
	ref := newRef()
	q := r.URL.Query()
	start, err := h.svc.StartFromLogin(r.Context(), renewal.LoginRequest{
		CallbackURI: q.Get("amazon_callback_uri"), AmazonState: q.Get("amazon_state"), SellingPartnerID: q.Get("selling_partner_id"),
	})
	if err != nil {
		h.fail(w, r, ref, "login", err)
		return
	}
	bindBrowser(w, r, start.Binding)
	redirect(w, start.URL)
}

func (h *handler) callback(w http.ResponseWriter, r *http.Request) {
	ref := newRef()
	q := r.URL.Query()
	res, err := h.svc.Complete(r.Context(), renewal.CallbackRequest{
		State: q.Get("state"), SellingPartnerID: q.Get("selling_partner_id"), Code: q.Get("spapi_oauth_code"),
		Error: q.Get("error"), ErrorDescription: q.Get("error_description"), BrowserBindings: browserBindings(r),
	})
	if err != nil {
		h.fail(w, r, ref, "callback", err)
		return
	}
	h.metrics.Count(metrics.CallbackSucceeded, 1)
	pages.Render(w, h.successPage(res.Authorization, res.Kind, ref, r)) // i18n.go
}

func (h *handler) notFound(w http.ResponseWriter, r *http.Request) {
	status := http.StatusNotFound
	if r.Method != http.MethodGet && (r.URL.Path == "/authorize" || r.URL.Path == "/login" || r.URL.Path == "/callback") {
		status = http.StatusMethodNotAllowed
		w.Header().Set("Allow", http.MethodGet)
	}
	p := pages.Page{Status: status, Tone: pages.ToneError, AppName: h.svc.AppName(), Title: "Page not found",
		Lead: "This address is not part of the renewal pages. Use the link in the email we sent you."}
	h.localize(&p, "notfound", requestLanguage(r), nil)
	pages.Render(w, p)
}

// fail maps a round-trip error to the page, status and metric the seller and the
// vendor should see, and logs the decision with the page's reference id.
func (h *handler) fail(w http.ResponseWriter, r *http.Request, ref, route string, err error) {
	p, reason := h.pageFor(err)
	lang := requestLanguage(r)
	h.localize(&p, reason, lang, err) // i18n.go
	if route == "callback" && reason == "unavailable" {
		// The state was given back (Amazon had not redeemed the code): the same
		// address works again once the service answers.
		retry, _ := i18n.Message(lang, "page.unavailable.retry", nil)
		label, _ := i18n.Message(lang, "page.unavailable.retry_action", nil)
		p.Details = append(p.Details, retry)
		p.ActionURL, p.ActionLabel = r.URL.RequestURI(), label
	}
	p.Reference = ref
	p.AppName = h.svc.AppName()
	level := slog.LevelInfo
	if p.Status >= 500 {
		level = slog.LevelError
	}
	h.log.Log(r.Context(), level, "request rejected", "route", route, "ref", ref, "status", p.Status, "reason", reason, "error", err)
	if route == "callback" {
		h.metrics.Count(metrics.CallbackRejected, 1, metrics.Dim{Name: metrics.DimReason, Value: reason})
	}
	pages.Render(w, p)
}

func (h *handler) pageFor(err error) (pages.Page, string) {
	app := h.svc.AppName()
	var le *renewal.LinkError
	switch {
	case errors.As(err, &le) && errors.Is(err, renewal.ErrLinkExpired):
		p := pages.Page{Status: http.StatusGone, Tone: pages.ToneInfo, Title: "This renewal link has expired",
			Lead:    "For your security, renewal links work for a limited time. You can renew directly in Seller Central:",
			Details: []string{"Or use the link in our most recent email."}}
		central := le.CentralURL
		if central == "" {
			central = "Seller Central"
		}
		p.Steps = pages.ManualRenewalSteps(central, app)
		return p, "link_expired"
	case errors.As(err, &le) && errors.Is(err, renewal.ErrLinkSuperseded):
		p := pages.Page{Status: http.StatusOK, Tone: pages.ToneOK, Title: "Your Amazon connection is already renewed",
			Lead:    "This link was for a renewal that has since been completed. There is nothing else to do.",
			Details: []string{"We will remind you again before the next yearly renewal."}}
		if !le.ExpiresAt.IsZero() {
			p.Lead = "This link was for a renewal that has since been completed: " + app + " can use your Amazon account until " +
				le.ExpiresAt.In(i18n.Location(le.Marketplace)).Format("2 January 2006") + ". There is nothing else to do."
		}
		return p, "link_superseded"
	case errors.Is(err, renewal.ErrBrowserMismatch):
		return pages.Page{Status: http.StatusBadRequest, Tone: pages.ToneError, Title: "Please start again from the link in your email",
			Lead:    "This authorization was started in another browser, so we cannot accept it here. Nothing was changed.",
			Details: []string{"Open the renewal link from our email in this browser and confirm on Amazon's page again. If someone sent you an Amazon authorization link, do not use it."}}, "browser_mismatch"
	case errors.Is(err, renewal.ErrAccountMismatch):
		return pages.Page{Status: http.StatusConflict, Tone: pages.ToneError, Title: "This Amazon account is not the one connected here",
			Lead:    "You signed in to Amazon with a different seller account than the one connected to " + app + ". Nothing was changed and your existing connection keeps working.",
			Details: []string{"Sign out of Seller Central, sign in with the account that uses " + app + ", and open the renewal link from our email again."}}, "account_mismatch"
	case errors.Is(err, renewal.ErrAccountUnverified):
		return pages.Page{Status: http.StatusConflict, Tone: pages.ToneInfo, Title: "Please renew from the link in our email",
			Lead:    "We could not confirm from Amazon which account this renewal is for, so nothing was changed.",
			Details: []string{"Use the renewal link in the most recent email from " + app + ": it confirms the renewal in this browser."}}, "account_unverified"
	case errors.Is(err, renewal.ErrSellerBound):
		return pages.Page{Status: http.StatusConflict, Tone: pages.ToneError, Title: "This Amazon account is already connected",
			Lead:    "The Amazon seller account you signed in with is already connected to another " + app + " account. Nothing was changed.",
			Details: []string{"Sign in to Amazon with the seller account that belongs to this " + app + " account, or contact " + app + " support to move the connection."}}, "seller_bound"
	case errors.Is(err, renewal.ErrParked):
		return pages.Page{Status: http.StatusAccepted, Tone: pages.ToneInfo, Title: "Your renewal is being completed",
			Lead: "Amazon confirmed your authorization and we have kept it safely. We are finishing the renewal in the background; there is nothing else to do."}, "parked"
	case errors.Is(err, renewal.ErrLinkInvalid):
		return pages.Page{Status: http.StatusBadRequest, Tone: pages.ToneError, Title: "This renewal link is not valid",
			Lead: "The link may have been cut short when it was copied. Open it again from the email, or copy the whole address."}, "link_invalid"
	case errors.Is(err, authz.ErrNotFound):
		return pages.Page{Status: http.StatusNotFound, Tone: pages.ToneError, Title: "We could not find this connection",
			Lead: "The Amazon connection this link is for no longer exists on our side. Contact " + app + " support to connect again."}, "unknown_connection"
	case errors.Is(err, renewal.ErrMissingParameter):
		return pages.Page{Status: http.StatusBadRequest, Tone: pages.ToneError, Title: "Something is missing from this address",
			Lead: "The page was opened without the information Amazon or our email adds to it. Start again from the renewal link in our email."}, "missing_parameter"
	case errors.Is(err, renewal.ErrStateExpired):
		return pages.Page{Status: http.StatusBadRequest, Tone: pages.ToneError, Title: "This authorization took too long",
			Lead: "The authorization must be finished within a few minutes of starting it. Nothing was changed. Start again from the renewal link in our email."}, "state_expired"
	case errors.Is(err, renewal.ErrStateReplayed):
		return pages.Page{Status: http.StatusBadRequest, Tone: pages.ToneInfo, Title: "This authorization link was already used",
			Lead: "Each authorization can be completed only once, and this one already was (perhaps in another tab). If you are not sure it worked, start again from the renewal link in our email."}, "state_replayed"
	case errors.Is(err, renewal.ErrStateInvalid):
		return pages.Page{Status: http.StatusBadRequest, Tone: pages.ToneError, Title: "We could not verify this request",
			Lead: "The address was changed or cut short on its way back from Amazon. Nothing was changed. Start again from the renewal link in our email."}, "state_invalid"
	case errors.Is(err, renewal.ErrSellerMismatch):
		return pages.Page{Status: http.StatusConflict, Tone: pages.ToneError, Title: "A different Amazon account answered",
			Lead:    "This renewal is for another Amazon seller account than the one you signed in with. Nothing was changed.",
			Details: []string{"Sign out of Seller Central, sign in with the account that uses " + app + ", and open the renewal link again."}}, "mismatched_seller"
	case errors.Is(err, renewal.ErrDeclined):
		return pages.Page{Status: http.StatusOK, Tone: pages.ToneInfo, Title: "Nothing was changed",
			Lead:    "You did not authorize " + app + " on Amazon's page, so your connection stays as it was.",
			Details: []string{"If this was a mistake, open the renewal link in our email again and choose Confirm."}}, "declined"
	case errors.Is(err, renewal.ErrCodeRejected):
		return pages.Page{Status: http.StatusBadRequest, Tone: pages.ToneError, Title: "The authorization took too long",
			Lead: "Amazon's authorization code expired or was already used. Nothing was changed. Start again from the renewal link in our email."}, "code_rejected"
	case errors.Is(err, renewal.ErrBadCallbackURI):
		return pages.Page{Status: http.StatusBadRequest, Tone: pages.ToneError, Title: "This sign-in request did not come from Amazon",
			Lead: "Start the renewal from Seller Central (Manage Your Apps) or from the link in our email."}, "bad_callback_uri"
	case errors.Is(err, renewal.ErrUnknownSeller):
		return pages.Page{Status: http.StatusNotFound, Tone: pages.ToneInfo, Title: "Connect your Amazon account to " + app + " first",
			Lead:  "We have no connection for this Amazon account yet.",
			Steps: []string{"Sign in to your " + app + " account.", "Open Settings → Amazon accounts and choose Connect.", "Confirm on Amazon's page; you will come back here."}}, "unknown_seller"
	case errors.Is(err, renewal.ErrRecordPending):
		return pages.Page{Status: http.StatusAccepted, Tone: pages.ToneInfo, Title: "Authorization received",
			Lead: "Amazon confirmed your authorization and we stored it safely. Our records will show it within a day; there is nothing else to do."}, "record_pending"
	case errors.Is(err, renewal.ErrVendorCredentials):
		return pages.Page{Status: http.StatusBadGateway, Tone: pages.ToneError, Title: "We could not finish the authorization",
			Lead: "The problem is on our side and our team has been alerted. Nothing was changed; please try again later from the link in our email."}, "client"
	case errors.Is(err, renewal.ErrUnavailable):
		return pages.Page{Status: http.StatusServiceUnavailable, Tone: pages.ToneError, Title: "Please try again in a few minutes",
			Lead: "A service we depend on did not answer. Nothing was changed. Open the renewal link in our email again in a few minutes."}, "unavailable"
	}
	return pages.Page{Status: http.StatusInternalServerError, Tone: pages.ToneError, Title: "Something went wrong",
		Lead: "The problem is on our side and has been logged. Please try again later from the link in our email."}, "internal"
}

// withRedirectURI tells the round trip this deployment's /callback as the request
// reached it; the renewal service prefers a configured REDIRECT_URI.
func withRedirectURI(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		uri := requestScheme(r) + "://" + r.Host + "/callback"
		next(w, r.WithContext(renewal.WithRedirectURI(r.Context(), uri)))
	}
}

func isLoopback(host string) bool {
	h, _, err := net.SplitHostPort(host)
	if err != nil {
		h = host
	}
	ip := net.ParseIP(h)
	return h == "localhost" || (ip != nil && ip.IsLoopback())
}

func redirect(w http.ResponseWriter, to string) {
	h := w.Header()
	h.Set("Location", to)
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(http.StatusFound)
}

// newRef is the reference id a page shows and the log line carries.
func newRef() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return time.Now().UTC().Format("20060102") + "-" + hex.EncodeToString(b)
}

// The browser binding cookie: __Host- (Secure, path /, no Domain) wherever the pages
// are served over HTTPS, as API Gateway always does; a plain name on a loopback HTTP
// address (the local stack), where a browser would refuse a Secure cookie. It holds
// the keyed hashes of the last few states started in this browser, so two tabs can
// each finish their own round trip.
const (
	bindingCookie       = "__Host-keeper-state"
	bindingCookieLocal  = "keeper-state"
	maxBindings         = 4
	bindingCookieMaxAge = 30 * 60 // seconds; longer than STATE_TTL's default
)

func bindBrowser(w http.ResponseWriter, r *http.Request, binding string) {
	if binding == "" {
		return
	}
	values := []string{binding}
	for _, v := range browserBindings(r) {
		if len(values) < maxBindings && v != binding {
			values = append(values, v)
		}
	}
	secure := requestScheme(r) == "https"
	name := bindingCookie
	if !secure {
		name = bindingCookieLocal
	}
	http.SetCookie(w, &http.Cookie{Name: name, Value: strings.Join(values, "."), Path: "/", MaxAge: bindingCookieMaxAge,
		Secure: secure, HttpOnly: true, SameSite: http.SameSiteLaxMode})
}

// browserBindings are the bindings this browser presented (untrusted: each is only
// compared, in constant time, with the one the state's nonce gives). Over HTTPS only
// the __Host- cookie counts: a plain-named cookie can be planted by a sibling
// subdomain or an injected plain-HTTP answer, so it is read only where it is the one
// set, on a loopback HTTP address.
func browserBindings(r *http.Request) []string {
	name := bindingCookie
	if requestScheme(r) == "http" {
		name = bindingCookieLocal
	}
	c, err := r.Cookie(name)
	if err != nil || len(c.Value) > 512 {
		return nil
	}
	return strings.Split(c.Value, ".")
}

// requestScheme is the scheme the browser used: API Gateway serves HTTPS only; a
// plain HTTP request is accepted as such only on a loopback address, whatever a
// forwarded header claims.
func requestScheme(r *http.Request) string {
	if r.TLS == nil && isLoopback(r.Host) && r.Header.Get("X-Forwarded-Proto") != "https" {
		return "http"
	}
	return "https"
}
