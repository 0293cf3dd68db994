package authz

import (
	"time"

	"github.com/spapi-auth-keeper/keeper/shared/secret"
)

// RefreshToken is one seller authorization's LWA refresh token and what Amazon said
// with it: what the vault keeps, whatever its layout.
type RefreshToken struct {
	Token            secret.Value
	SellingPartnerID string
	Region           Region
	AuthorizedAt     time.Time
	// SecretID is the ARN of the secret Get read it from (its own, or its bucket);
	// Put ignores it.
	SecretID string
}

// Tokens is LWA's answer to a grant: an access token valid ExpiresIn (3600 s), and,
// for the authorization_code grant, the seller's refresh token.
type Tokens struct {
	AccessToken  secret.Value
	RefreshToken secret.Value // from the code grant; the one given, on refresh; empty for client_credentials
	TokenType    string       // "bearer"
	ExpiresIn    time.Duration
}

// VaultEntry is one authorization's refresh token, as a batch of the vault's writes
// takes it.
type VaultEntry struct {
	ConnectionID string
	Region       Region
	Token        RefreshToken
}

// VaultLayout is how the vault keeps refresh tokens: many to a bucket secret
// ("packed"), or one secret per authorization ("per-authorization").
type VaultLayout string

// ClientCredentials are the vendor's LWA client id and secret (the lwa-client
// secret). Amazon expires the client secret (rotation every 180 days), so its expiry
// travels with it.
type ClientCredentials struct {
	ClientID              string
	ClientSecret          secret.Value
	ClientSecretExpiresAt time.Time
}

// Parked is a refresh token Amazon issued that the vault could not take in time (or
// whose account could not be verified yet), kept KMS-encrypted in the ledger until
// the refresh sweep stores it. Ciphertext is KMS's; the plaintext never touches the
// table.
type Parked struct {
	ConnectionID     string
	Region           Region
	SellingPartnerID string // as Amazon's redirect named it
	Ciphertext       []byte
	AuthorizedAt     time.Time
	Account          Account // the evidence taken at the callback, if any
	Verified         bool    // the account evidence was checked against the record
	Origin           Origin  // how the token came (the Login URI needs SP-API's evidence)
	ParkedAt         time.Time
	Reason           string
}
