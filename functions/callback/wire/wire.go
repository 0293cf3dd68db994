// Package wire builds the callback function's graph from the shared constructors
// (shared/app): its main starts it, and the tests build the same graph through it.
package wire

import (
	"net/http"

	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/spapi-auth-keeper/keeper/shared/app"
	"github.com/spapi-auth-keeper/keeper/shared/callback"
	"github.com/spapi-auth-keeper/keeper/shared/pages"
	"github.com/spapi-auth-keeper/keeper/shared/sealer"
)

// Handler is the round trip behind the seller's pages; kmsClient seals the tokens it
// parks (nil: no KMS, as without KMS_KEY_ID). The brand is checked now; the state key
// is read by the first request that needs it (app.RoundTrip).
func Handler(d app.Deps, kmsClient *kms.Client) (http.Handler, error) {
	brand := pages.BrandOf(d.Config)
	if err := brand.Check(); err != nil {
		return nil, err
	}
	return callback.HandlerWith(d.RoundTrip(d.Vault(), sealer.New(kmsClient, d.Config.KMSKeyID)), d.Log, d.Metrics, brand), nil
}
