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
)

func main() {
	ctx := context.Background()
	d := app.LambdaDepsWith(ctx, []awsclients.Service{awsclients.DynamoDB}, app.DeliveryConfigNames...)
	lambda.Start(app.Delivery(d).Handle)
}
