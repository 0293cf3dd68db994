// Package reminderapp wires the reminder sender: reminder jobs in, emails out through
// SES v2 on the stack's shared SES budget.
package reminderapp

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	"github.com/spapi-auth-keeper/keeper/shared/app"
	"github.com/spapi-auth-keeper/keeper/shared/pages"
	"github.com/spapi-auth-keeper/keeper/shared/reminder"
)

// ReminderConfigNames are the variables the reminder sender cannot start without.
var ReminderConfigNames = []string{"TABLE_NAME", "SECRET_PREFIX", "BASE_URL", "SENDER_EMAIL"}

// Reminder builds the reminder sender, which sends with sesClient. Every invocation of
// the stack sends on one budget of SES_MAX_PER_SECOND, however many run at once. The
// configuration is checked now; the state key, which signs every email's renewal
// link, is read in the background (app.Prefetch), so the function is ready without
// waiting for Secrets Manager.
func Reminder(ctx context.Context, d app.Deps, sesClient *sesv2.Client) (*Reminders, error) {
	stages, err := reminder.ParseSchedule(d.Config.ReminderStages)
	if err != nil {
		return nil, err
	}
	rc := reminder.RenderConfig{
		AppName: d.Config.AppName, BaseURL: d.Config.BaseURL, LinkTTL: d.Config.LinkTTL, SellerCentralURL: d.Config.SellerCentralURL,
		Brand: pages.BrandOf(d.Config),
	}
	if err := rc.Check(); err != nil {
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
		From: d.Config.SenderEmail, ConfigurationSet: d.Config.SESConfigurationSet, Schedule: stages, Pacer: pacer,
	}
	if ch := d.AppNotifications(os.Getenv); ch != nil {
		cfg.AppNotifier = ch
	}
	v := d.Vault()
	sender := app.Prefetch(func(ctx context.Context) (*reminder.Sender, error) {
		signer, err := d.Signer(ctx, v)
		if err != nil {
			return nil, err
		}
		r, err := reminder.NewRenderer(rc, signer)
		if err != nil {
			return nil, err
		}
		return reminder.NewSender(cfg, d.Store(), sesClient, r, d.ClockOrSystem(), d.Log, d.Metrics)
	})
	return &Reminders{sender: sender}, nil
}

// Reminders is the reminder sender once its state key is read.
type Reminders struct {
	sender *app.Prefetched[*reminder.Sender]
}

// Handle sends a batch of reminder jobs (reminder.Sender.Handle). Before the state key
// could be read it fails the whole batch, which SQS delivers again: nothing is sent
// or claimed.
func (r *Reminders) Handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	s, err := r.sender.Get(ctx)
	if err != nil {
		return events.SQSEventResponse{}, fmt.Errorf("reminder sender not ready, the batch is left to SQS: read the state key: %w", err)
	}
	return s.Handle(ctx, ev)
}
