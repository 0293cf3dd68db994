// Package spapi takes the fingerprint of the Amazon account behind a seller's token:
// the Selling Partner API calls the keeper makes with that token's access token, since
// Amazon's redirect parameters are not signed and LWA's token answer does not name the
// account. SP-API itself answering for the token is the only proof of whose it is.
//
// Account calls the Sellers API's getMarketplaceParticipations (every seller account's
// store name and marketplaces) and, where the app's roles allow and the caller asks,
// the Product Fees API's getMyFeesEstimateForASIN, whose answer names the seller id of
// the calling token (a community technique: amzn/selling-partner-api-docs issue 492).
// Its calls go through the Amazon transport (shared/amazon), which retries throttling
// and server errors within a small budget; every failure is put once, here, into
// ErrForbidden, ErrThrottled, ErrUnavailable or ErrBadResponse. No access token ever
// appears in its errors or logs.
package spapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/spapi-auth-keeper/keeper/shared/amazon"
	"github.com/spapi-auth-keeper/keeper/shared/appmgmt"
	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/secret"
)

// Paths of the operations on every SP-API endpoint.
const (
	// ParticipationsPath is the Sellers API v1 getMarketplaceParticipations (GET).
	// Default usage plan: 0.016 requests a second, burst 15, per seller and app.
	ParticipationsPath = "/sellers/v1/marketplaceParticipations"
	// FeesPathFormat is the Product Fees API v0 getMyFeesEstimateForASIN (POST), with
	// the ASIN. Default usage plan: 1 request a second, burst 2.
	FeesPathFormat = "/products/fees/v0/items/%s/feesEstimate"
)

// DefaultProbeASIN is the item the seller id probe asks a fees estimate for. The
// estimate itself is thrown away: an item Amazon cannot estimate still gets an answer
// (Status ClientError) that names the seller.
const DefaultProbeASIN = "B00V5DG6IQ"

// Kinds of failure. Every error Account returns for a call that reached (or tried to
// reach) Amazon is an *Error matching exactly one of them with errors.Is.
var (
	// ErrForbidden: 401 or 403. The token was refused (expired, revoked, minted for
	// another app), the app lacks the operation's role, or the account is a vendor's
	// (Vendor Central accounts have no Sellers API).
	ErrForbidden = errors.New("spapi: access denied")
	// ErrThrottled: 429 on the last attempt.
	ErrThrottled = errors.New("spapi: throttled")
	// ErrUnavailable: 5xx, a network error or a timeout on the last attempt, or the
	// caller's context ended first. Nothing is known about the account.
	ErrUnavailable = errors.New("spapi: unavailable")
	// ErrBadResponse: an answer that cannot be read (not the JSON of the operation,
	// no seller id in a fees estimate) or that the client does not expect (another
	// 4xx, such as 400 or 404 from a wrong endpoint).
	ErrBadResponse = errors.New("spapi: unexpected answer")
)

// Error is a failed call. It never holds a token.
type Error struct {
	Op        string // getMarketplaceParticipations or getMyFeesEstimateForASIN
	Status    int    // HTTP status of the last answer; 0 if none came
	Code      string // the first SP-API error code, or http_<status>, timeout, network_error, invalid_response
	Message   string // Amazon's message (and details), bounded, any echoed token masked
	RequestID string // x-amzn-RequestId, for Amazon's support
	Attempts  int
	kind      error
	cause     error
}

func (e *Error) Error() string {
	return (&amazon.Error{API: "spapi", Op: e.Op, Code: e.Code, Status: e.Status, Attempts: e.Attempts,
		Message: e.Message, RequestID: e.RequestID, Cause: e.cause}).Error()
}

// Unwrap matches the kind and the cause (a context error, a net error).
func (e *Error) Unwrap() []error {
	if e.cause != nil {
		return []error{e.kind, e.cause}
	}
	return []error{e.kind}
}

// Kind is the sentinel the error matches.
func (e *Error) Kind() error { return e.kind }

// Config configures a Client. Zero fields take the defaults (amazon.SellingPartnerDefaults).
type Config struct {
	// Endpoint overrides the SP-API endpoint for every region (SP_API_ENDPOINT: the
	// simulator). Empty: the region's production endpoint.
	Endpoint   string
	HTTPClient *http.Client // nil: a client whose timeout is AttemptTimeout
	// SellerIDProbe also calls getMyFeesEstimateForASIN to learn the seller id. The
	// app needs a role that may call the Product Fees API (Pricing, in Amazon's
	// tutorials); off by default.
	SellerIDProbe bool
	ProbeASIN     string           // the item the probe asks about; default DefaultProbeASIN
	Clock         func() time.Time // sets Account.TakenAt; nil: time.Now

	MaxAttempts    int           // requests per operation, first included; default 3
	BaseDelay      time.Duration // first backoff ceiling (full jitter); default 100ms
	MaxDelay       time.Duration // cap of the backoff and of a Retry-After; default 1s
	AttemptTimeout time.Duration // per request; default 3s
	Logger         *slog.Logger  // retries and a refused probe are logged here; default slog.Default()
	UserAgent      string
}

