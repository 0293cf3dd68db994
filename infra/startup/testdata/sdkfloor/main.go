// Command sdkfloor is the floor of every keeper function's cold start: hello (the
// smallest aws-lambda-go function) plus the two AWS SDK clients every function
// builds, DynamoDB and Secrets Manager, from Lambda's environment, and nothing else.
// What it costs over hello is the SDK's own initialisation (its packages' init: the
// operation schemas and endpoint tables), which no function can avoid while it uses
// these clients.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/spapi-auth-keeper/keeper/shared/awsclients"
)

func main() {
	c, err := awsclients.Load(context.Background(), awsclients.DynamoDB, awsclients.SecretsManager)
	if err != nil {
		panic(err)
	}
	lambda.Start(func() (string, error) { return c.Config.Region, nil })
}
