// Package expiryscanapp wires the daily expiry scan: the ledger in, reminder jobs
// out on SQS.
package expiryscanapp

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/spapi-auth-keeper/keeper/shared/app"
	"github.com/spapi-auth-keeper/keeper/shared/expiryscan"
	"github.com/spapi-auth-keeper/keeper/shared/queue"
	"github.com/spapi-auth-keeper/keeper/shared/stages"
)

// ExpiryScanConfigNames are the variables the expiry scan cannot start without.
var ExpiryScanConfigNames = []string{"TABLE_NAME", "REMINDER_QUEUE_URL"}

// ExpiryScan builds the daily expiry scan; it queues the reminder jobs with sqsClient.
func ExpiryScan(ctx context.Context, d app.Deps, sqsClient *sqs.Client) (*expiryscan.Service, error) {
	schedule, err := stages.ParseSchedule(d.Config.ReminderStages)
	if err != nil {
		return nil, err
	}
	return expiryscan.New(expiryscan.Config{Schedule: schedule}, d.Store(), queue.NewSender(sqsClient, d.Config.ReminderQueueURL), d.ClockOrSystem(), d.Log, d.Metrics)
}
