// Package app holds what every function of the stack is built from: Deps, the
// configuration and the SDK clients, and the constructors of the parts the functions
// share (the vault, the ledger, LWA, SP-API, the state-key signer, the renewal round
// trip, the shared call budgets). Each function's own assembly is in its folder under
// functions/; tests and the cost model build the same parts from the same
// constructors, against the emulators.
package app

import (
	"context"
	"log/slog"
	"net/http"
	"os"

	"github.com/spapi-auth-keeper/keeper/shared/appnotify"
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
	"github.com/spapi-auth-keeper/keeper/shared/tokensource"
	"github.com/spapi-auth-keeper/keeper/shared/vault"
)

// SPAPIEndpointEnv overrides the SP-API endpoint of the functions that call App
// Integrations, Application Management or the Sellers API (the simulator in local
// runs).
const SPAPIEndpointEnv = "SP_API_ENDPOINT"

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
	// LWARetry paces the retries of the LWA clients LWA builds (MaxAttempts,
	// BaseDelay, MaxDelay, AttemptTimeout; its other fields are ignored); zero fields
	// take the LWA client's defaults. Tests shorten them.
	LWARetry lwa.Config
}

// ClockOrSystem is d.Clock, or the system clock when it is nil.
func (d Deps) ClockOrSystem() authz.Clock {
	if d.Clock == nil {
		return authz.SystemClock
	}
	return d.Clock
}

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

// LWA is an LWA client whose client credentials come from creds (the vault's
// lwa-client secret, clientcreds.New).
func (d Deps) LWA(creds *clientcreds.Source) *lwa.Client {
	return lwa.NewClient(d.lwaConfig(creds))
}

// lwaConfig is the configuration of d's LWA clients, with creds (nil: none).
func (d Deps) lwaConfig(creds *clientcreds.Source) lwa.Config {
	c := lwa.Config{Endpoint: d.Config.LWAEndpoint, HTTPClient: d.HTTP, Logger: d.Log,
		MaxAttempts: d.LWARetry.MaxAttempts, BaseDelay: d.LWARetry.BaseDelay, MaxDelay: d.LWARetry.MaxDelay, AttemptTimeout: d.LWARetry.AttemptTimeout}
	if creds != nil {
		c.Credentials = creds
	}
	return c
}

// LWAConfig is the configuration of d's LWA clients without client credentials: for
// a client that brings its own (the rotation's check of a new secret).
func (d Deps) LWAConfig() lwa.Config { return d.lwaConfig(nil) }

// Signer is the link and state signer of this deployment: it reads the state-key
// secret from v on first use (Load), so a function starts without waiting for it.
func (d Deps) Signer(v *vault.Vault) *consent.Signer { return consent.NewSignerFrom(v.StateKey) }

// Accounts is the SP-API client that takes an account's fingerprint with its access token.
func (d Deps) Accounts() *spapi.Client {
	return spapi.NewClient(spapi.Config{Endpoint: d.Config.SPAPIEndpoint, HTTPClient: d.SPAPIHTTP, SellerIDProbe: d.Config.VerifySellerID,
		Clock: d.ClockOrSystem().Now, Logger: d.Log})
}

// Renewal is the renewal round trip of this deployment; the callback serves it and
// the refresh sweep repairs its parked tokens. seal is the KMS sealer of parked tokens
// (shared/sealer), built by the two functions that use KMS.
func (d Deps) Renewal(v *vault.Vault, signer *consent.Signer, seal renewal.Sealer) *renewal.Service {
	return renewal.NewService(renewal.Config{
		AppID: d.Config.AppID, AppName: d.Config.AppName, Draft: d.Config.AppIsDraft, RedirectURI: d.Config.RedirectURI,
		SellerCentralOverride: d.Config.SellerCentralURL, StateTTL: d.Config.StateTTL, SelfServiceOnboarding: d.Config.SelfServiceOnboarding,
		VerifySellerID: d.Config.VerifySellerID,
	}, renewal.Deps{Store: d.Store(), Vault: v, LWA: d.LWA(clientcreds.New(v, 0)), Accounts: Fingerprints{d.Accounts()},
		Sealer: seal, Signer: signer, Funnel: funnel.New(d.Store(), d.Log, d.Metrics),
		Notices: d.notices(), Clock: d.ClockOrSystem(), Log: d.Log, Metrics: d.Metrics})
}

// notices is the Seller Central channel as the renewal withdraws its notifications,
// or nil when the channel is off (no APP_NOTIFICATIONS_TEMPLATE_ID).
func (d Deps) notices() renewal.Notices {
	if c := d.AppNotifications(os.Getenv); c != nil {
		return c
	}
	return nil
}

// AppNotifications is the Seller Central channel when APP_NOTIFICATIONS_TEMPLATE_ID
// is set, else nil: App Integrations calls with the seller's own access token
// (minted from the stored refresh token), on SP_API_ENDPOINT when set.
func (d Deps) AppNotifications(getenv func(string) string) *appnotify.Channel {
	if d.Config.AppNotificationsTemplateID == "" {
		return nil
	}
	v := d.Vault()
	tokens := tokensource.New(v, d.LWA(clientcreds.New(v, 0)))
	client := &appnotify.Client{HTTP: d.HTTP, Endpoint: getenv(SPAPIEndpointEnv)}
	return appnotify.NewChannel(d.Config.AppNotificationsTemplateID, client, tokens, d.ClockOrSystem(), d.Log, d.Metrics)
}

// RoundTrip is the renewal round trip as the callback serves it, with v's state key
// read by the signer on the first request that needs it.
func (d Deps) RoundTrip(v *vault.Vault, seal renewal.Sealer) *renewal.Service {
	return d.Renewal(v, d.Signer(v), seal)
}

// Links signs renewal links with v's state key, read with the context of the first
// request that needs one (tokenservice.LinkSigner).
func (d Deps) Links(v *vault.Vault) Links { return Links{signer: d.Signer(v)} }

// Links signs renewal links once the state key is read.
type Links struct{ signer *consent.Signer }

// SignLink reads the state key unless it has been read, and signs l.
func (l Links) SignLink(ctx context.Context, link consent.Link) (string, error) {
	if err := l.signer.Load(ctx); err != nil {
		return "", err
	}
	return l.signer.SignLink(link), nil
}
