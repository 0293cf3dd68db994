// Command webhooksender is the WebhookSenderFunction Lambda: it delivers the queued
// webhooks, signed per Standard Webhooks, and sets each retry's delay on its message.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/spapi-auth-keeper/keeper/shared/app"
	"github.com/spapi-auth-keeper/keeper/shared/awsclients"
)

func main() {
	ctx := context.Background()
	d := app.LambdaDepsWith(ctx, []awsclients.Service{awsclients.DynamoDB, awsclients.SecretsManager, awsclients.SQS}, "TABLE_NAME", "SECRET_PREFIX")
	sender, err := app.WebhookSender(d, nil)
	app.Must(d, err)
	lambda.Start(sender.Handle)
}
