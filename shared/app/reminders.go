package app

import (
	"context"
	"fmt"
	"os"
	"strconv"

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

// ReminderConcurrencyEnv names the variable that carries the reminder queue's event
// source MaximumConcurrency into the function, so that each invocation takes its share
// of SES_MAX_PER_SECOND (template.yaml sets both from one parameter).
const ReminderConcurrencyEnv = "REMINDER_CONCURRENCY"

// ReminderConcurrency reads REMINDER_CONCURRENCY through getenv (1 when unset).
func ReminderConcurrency(getenv func(string) string) (int, error) {
	v := getenv(ReminderConcurrencyEnv)
	if v == "" {
		return 1, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("%s=%q: want a whole number of at least 1", ReminderConcurrencyEnv, v)
	}
	return n, nil
}

// Reminder builds the reminder sender. concurrency is how many invocations may run at
// once (the event source's MaximumConcurrency): each sends at most
// SES_MAX_PER_SECOND / concurrency emails a second.
func Reminder(ctx context.Context, d Deps, concurrency int) (*reminder.Sender, error) {
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
	cfg := reminder.SenderConfig{
		From: d.Config.SenderEmail, ConfigurationSet: d.Config.SESConfigurationSet, Schedule: stages,
		RatePerSecond: reminder.PerSenderRate(d.Config.SESMaxPerSecond, concurrency),
	}
	if ch := d.AppNotifications(os.Getenv); ch != nil {
		cfg.AppNotifier = ch
	}
	return reminder.NewSender(cfg, d.Store(), d.Clients.SES, r, d.clock(), d.Log, d.Metrics)
}

// ReminderFromEnv is Reminder with the concurrency read from the environment.
func ReminderFromEnv(ctx context.Context, d Deps) (*reminder.Sender, error) {
	n, err := ReminderConcurrency(os.Getenv)
	if err != nil {
		return nil, err
	}
	return Reminder(ctx, d, n)
}
