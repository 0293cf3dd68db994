package amazonsim

import (
	"crypto/rand"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// consentRequest is what the consent page carries to /apps/authorize/confirm.
type consentRequest struct {
	state       string
	redirectURI string
	version     string
	sellerID    string // preselected account; empty: the first configured seller
}

// checkApp validates what every step of the authorization workflow carries: the
// application id, the draft marker and the redirect URI. It returns the redirect URI
// to use, or a message for the error page.
func (s *Sim) checkApp(appID, version, redirectURI string) (string, string) {
	if appID == "" || appID != s.cfg.AppID {
		return "", "The application you are trying to authorize was not found. Check the application_id in the link."
	}
	// A draft application is authorized only through links that carry version=beta.
	if s.cfg.Draft && version != "beta" {
		return "", "This application is in draft status and can only be authorized with version=beta."
	}
	if len(s.cfg.RedirectURIs) == 0 {
		return "", "This application has no OAuth redirect URI registered."
	}
	// Without redirect_uri Amazon uses the first registered URI; with it, the URI must
	// be one of those registered for the application.
	if redirectURI == "" {
		return s.cfg.RedirectURIs[0], ""
	}
	if !slices.Contains(s.cfg.RedirectURIs, redirectURI) {
		return "", "The redirect_uri is not one of the redirect URIs registered for this application."
	}
	return redirectURI, ""
}

// consent serves GET /apps/authorize/consent, the page an Authorize button links to.
func (s *Sim) consent(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	redirectURI, problem := s.checkApp(q.Get("application_id"), q.Get("version"), q.Get("redirect_uri"))
	if problem != "" {
		s.errorPage(w, http.StatusBadRequest, problem)
		return
	}
	if q.Get("state") == "" {
		s.errorPage(w, http.StatusBadRequest, "The authorization link has no state parameter.")
		return
	}
	// signed_in_as is the simulator's own: a test (or a person) picks the account
	// without a session of its own. Amazon's consent URL has no such parameter.
	s.renderConsent(w, r, consentRequest{state: q.Get("state"), redirectURI: redirectURI, version: q.Get("version"),
		sellerID: q.Get("signed_in_as")})
}

// confirm serves POST /apps/authorize/confirm, the consent page's Confirm and Cancel.
func (s *Sim) confirm(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.errorPage(w, http.StatusBadRequest, "The form could not be read.")
		return
	}
	f := r.PostForm
	redirectURI, problem := s.checkApp(f.Get("application_id"), f.Get("version"), f.Get("redirect_uri"))
	if problem != "" {
		s.errorPage(w, http.StatusBadRequest, problem)
		return
	}
	state, sellerID := f.Get("state"), f.Get("selling_partner_id")
	if state == "" {
		s.errorPage(w, http.StatusBadRequest, "The authorization request has no state parameter.")
		return
	}
	if _, ok := s.seller(sellerID); !ok {
		s.errorPage(w, http.StatusBadRequest, "Choose an account you are signed in to.")
		return
	}
	target, err := url.Parse(redirectURI)
	if err != nil {
		s.errorPage(w, http.StatusBadRequest, "The registered redirect URI is not a valid URL.")
		return
	}
	v := target.Query()
	v.Set("state", state)
	switch f.Get("action") {
	case "confirm":
		s.mu.Lock()
		code := s.issueCodeLocked(sellerID, redirectURI)
		s.mu.Unlock()
		v.Set("selling_partner_id", sellerID)
		v.Set("spapi_oauth_code", code)
		if s.cfg.Hybrid {
			// Only hybrid applications (SP-API and Amazon MWS) receive mws_auth_token.
			v.Set("mws_auth_token", mwsAuthToken())
		}
		s.log.Info("consent confirmed", "selling_partner_id", sellerID)
	case "cancel":
		// Real Seller Central may leave a declining seller on its own page and never
		// redirect at all; the simulator redirects with an OAuth error so the
		// application's handling of a refusal can be exercised too.
		v.Set("error", "access_denied")
		v.Set("error_description", "The selling partner declined to authorize the application.")
		s.log.Info("consent declined", "selling_partner_id", sellerID)
	default:
		s.errorPage(w, http.StatusBadRequest, "Choose Confirm or Cancel.")
		return
	}
	target.RawQuery = v.Encode()
	http.Redirect(w, r, target.String(), http.StatusFound)
}

