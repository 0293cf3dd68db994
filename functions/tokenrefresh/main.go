// Command tokenrefresh is the TokenRefreshFunction Lambda: proof of life for every
// seller authorization. One binary serves the hourly EventBridge schedule (sweep the
// due refresh slot onto the refresh queue), the refresh queue (refresh each message,
// reporting partial batch failures), and direct invocations with
// {"connectionId","region"} (refresh one and return the outcome).
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
	cfg := config.MustLoad(app.TokenRefreshConfigNames...)
	clients, err := awsclients.Load(ctx)
	if err != nil {
		log.Error("start", "error", err)
		os.Exit(1)
	}
	h, err := app.TokenRefreshFromEnv(ctx, app.Deps{Config: cfg, Clients: clients, Log: log, Metrics: metrics.New(os.Stdout)})
	if err != nil {
		log.Error("start", "error", err)
		os.Exit(1)
	}
	lambda.Start(h)
}
