// Command callback is the CallbackFunction Lambda: renewal links (/authorize), the
// app's Login URI (/login) and Amazon's redirect back (/callback), behind an HTTP API.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"github.com/spapi-auth-keeper/keeper/functions/callback/wire"
	"github.com/spapi-auth-keeper/keeper/shared/app"
	"github.com/spapi-auth-keeper/keeper/shared/awsclients"
)

// configNames are the variables the function cannot start without.
var configNames = []string{"TABLE_NAME", "SECRET_PREFIX", "APP_ID"}

func main() {
	ctx := context.Background()
	d := app.LambdaDepsWith(ctx, []awsclients.Service{awsclients.DynamoDB, awsclients.SecretsManager}, configNames...)
	h, err := wire.Handler(d, kms.NewFromConfig(d.Clients.Config))
	app.Must(d, err)
	lambda.Start(httpadapter.NewV2(h).ProxyWithContext)
}
