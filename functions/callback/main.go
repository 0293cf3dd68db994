// Command callback is the CallbackFunction Lambda: renewal links (/authorize), the
// app's Login URI (/login) and Amazon's redirect back (/callback), behind an HTTP API.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"github.com/spapi-auth-keeper/keeper/shared/app"
	"github.com/spapi-auth-keeper/keeper/shared/awsclients"
)

func main() {
	ctx := context.Background()
	d := app.LambdaDepsWith(ctx, []awsclients.Service{awsclients.DynamoDB, awsclients.SecretsManager, awsclients.KMS}, app.CallbackConfigNames...)
	h, err := app.Callback(ctx, d)
	app.Must(d, err)
	lambda.Start(httpadapter.NewV2(h).ProxyWithContext)
}
