// Package refresh proves every seller authorization alive. Amazon sends nothing when a
// seller revokes an app or lets it lapse: invalid_grant on the next refresh-token
// exchange is the only signal. So an hourly sweep queues the authorizations of the
// refresh slot that is due, workers exchange each refresh token at LWA, and every
// outcome becomes a record update, a metric and, where the seller must act, a
// "reconnect" email on the reminder queue.
//
// A refresh writes the ledger, never the secret, unless LWA hands back a refresh
// token different from the stored one: Secrets Manager's PutSecretValue family shares
// 50 requests per second per region (not adjustable), and AWS advises against
// updating a secret more than once every 10 minutes.
package refresh

import (
	"context"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/metrics"
	"github.com/spapi-auth-keeper/keeper/shared/rate"
	"github.com/spapi-auth-keeper/keeper/shared/secret"
)

// Store is the part of the ledger a refresh uses.
type Store interface {
	Get(ctx context.Context, connectionID string, region authz.Region) (authz.Authorization, error)
	Update(ctx context.Context, a authz.Authorization, events ...authz.Event) (authz.Authorization, error)
	BySlot(ctx context.Context, slot int, fn func(authz.Authorization) error) error
	History(ctx context.Context, connectionID string, limit int) ([]authz.Event, error)
}

// Vault holds the authorizations' refresh tokens. Get fails with
// authz.ErrSecretNotFound or authz.ErrSecretMalformed when it holds no usable one.
type Vault interface {
	Get(ctx context.Context, connectionID string, region authz.Region) (authz.RefreshToken, error)
	Put(ctx context.Context, connectionID string, region authz.Region, rt authz.RefreshToken) (string, error)
	SecretName(connectionID string, region authz.Region) string
}

// TokenRefresher exchanges a refresh token at LWA. Its errors are classified as
// authz.ErrInvalidGrant, authz.ErrClientRejected, authz.ErrClientNotConfigured,
// authz.ErrThrottled and authz.ErrBadRequest where LWA (or the lwa-client secret)
// said so; anything else counts as LWA unavailable.
type TokenRefresher interface {
	Refresh(ctx context.Context, refreshToken secret.Value) (authz.Tokens, error)
}

// AccountReader takes the fingerprint of the Amazon account behind an access token
// with SP-API itself (the *spapi.Client the callback uses).
type AccountReader interface {
	Account(ctx context.Context, region authz.Region, accessToken secret.Value) (authz.Account, error)
}

// ClientCredentials is the cached lwa-client secret the LWA client reads its
// credentials from, read for the client secret's expiry.
type ClientCredentials interface {
	Full(ctx context.Context) (authz.ClientCredentials, error)
}

// Sender puts message bodies on a queue.
type Sender interface {
	Send(ctx context.Context, bodies []string) (int, error)
}

// Metric names and the reasons of RefreshFailed (DESIGN.md, "Observability").
const (
	MetricSucceeded      = metrics.RefreshSucceeded
	MetricFailed         = metrics.RefreshFailed
	MetricQueued         = metrics.RefreshQueued
	MetricClientDaysLeft = metrics.ClientSecretDaysLeft

	ReasonRevoked     = "revoked"     // invalid_grant before expiresAt: the seller must reconnect
	ReasonExpired     = "expired"     // invalid_grant at or after expiresAt
	ReasonClient      = "client"      // invalid_client / unauthorized_client: the vendor's LWA credentials
	ReasonThrottled   = "throttled"   // LWA answered 429 on every attempt
	ReasonUnavailable = "unavailable" // LWA, Secrets Manager or DynamoDB failed or timed out
	ReasonBadRequest  = "bad_request" // LWA called the request malformed: a bug or a misconfiguration
	ReasonNoSecret    = "no_secret"   // the record needs a refresh token the vault does not hold
)

// Defaults of Config.
const (
	DefaultInterval            = 24 * time.Hour
	DefaultMaxPerSecond        = 20
	DefaultConcurrency         = 4
	DefaultExpiringWindow      = 30 * 24 * time.Hour
	DefaultConfirmRevokedAfter = 3
	DefaultSweepSenders        = 4
	DefaultClientPause         = time.Minute
)

