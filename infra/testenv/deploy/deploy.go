// Package deploy builds each function's graph for the tests that need one outside it:
// it is each function's own wiring (functions/<name>/wire), which the function's main
// starts, against the clients a test gives. TestEveryFunction (infra/cmd/invoke) runs
// each function's real binary.
package deploy

import (
	"net/http"

	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	callbackwire "github.com/spapi-auth-keeper/keeper/functions/callback/wire"
	credentialswire "github.com/spapi-auth-keeper/keeper/functions/credentials/wire"
	eventpublisherwire "github.com/spapi-auth-keeper/keeper/functions/eventpublisher/wire"
	expiryscanwire "github.com/spapi-auth-keeper/keeper/functions/expiryscan/wire"
	reminderwire "github.com/spapi-auth-keeper/keeper/functions/reminder/wire"
	tokenrefreshwire "github.com/spapi-auth-keeper/keeper/functions/tokenrefresh/wire"
	tokenservicewire "github.com/spapi-auth-keeper/keeper/functions/tokenservice/wire"
	"github.com/spapi-auth-keeper/keeper/shared/app"
	"github.com/spapi-auth-keeper/keeper/shared/eventpublisher"
	"github.com/spapi-auth-keeper/keeper/shared/expiryscan"
	"github.com/spapi-auth-keeper/keeper/shared/refresh"
	"github.com/spapi-auth-keeper/keeper/shared/rotation"
	"github.com/spapi-auth-keeper/keeper/shared/tokenservice"
)

// Callback is the callback function's handler.
func Callback(d app.Deps, kmsClient *kms.Client) (http.Handler, error) {
	return callbackwire.Handler(d, kmsClient)
}

// TokenRefresh is the token refresh function's handler and service.
func TokenRefresh(d app.Deps, sqsClient *sqs.Client, kmsClient *kms.Client, cfg refresh.Config) (*refresh.Handler, *refresh.Service, error) {
	return tokenrefreshwire.Build(d, sqsClient, kmsClient, cfg)
}

// CredentialsOptions are the credentials function's settings beyond config.Config.
type CredentialsOptions = credentialswire.Options

// Credentials is the credentials function's handler and service.
func Credentials(d app.Deps, o CredentialsOptions) (*rotation.Handler, *rotation.Service) {
	return credentialswire.Build(d, o)
}

// ExpiryScan is the expiry scan function's scan.
func ExpiryScan(d app.Deps, sqsClient *sqs.Client) (*expiryscan.Service, error) {
	return expiryscanwire.Scan(d, sqsClient)
}

// ReminderHandler is what Lambda calls with each batch of reminder jobs.
type ReminderHandler = reminderwire.Handler

// Reminder is the reminder function's handler.
func Reminder(d app.Deps, sesClient *sesv2.Client) (ReminderHandler, error) {
	return reminderwire.Build(d, sesClient)
}

// EventPublisher is the event publisher function's publisher.
func EventPublisher(d app.Deps, sqsClient *sqs.Client, getenv func(string) string) (*eventpublisher.Publisher, error) {
	return eventpublisherwire.Publisher(d, sqsClient, getenv)
}

// TokenService is the token service function's service.
func TokenService(d app.Deps, getenv func(string) string) (*tokenservice.Service, error) {
	return tokenservicewire.Service(d, getenv)
}
