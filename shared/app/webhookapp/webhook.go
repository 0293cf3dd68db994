// Package webhookapp wires the webhook sender: queued webhooks in from SQS, signed
// and delivered, each retry's delay set on its message.
package webhookapp

import (
	"context"
	"os"

	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/spapi-auth-keeper/keeper/shared/app"
	"github.com/spapi-auth-keeper/keeper/shared/config"
	"github.com/spapi-auth-keeper/keeper/shared/secret"
	"github.com/spapi-auth-keeper/keeper/shared/webhook"
)

// WebhookSender builds the function that delivers queued webhooks to the endpoints of
// WEBHOOK_URL only; sqsClient sets each retry's delay on its message.
func WebhookSender(d app.Deps, sqsClient *sqs.Client, getenv func(string) string) (*webhook.Sender, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
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
	return webhook.NewSender(d.HTTP, key, endpoints, d.Store(), sqsClient, ec.WebhookQueueURL, d.Log, d.Metrics), nil
}