// renew serves GET /apps/manage/renew?selling_partner_id=X: Manage Your Apps → Renew
// (and an Appstore "Authorize now") first sends the seller to the app's Login URI.
func (s *Sim) renew(w http.ResponseWriter, r *http.Request) {
	sellerID := r.URL.Query().Get("selling_partner_id")
	if _, ok := s.seller(sellerID); !ok {
		s.errorPage(w, http.StatusBadRequest, "Sign in to a known selling account to renew this application.")
		return
	}
	if s.cfg.LoginURI == "" {
		s.errorPage(w, http.StatusBadRequest, "This application has no OAuth Login URI registered.")
		return
	}
	login, err := url.Parse(s.cfg.LoginURI)
	if err != nil {
		s.errorPage(w, http.StatusBadRequest, "The registered Login URI is not a valid URL.")
		return
	}
	amzState := rand.Text()
	s.mu.Lock()
	s.amazonStates[amzState] = amazonState{sellerID: sellerID, issuedAt: s.clock()}
	s.mu.Unlock()

	v := login.Query()
	// Amazon's amazon_callback_uri is its consent confirmation path for the app.
	v.Set("amazon_callback_uri", s.baseURL(r)+"/apps/authorize/confirm/"+url.PathEscape(s.cfg.AppID))
	v.Set("amazon_state", amzState)
	v.Set("selling_partner_id", sellerID)
	if s.cfg.Draft {
		v.Set("version", "beta")
	}
	login.RawQuery = v.Encode()
	s.log.Info("renewal sent to login uri", "selling_partner_id", sellerID)
	http.Redirect(w, r, login.String(), http.StatusFound)
}

// loginCallback serves GET /apps/authorize/confirm/{application id}, the
// amazon_callback_uri the app's Login URI redirects to with redirect_uri, amazon_state
// and state (and the older /apps/authorize/login-callback, for the app configured).
func (s *Sim) loginCallback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	app := r.PathValue("app")
	if app == "" {
		app = s.cfg.AppID
	}
	redirectURI, problem := s.checkApp(app, q.Get("version"), q.Get("redirect_uri"))
	if problem != "" {
		s.errorPage(w, http.StatusBadRequest, problem)
		return
	}
	amzState := q.Get("amazon_state")
	s.mu.Lock()
	issued, ok := s.amazonStates[amzState]
	if ok {
		// amazon_state guards the round trip through the Login URI: one use only.
		delete(s.amazonStates, amzState)
	}
	now := s.clock()
	s.mu.Unlock()
	if !ok || now.Sub(issued.issuedAt) > AmazonStateLifetime {
		s.errorPage(w, http.StatusBadRequest, "This authorization request is no longer valid (unknown or expired amazon_state). Start again from Seller Central.")
		return
	}
	if q.Get("state") == "" {
		s.errorPage(w, http.StatusBadRequest, "The application did not return a state parameter.")
		return
	}
	s.renderConsent(w, r, consentRequest{
		state:       q.Get("state"),
		redirectURI: redirectURI,
		version:     q.Get("version"),
		sellerID:    issued.sellerID,
	})
}

// manage serves GET /apps/manage, a small Manage Your Apps page for a person.
func (s *Sim) manage(w http.ResponseWriter, r *http.Request) {
	rows := s.ManageRows() // manage.go
	s.render(w, http.StatusOK, "manage", map[string]any{
		"AppName":  s.cfg.AppName,
		"AppID":    s.cfg.AppID,
		"HasLogin": s.cfg.LoginURI != "",
		"Sellers":  rows,
		"SignedIn": s.signedInFor(r),
	})
}

// renderConsent shows the consent page with the account the person is signed in to
// preselected: the one the Login URI flow started with (or signed_in_as), else the
// browser's session (SignedInCookie), else SetSignedIn's, else the first.
func (s *Sim) renderConsent(w http.ResponseWriter, r *http.Request, c consentRequest) {
	sellers := s.Sellers()
	if len(sellers) == 0 {
		s.errorPage(w, http.StatusBadRequest, "No selling account is signed in.")
		return
	}
	type option struct {
		ID, Label string
		Selected  bool
	}
	chosen := s.signedInFor(r)
	if _, ok := s.seller(c.sellerID); ok {
		chosen = c.sellerID
	}
	var opts []option
	for _, sl := range sellers {
		label := sl.Name + " (" + sl.ID + ")"
		if sl.Email != "" {
			label += " · " + sl.Email
		}
		opts = append(opts, option{ID: sl.ID, Label: label, Selected: sl.ID == chosen})
	}
	s.render(w, http.StatusOK, "consent", map[string]any{
		"AppName":     s.cfg.AppName,
		"AppID":       s.cfg.AppID,
		"Draft":       s.cfg.Draft,
		"Roles":       s.cfg.Roles,
		"Sellers":     opts,
		"State":       c.state,
		"RedirectURI": c.redirectURI,
		"Version":     c.version,
	})
}

