package amazonsim

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// tokenAnswer is the JSON body of a successful LWA token response.
type tokenAnswer struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token,omitempty"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
}

// tokenError is an LWA error answer, RFC 6749 section 5.2.
type tokenError struct {
	status      int
	Code        string `json:"error"`
	Description string `json:"error_description"`
}

func grantErr(status int, code, desc string) *tokenError {
	return &tokenError{status: status, Code: code, Description: desc}
}

// Scopes LWA grants to the client_credentials grant (grantless operations).
var grantlessScopes = map[string]bool{
	"sellingpartnerapi::notifications":              true,
	"sellingpartnerapi::client_credential:rotation": true,
	"sellingpartnerapi::migration":                  true,
}

// token serves POST /auth/o2/token, the LWA token endpoint.
func (s *Sim) token(w http.ResponseWriter, r *http.Request) {
	grant := ""
	if r.Method == http.MethodPost {
		// Parse only a form body; the grant type picks the counter and the fault queue.
		if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct == "application/x-www-form-urlencoded" {
			if err := r.ParseForm(); err == nil {
				grant = r.PostForm.Get("grant_type")
			}
		}
	}

	s.mu.Lock()
	s.counters.tokenRequests++
	switch grant {
	case GrantAuthorizationCode:
		s.counters.exchanges++
	case GrantRefreshToken:
		s.counters.refreshes++
	case GrantClientCredentials:
		s.counters.clientCredentials++
	}
	latency := s.latency
	s.mu.Unlock()

	sleep(r.Context(), latency)

	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeTokenError(w, grantErr(http.StatusMethodNotAllowed, "invalid_request", "The token endpoint accepts POST only."))
		return
	}

	if f, ok := s.nextFault(grant); ok {
		s.log.Info("lwa fault injected", "grant", grant, "fault", f.Kind)
		sleep(r.Context(), f.Delay)
		if f.Status != 0 {
			writeFault(w, f)
			return
		}
		// A delay-only fault (Timeout) goes on to do the work, whether or not the
		// client is still there to read the answer.
	}

	ans, terr := s.grant(r, grant)
	if terr != nil {
		s.log.Info("lwa token refused", "grant", grant, "status", terr.status, "error", terr.Code)
		writeTokenError(w, terr)
		return
	}
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	_ = json.NewEncoder(w).Encode(ans)
}

