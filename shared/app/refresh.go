package app

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/spapi-auth-keeper/keeper/shared/clientcreds"
	"github.com/spapi-auth-keeper/keeper/shared/lwa"
	"github.com/spapi-auth-keeper/keeper/shared/queue"
	"github.com/spapi-auth-keeper/keeper/shared/refresh"
	"github.com/spapi-auth-keeper/keeper/shared/reminder"
)

// TokenRefreshConfigNames are the variables the token refresh function cannot start
// without.
var TokenRefreshConfigNames = []string{"TABLE_NAME", "SECRET_PREFIX", "REFRESH_QUEUE_URL", "REMINDER_QUEUE_URL"}

// RefreshConcurrencyEnv names the variable that carries the refresh queue's event
// source MaximumConcurrency into the function: the LWA budget REFRESH_MAX_PER_SECOND
// is shared by that many concurrent workers (template.yaml sets both from one
// parameter).
const RefreshConcurrencyEnv = "REFRESH_CONCURRENCY"

// RefreshConcurrency reads REFRESH_CONCURRENCY through getenv (2, the smallest
// MaximumConcurrency Lambda accepts, when unset).
func RefreshConcurrency(getenv func(string) string) (int, error) {
	v := getenv(RefreshConcurrencyEnv)
	if v == "" {
		return 2, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("%s=%q: want a whole number of at least 1", RefreshConcurrencyEnv, v)
	}
	return n, nil
}

// RefreshOptions are the token refresh settings the environment does not carry.
type RefreshOptions struct {
	// Workers is the refresh queue's MaximumConcurrency: each worker gets
	// REFRESH_MAX_PER_SECOND / Workers of the LWA budget. At least 1.
	Workers int
	// LWA retry pacing; zero takes the LWA client's defaults. Tests shorten them.
	LWAMaxAttempts    int
	LWABaseDelay      time.Duration
	LWAMaxDelay       time.Duration
	LWAAttemptTimeout time.Duration
	// Service overrides parts of the refresh configuration (zero fields: from the
	// environment, or the package defaults).
	Service refresh.Config
}

// TokenRefresh builds the token refresh function's handler and the service behind it.
func TokenRefresh(ctx context.Context, d Deps, o RefreshOptions) (*refresh.Handler, *refresh.Service, error) {
	stages, err := reminder.ParseSchedule(d.Config.ReminderStages)
	if err != nil {
		return nil, nil, err
	}
	workers := max(o.Workers, 1)
	v := d.Vault()
	if d.Log != nil {
		v = v.WithLogger(d.Log)
	}
	creds := clientcreds.New(v, 0)
	client := lwa.NewClient(lwa.Config{
		Endpoint: d.Config.LWAEndpoint, HTTPClient: d.HTTP, Credentials: creds, Logger: d.Log,
		MaxAttempts: o.LWAMaxAttempts, BaseDelay: o.LWABaseDelay, MaxDelay: o.LWAMaxDelay, AttemptTimeout: o.LWAAttemptTimeout,
	})
	cfg := o.Service
	if cfg.Interval == 0 {
		cfg.Interval = d.Config.RefreshInterval
	}
	if cfg.MaxPerSecond == 0 && d.Config.RefreshMaxPerSecond > 0 {
		cfg.MaxPerSecond = d.Config.RefreshMaxPerSecond / float64(workers)
	}
	if cfg.ExpiringWindow == 0 {
		cfg.ExpiringWindow = stages.Window()
	}
	svc := refresh.New(cfg, refresh.Deps{
		Store: d.Store(), Vault: v, LWA: client, Credentials: creds,
		RefreshQueue:  queue.NewSender(d.Clients.SQS, d.Config.RefreshQueueURL),
		ReminderQueue: queue.NewSender(d.Clients.SQS, d.Config.ReminderQueueURL),
		Clock:         d.clock(), Log: d.Log, Metrics: d.Metrics,
		// Repairs need no state signer: they only finish round trips already started.
		RepairParked: func(ctx context.Context) (any, error) { return d.Renewal(v, nil).RepairParked(ctx) },
	})
	return refresh.NewHandler(svc), svc, nil
}

// TokenRefreshFromEnv is TokenRefresh with the worker count read from the environment.
func TokenRefreshFromEnv(ctx context.Context, d Deps) (*refresh.Handler, error) {
	n, err := RefreshConcurrency(os.Getenv)
	if err != nil {
		return nil, err
	}
	h, _, err := TokenRefresh(ctx, d, RefreshOptions{Workers: n})
	return h, err
}
