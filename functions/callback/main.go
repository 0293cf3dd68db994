// Command callback is the CallbackFunction Lambda: renewal links (/authorize), the
// app's Login URI (/login) and Amazon's redirect back (/callback), behind an HTTP API.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"github.com/spapi-auth-keeper/keeper/shared/app"
	"github.com/spapi-auth-keeper/keeper/shared/app/callbackapp"
	"github.com/spapi-auth-keeper/keeper/shared/awsclients"
)

func main() {
	ctx := context.Background()
	d := app.LambdaDepsWith(ctx, []awsclients.Service{awsclients.DynamoDB, awsclients.SecretsManager}, callbackapp.CallbackConfigNames...)
	h, err := callbackapp.Callback(ctx, d, kms.NewFromConfig(d.Clients.Config))
	app.Must(d, err)
	lambda.Start(httpadapter.NewV2(h).ProxyWithContext)
}
