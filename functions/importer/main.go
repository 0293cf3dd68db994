// Command importer is the ImporterFunction Lambda: a vendor's file of existing seller
// authorizations, dropped into the stack's import bucket, is imported into the ledger
// here (S3 ObjectCreated through the import queue, or a direct S3 event), so the
// refresh tokens never pass through a laptop. An import longer than one invocation
// continues through the queue; the object is deleted when the import ends.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/spapi-auth-keeper/keeper/functions/importer/wire"
	"github.com/spapi-auth-keeper/keeper/shared/app"
	"github.com/spapi-auth-keeper/keeper/shared/awsclients"
	"github.com/spapi-auth-keeper/keeper/shared/importbucket"
)

func main() {
	ctx := context.Background()
	d := app.LambdaDepsWith(ctx, []awsclients.Service{awsclients.DynamoDB, awsclients.SecretsManager}, "TABLE_NAME", "SECRET_PREFIX")
	// The endpoint override (AWS_ENDPOINT_URL_S3) is an emulator, addressed by path.
	s3c, err := importbucket.NewClient(ctx, d.Clients.Config)
	app.Must(d, err)
	r, err := wire.Build(d, sqs.NewFromConfig(d.Clients.Config), s3c, os.Getenv)
	app.Must(d, err)
	lambda.Start(r.Handle)
}
