// Package callbackapp wires the callback function: the renewal round trip behind the
// seller's pages, with KMS to park a refresh token the vault could not
// take.
package callbackapp

import (
	"context"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/spapi-auth-keeper/keeper/shared/app"
	"github.com/spapi-auth-keeper/keeper/shared/callback"
	"github.com/spapi-auth-keeper/keeper/shared/pages"
	"github.com/spapi-auth-keeper/keeper/shared/sealer"
)

// CallbackConfigNames are the variables the callback function cannot start without.
var CallbackConfigNames = []string{"TABLE_NAME", "SECRET_PREFIX", "APP_ID"}

// Callback builds the HTTP handler of the callback function. kmsClient seals the
// tokens it parks (nil: no KMS, as without KMS_KEY_ID).
func Callback(ctx context.Context, d app.Deps, kmsClient *kms.Client) (http.Handler, error) {
	v := d.Vault()
	signer, err := d.Signer(ctx, v)
	if err != nil {
		return nil, err
	}
	svc := d.Renewal(v, signer, sealer.New(kmsClient, d.Config.KMSKeyID))
	brand := pages.BrandOf(d.Config)
	if err := brand.Check(); err != nil {
		return nil, err
	}
	return callback.HandlerWith(svc, d.Log, d.Metrics, brand), nil
}
