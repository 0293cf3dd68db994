// Command reminder is the ReminderFunction Lambda: it takes batches from the reminder
// queue and sends each due stage's email through SES v2, once, at the configured rate.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	"github.com/spapi-auth-keeper/keeper/functions/reminder/wire"
	"github.com/spapi-auth-keeper/keeper/shared/app"
	"github.com/spapi-auth-keeper/keeper/shared/awsclients"
)

// configNames are the variables the function cannot start without.
var configNames = []string{"TABLE_NAME", "SECRET_PREFIX", "BASE_URL", "SENDER_EMAIL"}

func main() {
	ctx := context.Background()
	d := app.LambdaDepsWith(ctx, []awsclients.Service{awsclients.DynamoDB, awsclients.SecretsManager}, configNames...)
	handle, err := wire.Build(d, sesv2.NewFromConfig(d.Clients.Config))
	app.Must(d, err)
	lambda.Start(handle)
}
