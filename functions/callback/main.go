// Command callback is the CallbackFunction Lambda: renewal links (/authorize), the
// app's Login URI (/login) and Amazon's redirect back (/callback), behind an HTTP API.
package main

import (
	"context"
	"net/http"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"github.com/spapi-auth-keeper/keeper/shared/app"
	"github.com/spapi-auth-keeper/keeper/shared/awsclients"
	"github.com/spapi-auth-keeper/keeper/shared/callback"
	"github.com/spapi-auth-keeper/keeper/shared/pages"
	"github.com/spapi-auth-keeper/keeper/shared/sealer"
)

// configNames are the variables the function cannot start without.
var configNames = []string{"TABLE_NAME", "SECRET_PREFIX", "APP_ID"}

func main() {
	ctx := context.Background()
	d := app.LambdaDepsWith(ctx, []awsclients.Service{awsclients.DynamoDB, awsclients.SecretsManager}, configNames...)
	h, err := handler(d, kms.NewFromConfig(d.Clients.Config))
	app.Must(d, err)
	lambda.Start(httpadapter.NewV2(h).ProxyWithContext)
}

// handler is the round trip behind the seller's pages; kmsClient seals the tokens it
// parks (nil: no KMS, as without KMS_KEY_ID). The brand is checked now; the state key
// is read by the first request that needs it (app.RoundTrip).
func handler(d app.Deps, kmsClient *kms.Client) (http.Handler, error) {
	brand := pages.BrandOf(d.Config)
	if err := brand.Check(); err != nil {
		return nil, err
	}
	return callback.HandlerWith(d.RoundTrip(d.Vault(), sealer.New(kmsClient, d.Config.KMSKeyID)), d.Log, d.Metrics, brand), nil
}
