// Package importerapp wires the import function: a vendor's file of authorizations
// from S3, imported into the ledger and the vault, continued through SQS.
package importerapp

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/spapi-auth-keeper/keeper/shared/app"
	"github.com/spapi-auth-keeper/keeper/shared/clientcreds"
	"github.com/spapi-auth-keeper/keeper/shared/config"
	"github.com/spapi-auth-keeper/keeper/shared/importer"
	"github.com/spapi-auth-keeper/keeper/shared/lwa"
	"github.com/spapi-auth-keeper/keeper/shared/queue"
	"github.com/spapi-auth-keeper/keeper/shared/s3object"
	"github.com/spapi-auth-keeper/keeper/shared/spapi"
)

// ImporterConfigNames are the variables the import function cannot start without.
var ImporterConfigNames = []string{"TABLE_NAME", "SECRET_PREFIX"}

// The import function's own variables.
const (
	// ImportQueueURLEnv: the import queue, where an invocation near its deadline puts
	// the continuation of its import.
	ImportQueueURLEnv = "IMPORT_QUEUE_URL"
	// ImportUnknownExpiryEnv: the assumed lifetime left of a row without authorizedAt
	// (default 30d, so that the seller is asked to confirm now).
	ImportUnknownExpiryEnv = "IMPORT_UNKNOWN_EXPIRY"
	// ImportConfirmPerDayEnv paces the "confirm your connection" emails (0: no pacing).
	ImportConfirmPerDayEnv = "IMPORT_CONFIRM_PER_DAY"
)

// ImporterOptions tune the import function beyond its environment (tests).
type ImporterOptions struct {
	Margin         time.Duration // stop this long before the deadline; default 60s
	LWAMaxAttempts int
	LWABaseDelay   time.Duration
	LWAMaxDelay    time.Duration
	SPAPIMaxDelay  time.Duration
	S3             *s3object.Client // default: from d.Clients.Config
	SellerIDProbe  bool
}

// Importer builds the import function: S3 notifications and continuations in, the
// importer over the ledger, the vault, LWA and SP-API; sqsClient queues continuations.
func Importer(ctx context.Context, d app.Deps, sqsClient *sqs.Client, getenv func(string) string, o ImporterOptions) (*importer.Remote, error) {
	cfg := importer.Config{UnknownExpiry: importer.DefaultUnknownExpiry}
	if v := getenv(ImportUnknownExpiryEnv); v != "" {
		dur, err := config.ParseDuration(v)
		if err != nil || dur < 24*time.Hour || dur > 365*24*time.Hour {
			return nil, fmt.Errorf("%s=%q: want 1d to 365d", ImportUnknownExpiryEnv, v)
		}
		cfg.UnknownExpiry = dur
	}
	if v := getenv(ImportConfirmPerDayEnv); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("%s=%q: want a whole number, 0 for no pacing", ImportConfirmPerDayEnv, v)
		}
		cfg.ConfirmPerDay = n
	}
	// The import and the proof-of-life refresh share one LWA budget through the
	// table, so that together they never exceed REFRESH_MAX_PER_SECOND.
	cfg.MaxPerSecond = d.Config.RefreshMaxPerSecond
	pacer, err := d.Pacer(app.LWABudget, d.Config.RefreshMaxPerSecond)
	if err != nil {
		return nil, fmt.Errorf("REFRESH_MAX_PER_SECOND: %w", err)
	}
	v := d.Vault()
	creds := clientcreds.New(v, 0)
	client := lwa.NewClient(lwa.Config{Endpoint: d.Config.LWAEndpoint, HTTPClient: d.HTTP, Credentials: creds, Logger: d.Log,
		MaxAttempts: o.LWAMaxAttempts, BaseDelay: o.LWABaseDelay, MaxDelay: o.LWAMaxDelay})
	accounts := spapi.NewClient(spapi.Config{Endpoint: getenv(app.SPAPIEndpointEnv), HTTPClient: d.HTTP, SellerIDProbe: o.SellerIDProbe || d.Config.VerifySellerID,
		Clock: d.ClockOrSystem().Now, Logger: d.Log, MaxDelay: o.SPAPIMaxDelay})
	s3c := o.S3
	if s3c == nil {
		// The endpoint override (AWS_ENDPOINT_URL_S3) is an emulator, addressed by path.
		if s3c, err = s3object.NewFromConfig(ctx, d.Clients.Config); err != nil {
			return nil, err
		}
	}
	st := d.Store()
	margin := o.Margin
	if margin <= 0 {
		margin = time.Minute
	}
	return &importer.Remote{
		New: func(c importer.Config) *importer.Importer {
			return importer.New(c, importer.Deps{Ledger: st, Tokens: v, Writer: v, LWA: client, Accounts: accounts,
				Clock: d.ClockOrSystem(), Log: d.Log, Pacer: pacer})
		},
		Config: cfg, Objects: importer.S3Objects{Client: s3c}, Statuses: st,
		Queue: queue.NewSender(sqsClient, getenv(ImportQueueURLEnv)), Clock: d.ClockOrSystem(), Log: d.Log, Margin: margin,
	}, nil
}
