// Command delivery is the DeliveryFunction Lambda: SES's events about the reminders
// (through the configuration set's EventBridge destination, or SNS) land on the
// reminder entries they concern; a permanent bounce or a complaint stops further email
// to the seller's contact.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/spapi-auth-keeper/keeper/shared/app"
	"github.com/spapi-auth-keeper/keeper/shared/awsclients"
	"github.com/spapi-auth-keeper/keeper/shared/delivery"
)

func main() {
	ctx := context.Background()
	d := app.LambdaDepsWith(ctx, []awsclients.Service{awsclients.DynamoDB}, "TABLE_NAME")
	lambda.Start(delivery.New(d.Store(), d.ClockOrSystem(), d.Log, d.Metrics).Handle)
}
