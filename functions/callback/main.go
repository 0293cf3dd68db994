// Command callback is the CallbackFunction Lambda: renewal links (/authorize), the
// app's Login URI (/login) and Amazon's redirect back (/callback), behind an HTTP API.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"github.com/spapi-auth-keeper/keeper/shared/app"
	"github.com/spapi-auth-keeper/keeper/shared/awsclients"
	"github.com/spapi-auth-keeper/keeper/shared/config"
	"github.com/spapi-auth-keeper/keeper/shared/metrics"
)

func main() {
	ctx := context.Background()
	log := lambdacontext.NewLogger()
	cfg := config.MustLoad(app.CallbackConfigNames...)
	clients, err := awsclients.Load(ctx)
	if err != nil {
		log.Error("start", "error", err)
		os.Exit(1)
	}
	h, err := app.Callback(ctx, app.Deps{Config: cfg, Clients: clients, Log: log, Metrics: metrics.New(os.Stdout)})
	if err != nil {
		log.Error("start", "error", err)
		os.Exit(1)
	}
	lambda.Start(httpadapter.NewV2(h).ProxyWithContext)
}
