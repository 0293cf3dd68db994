// Command eventpublisher is the EventPublisherFunction Lambda: it reads the history
// items from the table's DynamoDB stream, puts the domain events on the stack's
// EventBridge bus and queues their webhooks.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/spapi-auth-keeper/keeper/functions/eventpublisher/wire"
	"github.com/spapi-auth-keeper/keeper/shared/app"
)

func main() {
	ctx := context.Background()
	d := app.LambdaDepsWith(ctx, nil)
	pub, err := wire.Publisher(d, sqs.NewFromConfig(d.Clients.Config), os.Getenv)
	app.Must(d, err)
	lambda.Start(pub.Handle)
}
