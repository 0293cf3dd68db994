package authz

import (
	"errors"
	"fmt"
)

// Error kinds of the adapters underneath the use cases (the ledger's store, LWA,
// SP-API). Each adapter classifies its failures into these once, at the edge, so the
// use cases branch on kinds and never import an adapter.
var (
	// ErrStoreUnavailable: the ledger's store throttled, failed or could not be
	// reached after its own retries. The caller may retry later; nothing was decided.
	ErrStoreUnavailable = errors.New("DynamoDB unavailable")
	// ErrNonceNotFound: the state nonce was never issued or was already consumed (a replay).
	ErrNonceNotFound = errors.New("state nonce not found (already used or never issued)")
	// ErrNonceExpired: the nonce existed but its lifetime had passed; it is deleted all the same.
	ErrNonceExpired = errors.New("state nonce expired")
	// ErrSellerBound: the selling partner is bound to another connection in that region
	// (`SELLER#{region}#{id} / BINDING`); errors.As gives the *SellerBoundError.
	ErrSellerBound = errors.New("selling partner is bound to another connection in this region")

	// ErrInvalidGrant: LWA's invalid_grant. The code was used or expired, or the
	// refresh token was revoked or its authorization expired: the seller must act.
	ErrInvalidGrant = errors.New("lwa: grant refused; the seller must authorize again")
	// ErrClientRejected: LWA's invalid_client or unauthorized_client: the vendor's
	// client id or secret is wrong or rotated away; the vendor must act.
	ErrClientRejected = errors.New("lwa: client credentials refused")
	// ErrThrottled: LWA answered 429 on every attempt. Retry later.
	ErrThrottled = errors.New("lwa: throttled")
	// ErrBadRequest: LWA called the request malformed (invalid_request and other
	// 4xx): a bug or a misconfiguration, not the seller's doing.
	ErrBadRequest = errors.New("lwa: request refused as malformed")
	// ErrClientNotConfigured: the lwa-client secret holds no client id or secret, so
	// no LWA call can be made; the vendor must set them.
	ErrClientNotConfigured = errors.New("LWA client credentials are not set in the lwa-client secret")

	// ErrSecretNotFound: the vault holds no such secret (never written, deleted, or
	// without a current value).
	ErrSecretNotFound = errors.New("secret not found")
	// ErrSecretMalformed: the secret exists but its value is not what the vault writes.
	ErrSecretMalformed = errors.New("secret value malformed")

	// ErrAccessDenied: SP-API answered 401 or 403 to an access token: an account
	// without the Sellers API (a Vendor Central account), or a token it refuses.
	ErrAccessDenied = errors.New("spapi: access denied")
)

// SellerBoundError names the connection that holds a seller's binding, for logs and
// history; pages must not show it (it is another customer).
type SellerBoundError struct {
	SellingPartnerID string
	Region           Region
	ConnectionID     string // the connection that holds it
}

func (e *SellerBoundError) Error() string {
	return fmt.Sprintf("selling partner %s in %s is bound to connection %s", e.SellingPartnerID, e.Region, e.ConnectionID)
}
func (e *SellerBoundError) Unwrap() error { return ErrSellerBound }

// Classified is err, unchanged in what it says, that errors.Is also reports as kind:
// how an adapter whose own error kinds predate the domain's hands them over.
func Classified(kind, err error) error {
	if err == nil || kind == nil {
		return err
	}
	return classified{kind: kind, err: err}
}

type classified struct{ kind, err error }

func (c classified) Error() string   { return c.err.Error() }
func (c classified) Unwrap() []error { return []error{c.kind, c.err} }
