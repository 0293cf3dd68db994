package amazonsim

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"
)

// The admin API under /_sim/ drives the simulator from the local stack's CLI or by
// hand with curl: JSON in, JSON out. It is the Go API over HTTP; it exists only in the
// simulator. Seeding answers carry a code or refresh token on purpose (the caller
// stores it like the real callback would); nothing here is logged.
func (s *Sim) adminRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /_sim/state", s.adminState)
	mux.HandleFunc("POST /_sim/code", s.adminCode)
	mux.HandleFunc("POST /_sim/refresh-token", s.adminRefreshToken)
	mux.HandleFunc("POST /_sim/revoke", s.adminRevoke)
	mux.HandleFunc("POST /_sim/expire", s.adminExpire)
	mux.HandleFunc("POST /_sim/fault", s.adminFault)
	mux.HandleFunc("POST /_sim/latency", s.adminLatency)
	mux.HandleFunc("POST /_sim/client-secrets", s.adminClientSecrets)
}

// SellerState is one seller's authorization as GET /_sim/state shows it.
type SellerState struct {
	ID            string    `json:"sellingPartnerId"`
	Name          string    `json:"name,omitempty"`
	Email         string    `json:"email,omitempty"`
	AuthorizedAt  time.Time `json:"authorizedAt,omitzero"`
	ExpiresAt     time.Time `json:"expiresAt,omitzero"`
	Expired       bool      `json:"expired"`
	RefreshTokens int       `json:"refreshTokens"`
	RevokedTokens int       `json:"revokedTokens"`

	// The account as the Sellers API answers for it (accounts.go).
	StoreName      string   `json:"storeName,omitempty"`
	MarketplaceIDs []string `json:"marketplaceIds,omitempty"`
	AccountType    string   `json:"accountType,omitempty"`
}

// State is the answer of GET /_sim/state: configuration (never the client secret),
// sellers and counters.
type State struct {
	AppID                   string        `json:"appId"`
	AppName                 string        `json:"appName"`
	Draft                   bool          `json:"draft"`
	Hybrid                  bool          `json:"hybrid"`
	RedirectURIs            []string      `json:"redirectUris"`
	ClientID                string        `json:"clientId"`
	LoginURI                string        `json:"loginUri,omitempty"`
	Sellers                 []SellerState `json:"sellers"`
	TokenRequests           int           `json:"tokenRequests"`
	Exchanges               int           `json:"exchanges"`
	Refreshes               int           `json:"refreshes"`
	ClientCredentialsGrants int           `json:"clientCredentialsGrants"`
	PendingFaults           int           `json:"pendingFaults"`
	Latency                 string        `json:"latency"`

	SignedIn     string `json:"signedIn,omitempty"` // SetSignedIn's account; empty: the first
	SellersCalls int    `json:"sellersCalls"`       // getMarketplaceParticipations requests
	FeesCalls    int    `json:"feesCalls"`          // getMyFeesEstimateForASIN requests
}

// Snapshot returns what GET /_sim/state shows.
func (s *Sim) Snapshot() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock()
	st := State{
		AppID: s.cfg.AppID, AppName: s.cfg.AppName, Draft: s.cfg.Draft, Hybrid: s.cfg.Hybrid,
		RedirectURIs: slices.Clone(s.cfg.RedirectURIs), ClientID: s.cfg.ClientID, LoginURI: s.cfg.LoginURI,
		TokenRequests: s.counters.tokenRequests, Exchanges: s.counters.exchanges,
		Refreshes: s.counters.refreshes, ClientCredentialsGrants: s.counters.clientCredentials,
		Latency:  s.latency.String(),
		SignedIn: s.signedIn, SellersCalls: s.spapi.sellersCalls, FeesCalls: s.spapi.feesCalls,
	}
	for _, q := range s.faults {
		st.PendingFaults += len(q)
	}
	byID := map[string]*SellerState{}
	get := func(id string) *SellerState {
		if p, ok := byID[id]; ok {
			return p
		}
		p := &SellerState{ID: id}
		byID[id] = p
		return p
	}
	for _, sl := range s.accounts {
		p := get(sl.ID)
		p.Name, p.Email = sl.Name, sl.Email
		a := sl.resolve()
		p.StoreName, p.AccountType = a.storeName, AccountSeller
		if a.vendor {
			p.AccountType = AccountVendor
		}
		for _, m := range a.participating {
			p.MarketplaceIDs = append(p.MarketplaceIDs, m.ID)
		}
	}
	for id, a := range s.sellers {
		p := get(id)
		p.AuthorizedAt = a.authorizedAt.UTC()
		p.ExpiresAt = a.authorizedAt.Add(AuthorizationLifetime).UTC()
		p.Expired = a.expired || !now.Before(p.ExpiresAt)
	}
	for _, g := range s.refreshTokens {
		p := get(g.sellerID)
		p.RefreshTokens++
		if g.revoked {
			p.RevokedTokens++
		}
	}
	for _, p := range byID {
		st.Sellers = append(st.Sellers, *p)
	}
	slices.SortFunc(st.Sellers, func(a, b SellerState) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	return st
}

func (s *Sim) adminState(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.Snapshot())
}

