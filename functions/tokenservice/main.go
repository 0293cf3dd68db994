// Command tokenservice is the TokenServiceFunction Lambda: POST /tokens and POST
// /tokens/restricted behind a function URL with AuthType AWS_IAM (payload format 2.0,
// the HTTP API's, so the same adapter serves it).
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"github.com/spapi-auth-keeper/keeper/functions/tokenservice/wire"
	"github.com/spapi-auth-keeper/keeper/shared/app"
	"github.com/spapi-auth-keeper/keeper/shared/awsclients"
)

func main() {
	ctx := context.Background()
	d := app.LambdaDepsWith(ctx, []awsclients.Service{awsclients.DynamoDB, awsclients.SecretsManager}, "TABLE_NAME", "SECRET_PREFIX", "BASE_URL")
	svc, err := wire.Service(d, os.Getenv)
	app.Must(d, err)
	lambda.Start(httpadapter.NewV2(svc.Handler()).ProxyWithContext)
}
