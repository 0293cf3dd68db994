// Command reminder is the ReminderFunction Lambda: it takes batches from the reminder
// queue and sends each due stage's email through SES v2, once, at the configured rate.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/spapi-auth-keeper/keeper/shared/app"
	"github.com/spapi-auth-keeper/keeper/shared/awsclients"
	"github.com/spapi-auth-keeper/keeper/shared/config"
	"github.com/spapi-auth-keeper/keeper/shared/metrics"
)

func main() {
	ctx := context.Background()
	log := lambdacontext.NewLogger()
	cfg := config.MustLoad(app.ReminderConfigNames...)
	clients, err := awsclients.Load(ctx)
	if err != nil {
		log.Error("start", "error", err)
		os.Exit(1)
	}
	sender, err := app.ReminderFromEnv(ctx, app.Deps{Config: cfg, Clients: clients, Log: log, Metrics: metrics.New(os.Stdout)})
	if err != nil {
		log.Error("start", "error", err)
		os.Exit(1)
	}
	lambda.Start(sender.Handle)
}
