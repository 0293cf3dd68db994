// Package wire builds the expiryscan function's graph from the shared constructors
// (shared/app): its main starts it, and the tests build the same graph through it.
package wire

import (
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/spapi-auth-keeper/keeper/shared/app"
	"github.com/spapi-auth-keeper/keeper/shared/expiryscan"
	"github.com/spapi-auth-keeper/keeper/shared/queue"
	"github.com/spapi-auth-keeper/keeper/shared/stages"
)

// Scan is the daily expiry Scan: the ledger in, reminder jobs out with sqsClient.
func Scan(d app.Deps, sqsClient *sqs.Client) (*expiryscan.Service, error) {
	schedule, err := stages.ParseSchedule(d.Config.ReminderStages)
	if err != nil {
		return nil, err
	}
	return expiryscan.New(expiryscan.Config{Schedule: schedule}, d.Store(), queue.NewSender(sqsClient, d.Config.ReminderQueueURL), d.ClockOrSystem(), d.Log, d.Metrics)
}
