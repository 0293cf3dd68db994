// Package wire builds the eventpublisher function's graph from the shared constructors
// (shared/app): its main starts it, and the tests build the same graph through it.
package wire

import (
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/spapi-auth-keeper/keeper/shared/app"
	"github.com/spapi-auth-keeper/keeper/shared/config"
	"github.com/spapi-auth-keeper/keeper/shared/eventpublisher"
	"github.com/spapi-auth-keeper/keeper/shared/queue"
	"github.com/spapi-auth-keeper/keeper/shared/webhook"
)

// Publisher is the stream consumer that publishes the domain events and queues their
// webhooks with sqsClient (none when WEBHOOK_URL is empty).
func Publisher(d app.Deps, sqsClient *sqs.Client, getenv func(string) string) (*eventpublisher.Publisher, error) {
	ec, err := config.LoadEvents(getenv, "EVENT_BUS_NAME")
	if err != nil {
		return nil, err
	}
	endpoints, err := webhook.ParseEndpoints(ec.WebhookURLs)
	if err != nil {
		return nil, err
	}
	var hooks eventpublisher.Webhooks
	if len(endpoints) > 0 {
		if ec.WebhookQueueURL == "" {
			return nil, fmt.Errorf("WEBHOOK_URL is set but WEBHOOK_QUEUE_URL is not")
		}
		hooks = webhook.NewOutbox(queue.NewSender(sqsClient, ec.WebhookQueueURL), endpoints)
	}
	return eventpublisher.New(eventbridge.NewFromConfig(d.Clients.Config), ec.BusName, ec.Source, hooks, d.Log, d.Metrics), nil
}
