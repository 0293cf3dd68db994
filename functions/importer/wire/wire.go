// Package wire builds the importer function's graph from the shared constructors
// (shared/app): its main starts it, and the tests build the same graph through it.
package wire

import (
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/spapi-auth-keeper/keeper/shared/app"
	"github.com/spapi-auth-keeper/keeper/shared/clientcreds"
	"github.com/spapi-auth-keeper/keeper/shared/config"
	"github.com/spapi-auth-keeper/keeper/shared/importbucket"
	"github.com/spapi-auth-keeper/keeper/shared/importer"
	"github.com/spapi-auth-keeper/keeper/shared/queue"
	"github.com/spapi-auth-keeper/keeper/shared/spapi"
)

// The import function's own variables.
const (
	// importQueueURLEnv: the import queue, where an invocation near its deadline puts
	// the continuation of its import.
	importQueueURLEnv = "IMPORT_QUEUE_URL"
	// importUnknownExpiryEnv: the assumed lifetime left of a row without authorizedAt
	// (default 30d, so that the seller is asked to confirm now).
	importUnknownExpiryEnv = "IMPORT_UNKNOWN_EXPIRY"
	// importConfirmPerDayEnv paces the "confirm your connection" emails (0: no pacing).
	importConfirmPerDayEnv = "IMPORT_CONFIRM_PER_DAY"
)

// Build builds the function: S3 notifications and continuations in, the importer over
// the ledger, the vault, LWA and SP-API; s3c reads and deletes the import objects,
// sqsClient queues continuations.
func Build(d app.Deps, sqsClient *sqs.Client, s3c *s3.Client, getenv func(string) string) (*importer.Remote, error) {
	cfg := importer.Config{UnknownExpiry: importer.DefaultUnknownExpiry}
	if v := getenv(importUnknownExpiryEnv); v != "" {
		dur, err := config.ParseDuration(v)
		if err != nil || dur < 24*time.Hour || dur > 365*24*time.Hour {
			return nil, fmt.Errorf("%s=%q: want 1d to 365d", importUnknownExpiryEnv, v)
		}
		cfg.UnknownExpiry = dur
	}
	if v := getenv(importConfirmPerDayEnv); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("%s=%q: want a whole number, 0 for no pacing", importConfirmPerDayEnv, v)
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
	client := d.LWA(creds)
	accounts := spapi.NewClient(spapi.Config{Endpoint: getenv(app.SPAPIEndpointEnv), HTTPClient: d.HTTP, SellerIDProbe: d.Config.VerifySellerID,
		Clock: d.ClockOrSystem().Now, Logger: d.Log})
	st := d.Store()
	return &importer.Remote{
		New: func(c importer.Config) *importer.Importer {
			return importer.New(c, importer.Deps{Ledger: st, Tokens: v, Writer: v, LWA: client, Accounts: accounts,
				Clock: d.ClockOrSystem(), Log: d.Log, Pacer: pacer})
		},
		Config: cfg, Objects: importbucket.Objects{Client: s3c}, Statuses: st,
		Queue: queue.NewSender(sqsClient, getenv(importQueueURLEnv)), Clock: d.ClockOrSystem(), Log: d.Log, Margin: time.Minute, // stop a minute before the deadline
	}, nil
}
