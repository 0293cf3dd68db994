// Command tokenrefresh is the TokenRefreshFunction Lambda: proof of life for every
// seller authorization. One binary serves the hourly EventBridge schedule (sweep the
// due refresh slot onto the refresh queue), the refresh queue (refresh each message,
// reporting partial batch failures), and direct invocations with
// {"connectionId","region"} (refresh one and return the outcome).
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/spapi-auth-keeper/keeper/shared/app"
	"github.com/spapi-auth-keeper/keeper/shared/awsclients"
)

func main() {
	ctx := context.Background()
	d := app.LambdaDepsWith(ctx, []awsclients.Service{awsclients.DynamoDB, awsclients.SecretsManager, awsclients.SQS, awsclients.KMS}, app.TokenRefreshConfigNames...)
	h, err := app.TokenRefreshHandler(ctx, d)
	app.Must(d, err)
	lambda.Start(h)
}