func (s *Sim) grant(r *http.Request, grant string) (tokenAnswer, *tokenError) {
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "application/x-www-form-urlencoded" {
		return tokenAnswer{}, grantErr(400, "invalid_request", "The request body must be application/x-www-form-urlencoded.")
	}
	form := r.PostForm
	if grant == "" {
		return tokenAnswer{}, grantErr(400, "invalid_request", "The request is missing the grant_type parameter.")
	}
	if grant != GrantAuthorizationCode && grant != GrantRefreshToken && grant != GrantClientCredentials {
		return tokenAnswer{}, grantErr(400, "unsupported_grant_type", "The grant type is not supported by the authorization server.")
	}
	clientID, clientSecret := form.Get("client_id"), form.Get("client_secret")
	if clientID == "" || clientSecret == "" {
		return tokenAnswer{}, grantErr(400, "invalid_request", "The request is missing client_id or client_secret.")
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if subtle.ConstantTimeCompare([]byte(clientID), []byte(s.cfg.ClientID)) != 1 || !s.clientSecretValidLocked(clientSecret) {
		return tokenAnswer{}, grantErr(401, "invalid_client", "Client authentication failed.")
	}
	switch grant {
	case GrantAuthorizationCode:
		return s.exchangeLocked(form.Get("code"), form.Get("redirect_uri"), clientID)
	case GrantRefreshToken:
		return s.refreshLocked(form.Get("refresh_token"), clientID)
	default:
		return s.clientCredentialsLocked(form.Get("scope"))
	}
}

func (s *Sim) exchangeLocked(code, redirectURI, clientID string) (tokenAnswer, *tokenError) {
	if code == "" || redirectURI == "" {
		return tokenAnswer{}, grantErr(400, "invalid_request", "The request is missing the code or redirect_uri parameter.")
	}
	g, ok := s.codes[code]
	now := s.clock()
	switch {
	case !ok:
		return tokenAnswer{}, grantErr(400, "invalid_grant", "The authorization code is invalid.")
	case g.used:
		// spapi_oauth_code is single use.
		return tokenAnswer{}, grantErr(400, "invalid_grant", "The authorization code has already been used.")
	case now.Sub(g.issuedAt) > CodeLifetime:
		// spapi_oauth_code expires five minutes after Amazon issued it.
		return tokenAnswer{}, grantErr(400, "invalid_grant", "The authorization code has expired.")
	case g.clientID != clientID || g.appID != s.cfg.AppID:
		return tokenAnswer{}, grantErr(400, "invalid_grant", "The authorization code was issued to another client.")
	case g.redirectURI != redirectURI:
		// RFC 6749 section 4.1.3: redirect_uri must be identical to the one the code was issued for.
		return tokenAnswer{}, grantErr(400, "invalid_grant", "The redirect_uri does not match the one the authorization code was issued for.")
	}
	g.used = true
	refresh := s.authorizeLocked(g.sellerID)
	s.log.Info("lwa code exchanged", "selling_partner_id", g.sellerID)
	return s.accessLocked(g.sellerID, "", refresh), nil
}

func (s *Sim) refreshLocked(token, clientID string) (tokenAnswer, *tokenError) {
	if token == "" {
		return tokenAnswer{}, grantErr(400, "invalid_request", "The request is missing the refresh_token parameter.")
	}
	g, ok := s.refreshTokens[token]
	switch {
	case !ok:
		return tokenAnswer{}, grantErr(400, "invalid_grant", "The refresh token is invalid.")
	case g.clientID != clientID:
		return tokenAnswer{}, grantErr(400, "invalid_grant", "The refresh token was issued to another client.")
	case g.revoked:
		return tokenAnswer{}, grantErr(400, "invalid_grant", "The refresh token has been revoked by the selling partner.")
	}
	if a := s.sellers[g.sellerID]; a == nil || a.expired || !s.clock().Before(a.authorizedAt.Add(AuthorizationLifetime)) {
		// Amazon deactivates the refresh token when the seller's 365-day authorization
		// lapses; renewing the authorization reactivates it.
		return tokenAnswer{}, grantErr(400, "invalid_grant", "The selling partner's authorization has expired; the selling partner must renew it.")
	}
	s.log.Info("lwa token refreshed", "selling_partner_id", g.sellerID)
	// LWA echoes the refresh token it was given.
	return s.accessLocked(g.sellerID, "", token), nil
}

func (s *Sim) clientCredentialsLocked(scope string) (tokenAnswer, *tokenError) {
	if scope == "" {
		return tokenAnswer{}, grantErr(400, "invalid_request", "The request is missing the scope parameter.")
	}
	for sc := range strings.FieldsSeq(scope) {
		if !grantlessScopes[sc] {
			return tokenAnswer{}, grantErr(400, "invalid_scope", "The requested scope is invalid or unknown.")
		}
	}
	s.log.Info("lwa client credentials granted", "scope", scope)
	return s.accessLocked("", scope, ""), nil
}

// accessLocked issues an access token valid for an hour.
func (s *Sim) accessLocked(sellerID, scope, refresh string) tokenAnswer {
	now := s.clock()
	s.issued++
	if s.issued >= 1000 {
		// A long-running local stack refreshes for days: drop the expired tokens.
		s.issued = 0
		for t, g := range s.accessTokens {
			if !now.Before(g.expiresAt) {
				delete(s.accessTokens, t)
			}
		}
	}
	token := "Atza|" + rand.Text() + rand.Text()
	s.accessTokens[token] = accessGrant{sellerID: sellerID, scope: scope, expiresAt: now.Add(AccessTokenLifetime)}
	return tokenAnswer{
		AccessToken:  token,
		RefreshToken: refresh,
		TokenType:    "bearer",
		ExpiresIn:    int(AccessTokenLifetime / time.Second),
	}
}

func writeTokenError(w http.ResponseWriter, e *tokenError) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(e.status)
	_ = json.NewEncoder(w).Encode(e)
}

func writeFault(w http.ResponseWriter, f Fault) {
	if f.RetryAfter > 0 {
		secs := int((f.RetryAfter + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
	}
	if f.Body != "" {
		w.Header().Set("Content-Type", "application/json;charset=UTF-8")
		w.WriteHeader(f.Status)
		_, _ = w.Write([]byte(f.Body))
		return
	}
	if f.Code == "" {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(f.Status)
		_, _ = w.Write([]byte(http.StatusText(f.Status) + "\n"))
		return
	}
	writeTokenError(w, grantErr(f.Status, f.Code, f.Description))
}
