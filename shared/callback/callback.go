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
	"time"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/metrics"
	"github.com/spapi-auth-keeper/keeper/shared/pages"
	"github.com/spapi-auth-keeper/keeper/shared/renewal"
)

// Renewer is the round trip as the handler uses it.
type Renewer interface {
	AppName() string
	StartFromLink(ctx context.Context, token string) (string, error)
	StartFromLogin(ctx context.Context, r renewal.LoginRequest) (string, error)
	Complete(ctx context.Context, r renewal.CallbackRequest) (renewal.Result, error)
}

// Handler serves the three routes. m may be nil.
func Handler(svc Renewer, log *slog.Logger, m *metrics.Emitter) http.Handler {
	h := &handler{svc: svc, log: log, metrics: m}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /authorize", withRedirectURI(h.authorize))
	mux.HandleFunc("GET /login", withRedirectURI(h.login))
	mux.HandleFunc("GET /callback", withRedirectURI(h.callback))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("/", h.notFound)
	return mux
}

type handler struct {
	svc     Renewer
	log     *slog.Logger
	metrics *metrics.Emitter
}

func (h *handler) authorize(w http.ResponseWriter, r *http.Request) {
	ref := newRef()
	ctx := r.Context()
	to, err := h.svc.StartFromLink(ctx, r.URL.Query().Get("t"))
	if err != nil {
		h.fail(w, r, ref, "authorize", err)
		return
	}
	redirect(w, to)
}

func (h *handler) login(w http.ResponseWriter, r *http.Request) {
	ref := newRef()
	q := r.URL.Query()
	to, err := h.svc.StartFromLogin(r.Context(), renewal.LoginRequest{
		CallbackURI: q.Get("amazon_callback_uri"), AmazonState: q.Get("amazon_state"), SellingPartnerID: q.Get("selling_partner_id"),
	})
	if err != nil {
		h.fail(w, r, ref, "login", err)
		return
	}
	redirect(w, to)
}

func (h *handler) callback(w http.ResponseWriter, r *http.Request) {
	ref := newRef()
	q := r.URL.Query()
	res, err := h.svc.Complete(r.Context(), renewal.CallbackRequest{
		State: q.Get("state"), SellingPartnerID: q.Get("selling_partner_id"), Code: q.Get("spapi_oauth_code"),
		Error: q.Get("error"), ErrorDescription: q.Get("error_description"),
	})
	if err != nil {
		h.fail(w, r, ref, "callback", err)
		return
	}
	h.metrics.Count("CallbackSucceeded", 1)
	until := res.Authorization.ExpiresAt.Format("2 January 2006")
	title := "Your Amazon connection is renewed"
	if res.Kind == authz.EventAuthorized {
		title = "Your Amazon account is connected"
	}
	pages.Render(w, pages.Page{
		Tone: pages.ToneOK, AppName: h.svc.AppName(), Title: title,
		Lead: h.svc.AppName() + " can use your Amazon account (" + res.Authorization.SellingPartnerID + ") until " + until + ".",
		Details: []string{
			"Nothing else is needed: orders, inventory and prices keep flowing.",
			"We will remind you before " + until + ", when Amazon asks for the yearly renewal again. You can close this page.",
		},
		Reference: ref,
	})
}

func (h *handler) notFound(w http.ResponseWriter, r *http.Request) {
	status := http.StatusNotFound
	if r.Method != http.MethodGet && (r.URL.Path == "/authorize" || r.URL.Path == "/login" || r.URL.Path == "/callback") {
		status = http.StatusMethodNotAllowed
		w.Header().Set("Allow", http.MethodGet)
	}
	pages.Render(w, pages.Page{Status: status, Tone: pages.ToneError, AppName: h.svc.AppName(), Title: "Page not found",
		Lead: "This address is not part of the renewal pages. Use the link in the email we sent you."})
}

// fail maps a round-trip error to the page, status and metric the seller and the
// vendor should see, and logs the decision with the page's reference id.
func (h *handler) fail(w http.ResponseWriter, r *http.Request, ref, route string, err error) {
	p, reason := h.pageFor(err)
	p.Reference = ref
	p.AppName = h.svc.AppName()
	level := slog.LevelInfo
	if p.Status >= 500 {
		level = slog.LevelError
	}
	h.log.Log(r.Context(), level, "request rejected", "route", route, "ref", ref, "status", p.Status, "reason", reason, "error", err)
	if route == "callback" {
		h.metrics.Count("CallbackRejected", 1, metrics.Dim{Name: "Reason", Value: reason})
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
		scheme := "https" // API Gateway serves HTTPS only
		if p := r.Header.Get("X-Forwarded-Proto"); p == "http" || p == "https" {
			scheme = p
		} else if r.TLS == nil && r.Header.Get("X-Forwarded-Proto") == "" && isLoopback(r.Host) {
			scheme = "http"
		}
		uri := scheme + "://" + r.Host + "/callback"
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
