package amazonsim

import (
	"cmp"
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

// The Selling Partner API for Sellers (v1), getMarketplaceParticipations, as the
// simulator plays it: called with a seller's access token (x-amz-access-token), it
// answers for the account that token was minted for, and for no other. The keeper uses
// it to learn whose token it holds, since Amazon's redirect parameters are not signed.
// See https://developer-docs.amazon.com/sp-api/docs/sellers-api-v1-reference.
const (
	// SellersPath is getMarketplaceParticipations' path on every SP-API endpoint.
	SellersPath = "/sellers/v1/marketplaceParticipations"
	// SellersRate and SellersBurst are the operation's default usage plan: 0.016
	// requests a second, burst 15, per selling partner and application.
	SellersRate  = 0.016
	SellersBurst = 15.0
	// FaultSellers is the InjectFault key of getMarketplaceParticipations.
	FaultSellers = "getMarketplaceParticipations"
)

// spapiState is the simulator's Sellers and Product Fees API state, guarded by Sim.mu.
type spapiState struct {
	buckets      map[string]*bucket // usage plans, by operation and seller
	sellersCalls int                // getMarketplaceParticipations requests received
	feesCalls    int                // getMyFeesEstimateForASIN requests received
}

// bucket is one usage plan's token bucket.
type bucket struct {
	tokens     float64
	refilledAt time.Time
}

func (s *Sim) sellerRoutes(mux *http.ServeMux) {
	mux.HandleFunc(SellersPath, s.marketplaceParticipations)
	mux.HandleFunc(FeesPathPattern, s.feesEstimate)
	mux.HandleFunc("GET /apps/sign-in", s.signIn)
	mux.HandleFunc("POST /_sim/seller", s.adminSeller)
	mux.HandleFunc("POST /_sim/signed-in", s.adminSignedIn)
}

// SellersCalls counts getMarketplaceParticipations requests received, any outcome.
func (s *Sim) SellersCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.spapi.sellersCalls
}

// FeesCalls counts getMyFeesEstimateForASIN requests received, any outcome.
func (s *Sim) FeesCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.spapi.feesCalls
}

// Messages of the SP-API's 403 answers.
const (
	msgDenied  = "Access to requested resource is denied."
	msgExpired = "The access token you provided has expired."
)

// sellerToken checks x-amz-access-token for an operation called on a seller's behalf:
// an unexpired access token the simulator minted from that seller's code or refresh
// token. It returns the seller's account, or the SP-API error to answer with.
func (s *Sim) sellerToken(token string) (account, *spErrorAnswer) {
	if token == "" {
		return account{}, &spErrorAnswer{status: http.StatusForbidden, code: "Unauthorized", message: msgDenied}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g, known := s.accessTokens[token]
	switch {
	case !known:
		return account{}, &spErrorAnswer{status: http.StatusForbidden, code: "Unauthorized", message: msgDenied}
	case !s.clock().Before(g.expiresAt):
		return account{}, &spErrorAnswer{status: http.StatusForbidden, code: "Unauthorized", message: msgDenied, details: msgExpired}
	case g.sellerID == "":
		// A grantless token acts for the application, never for a seller.
		return account{}, &spErrorAnswer{status: http.StatusForbidden, code: "Unauthorized", message: msgDenied}
	}
	return s.accountLocked(g.sellerID), nil
}

// spErrorAnswer is an SP-API error answer: {"errors":[{code, message, details}]}.
type spErrorAnswer struct {
	status                 int
	code, message, details string
	retryAfter             time.Duration
}

func (e *spErrorAnswer) write(w http.ResponseWriter) {
	if e.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((e.retryAfter+time.Second-1)/time.Second)))
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("x-amzn-RequestId", requestID())
	w.WriteHeader(e.status)
	_ = json.NewEncoder(w).Encode(map[string][]spError{"errors": {{Code: e.code, Message: e.message, Details: e.details}}})
}

// spFault answers an injected fault of an SP-API operation. It returns true when the
// answer is written; a delay-only fault returns false after its delay, and the request
// is then served as usual.
func (s *Sim) spFault(w http.ResponseWriter, r *http.Request, key string) bool {
	f, ok := s.takeFault(key)
	if !ok {
		return false
	}
	s.log.Info("sp-api fault injected", "operation", key, "fault", f.Kind)
	sleep(r.Context(), f.Delay)
	switch {
	case f.Body != "":
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("x-amzn-RequestId", requestID())
		w.WriteHeader(cmp.Or(f.Status, http.StatusOK))
		_, _ = w.Write([]byte(f.Body))
		return true
	case f.Status != 0:
		(&spErrorAnswer{status: f.Status, code: spCode(f.Status), message: http.StatusText(f.Status), retryAfter: f.RetryAfter}).write(w)
		return true
	}
	return false
}

