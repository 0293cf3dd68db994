// Package wire builds the tokenrefresh function's graph from the shared constructors
// (shared/app): its main starts it, and the tests build the same graph through it.
package wire

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/spapi-auth-keeper/keeper/shared/app"
	"github.com/spapi-auth-keeper/keeper/shared/clientcreds"
	"github.com/spapi-auth-keeper/keeper/shared/queue"
	"github.com/spapi-auth-keeper/keeper/shared/refresh"
	"github.com/spapi-auth-keeper/keeper/shared/sealer"
	"github.com/spapi-auth-keeper/keeper/shared/stages"
)

// Build builds the function's handler and the service behind it: the refresh and
// reminder queues on sqsClient, KMS to open the parked tokens the sweep repairs
// (kmsClient nil: none can be, as without KMS_KEY_ID). cfg overrides parts of the
// refresh configuration (zero fields: from the environment, or the package
// defaults); a MaxPerSecond there paces this process alone instead of on the stack's
// shared LWA budget.
func Build(d app.Deps, sqsClient *sqs.Client, kmsClient *kms.Client, cfg refresh.Config) (*refresh.Handler, *refresh.Service, error) {
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
		Store: d.Store(), Vault: v, LWA: d.LWA(creds), Credentials: creds, Accounts: d.Accounts(),
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
