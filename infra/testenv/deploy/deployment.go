package deploy

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/spapi-auth-keeper/keeper/infra/amazonsim"
	"github.com/spapi-auth-keeper/keeper/infra/secretsemu"
	"github.com/spapi-auth-keeper/keeper/infra/testenv"
	"github.com/spapi-auth-keeper/keeper/shared/app"
	"github.com/spapi-auth-keeper/keeper/shared/awsclients"
	"github.com/spapi-auth-keeper/keeper/shared/config"
	"github.com/spapi-auth-keeper/keeper/shared/consent"
	"github.com/spapi-auth-keeper/keeper/shared/metrics"
	"github.com/spapi-auth-keeper/keeper/shared/secret"
	"github.com/spapi-auth-keeper/keeper/shared/store"
	"github.com/spapi-auth-keeper/keeper/shared/vault"
)

// DefaultNow is where a deployment's test clock starts unless told otherwise.
var DefaultNow = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

// DeployOptions shape one test deployment.
type DeployOptions struct {
	// Now is the test clock's start (zero: DefaultNow).
	Now time.Time
	// Sim configures the Amazon simulator; its Clock is the deployment's.
	Sim amazonsim.Config
	// KMS gives the deployment a KMS key (Config.KMSKeyID).
	KMS bool
	// SharedSecrets uses the Secrets Manager emulator the test binary shares instead
	// of one of the deployment's own; Deployment.Secrets is then nil (no call counts,
	// no faults).
	SharedSecrets bool
	// SeparateSecrets gives the vault no table: one secret per token, whatever the
	// deployment's layout would be.
	SeparateSecrets bool
	// StateKey, when set, is put in the vault, and Signer signs with it.
	StateKey string
	// ClientCredentials, when set, are put in the vault.
	ClientCredentials *vault.ClientCredentials
	// Configure sets the package's own settings on d.Config, before the vault and
	// Deps are built from it. The table, secret prefix, LWA endpoint (the simulator's)
	// and KMS key are set already.
	Configure func(d *Deployment)
}

// Deployment is one isolated keeper over the shared emulators: its own table, secret
// prefix, Secrets Manager emulator, Amazon simulator and test clock, the store and
// vault on them, and buffers that collect what it logs and the metrics it emits.
type Deployment struct {
	T   testing.TB
	Ctx context.Context

	Clock  *testenv.Clock
	Sim    *amazonsim.Sim
	SimURL string

	DDB    *dynamodb.Client
	Table  string
	Prefix string
	SM     *secretsmanager.Client
	// Secrets is the deployment's own Secrets Manager emulator (nil with SharedSecrets).
	Secrets *secretsemu.Server
	KMS     *kms.Client // nil unless DeployOptions.KMS
	KMSKey  string

	Store  *store.Store
	Vault  *vault.Vault
	Signer *consent.Signer // nil without a state key

	Logs    *testenv.Buffer
	Metrics *testenv.Buffer
	Log     *slog.Logger // JSON lines, debug and up, into Logs

	Config  config.Config
	Clients awsclients.Clients
	// Deps are the function dependencies as a handler gets them: Config, Clients, Log,
	// Metrics (timestamped by the test clock) and Clock.
	Deps app.Deps
}

// Deploy starts a deployment for the test t; everything it starts stops when t ends.
func Deploy(t testing.TB, o DeployOptions) *Deployment {
	t.Helper()
	now := o.Now
	if now.IsZero() {
		now = DefaultNow
	}
	d := &Deployment{T: t, Ctx: context.Background(), Clock: testenv.NewClock(now),
		Logs: &testenv.Buffer{}, Metrics: &testenv.Buffer{}}

	simCfg := o.Sim
	simCfg.Clock = d.Clock.Now
	d.Sim = amazonsim.New(simCfg)
	simServer := httptest.NewServer(d.Sim)
	t.Cleanup(simServer.Close)
	d.SimURL = simServer.URL

	d.DDB = testenv.DynamoDB(t)
	d.Table = testenv.NewTable(t)
	if o.SharedSecrets {
		d.SM = testenv.SecretsManager(t)
	} else {
		d.SM, d.Secrets = testenv.SecretsManagerInProcess(t)
	}
	if o.KMS {
		d.KMS, d.KMSKey = testenv.KMS(t)
	}
	d.Prefix = testenv.Prefix(t)
	d.Clients = awsclients.Clients{DynamoDB: d.DDB, Secrets: d.SM}
	d.Config = config.Config{TableName: d.Table, SecretPrefix: d.Prefix, LWAEndpoint: d.SimURL + "/auth/o2/token", KMSKeyID: d.KMSKey}
	if o.Configure != nil {
		o.Configure(d)
	}

	d.Store = store.New(d.DDB, d.Table)
	discard := slog.New(slog.DiscardHandler) // the seeding's own lines are not the test's
	if o.SeparateSecrets {
		d.Vault = vault.New(d.SM, d.Prefix, d.KMSKey).WithLogger(discard)
	} else {
		d.Vault = app.Deps{Config: d.Config, Clients: d.Clients, Log: discard}.Vault() // the deployment's layout
	}
	if o.StateKey != "" {
		d.must(d.Vault.PutStateKey(d.Ctx, secret.Value(o.StateKey)))
		var err error
		d.Signer, err = consent.NewSigner(secret.Value(o.StateKey))
		d.must(err)
	}
	if o.ClientCredentials != nil {
		d.must(d.Vault.PutClientCredentials(d.Ctx, *o.ClientCredentials))
	}

	d.Log = slog.New(slog.NewJSONHandler(d.Logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	d.Deps = app.Deps{Config: d.Config, Clients: d.Clients, Log: d.Log,
		Metrics: metrics.New(d.Metrics).WithClock(d.Clock.Now), Clock: d.Clock}
	return d
}

func (d *Deployment) must(err error) {
	d.T.Helper()
	if err != nil {
		d.T.Fatal(err)
	}
}