// Config tunes the service. Zero fields take the defaults.
type Config struct {
	// Interval is REFRESH_INTERVAL: every authorization is refreshed once per
	// interval. Whole hours, at least one (the sweep runs hourly).
	Interval time.Duration
	// Slots is how many refresh slots records are spread over (the refreshSlot the
	// callback and the store write); default authz.DefaultRefreshSlots.
	Slots int
	// MaxPerSecond is the LWA budget when Deps.Pacer is nil: this process paces
	// itself alone (tests, one-off tools). The deployed workers share
	// REFRESH_MAX_PER_SECOND through one pace budget instead.
	MaxPerSecond float64
	// Concurrency is how many refreshes one invocation runs at once, so that LWA's
	// latency does not keep a worker below its rate.
	Concurrency int
	// ExpiringWindow is how long before expiresAt an authorization counts as
	// expiring (the first reminder stage); used when a refresh restores a revoked one.
	ExpiringWindow time.Duration
	// ConfirmRevokedAfter is how many failed proofs of life confirm a revocation;
	// a confirmed one is no longer sent to LWA, only checked for a newer secret.
	ConfirmRevokedAfter int
	// SweepSenders is how many SendMessageBatch calls the sweep has in flight.
	SweepSenders int
	// ClientPause is how long refreshes fail fast after LWA refused the vendor's
	// client credentials twice (before and after re-reading the lwa-client secret).
	ClientPause time.Duration
}

func (c Config) withDefaults() Config {
	if c.Interval < time.Hour {
		c.Interval = DefaultInterval
	}
	if c.Slots <= 0 {
		c.Slots = authz.DefaultRefreshSlots
	}
	if c.MaxPerSecond <= 0 {
		c.MaxPerSecond = DefaultMaxPerSecond
	}
	if c.Concurrency <= 0 {
		c.Concurrency = DefaultConcurrency
	}
	if c.ExpiringWindow <= 0 {
		c.ExpiringWindow = DefaultExpiringWindow
	}
	if c.ConfirmRevokedAfter <= 0 {
		c.ConfirmRevokedAfter = DefaultConfirmRevokedAfter
	}
	if c.SweepSenders <= 0 {
		c.SweepSenders = DefaultSweepSenders
	}
	if c.ClientPause <= 0 {
		c.ClientPause = DefaultClientPause
	}
	return c
}

// Deps are the service's collaborators.
type Deps struct {
	Store       Store
	Vault       Vault
	LWA         TokenRefresher
	Credentials ClientCredentials
	// Accounts fingerprints, at its next successful refresh, a seller connection that
	// has no account fingerprint yet (authorized before fingerprints were taken, or
	// when SP-API failed). nil takes none.
	Accounts      AccountReader
	RefreshQueue  Sender // where the sweep puts due authorizations
	ReminderQueue Sender // where revocations put reconnect emails
	Clock         authz.Clock
	Log           *slog.Logger
	Metrics       *metrics.Emitter // nil discards
	// Pacer spaces LWA calls on the budget every worker (and the importer) shares
	// (shared/pace). nil paces this process alone at Config.MaxPerSecond.
	Pacer Pacer
	// RepairParked finishes renewals whose refresh token the callback had to park
	// (Secrets Manager did not take it in time); each sweep runs it first. nil skips.
	RepairParked func(ctx context.Context) (any, error)
}

// Service sweeps refresh slots and refreshes authorizations.
type Service struct {
	cfg       Config
	store     Store
	vault     Vault
	lwa       TokenRefresher
	creds     ClientCredentials
	accounts  AccountReader
	refreshQ  Sender
	reminderQ Sender
	clock     authz.Clock
	log       *slog.Logger
	metrics   *metrics.Emitter
	pacer     Pacer
	repair    func(ctx context.Context) (any, error)

	mu         sync.Mutex
	clientDown time.Time // refreshes fail fast until then
}

// New builds the service.
func New(cfg Config, d Deps) *Service {
	cfg = cfg.withDefaults()
	s := &Service{
		cfg: cfg, store: d.Store, vault: d.Vault, lwa: d.LWA, creds: d.Credentials, accounts: d.Accounts,
		refreshQ: d.RefreshQueue, reminderQ: d.ReminderQueue, clock: d.Clock, log: d.Log, metrics: d.Metrics, repair: d.RepairParked,
		pacer: d.Pacer,
	}
	if s.pacer == nil {
		perSecond := cfg.MaxPerSecond
		if math.IsInf(perSecond, 0) { // withDefaults keeps only numbers above 0
			perSecond = DefaultMaxPerSecond
		}
		s.pacer = rate.NewLocal(perSecond)
	}
	if s.clock == nil {
		s.clock = authz.SystemClock
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	return s
}

// Config returns the configuration in effect, defaults filled in.
func (s *Service) Config() Config { return s.cfg }

// Pacer hands out call times on the LWA budget every worker and the importer share.
type Pacer interface {
	// Reserve announces a batch about to be refreshed, so that one reservation serves it.
	Reserve(n int)
	// Wait blocks until the caller's call time; it fails at once when that time is
	// after ctx's deadline.
	Wait(ctx context.Context) error
}
