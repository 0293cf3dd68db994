// Command webhooksender is the WebhookSenderFunction Lambda: it delivers the queued
// webhooks, signed per Standard Webhooks, and sets each retry's delay on its message.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/spapi-auth-keeper/keeper/shared/app"
	"github.com/spapi-auth-keeper/keeper/shared/app/webhookapp"
	"github.com/spapi-auth-keeper/keeper/shared/awsclients"
)

func main() {
	ctx := context.Background()
	d := app.LambdaDepsWith(ctx, []awsclients.Service{awsclients.DynamoDB, awsclients.SecretsManager}, "TABLE_NAME", "SECRET_PREFIX")
	sender, err := webhookapp.WebhookSender(d, sqs.NewFromConfig(d.Clients.Config), nil)
	app.Must(d, err)
	lambda.Start(sender.Handle)
}
