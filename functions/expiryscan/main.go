// Command expiryscan is the ExpiryScanFunction Lambda: once a day, on an EventBridge
// schedule, it queues the reminders that fall due and moves statuses to expiring or
// expired.
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
	cfg := config.MustLoad(app.ExpiryScanConfigNames...)
	clients, err := awsclients.Load(ctx)
	if err != nil {
		log.Error("start", "error", err)
		os.Exit(1)
	}
	svc, err := app.ExpiryScan(ctx, app.Deps{Config: cfg, Clients: clients, Log: log, Metrics: metrics.New(os.Stdout)})
	if err != nil {
		log.Error("start", "error", err)
		os.Exit(1)
	}
	lambda.Start(svc.Handle)
}
