package amazonsim

import (
	"encoding/json"
	"math"
	"net/http"
	"slices"
	"strconv"
	"time"
)

// The Selling Partner API for Product Fees (v0), getMyFeesEstimateForASIN, as far as
// the keeper uses it: its answer's FeesEstimateIdentifier.SellerId is the seller id of
// the account whose token made the call (a community technique, discussed in
// amzn/selling-partner-api-docs issue 492). Amazon's role table lets several roles
// call it; its tutorials name Pricing (and Product Listing). The simulator asks for
// RolePricing among Config.Roles and answers 403 without it.
const (
	// FeesPathPattern is the operation's route; {Asin} is the item asked about.
	FeesPathPattern = "/products/fees/v0/items/{Asin}/feesEstimate"
	// FeesRate and FeesBurst are the operation's default usage plan: 1 request a
	// second, burst 2, per selling partner and application.
	FeesRate  = 1.0
	FeesBurst = 2.0
	// FaultFees is the InjectFault key of getMyFeesEstimateForASIN.
	FaultFees = "getMyFeesEstimateForASIN"
	// RolePricing is the role the simulated app needs for the Product Fees API.
	RolePricing = "Pricing"
)

type money struct {
	CurrencyCode string  `json:"CurrencyCode"`
	Amount       float64 `json:"Amount"`
}

type priceToEstimate struct {
	ListingPrice *money `json:"ListingPrice"`
	Shipping     *money `json:"Shipping,omitempty"`
}

// feesRequest is GetMyFeesEstimateRequest.
type feesRequest struct {
	FeesEstimateRequest *struct {
		MarketplaceID      string           `json:"MarketplaceId"`
		IsAmazonFulfilled  bool             `json:"IsAmazonFulfilled"`
		PriceToEstimateFee *priceToEstimate `json:"PriceToEstimateFees"`
		Identifier         string           `json:"Identifier"`
	} `json:"FeesEstimateRequest"`
}

// feesEstimate serves POST /products/fees/v0/items/{Asin}/feesEstimate.
func (s *Sim) feesEstimate(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.spapi.feesCalls++
	s.mu.Unlock()
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		(&spErrorAnswer{status: http.StatusMethodNotAllowed, code: "InvalidInput", message: "The operation accepts POST only."}).write(w)
		return
	}
	// The app lacks the role, or the account is a vendor's: SP-API answers 403.
	acct, ok := s.admitSellerCall(w, r, "product fees api", FaultFees, FeesRate, FeesBurst,
		func(a account) bool { return !a.vendor && s.hasRole(RolePricing) })
	if !ok {
		return
	}

	var req feesRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16))
	asin := r.PathValue("Asin")
	if err := dec.Decode(&req); err != nil || req.FeesEstimateRequest == nil {
		(&spErrorAnswer{status: http.StatusBadRequest, code: "InvalidInput", message: "This is an invalid input",
			details: "The request body is not a GetMyFeesEstimateRequest."}).write(w)
		return
	}
	fr := req.FeesEstimateRequest
	switch {
	case fr.MarketplaceID == "":
		(&spErrorAnswer{status: http.StatusBadRequest, code: "InvalidInput", message: "This is an invalid input",
			details: "Missing objects [MarketplaceId] in body parameters."}).write(w)
		return
	case fr.PriceToEstimateFee == nil || fr.PriceToEstimateFee.ListingPrice == nil:
		(&spErrorAnswer{status: http.StatusBadRequest, code: "InvalidInput", message: "This is an invalid input",
			details: "Missing objects [PriceToEstimateFees] in body parameters."}).write(w)
		return
	case fr.Identifier == "" || asin == "":
		(&spErrorAnswer{status: http.StatusBadRequest, code: "InvalidInput", message: "This is an invalid input",
			details: "Missing objects [Identifier] in body parameters."}).write(w)
		return
	}

	id := map[string]any{
		"MarketplaceId": fr.MarketplaceID, "IdType": "ASIN", "IdValue": asin, "SellerId": acct.id,
		"SellerInputIdentifier": fr.Identifier, "IsAmazonFulfilled": fr.IsAmazonFulfilled,
		"PriceToEstimateFees": fr.PriceToEstimateFee,
	}
	result := map[string]any{"FeesEstimateIdentifier": id}
	if !slices.ContainsFunc(acct.participating, func(m Marketplace) bool { return m.ID == fr.MarketplaceID }) {
		// As Amazon does for an item it cannot estimate: a ClientError result, which
		// still names the seller.
		result["Status"] = "ClientError"
		result["Error"] = map[string]any{"Type": "Sender", "Code": "InvalidParameterValue",
			"Message": "The seller does not participate in marketplace " + fr.MarketplaceID + ".", "Detail": []any{}}
	} else {
		lp := fr.PriceToEstimateFee.ListingPrice
		referral := money{CurrencyCode: lp.CurrencyCode, Amount: math.Round(lp.Amount*15) / 100} // a 15% referral fee
		result["Status"] = "Success"
		result["FeesEstimate"] = map[string]any{
			"TimeOfFeesEstimation": s.clock().UTC().Format(time.RFC3339),
			"TotalFeesEstimate":    referral,
			"FeeDetailList": []any{map[string]any{"FeeType": "ReferralFee", "FeeAmount": referral,
				"FinalFee": referral, "FeePromotion": money{CurrencyCode: lp.CurrencyCode}}},
		}
	}
	s.log.Info("fees estimate answered", "selling_partner_id", acct.id, "marketplace", fr.MarketplaceID, "status", result["Status"])
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("x-amzn-RequestId", requestID())
	w.Header().Set("x-amzn-RateLimit-Limit", strconv.FormatFloat(FeesRate, 'f', -1, 64))
	_ = json.NewEncoder(w).Encode(map[string]any{"payload": map[string]any{"FeesEstimateResult": result}})
}
