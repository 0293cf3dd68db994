package amazonsim

import (
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
)

// RDTPath is the SP-API Tokens API operation createRestrictedDataToken.
const RDTPath = "/tokens/2021-03-01/restrictedDataToken"

// RDTLifetime is the expiresIn of a Restricted Data Token (Amazon: one hour).
const RDTLifetime = 3600

// rdtIssued counts the RDTs issued (tests).
var rdtIssued atomic.Int64

// RDTsIssued is how many Restricted Data Tokens the simulators of this process issued.
func RDTsIssued() int64 { return rdtIssued.Load() }

// tokensRoutes registers the Tokens API.
func (s *Sim) tokensRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST "+RDTPath, s.createRDT)
}

// createRDT serves createRestrictedDataToken: the caller's x-amz-access-token must be
// a seller's unexpired access token; the body lists restrictedResources, each with a
// method, a path starting with /, and for some paths dataElements. Amazon answers
// {restrictedDataToken, expiresIn}; errors are SP-API's {errors: [{code, message}]}.
func (s *Sim) createRDT(w http.ResponseWriter, r *http.Request) {
	if f, ok := s.takeFault(RDTPath); ok {
		writeSPError(w, f.Status, spCode(f.Status), "injected fault")
		return
	}
	seller, ok := s.AccessTokenSeller(r.Header.Get("x-amz-access-token"))
	if !ok || seller == "" {
		writeSPError(w, http.StatusForbidden, "Unauthorized", "Access to requested resource is denied.")
		return
	}
	var in struct {
		TargetApplication   string `json:"targetApplication"`
		RestrictedResources []struct {
			Method       string   `json:"method"`
			Path         string   `json:"path"`
			DataElements []string `json:"dataElements"`
		} `json:"restrictedResources"`
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil || json.Unmarshal(body, &in) != nil || len(in.RestrictedResources) == 0 {
		writeSPError(w, http.StatusBadRequest, "InvalidInput", "restrictedResources is required")
		return
	}
	for _, rr := range in.RestrictedResources {
		switch rr.Method {
		case "GET", "PUT", "POST", "DELETE":
		default:
			writeSPError(w, http.StatusBadRequest, "InvalidInput", "Invalid method: "+rr.Method)
			return
		}
		if !strings.HasPrefix(rr.Path, "/") {
			writeSPError(w, http.StatusBadRequest, "InvalidInput", "Invalid path: "+rr.Path)
			return
		}
	}
	rdtIssued.Add(1)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("x-amzn-RequestId", requestID())
	_ = json.NewEncoder(w).Encode(map[string]any{"restrictedDataToken": "Atz.sprdt|" + rand.Text() + rand.Text(), "expiresIn": RDTLifetime})
}
