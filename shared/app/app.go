// Package app assembles each function's object graph from its configuration and AWS
// clients. The functions' main packages call it with the real clients; tests, the
// benchmarks and the local stack call it with clients pointed at emulators, so they
// all run the same graph.
package app

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/awsclients"
	"github.com/spapi-auth-keeper/keeper/shared/callback"
	"github.com/spapi-auth-keeper/keeper/shared/clientcreds"
	"github.com/spapi-auth-keeper/keeper/shared/config"
	"github.com/spapi-auth-keeper/keeper/shared/consent"
	"github.com/spapi-auth-keeper/keeper/shared/lwa"
	"github.com/spapi-auth-keeper/keeper/shared/metrics"
	"github.com/spapi-auth-keeper/keeper/shared/renewal"
	"github.com/spapi-auth-keeper/keeper/shared/sealer"
	"github.com/spapi-auth-keeper/keeper/shared/spapi"
	"github.com/spapi-auth-keeper/keeper/shared/store"
	"github.com/spapi-auth-keeper/keeper/shared/vault"
)

// Deps are what every function is built from.
type Deps struct {
	Config  config.Config
	Clients awsclients.Clients
	Log     *slog.Logger
	Metrics *metrics.Emitter // nil discards
	Clock   authz.Clock      // nil = the system clock
	HTTP    *http.Client     // for LWA; nil = the LWA client's default
	// SPAPIHTTP is for SP-API calls; nil = the SP-API client's default.
	SPAPIHTTP *http.Client
}

func (d Deps) clock() authz.Clock {
	if d.Clock == nil {
		return authz.SystemClock
	}
	return d.Clock
}

// Vault is the token vault of this deployment: refresh tokens in the layout
// VAULT_LAYOUT names, its bookkeeping in the keeper's table.
func (d Deps) Vault() *vault.Vault {
	v := vault.New(d.Clients.Secrets, d.Config.SecretPrefix, d.Config.KMSKeyID).WithLogger(d.Log)
	if d.Config.TableName == "" || d.Clients.DynamoDB == nil {
		return v
	}
	layout, err := vault.ParseLayout(d.Config.VaultLayout)
	if err != nil {
		layout = vault.LayoutPacked // config.Load has refused anything else
	}
	return v.WithTable(d.Clients.DynamoDB, d.Config.TableName, layout, vault.Packing{WritesPerSecond: int(d.Config.VaultWritesPerSecond)})
}

// Store is the ledger of this deployment.
func (d Deps) Store() *store.Store { return store.New(d.Clients.DynamoDB, d.Config.TableName) }

// LWA is an LWA client whose client credentials come from the vault's lwa-client secret.
func (d Deps) LWA(creds *clientcreds.Source) *lwa.Client {
	return lwa.NewClient(lwa.Config{Endpoint: d.Config.LWAEndpoint, HTTPClient: d.HTTP, Credentials: creds})
}

// Signer reads the state-key secret and returns the link and state signer.
func (d Deps) Signer(ctx context.Context, v *vault.Vault) (*consent.Signer, error) {
	key, err := v.StateKey(ctx)
	if err != nil {
		return nil, fmt.Errorf("read state signing key: %w", err)
	}
	return consent.NewSigner(key)
}

// CallbackConfigNames are the variables the callback function cannot start without.
var CallbackConfigNames = []string{"TABLE_NAME", "SECRET_PREFIX", "APP_ID"}

// Callback builds the HTTP handler of the callback function.
func Callback(ctx context.Context, d Deps) (http.Handler, error) {
	v := d.Vault()
	signer, err := d.Signer(ctx, v)
	if err != nil {
		return nil, err
	}
	svc := d.Renewal(v, signer)
	return callback.Handler(svc, d.Log, d.Metrics), nil
}

// Accounts is the SP-API client that takes an account's fingerprint with its access token.
func (d Deps) Accounts() *spapi.Client {
	return spapi.NewClient(spapi.Config{Endpoint: d.Config.SPAPIEndpoint, HTTPClient: d.SPAPIHTTP, SellerIDProbe: d.Config.VerifySellerID,
		Clock: d.clock().Now, Logger: d.Log})
}

// Renewal is the renewal round trip of this deployment; the callback serves it and
// the refresh sweep repairs its parked tokens.
func (d Deps) Renewal(v *vault.Vault, signer *consent.Signer) *renewal.Service {
	return renewal.NewService(renewal.Config{
		AppID: d.Config.AppID, AppName: d.Config.AppName, Draft: d.Config.AppIsDraft, RedirectURI: d.Config.RedirectURI,
		SellerCentralOverride: d.Config.SellerCentralURL, StateTTL: d.Config.StateTTL, SelfServiceOnboarding: d.Config.SelfServiceOnboarding,
	}, renewal.Deps{Store: d.Store(), Vault: v, LWA: d.LWA(clientcreds.New(v, 0)), Accounts: d.Accounts(),
		Sealer: sealer.New(d.Clients.KMS, d.Config.KMSKeyID), Signer: signer, Clock: d.clock(), Log: d.Log, Metrics: d.Metrics})
}
