// Package app assembles each function's object graph from its configuration and AWS
// clients. The functions' main packages call it with the real clients; tests, the
// benchmarks and the local stack call it with clients pointed at emulators, so they
// all run the same graph.
//
// This package holds what every function is built from (Deps: the configuration, the
// DynamoDB and Secrets Manager clients, the vault, the ledger, LWA) and the functions
// that need nothing more. A function that needs another AWS service, an email or a
// page template has its own package beside it (callbackapp, reminderapp,
// expiryscanapp, refreshapp, importerapp, publisherapp, webhookapp): Go links and
// initialises every package a binary imports, so each function imports only the
// wiring of what it runs.
package app

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/awsclients"
	"github.com/spapi-auth-keeper/keeper/shared/clientcreds"
	"github.com/spapi-auth-keeper/keeper/shared/config"
	"github.com/spapi-auth-keeper/keeper/shared/consent"
	"github.com/spapi-auth-keeper/keeper/shared/funnel"
	"github.com/spapi-auth-keeper/keeper/shared/lwa"
	"github.com/spapi-auth-keeper/keeper/shared/metrics"
	"github.com/spapi-auth-keeper/keeper/shared/renewal"
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

// ClockOrSystem is d.Clock, or the system clock when it is nil.
func (d Deps) ClockOrSystem() authz.Clock {
	if d.Clock == nil {
		return authz.SystemClock
	}
	return d.Clock
}

func (d Deps) clock() authz.Clock { return d.ClockOrSystem() }

// Vault is the token vault of this deployment: refresh tokens in the layout
// VAULT_LAYOUT names, its bookkeeping in the keeper's table.
func (d Deps) Vault() *vault.Vault {
	v := vault.New(d.Clients.Secrets, d.Config.SecretPrefix, d.Config.KMSKeyID).WithLogger(d.Log).WithMetrics(d.Metrics)
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

// Accounts is the SP-API client that takes an account's fingerprint with its access token.
func (d Deps) Accounts() *spapi.Client {
	return spapi.NewClient(spapi.Config{Endpoint: d.Config.SPAPIEndpoint, HTTPClient: d.SPAPIHTTP, SellerIDProbe: d.Config.VerifySellerID,
		Clock: d.clock().Now, Logger: d.Log})
}

// Renewal is the renewal round trip of this deployment; the callback serves it and
// the refresh sweep repairs its parked tokens. seal is the KMS sealer of parked tokens
// (shared/sealer), built by the wiring of the two functions that use KMS.
func (d Deps) Renewal(v *vault.Vault, signer *consent.Signer, seal renewal.Sealer) *renewal.Service {
	return renewal.NewService(renewal.Config{
		AppID: d.Config.AppID, AppName: d.Config.AppName, Draft: d.Config.AppIsDraft, RedirectURI: d.Config.RedirectURI,
		SellerCentralOverride: d.Config.SellerCentralURL, StateTTL: d.Config.StateTTL, SelfServiceOnboarding: d.Config.SelfServiceOnboarding,
		VerifySellerID: d.Config.VerifySellerID,
	}, renewal.Deps{Store: d.Store(), Vault: v, LWA: LWATokens{d.LWA(clientcreds.New(v, 0))}, Accounts: Fingerprints{d.Accounts()},
		Sealer: seal, Signer: signer, Funnel: funnel.New(d.Store(), d.Log, d.Metrics),
		Notices: d.notices(), Clock: d.clock(), Log: d.Log, Metrics: d.Metrics})
}

// notices is the Seller Central channel as the renewal withdraws its notifications,
// or nil when the channel is off (no APP_NOTIFICATIONS_TEMPLATE_ID).
func (d Deps) notices() renewal.Notices {
	if c := d.AppNotifications(os.Getenv); c != nil {
		return c
	}
	return nil
}
