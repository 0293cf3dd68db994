// Package reminderapp wires the reminder sender: reminder jobs in, emails out through
// SES v2 on the stack's shared SES budget.
package reminderapp

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	"github.com/spapi-auth-keeper/keeper/shared/app"
	"github.com/spapi-auth-keeper/keeper/shared/pages"
	"github.com/spapi-auth-keeper/keeper/shared/reminder"
)

// ReminderConfigNames are the variables the reminder sender cannot start without.
var ReminderConfigNames = []string{"TABLE_NAME", "SECRET_PREFIX", "BASE_URL", "SENDER_EMAIL"}

// Reminder builds the reminder sender, which sends with sesClient. Every invocation of
// the stack sends on one budget of SES_MAX_PER_SECOND, however many run at once.
func Reminder(ctx context.Context, d app.Deps, sesClient *sesv2.Client) (*reminder.Sender, error) {
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
		Brand: pages.BrandOf(d.Config),
	}, signer)
	if err != nil {
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
	return reminder.NewSender(cfg, d.Store(), sesClient, r, d.ClockOrSystem(), d.Log, d.Metrics)
}
