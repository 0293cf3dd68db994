// Command webhooksender is the WebhookSenderFunction Lambda: it delivers the queued
// webhooks, signed per Standard Webhooks, and sets each retry's delay on its message.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/spapi-auth-keeper/keeper/shared/app"
	"github.com/spapi-auth-keeper/keeper/shared/awsclients"
	"github.com/spapi-auth-keeper/keeper/shared/config"
	"github.com/spapi-auth-keeper/keeper/shared/queue"
	"github.com/spapi-auth-keeper/keeper/shared/secret"
	"github.com/spapi-auth-keeper/keeper/shared/webhook"
)

func main() {
	ctx := context.Background()
	d := app.LambdaDepsWith(ctx, []awsclients.Service{awsclients.DynamoDB, awsclients.SecretsManager}, "TABLE_NAME", "SECRET_PREFIX")
	s, err := sender(d, sqs.NewFromConfig(d.Clients.Config), os.Getenv)
	app.Must(d, err)
	lambda.Start(s.Handle)
}

// sender delivers queued webhooks to the endpoints of WEBHOOK_URL only; sqsClient sets
// each retry's delay on its message.
func sender(d app.Deps, sqsClient *sqs.Client, getenv func(string) string) (*webhook.Sender, error) {
	ec, err := config.LoadEvents(getenv, "WEBHOOK_QUEUE_URL", "WEBHOOK_KEY_SECRET")
	if err != nil {
		return nil, err
	}
	// The endpoints the publisher queues for (WEBHOOK_URL): the sender delivers to
	// these and to nothing a queue message names otherwise.
	endpoints, err := webhook.ParseEndpoints(ec.WebhookURLs)
	if err != nil {
		return nil, err
	}
	key := webhook.CachedKey(func(ctx context.Context) (secret.Value, error) {
		return app.WebhookKey(ctx, d.Clients.Secrets, ec.WebhookKeyID)
	})
	return webhook.New(d.HTTP, key, endpoints, d.Store(), queue.NewDelayer(sqsClient, ec.WebhookQueueURL), d.Log, d.Metrics), nil
}
