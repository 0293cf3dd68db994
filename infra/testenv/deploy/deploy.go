// Package deploy builds each function's graph as its folder under functions/ does, for
// the tests that need one outside it (a function's main package cannot be imported):
// the same shared constructors (shared/app), the same order, against the clients a
// test gives. A change to a function's wiring is made in both places; the function's
// own tests run its real wiring.
package deploy

import (
	"context"
	"fmt"
	"net/http"
	"os"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/spapi-auth-keeper/keeper/shared/app"
	"github.com/spapi-auth-keeper/keeper/shared/appmgmt"
	"github.com/spapi-auth-keeper/keeper/shared/callback"
	"github.com/spapi-auth-keeper/keeper/shared/clientcreds"
	"github.com/spapi-auth-keeper/keeper/shared/config"
	"github.com/spapi-auth-keeper/keeper/shared/eventpublisher"
	"github.com/spapi-auth-keeper/keeper/shared/expiryscan"
	"github.com/spapi-auth-keeper/keeper/shared/pages"
	"github.com/spapi-auth-keeper/keeper/shared/queue"
	"github.com/spapi-auth-keeper/keeper/shared/refresh"
	"github.com/spapi-auth-keeper/keeper/shared/reminder"
	"github.com/spapi-auth-keeper/keeper/shared/rotation"
	"github.com/spapi-auth-keeper/keeper/shared/rotation/ledger"
	"github.com/spapi-auth-keeper/keeper/shared/sealer"
	"github.com/spapi-auth-keeper/keeper/shared/sesmail"
	"github.com/spapi-auth-keeper/keeper/shared/stages"
	"github.com/spapi-auth-keeper/keeper/shared/tokenservice"
	"github.com/spapi-auth-keeper/keeper/shared/tokensource"
	"github.com/spapi-auth-keeper/keeper/shared/webhook"
)

// Callback is functions/callback's handler: see there.
func Callback(d app.Deps, kmsClient *kms.Client) (http.Handler, error) {
	brand := pages.BrandOf(d.Config)
	if err := brand.Check(); err != nil {
		return nil, err
	}
	return callback.HandlerWith(d.RoundTrip(d.Vault(), sealer.New(kmsClient, d.Config.KMSKeyID)), d.Log, d.Metrics, brand), nil
}

// TokenRefresh is functions/tokenrefresh's wire: see there.
func TokenRefresh(d app.Deps, sqsClient *sqs.Client, kmsClient *kms.Client, cfg refresh.Config) (*refresh.Handler, *refresh.Service, error) {
	schedule, err := stages.ParseSchedule(d.Config.ReminderStages)
	if err != nil {
		return nil, nil, err
	}
	if cfg.Interval == 0 {
		cfg.Interval = d.Config.RefreshInterval
	}
	if cfg.ExpiringWindow == 0 {
		cfg.ExpiringWindow = schedule.Window()
	}
	var pacer refresh.Pacer
	if cfg.MaxPerSecond == 0 {
		p, err := d.Pacer(app.LWABudget, d.Config.RefreshMaxPerSecond)
		if err != nil {
			return nil, nil, fmt.Errorf("REFRESH_MAX_PER_SECOND: %w", err)
		}
		pacer = p
	}
	v := d.Vault()
	creds := clientcreds.New(v, 0)
	svc := refresh.New(cfg, refresh.Deps{
		Store: d.Store(), Vault: v, LWA: app.LWATokens{Client: d.LWA(creds)}, Credentials: creds, Accounts: d.Accounts(),
		RefreshQueue:  queue.NewSender(sqsClient, d.Config.RefreshQueueURL),
		ReminderQueue: queue.NewSender(sqsClient, d.Config.ReminderQueueURL),
		Clock:         d.ClockOrSystem(), Log: d.Log, Metrics: d.Metrics, Pacer: pacer,
		// Repairs need no state signer: they only finish round trips already started.
		RepairParked: func(ctx context.Context) (any, error) {
			return d.Renewal(v, nil, sealer.New(kmsClient, d.Config.KMSKeyID)).RepairParked(ctx)
		},
	})
	return refresh.NewHandler(svc), svc, nil
}

// Credentials is functions/credentials's wire: see there.
func Credentials(d app.Deps, o CredentialsOptions) (*rotation.Handler, *rotation.Service) {
	if o.SPAPIEndpoint == "" {
		o.SPAPIEndpoint = appmgmt.Endpoints["na"]
	}
	if o.Rotation.AppID == "" {
		o.Rotation.AppID = d.Config.AppID
	}
	v := d.Vault()
	creds := clientcreds.New(v, 0)
	rotator := appmgmt.New(appmgmt.Config{Endpoint: o.SPAPIEndpoint, Tokens: d.LWA(creds), HTTPClient: d.HTTP,
		Clock: d.ClockOrSystem().Now, Logger: d.Log})
	svc := rotation.New(o.Rotation, rotation.Deps{
		Vault: v, Store: ledger.New(d.Clients.DynamoDB, d.Config.TableName), Rotator: app.SecretRotator{Client: rotator},
		Verifier: app.LWAVerifier{Config: d.LWAConfig()},
		Cache:    creds, Clock: d.ClockOrSystem(), Log: d.Log, Metrics: d.Metrics,
	})
	return rotation.NewHandler(svc), svc
}

