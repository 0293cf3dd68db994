// Package refreshapp wires the token refresh function: the hourly sweep and the
// refresh workers on SQS, with KMS to repair the renewals whose tokens were parked.
package refreshapp

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/spapi-auth-keeper/keeper/shared/app"
	"github.com/spapi-auth-keeper/keeper/shared/clientcreds"
	"github.com/spapi-auth-keeper/keeper/shared/lwa"
	"github.com/spapi-auth-keeper/keeper/shared/queue"
	"github.com/spapi-auth-keeper/keeper/shared/refresh"
	"github.com/spapi-auth-keeper/keeper/shared/sealer"
	"github.com/spapi-auth-keeper/keeper/shared/stages"
)

// TokenRefreshConfigNames are the variables the token refresh function cannot start
// without.
var TokenRefreshConfigNames = []string{"TABLE_NAME", "SECRET_PREFIX", "REFRESH_QUEUE_URL", "REMINDER_QUEUE_URL"}

// RefreshOptions are the token refresh settings the environment does not carry.
type RefreshOptions struct {
	// LWA retry pacing; zero takes the LWA client's defaults. Tests shorten them.
	LWAMaxAttempts    int
	LWABaseDelay      time.Duration
	LWAMaxDelay       time.Duration
	LWAAttemptTimeout time.Duration
	// Service overrides parts of the refresh configuration (zero fields: from the
	// environment, or the package defaults). A MaxPerSecond here paces this process
	// alone instead of on the stack's shared LWA budget.
	Service refresh.Config
}

// Clients are the SDK clients the token refresh uses beyond app.Deps's.
type Clients struct {
	SQS *sqs.Client // the refresh and reminder queues
	KMS *kms.Client // opens parked tokens; nil: none can be (no KMS_KEY_ID)
}

// TokenRefresh builds the token refresh function's handler and the service behind it.
func TokenRefresh(ctx context.Context, d app.Deps, c Clients, o RefreshOptions) (*refresh.Handler, *refresh.Service, error) {
	schedule, err := stages.ParseSchedule(d.Config.ReminderStages)
	if err != nil {
		return nil, nil, err
	}
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
	var pacer refresh.Pacer
	if cfg.MaxPerSecond == 0 {
		p, err := d.Pacer(app.LWABudget, d.Config.RefreshMaxPerSecond)
		if err != nil {
			return nil, nil, fmt.Errorf("REFRESH_MAX_PER_SECOND: %w", err)
		}
		pacer = p
	}
	if cfg.ExpiringWindow == 0 {
		cfg.ExpiringWindow = schedule.Window()
	}
	svc := refresh.New(cfg, refresh.Deps{
		Store: d.Store(), Vault: v, LWA: app.LWATokens{Client: client}, Credentials: creds, Accounts: d.Accounts(),
		RefreshQueue:  queue.NewSender(c.SQS, d.Config.RefreshQueueURL),
		ReminderQueue: queue.NewSender(c.SQS, d.Config.ReminderQueueURL),
		Clock:         d.ClockOrSystem(), Log: d.Log, Metrics: d.Metrics, Pacer: pacer,
		// Repairs need no state signer: they only finish round trips already started.
		RepairParked: func(ctx context.Context) (any, error) {
			return d.Renewal(v, nil, sealer.New(c.KMS, d.Config.KMSKeyID)).RepairParked(ctx)
		},
	})
	return refresh.NewHandler(svc), svc, nil
}

// TokenRefreshHandler is TokenRefresh for the Lambda function.
func TokenRefreshHandler(ctx context.Context, d app.Deps, c Clients) (*refresh.Handler, error) {
	h, _, err := TokenRefresh(ctx, d, c, RefreshOptions{})
	return h, err
}
