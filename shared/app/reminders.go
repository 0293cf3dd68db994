package app

import (
	"context"
	"fmt"
	"os"

	"github.com/spapi-auth-keeper/keeper/shared/expiryscan"
	"github.com/spapi-auth-keeper/keeper/shared/queue"
	"github.com/spapi-auth-keeper/keeper/shared/reminder"
)

// ExpiryScanConfigNames are the variables the expiry scan cannot start without.
var ExpiryScanConfigNames = []string{"TABLE_NAME", "REMINDER_QUEUE_URL"}

// ReminderConfigNames are the variables the reminder sender cannot start without.
var ReminderConfigNames = []string{"TABLE_NAME", "SECRET_PREFIX", "BASE_URL", "SENDER_EMAIL"}

// ExpiryScan builds the daily expiry scan.
func ExpiryScan(ctx context.Context, d Deps) (*expiryscan.Service, error) {
	stages, err := reminder.ParseSchedule(d.Config.ReminderStages)
	if err != nil {
		return nil, err
	}
	return expiryscan.New(expiryscan.Config{Schedule: stages}, d.Store(), queue.NewSender(d.Clients.SQS, d.Config.ReminderQueueURL), d.clock(), d.Log, d.Metrics)
}

// Reminder builds the reminder sender. Every invocation of the stack sends on one
// budget of SES_MAX_PER_SECOND, however many run at once.
func Reminder(ctx context.Context, d Deps) (*reminder.Sender, error) {
	stages, err := reminder.ParseSchedule(d.Config.ReminderStages)
	if err != nil {
		return nil, err
	}
	signer, err := d.Signer(ctx, d.Vault())
	if err != nil {
		return nil, err
	}
	r, err := reminder.NewRenderer(reminder.RenderConfig{
		AppName: d.Config.AppName, BaseURL: d.Config.BaseURL, LinkTTL: d.Config.LinkTTL, SellerCentralURL: d.Config.SellerCentralURL,
		Brand: d.Brand(),
	}, signer)
	if err != nil {
		return nil, err
	}
	pacer, err := d.Pacer(SESBudget, d.Config.SESMaxPerSecond)
	if err != nil {
		return nil, fmt.Errorf("SES_MAX_PER_SECOND: %w", err)
	}
	cfg := reminder.SenderConfig{
		From: d.Config.SenderEmail, ConfigurationSet: d.Config.SESConfigurationSet, Schedule: stages, Pacer: pacer,
	}
	if ch := d.AppNotifications(os.Getenv); ch != nil {
		cfg.AppNotifier = ch
	}
	return reminder.NewSender(cfg, d.Store(), d.Clients.SES, r, d.clock(), d.Log, d.Metrics)
}
