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

	"github.com/spapi-auth-keeper/keeper/functions/credentials/wire"
	"github.com/spapi-auth-keeper/keeper/shared/app"
	"github.com/spapi-auth-keeper/keeper/shared/awsclients"
)

// configNames are the variables the function cannot start without. APP_ID tells this
// application's notifications from another's on a shared queue.
var configNames = []string{"TABLE_NAME", "SECRET_PREFIX", "APP_ID"}

func main() {
	ctx := context.Background()
	d := app.LambdaDepsWith(ctx, []awsclients.Service{awsclients.DynamoDB, awsclients.SecretsManager}, configNames...)
	o, err := wire.OptionsFromEnv(os.Getenv)
	app.Must(d, err)
	h, _ := wire.Build(d, o)
	lambda.Start(h)
}
