package tokenservice

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/spapi-auth-keeper/keeper/shared/metrics"
)

// rdtPath is SP-API's Tokens API operation createRestrictedDataToken.
const rdtPath = "/tokens/2021-03-01/restrictedDataToken"

// restrictedToken serves POST /tokens/restricted: it mints the seller's access token,
// then asks SP-API for a Restricted Data Token for the request's restrictedResources
// (and targetApplication), passed through as Amazon defines them.
func (s *Service) restrictedToken(w http.ResponseWriter, r *http.Request) {
	req, region, grant, ok := s.decode(w, r)
	if !ok {
		return
	}
	var resources []struct {
		Method       string   `json:"method"`
		Path         string   `json:"path"`
		DataElements []string `json:"dataElements,omitempty"`
	}
	if err := json.Unmarshal(req.RestrictedResources, &resources); err != nil || len(resources) == 0 {
		writeError(w, http.StatusBadRequest, "malformed_request", `restrictedResources must be a non-empty list of {"method", "path", "dataElements"}`, nil)
		return
	}
	a, tok, _, ok := s.mint(w, r, req.ConnectionID, region, grant)
	if !ok {
		return
	}
	body, _ := json.Marshal(map[string]any{"restrictedResources": resources, "targetApplication": req.TargetApplication})
	if req.TargetApplication == "" {
		body, _ = json.Marshal(map[string]any{"restrictedResources": resources})
	}
	call, err := http.NewRequestWithContext(r.Context(), http.MethodPost, s.endpoint(region)+rdtPath, bytes.NewReader(body))
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal", "could not build the SP-API request", nil)
		return
	}
	call.Header.Set("Content-Type", "application/json")
	call.Header.Set("x-amz-access-token", tok.Reveal())
	call.Header.Set("User-Agent", "spapi-keeper/1 (Language=Go)")
	resp, err := s.http.Do(call)
	if err != nil {
		s.logger(r.Context()).WarnContext(r.Context(), "restricted data token: SP-API unreachable", "connectionId", a.ConnectionID, "region", region, "error", err)
		s.unavailable(w, 5, "SP-API is unreachable; try again")
		return
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	switch {
	case resp.StatusCode == http.StatusOK:
		var rdt struct {
			Token     string `json:"restrictedDataToken"`
			ExpiresIn int    `json:"expiresIn"`
		}
		if err := json.Unmarshal(out, &rdt); err != nil || rdt.Token == "" {
			s.unavailable(w, 5, "SP-API answered without a restricted data token")
			return
		}
		s.metrics.Count(metrics.RestrictedTokenServed, 1)
		s.logger(r.Context()).InfoContext(r.Context(), "restricted data token served", "connectionId", a.ConnectionID, "region", region, "resources", len(resources))
		writeJSON(w, http.StatusOK, Answer{RestrictedDataToken: rdt.Token, ExpiresAt: s.clock.Now().Add(time.Duration(rdt.ExpiresIn) * time.Second).UTC().Format(time.RFC3339),
			SellingPartnerID: a.SellingPartnerID, Region: string(region), Endpoint: s.endpoint(region)})
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		s.unavailable(w, 5, fmt.Sprintf("SP-API answered %d; try again", resp.StatusCode))
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		// The cached access token may be stale (a revocation): mint a fresh one next time.
		s.tokens.Forget(a.ConnectionID, region)
		writeSPAPIError(w, resp.StatusCode, out)
	default:
		writeSPAPIError(w, resp.StatusCode, out)
	}
}

// writeSPAPIError passes SP-API's refusal (its {errors: [...]} body) to the caller:
// the request's resources are the caller's, and so is fixing them.
func writeSPAPIError(w http.ResponseWriter, status int, body []byte) {
	var sp struct {
		Errors []struct{ Code, Message string } `json:"errors"`
	}
	msg := "SP-API refused the request"
	if json.Unmarshal(body, &sp) == nil && len(sp.Errors) > 0 {
		msg = sp.Errors[0].Code + ": " + sp.Errors[0].Message
	}
	writeError(w, status, "spapi_refused", msg, nil)
}