func (s *Sim) errorPage(w http.ResponseWriter, status int, msg string) {
	s.log.Info("seller central error page", "status", status, "reason", msg)
	s.render(w, status, "error", map[string]any{"Message": msg})
}

func (s *Sim) render(w http.ResponseWriter, status int, name string, data any) {
	var b strings.Builder
	if err := pages.ExecuteTemplate(&b, name, data); err != nil {
		s.log.Error("render page", "page", name, "err", err)
		http.Error(w, "page could not be rendered", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(b.String()))
}

func (s *Sim) seller(id string) (Seller, bool) {
	if id == "" {
		return Seller{}, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sl := range s.accounts {
		if sl.ID == id {
			return sl, true
		}
	}
	return Seller{}, false
}

func (s *Sim) baseURL(r *http.Request) string {
	if s.cfg.PublicURL != "" {
		return strings.TrimRight(s.cfg.PublicURL, "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// mwsAuthToken looks like Amazon's: amzn.mws. followed by a UUID.
func mwsAuthToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("amzn.mws.%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

var pages = template.Must(template.New("pages").Parse(`
{{define "head"}}<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{.}} - Seller Central (simulated)</title>
<style>
body{font-family:Arial,sans-serif;margin:0;background:#f3f3f3;color:#111}
header{background:#232f3e;color:#fff;padding:12px 24px;font-weight:bold}
main{max-width:640px;margin:24px auto;background:#fff;padding:24px;border:1px solid #ddd;border-radius:4px}
.btn{padding:8px 20px;border-radius:3px;border:1px solid #a88734;background:#f0c14b;cursor:pointer}
.btn.secondary{background:#eee;border-color:#999}
.error{border-left:4px solid #c40000;padding-left:12px}
.note{color:#565959;font-size:90%}
</style></head><body><header>amazon seller central <span class="note">(simulator)</span></header><main>{{end}}
{{define "foot"}}</main></body></html>{{end}}

{{define "error"}}{{template "head" "Error"}}
<div class="error"><h1>We're sorry</h1><p id="message">{{.Message}}</p></div>
{{template "foot"}}{{end}}

{{define "consent"}}{{template "head" "Authorize application"}}
<h1>Authorize {{.AppName}}</h1>
{{if .Draft}}<p class="note">This application is in draft status (version=beta).</p>{{end}}
<form method="post" action="/apps/authorize/confirm">
<p><label for="selling_partner_id">Signed in as</label>
<select id="selling_partner_id" name="selling_partner_id">
{{range .Sellers}}<option value="{{.ID}}"{{if .Selected}} selected{{end}}>{{.Label}}</option>
{{end}}</select></p>
<p><strong>{{.AppName}}</strong> ({{.AppID}}) will be able to access the following data in your account:</p>
<ul>{{range .Roles}}<li>{{.}}</li>{{end}}</ul>
<p class="note">You can remove this authorization at any time in Manage Your Apps. The authorization lasts 365 days unless renewed.</p>
<input type="hidden" name="application_id" value="{{.AppID}}">
<input type="hidden" name="state" value="{{.State}}">
<input type="hidden" name="redirect_uri" value="{{.RedirectURI}}">
<input type="hidden" name="version" value="{{.Version}}">
<button class="btn" type="submit" name="action" value="confirm">Confirm</button>
<button class="btn secondary" type="submit" name="action" value="cancel">Cancel</button>
</form>
{{template "foot"}}{{end}}

{{define "manage"}}{{template "head" "Manage Your Apps"}}
<h1>Manage Your Apps</h1>
<p>{{.AppName}} ({{.AppID}})</p>
<p class="note" id="signed-in">Signed in as {{.SignedIn}}</p>
<table><tr><th>Account</th><th>Authorization</th><th>Expires</th><th></th><th></th></tr>
{{range .Sellers}}<tr id="seller-{{.ID}}" data-state="{{.State}}" data-expires="{{.Expires}}"><td>{{.Name}} ({{.ID}})</td><td class="state">{{.State}}</td>
<td class="expires">{{if .Expires}}{{if eq .State "expired"}}expired on {{else}}on {{end}}{{.Expires}} <span class="note">({{.Zone}})</span>{{end}}</td>
<td>{{if $.HasLogin}}<a class="action" href="/apps/manage/renew?selling_partner_id={{.ID}}">{{.Action}}</a>{{end}}</td>
<td>{{if ne .ID $.SignedIn}}<a href="/apps/sign-in?selling_partner_id={{.ID}}">Sign in as this account</a>{{end}}</td></tr>
{{end}}</table>
{{template "foot"}}{{end}}
`))
