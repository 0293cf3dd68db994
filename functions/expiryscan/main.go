// Command expiryscan is the ExpiryScanFunction Lambda: once a day, on an EventBridge
// schedule, it queues the reminders that fall due and moves statuses to expiring or
// expired.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/spapi-auth-keeper/keeper/shared/app"
	"github.com/spapi-auth-keeper/keeper/shared/awsclients"
	"github.com/spapi-auth-keeper/keeper/shared/expiryscan"
	"github.com/spapi-auth-keeper/keeper/shared/queue"
	"github.com/spapi-auth-keeper/keeper/shared/stages"
)

func main() {
	ctx := context.Background()
	d := app.LambdaDepsWith(ctx, []awsclients.Service{awsclients.DynamoDB}, "TABLE_NAME", "REMINDER_QUEUE_URL")
	svc, err := scan(d, sqs.NewFromConfig(d.Clients.Config))
	app.Must(d, err)
	lambda.Start(svc.Handle)
}

// scan is the daily expiry scan: the ledger in, reminder jobs out with sqsClient.
func scan(d app.Deps, sqsClient *sqs.Client) (*expiryscan.Service, error) {
	schedule, err := stages.ParseSchedule(d.Config.ReminderStages)
	if err != nil {
		return nil, err
	}
	return expiryscan.New(expiryscan.Config{Schedule: schedule}, d.Store(), queue.NewSender(sqsClient, d.Config.ReminderQueueURL), d.ClockOrSystem(), d.Log, d.Metrics)
}
