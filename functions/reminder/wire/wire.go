// Package wire builds the reminder function's graph from the shared constructors
// (shared/app): its main starts it, and the tests build the same graph through it.
package wire

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/spapi-auth-keeper/keeper/shared/app"
	"github.com/spapi-auth-keeper/keeper/shared/pages"
	"github.com/spapi-auth-keeper/keeper/shared/reminder"
	"github.com/spapi-auth-keeper/keeper/shared/sesmail"
)

// Handler is what Lambda calls with each batch of reminder jobs.
type Handler func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error)

// Build builds the reminder sender, which sends with sesClient. Every invocation of the
// stack sends on one budget of SES_MAX_PER_SECOND, however many run at once. The
// configuration is checked now; the state key, which signs every email's renewal
// link, is read by the first batch: until it can be, each batch fails whole, which
// SQS delivers again, and nothing is sent or claimed.
func Build(d app.Deps, sesClient *sesv2.Client) (Handler, error) {
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