// takeQuotaLocked applies a usage plan of rate requests a second and burst, kept per
// operation and selling partner (Amazon applies usage plans per selling partner and
// application), on the simulator's clock.
func (s *Sim) takeQuotaLocked(op, sellerID string, rate, burst float64) bool {
	now := s.clock()
	key := op + "/" + sellerID
	b := s.spapi.buckets[key]
	if b == nil {
		b = &bucket{tokens: burst, refilledAt: now}
		s.spapi.buckets[key] = b
	} else if d := now.Sub(b.refilledAt); d > 0 {
		b.tokens = min(burst, b.tokens+d.Seconds()*rate)
		b.refilledAt = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// participation is one entry of getMarketplaceParticipations' payload.
type participation struct {
	Marketplace   Marketplace `json:"marketplace"`
	Participation struct {
		IsParticipating      bool `json:"isParticipating"`
		HasSuspendedListings bool `json:"hasSuspendedListings"`
	} `json:"participation"`
	StoreName string `json:"storeName"`
}

// marketplaceParticipations serves GET /sellers/v1/marketplaceParticipations.
func (s *Sim) marketplaceParticipations(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.spapi.sellersCalls++
	s.mu.Unlock()
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		(&spErrorAnswer{status: http.StatusMethodNotAllowed, code: "InvalidInput", message: "The operation accepts GET only."}).write(w)
		return
	}
	// Vendor Central accounts have no Sellers API.
	acct, ok := s.admitSellerCall(w, r, "sellers api", FaultSellers, SellersRate, SellersBurst, func(a account) bool { return !a.vendor })
	if !ok {
		return
	}

	payload := []participation{}
	add := func(ms []Marketplace, participating bool) {
		for _, m := range ms {
			p := participation{Marketplace: m, StoreName: acct.storeName}
			p.Participation.IsParticipating = participating
			payload = append(payload, p)
		}
	}
	add(acct.participating, true)
	add(acct.notParticipating, false)
	s.log.Info("marketplace participations answered", "selling_partner_id", acct.id, "marketplaces", len(acct.participating))
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("x-amzn-RequestId", requestID())
	w.Header().Set("x-amzn-RateLimit-Limit", strconv.FormatFloat(SellersRate, 'f', -1, 64))
	_ = json.NewEncoder(w).Encode(map[string]any{"payload": payload})
}

// admitSellerCall runs the checks SP-API makes before an operation called with a
// seller's access token, in Amazon's order: the token (and allowed, e.g. the app's
// role or the account type: 403 when false), an injected fault of op, then op's usage
// plan per seller (429). It writes the refusal itself; ok says the call may proceed.
func (s *Sim) admitSellerCall(w http.ResponseWriter, r *http.Request, api, op string, rate, burst float64, allowed func(account) bool) (account, bool) {
	acct, refused := s.sellerToken(r.Header.Get("x-amz-access-token"))
	if refused == nil && !allowed(acct) {
		refused = &spErrorAnswer{status: http.StatusForbidden, code: "Unauthorized", message: msgDenied}
	}
	if refused != nil {
		s.log.Info(api+" refused", "status", refused.status, "code", refused.code, "selling_partner_id", acct.id)
		refused.write(w)
		return acct, false
	}
	if s.spFault(w, r, op) {
		return acct, false
	}
	s.mu.Lock()
	ok := s.takeQuotaLocked(op, acct.id, rate, burst)
	s.mu.Unlock()
	if !ok {
		s.log.Info(api+" throttled", "selling_partner_id", acct.id)
		// SP-API names the operation's rate on its answers, throttled ones included.
		w.Header().Set("x-amzn-RateLimit-Limit", strconv.FormatFloat(rate, 'f', -1, 64))
		(&spErrorAnswer{status: http.StatusTooManyRequests, code: "QuotaExceeded", message: "You exceeded your quota for the requested resource."}).write(w)
		return acct, false
	}
	return acct, true
}