// ExpiryScan is functions/expiryscan's scan: see there.
func ExpiryScan(d app.Deps, sqsClient *sqs.Client) (*expiryscan.Service, error) {
	schedule, err := stages.ParseSchedule(d.Config.ReminderStages)
	if err != nil {
		return nil, err
	}
	return expiryscan.New(expiryscan.Config{Schedule: schedule}, d.Store(), queue.NewSender(sqsClient, d.Config.ReminderQueueURL), d.ClockOrSystem(), d.Log, d.Metrics)
}

// Reminder is functions/reminder's wire: see there.
func Reminder(d app.Deps, sesClient *sesv2.Client) (ReminderHandler, error) {
	schedule, err := reminder.ParseSchedule(d.Config.ReminderStages)
	if err != nil {
		return nil, err
	}
	rc := reminder.RenderConfig{
		AppName: d.Config.AppName, BaseURL: d.Config.BaseURL, LinkTTL: d.Config.LinkTTL, SellerCentralURL: d.Config.SellerCentralURL,
		Brand: pages.BrandOf(d.Config),
	}
	signer := d.Signer(d.Vault())
	r, err := reminder.NewRenderer(rc, signer)
	if err != nil {
		return nil, err
	}
	if _, err := reminder.FormatSender(d.Config.SenderEmail); err != nil {
		return nil, err
	}
	pacer, err := d.Pacer(app.SESBudget, d.Config.SESMaxPerSecond)
	if err != nil {
		return nil, fmt.Errorf("SES_MAX_PER_SECOND: %w", err)
	}
	cfg := reminder.SenderConfig{
		From: d.Config.SenderEmail, Schedule: schedule, Pacer: pacer,
	}
	if ch := d.AppNotifications(os.Getenv); ch != nil {
		cfg.AppNotifier = ch
	}
	sender, err := reminder.NewSender(cfg, d.Store(), sesmail.New(sesClient, d.Config.SESConfigurationSet), r, d.ClockOrSystem(), d.Log, d.Metrics)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		if err := signer.Load(ctx); err != nil {
			return events.SQSEventResponse{}, fmt.Errorf("reminder sender not ready, the batch is left to SQS: %w", err)
		}
		return sender.Handle(ctx, ev)
	}, nil
}

// EventPublisher is functions/eventpublisher's publisher: see there.
func EventPublisher(d app.Deps, sqsClient *sqs.Client, getenv func(string) string) (*eventpublisher.Publisher, error) {
	ec, err := config.LoadEvents(getenv, "EVENT_BUS_NAME")
	if err != nil {
		return nil, err
	}
	endpoints, err := webhook.ParseEndpoints(ec.WebhookURLs)
	if err != nil {
		return nil, err
	}
	var hooks eventpublisher.Webhooks
	if len(endpoints) > 0 {
		if ec.WebhookQueueURL == "" {
			return nil, fmt.Errorf("WEBHOOK_URL is set but WEBHOOK_QUEUE_URL is not")
		}
		hooks = webhook.NewOutbox(queue.NewSender(sqsClient, ec.WebhookQueueURL), endpoints)
	}
	return eventpublisher.New(eventbridge.NewFromConfig(d.Clients.Config), ec.BusName, ec.Source, hooks, d.Log, d.Metrics), nil
}

// TokenService is functions/tokenservice's service: see there.
func TokenService(d app.Deps, getenv func(string) string) (*tokenservice.Service, error) {
	ec, err := config.LoadEvents(getenv)
	if err != nil {
		return nil, err
	}
	callers, err := tokenservice.ParseCallers(ec.TokenServiceCallers)
	if err != nil {
		return nil, err
	}
	v := d.Vault()
	cache := tokensource.New(v, d.LWA(clientcreds.New(v, 0)))
	return tokenservice.New(tokenservice.Config{BaseURL: d.Config.BaseURL, LinkTTL: d.Config.LinkTTL, SPAPIEndpoint: ec.SPAPIEndpoint, Callers: callers},
		d.Store(), cache, d.Links(v), d.HTTP, d.ClockOrSystem(), d.Log, d.Metrics), nil
}

// CredentialsOptions are the credentials function's settings beyond config.Config.
type CredentialsOptions struct {
	Rotation      rotation.Config
	SPAPIEndpoint string // default: the na endpoint
}

// ReminderHandler is what Lambda calls with each batch of reminder jobs.
type ReminderHandler func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error)
