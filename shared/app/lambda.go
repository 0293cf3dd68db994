package app

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/spapi-auth-keeper/keeper/shared/awsclients"
	"github.com/spapi-auth-keeper/keeper/shared/config"
	"github.com/spapi-auth-keeper/keeper/shared/metrics"
)

// LambdaDepsWith is what every function's main starts from in Lambda: aws-lambda-go's
// JSON log handler (it adds the request id to each line), the configuration with the
// variables in names required, the clients of services (DynamoDB, Secrets Manager)
// from the SDK's default configuration (awsclients.FromEnv), and EMF metrics on
// stdout. A configuration or client error ends the process during init, where
// Lambda reports it, not on the first event.
func LambdaDepsWith(ctx context.Context, services []awsclients.Service, names ...string) Deps {
	log := lambdacontext.NewLogger()
	cfg := config.MustLoad(names...)
	clients, err := awsclients.Load(ctx, services...)
	d := Deps{Config: cfg, Clients: clients, Log: log, Metrics: metrics.New(os.Stdout)}
	Must(d, err)
	return d
}

// Must ends a function's init when err is set, with one log line.
func Must(d Deps, err error) {
	if err != nil {
		d.Log.Error("function init failed", "error", err)
		os.Exit(1)
	}
}