// Client calls SP-API with a seller's access token. It is safe for concurrent use.
type Client struct {
	cfg       Config
	transport *amazon.Transport
}

// NewClient builds a Client from cfg, filling in defaults.
func NewClient(cfg Config) *Client {
	if cfg.ProbeASIN == "" {
		cfg.ProbeASIN = DefaultProbeASIN
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	return &Client{cfg: cfg, transport: amazon.New(amazon.Config{
		HTTPClient: cfg.HTTPClient, MaxAttempts: cfg.MaxAttempts, BaseDelay: cfg.BaseDelay, MaxDelay: cfg.MaxDelay,
		AttemptTimeout: cfg.AttemptTimeout, Logger: cfg.Logger, UserAgent: cfg.UserAgent,
	}, amazon.SellingPartnerDefaults)}
}

// Operation names, as Amazon's models call them.
const (
	opParticipations = "getMarketplaceParticipations"
	opFees           = "getMyFeesEstimateForASIN"
)

// Account takes the fingerprint of the account accessToken belongs to, in region:
// getMarketplaceParticipations gives the store name and the marketplaces where the
// account participates (sorted); with SellerIDProbe, getMyFeesEstimateForASIN for one
// of those marketplaces gives the seller id (SellerIDVerified).
//
// When the probe is refused with 403 (the app lacks the role), the account is
// returned without a seller id and with a nil error: the probe's failure is logged
// here, and the caller falls back to the store name and marketplaces. When the probe
// fails otherwise (throttled, unavailable, unreadable), the account taken so far is
// returned together with the probe's error: the caller decides whether the evidence
// without a seller id is enough. An account that participates in no marketplace is
// returned without probing. Any failure of getMarketplaceParticipations returns a zero
// Account and its error.
func (c *Client) Account(ctx context.Context, region authz.Region, accessToken secret.Value) (authz.Account, error) {
	if accessToken.IsZero() {
		return authz.Account{}, errors.New("spapi: no access token given")
	}
	base := c.cfg.Endpoint
	if base == "" {
		e, err := appmgmt.Endpoint(string(region))
		if err != nil {
			return authz.Account{}, fmt.Errorf("spapi: %w", err)
		}
		base = e
	}
	base = strings.TrimRight(base, "/")
	token := accessToken.Reveal()

	raw, err := c.call(ctx, amazon.Request{Op: opParticipations, Method: http.MethodGet, URL: base + ParticipationsPath, AccessToken: token})
	if err != nil {
		return authz.Account{}, err
	}
	acct, currency, err := readParticipations(raw)
	if err != nil {
		return authz.Account{}, err
	}
	acct.TakenAt = c.cfg.Clock().UTC()
	if !c.cfg.SellerIDProbe || len(acct.MarketplaceIDs) == 0 {
		return acct, nil
	}

	body, _ := json.Marshal(feesRequest(acct.MarketplaceIDs[0], currency[acct.MarketplaceIDs[0]], c.cfg.ProbeASIN))
	raw, err = c.call(ctx, amazon.Request{Op: opFees, Method: http.MethodPost, URL: base + fmt.Sprintf(FeesPathFormat, url.PathEscape(c.cfg.ProbeASIN)),
		Body: body, ContentType: "application/json", AccessToken: token})
	if err == nil {
		acct.SellerID, err = readSellerID(raw)
	}
	switch {
	case err == nil:
		acct.SellerIDVerified = true
		return acct, nil
	case errors.Is(err, ErrForbidden):
		c.transport.Logger().WarnContext(ctx, "seller id probe refused; the account is checked by store name and marketplaces only (does the app have the Pricing role?)",
			"error", err.Error())
		return acct, nil
	}
	return acct, err
}

// participationsAnswer is GetMarketplaceParticipationsResponse.
type participationsAnswer struct {
	Payload *[]struct {
		Marketplace *struct {
			ID           string `json:"id"`
			CountryCode  string `json:"countryCode"`
			CurrencyCode string `json:"defaultCurrencyCode"`
		} `json:"marketplace"`
		Participation *struct {
			IsParticipating bool `json:"isParticipating"`
		} `json:"participation"`
		StoreName string `json:"storeName"`
	} `json:"payload"`
}

// readParticipations keeps the marketplaces where the account participates, sorted,
// and the store name; it also returns each marketplace's currency for the probe.
// Amazon gives a store name per marketplace; it is the same across an account's
// marketplaces in practice, and where it differs the one of the first marketplace (by
// id) is kept, so the fingerprint does not depend on the answer's order.
func readParticipations(raw []byte) (authz.Account, map[string]string, error) {
	var ans participationsAnswer
	if err := json.Unmarshal(raw, &ans); err != nil || ans.Payload == nil {
		// The decoder's message is not used: it could quote the answer.
		return authz.Account{}, nil, badResponse(opParticipations, "the answer is not a GetMarketplaceParticipationsResponse")
	}
	stores := map[string]string{}
	currency := map[string]string{}
	var ids []string
	for _, p := range *ans.Payload {
		if p.Marketplace == nil || p.Participation == nil || p.Marketplace.ID == "" {
			return authz.Account{}, nil, badResponse(opParticipations, "a marketplace participation lacks its marketplace id or participation")
		}
		if !validID(p.Marketplace.ID) {
			return authz.Account{}, nil, badResponse(opParticipations, "a marketplace id is not an Amazon id")
		}
		if !p.Participation.IsParticipating {
			continue
		}
		id := p.Marketplace.ID
		if _, seen := stores[id]; !seen {
			ids = append(ids, id)
		}
		stores[id] = amazon.Clean(p.StoreName, 200)
		currency[id] = p.Marketplace.CurrencyCode
	}
	slices.Sort(ids)
	a := authz.Account{MarketplaceIDs: ids}
	for _, id := range ids {
		if stores[id] != "" {
			a.StoreName = stores[id]
			break
		}
	}
	return a, currency, nil
}

// feesRequest is the probe's GetMyFeesEstimateRequest: an FBM listing at 10 in the
// marketplace's currency. The numbers do not matter; the answer's SellerId does.
func feesRequest(marketplaceID, currency, asin string) any {
	if currency == "" {
		currency = "USD"
	}
	type money struct {
		CurrencyCode string  `json:"CurrencyCode"`
		Amount       float64 `json:"Amount"`
	}
	type price struct {
		ListingPrice money `json:"ListingPrice"`
		Shipping     money `json:"Shipping"`
	}
	type request struct {
		MarketplaceID     string `json:"MarketplaceId"`
		IsAmazonFulfilled bool   `json:"IsAmazonFulfilled"`
		Price             price  `json:"PriceToEstimateFees"`
		Identifier        string `json:"Identifier"`
	}
	return map[string]request{"FeesEstimateRequest": {MarketplaceID: marketplaceID, Identifier: "keeper-account-check-" + asin,
		Price: price{ListingPrice: money{currency, 10}, Shipping: money{currency, 0}}}}
}

// readSellerID reads FeesEstimateResult.FeesEstimateIdentifier.SellerId, whatever the
// estimate's Status: a ClientError result names the seller too.
func readSellerID(raw []byte) (string, error) {
	var ans struct {
		Payload *struct {
			Result *struct {
				Identifier *struct {
					SellerID string `json:"SellerId"`
				} `json:"FeesEstimateIdentifier"`
			} `json:"FeesEstimateResult"`
		} `json:"payload"`
	}
	if err := json.Unmarshal(raw, &ans); err != nil || ans.Payload == nil || ans.Payload.Result == nil {
		return "", badResponse(opFees, "the answer is not a GetMyFeesEstimateResponse")
	}
	if ans.Payload.Result.Identifier == nil || ans.Payload.Result.Identifier.SellerID == "" {
		return "", badResponse(opFees, "the fees estimate names no seller")
	}
	id := ans.Payload.Result.Identifier.SellerID
	if !validID(id) {
		return "", badResponse(opFees, "the fees estimate's seller id is not an Amazon id")
	}
	return id, nil
}

// validID accepts what Amazon's merchant tokens and marketplace ids look like:
// uppercase letters and digits, at most 32.
func validID(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for _, r := range s {
		if (r < 'A' || r > 'Z') && (r < '0' || r > '9') {
			return false
		}
	}
	return true
}

func badResponse(op, msg string) *Error {
	return &Error{Op: op, Code: "invalid_response", Message: msg, Status: http.StatusOK, kind: ErrBadResponse}
}

// call sends one operation. Both operations only read, so a repeat is always safe.
func (c *Client) call(ctx context.Context, r amazon.Request) ([]byte, error) {
	r.Idempotent = true
	res, err := c.transport.Do(ctx, r)
	if err == nil {
		return res.Body, nil
	}
	var ae *amazon.Error
	if !errors.As(err, &ae) {
		return nil, &Error{Op: r.Op, Code: "network_error", kind: ErrUnavailable, cause: err}
	}
	e := &Error{Op: r.Op, Status: ae.Status, Code: ae.Code, Message: ae.Message, RequestID: ae.RequestID,
		Attempts: ae.Attempts, cause: ae.Cause}
	switch ae.Kind {
	case amazon.KindThrottled:
		e.kind = ErrThrottled
	case amazon.KindForbidden:
		e.kind = ErrForbidden
	case amazon.KindUnavailable:
		e.kind = ErrUnavailable
	default: // another 4xx, or an endpoint that is not a URL
		e.kind = ErrBadResponse
	}
	return nil, e
}