type sellerBody struct {
	SellerID     string    `json:"sellingPartnerId"`
	RedirectURI  string    `json:"redirectUri"`
	RefreshToken string    `json:"refreshToken"`
	AuthorizedAt time.Time `json:"authorizedAt,omitzero"` // POST /_sim/refresh-token: when the seller consented; default now
}

func (s *Sim) adminCode(w http.ResponseWriter, r *http.Request) {
	var b sellerBody
	if !readJSON(w, r, &b) {
		return
	}
	if b.SellerID == "" {
		adminError(w, errors.New("sellingPartnerId is required"))
		return
	}
	if b.RedirectURI == "" && len(s.cfg.RedirectURIs) > 0 {
		b.RedirectURI = s.cfg.RedirectURIs[0]
	}
	writeJSON(w, http.StatusOK, map[string]string{"code": s.IssueCode(b.SellerID, b.RedirectURI)})
}

func (s *Sim) adminRefreshToken(w http.ResponseWriter, r *http.Request) {
	var b sellerBody
	if !readJSON(w, r, &b) {
		return
	}
	if b.SellerID == "" {
		adminError(w, errors.New("sellingPartnerId is required"))
		return
	}
	if !b.AuthorizedAt.IsZero() {
		writeJSON(w, http.StatusOK, map[string]string{"refreshToken": s.IssueRefreshTokenAt(b.SellerID, b.AuthorizedAt)})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"refreshToken": s.IssueRefreshToken(b.SellerID)})
}

func (s *Sim) adminRevoke(w http.ResponseWriter, r *http.Request) {
	var b sellerBody
	if !readJSON(w, r, &b) {
		return
	}
	switch {
	case b.RefreshToken != "":
		s.Revoke(b.RefreshToken)
		writeJSON(w, http.StatusOK, map[string]int{"revoked": 1})
	case b.SellerID != "":
		writeJSON(w, http.StatusOK, map[string]int{"revoked": s.RevokeSeller(b.SellerID)})
	default:
		adminError(w, errors.New("sellingPartnerId or refreshToken is required"))
	}
}

func (s *Sim) adminExpire(w http.ResponseWriter, r *http.Request) {
	var b sellerBody
	if !readJSON(w, r, &b) {
		return
	}
	if b.SellerID == "" {
		adminError(w, errors.New("sellingPartnerId is required"))
		return
	}
	s.ExpireSeller(b.SellerID)
	writeJSON(w, http.StatusOK, map[string]string{"expired": b.SellerID})
}

func (s *Sim) adminFault(w http.ResponseWriter, r *http.Request) {
	var b struct {
		Grant      string `json:"grant"`
		Kind       string `json:"kind"`
		Count      int    `json:"count"`
		Delay      string `json:"delay"`
		RetryAfter string `json:"retryAfter"`
	}
	if !readJSON(w, r, &b) {
		return
	}
	switch b.Grant {
	case AnyGrant, GrantAuthorizationCode, GrantRefreshToken, GrantClientCredentials,
		FaultRotation, FaultSellers, FaultFees: // the SP-API operations' queues
	default:
		adminError(w, fmt.Errorf("unknown grant %q", b.Grant))
		return
	}
	delay, err := parseDuration(b.Delay)
	if err != nil {
		adminError(w, fmt.Errorf("delay: %w", err))
		return
	}
	retryAfter, err := parseDuration(b.RetryAfter)
	if err != nil {
		adminError(w, fmt.Errorf("retryAfter: %w", err))
		return
	}
	f, err := ParseFault(b.Kind, delay)
	if err != nil {
		adminError(w, err)
		return
	}
	if retryAfter > 0 {
		f = f.WithRetryAfter(retryAfter)
	}
	if b.Count <= 0 {
		b.Count = 1
	}
	s.InjectFaults(b.Grant, f, b.Count)
	writeJSON(w, http.StatusOK, map[string]int{"pendingFaults": s.PendingFaults()})
}

func (s *Sim) adminLatency(w http.ResponseWriter, r *http.Request) {
	var b struct {
		Latency string `json:"latency"`
	}
	if !readJSON(w, r, &b) {
		return
	}
	d, err := parseDuration(b.Latency)
	if err != nil {
		adminError(w, fmt.Errorf("latency: %w", err))
		return
	}
	s.SetLatency(d)
	writeJSON(w, http.StatusOK, map[string]string{"latency": d.String()})
}

func (s *Sim) adminClientSecrets(w http.ResponseWriter, r *http.Request) {
	var b struct {
		ClientSecrets []string `json:"clientSecrets"`
	}
	if !readJSON(w, r, &b) {
		return
	}
	if len(b.ClientSecrets) == 0 {
		adminError(w, errors.New("clientSecrets must name at least one secret"))
		return
	}
	s.SetClientSecrets(b.ClientSecrets...)
	writeJSON(w, http.StatusOK, map[string]int{"clientSecrets": len(b.ClientSecrets)})
}

func parseDuration(v string) (time.Duration, error) {
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("want a duration such as 500ms or 2s, got %q", v)
	}
	return d, nil
}

func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		adminError(w, fmt.Errorf("read JSON body: %w", err))
		return false
	}
	return true
}

func adminError(w http.ResponseWriter, err error) {
	writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
