// Command expiryscan is the ExpiryScanFunction Lambda: once a day, on an EventBridge
// schedule, it queues the reminders that fall due and moves statuses to expiring or
// expired.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/spapi-auth-keeper/keeper/functions/expiryscan/wire"
	"github.com/spapi-auth-keeper/keeper/shared/app"
	"github.com/spapi-auth-keeper/keeper/shared/awsclients"
)

func main() {
	ctx := context.Background()
	d := app.LambdaDepsWith(ctx, []awsclients.Service{awsclients.DynamoDB}, "TABLE_NAME", "REMINDER_QUEUE_URL")
	svc, err := wire.Scan(d, sqs.NewFromConfig(d.Clients.Config))
	app.Must(d, err)
	lambda.Start(svc.Handle)
}
