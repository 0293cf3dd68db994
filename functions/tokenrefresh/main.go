// Command tokenrefresh is the TokenRefreshFunction Lambda: proof of life for every
// seller authorization. One binary serves the hourly EventBridge schedule (sweep the
// due refresh slot onto the refresh queue), the refresh queue (refresh each message,
// reporting partial batch failures), and direct invocations with
// {"connectionId","region"} (refresh one and return the outcome).
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/spapi-auth-keeper/keeper/functions/tokenrefresh/wire"
	"github.com/spapi-auth-keeper/keeper/shared/app"
	"github.com/spapi-auth-keeper/keeper/shared/awsclients"
	"github.com/spapi-auth-keeper/keeper/shared/refresh"
)

// configNames are the variables the function cannot start without.
var configNames = []string{"TABLE_NAME", "SECRET_PREFIX", "REFRESH_QUEUE_URL", "REMINDER_QUEUE_URL"}

func main() {
	ctx := context.Background()
	d := app.LambdaDepsWith(ctx, []awsclients.Service{awsclients.DynamoDB, awsclients.SecretsManager}, configNames...)
	h, _, err := wire.Build(d, sqs.NewFromConfig(d.Clients.Config), kms.NewFromConfig(d.Clients.Config), refresh.Config{})
	app.Must(d, err)
	lambda.Start(h)
}
