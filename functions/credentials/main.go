// Command credentials is the CredentialsFunction Lambda: it keeps the vendor's own LWA
// client secret alive. One binary serves the notifications queue (Amazon's
// APPLICATION_OAUTH_CLIENT_NEW_SECRET and APPLICATION_OAUTH_CLIENT_SECRET_EXPIRY,
// reporting partial batch failures), the daily schedule (rotate once the secret
// expires within ROTATE_BEFORE), and direct invocations ({"action": "status"},
// {"action": "rotate"}) from keeperctl.
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
	cfg := config.MustLoad(app.CredentialsConfigNames...)
	clients, err := awsclients.Load(ctx)
	if err != nil {
		log.Error("start", "error", err)
		os.Exit(1)
	}
	h, err := app.CredentialsFromEnv(ctx, app.Deps{Config: cfg, Clients: clients, Log: log, Metrics: metrics.New(os.Stdout)})
	if err != nil {
		log.Error("start", "error", err)
		os.Exit(1)
	}
	lambda.Start(h)
}
