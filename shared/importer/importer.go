// Package importer brings a vendor's existing seller authorizations into the ledger
// from a file (CSV with a header, or JSON Lines): each refresh token is proven with
// one LWA refresh at the rate budget the proof-of-life refresh shares, the account's
// fingerprint is taken with SP-API and compared with what the row and the ledger claim
// (evidence.go), the token is stored in the vault and the record written with the
// status the evidence gives. The file is streamed (memory grows only by a hash of each
// row's token, to refuse a token's second row), a re-run changes nothing already
// imported and calls LWA for none of it, and no token ever reaches a log line, an
// error or the report. keeperctl import runs it on the operator's machine; the
// importer function runs it in the stack on a file dropped into the import bucket.
package importer

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"time"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/rate"
	"github.com/spapi-auth-keeper/keeper/shared/secret"
)

// Ledger is the part of the authorization table an import uses.
type Ledger interface {
	Get(ctx context.Context, connectionID string, region authz.Region) (authz.Authorization, error)
	Create(ctx context.Context, a authz.Authorization, events ...authz.Event) (authz.Authorization, error)
	Update(ctx context.Context, a authz.Authorization, events ...authz.Event) (authz.Authorization, error)
	// CreateBound and UpdateBound also bind the record's seller to its connection in
	// the same transaction, and write nothing if another connection holds the seller
	// in that region (*authz.SellerBoundError): the binding, not a memory of the file,
	// refuses one seller under two connections, so the import's memory stays flat.
	CreateBound(ctx context.Context, a authz.Authorization, at time.Time, events ...authz.Event) (authz.Authorization, error)
	UpdateBound(ctx context.Context, a authz.Authorization, at time.Time, events ...authz.Event) (authz.Authorization, error)
	// SellerBinding names the connection a seller is bound to in a region ("" if none).
	SellerBinding(ctx context.Context, region authz.Region, sellingPartnerID string) (string, error)
	// FindBySeller returns a seller's records in every region, whose fingerprints a
	// token said to be that seller's must match.
	FindBySeller(ctx context.Context, sellingPartnerID string) ([]authz.Authorization, error)
}

// TokenReader reads a stored refresh token, to tell a row already imported (the same
// token) without asking LWA again; authz.ErrSecretNotFound or authz.ErrSecretMalformed
// when the vault holds no usable one.
type TokenReader interface {
	Get(ctx context.Context, connectionID string, region authz.Region) (authz.RefreshToken, error)
}

// TokenWriter stores refresh tokens many at a time and returns the id of the secret
// that holds each (the vault). The packed vault writes each bucket secret once per
// call, so an import writes a bucket a few times, not once per row: Secrets Manager
// refuses more than about 100 versions of one secret in 24 hours. Delete removes a
// token stored for a row whose record was then refused.
type TokenWriter interface {
	PutMany(ctx context.Context, entries []authz.VaultEntry) ([]string, error)
	Delete(ctx context.Context, connectionID string, region authz.Region) error
}

// TokenRefresher exchanges a refresh token at LWA. Its errors are classified as
// authz.ErrInvalidGrant, authz.ErrClientRejected and authz.ErrBadRequest where LWA
// said so; anything else fails the row as LWA unavailable.
type TokenRefresher interface {
	Refresh(ctx context.Context, refreshToken secret.Value) (authz.Tokens, error)
}

// AccountReader takes an account's fingerprint with SP-API, using an access token of
// the refresh token in question (the spapi client).
type AccountReader interface {
	Account(ctx context.Context, region authz.Region, accessToken secret.Value) (authz.Account, error)
}

// Outcome is what happened to one row.
type Outcome string

// Outcomes, in the order the report lists them.
const (
	OutcomeActive        Outcome = "imported_active"         // LWA accepted, expiry known
	OutcomeUnknownExpiry Outcome = "imported_unknown_expiry" // LWA accepted, expiry assumed
	OutcomeRevoked       Outcome = "imported_revoked"        // LWA said invalid_grant before expiry (or expiry unknown)
	OutcomeExpired       Outcome = "imported_expired"        // invalid_grant, and authorizedAt + 365 days has passed
	OutcomeUnchanged     Outcome = "unchanged"               // already imported with the same token: nothing done
	OutcomeValid         Outcome = "valid"                   // dry run: the row would be imported
	OutcomeRejected      Outcome = "rejected"                // malformed, refused or another app's token: skipped
	OutcomeFailed        Outcome = "failed"                  // LWA or AWS unavailable: nothing written, run again
)

// Outcomes lists every outcome in report order.
var Outcomes = []Outcome{OutcomeActive, OutcomeUnknownExpiry, OutcomeRevoked, OutcomeExpired, OutcomeUnchanged, OutcomeValid, OutcomeRejected, OutcomeFailed}

// Defaults of Config.
const (
	DefaultUnknownExpiry   = 30 * 24 * time.Hour
	DefaultConcurrency     = 8  // at least; see Config.Concurrency
	DefaultBatchSize       = 50 // a packed vault bucket's entries (its default MaxEntries): one bucket write a batch
	perSecretBatchSize     = 8
	DefaultExpiringWindow  = 31 * 24 * time.Hour
	DefaultMaxRejections   = 10000
	clientFailuresToAbort  = 3
	defaultProgressEvery   = 500 * time.Millisecond
	flushTimeout           = 2 * time.Minute
	maxConcurrency         = 64
	rowSeconds             = 3 // a row's time in flight: ledger reads, LWA (p99) and SP-API, on a busy day
	maxBatchWait           = 5 * time.Second
	recordWriters          = 16
	importedByDetailPrefix = "imported"
)

// ErrClientCredentials says LWA refused the app's own client credentials for the
// first rows and accepted none: every row would fail, so the import stops.
var ErrClientCredentials = errors.New("LWA refused the app's client credentials for every row tried: check the lwa-client secret, then run again")

// perAuthorization is the vault layout that keeps one secret per authorization.
const perAuthorization authz.VaultLayout = "per-authorization"

// Pacer hands out LWA call times on the budget the proof-of-life refresh shares.
type Pacer interface {
	Wait(ctx context.Context) error
}

// Config tunes an import. Zero fields take the defaults.
type Config struct {
	// MaxPerSecond is the LWA budget (REFRESH_MAX_PER_SECOND): the rate of a Pacer
	// made here when Deps.Pacer is nil, and what the number of rows in flight is sized
	// for. The deployed import shares the budget with the proof-of-life refresh
	// through the table (shared/pace), so that together they never exceed it.
	MaxPerSecond float64
	// Concurrency is how many rows are in flight, so that LWA's latency does not keep
	// the import below its rate: by default MaxPerSecond × 3 s (a row's ledger reads,
	// LWA and SP-API, with room for slow answers), at least DefaultConcurrency and
	// at most 64. The limiter, not the workers, then sets the pace.
	Concurrency int
	// BatchSize is how many proven rows are stored together: one PutMany of the vault
	// (a bucket's worth by default; 8 for a vault that keeps a secret per
	// authorization), then their records. A batch also leaves after 5 s, so rows are
	// written at least that often at a slow pace.
	BatchSize int
	// UnknownExpiry is the assumed lifetime left of an authorization whose grant date
	// the file does not give: short, so that the seller is asked to confirm now.
	UnknownExpiry time.Duration
	// ConfirmPerDay paces the "confirm your connection" emails of unknown-expiry rows:
	// the n-th such row's assumed expiry is n/ConfirmPerDay days later, so the first
	// reminder stage falls due for at most ConfirmPerDay sellers a day. 0: no pacing.
	ConfirmPerDay int
	// ExpiringWindow is how long before expiry a record counts as expiring (the first
	// reminder stage's window).
	ExpiringWindow time.Duration
	// Slots is the number of refresh slots (authz.DefaultRefreshSlots).
	Slots int
	// DryRun validates the file without touching LWA or AWS.
	DryRun bool
	// Source names the file in history events and the report.
	Source string
	// SkipThroughLine resumes an import: rows up to this line are read but not
	// processed.
	SkipThroughLine int
	// SkipLines are lines after SkipThroughLine that a previous run finished already
	// (Report.DoneAfter): they are read but not processed either.
	SkipLines []int
	// MaxRejections bounds the rejected rows the report lists (counts stay exact).
	MaxRejections int
}

func (c Config) withDefaults() Config {
	if c.MaxPerSecond <= 0 {
		c.MaxPerSecond = 20
	}
	if c.Concurrency <= 0 {
		c.Concurrency = min(maxConcurrency, max(DefaultConcurrency, int(math.Ceil(c.MaxPerSecond*rowSeconds))))
	}
	if c.UnknownExpiry <= 0 {
		c.UnknownExpiry = DefaultUnknownExpiry
	}
	if c.ExpiringWindow <= 0 {
		c.ExpiringWindow = DefaultExpiringWindow
	}
	if c.Slots <= 0 {
		c.Slots = authz.DefaultRefreshSlots
	}
	if c.MaxRejections <= 0 {
		c.MaxRejections = DefaultMaxRejections
	}
	return c
}

// Deps are an import's collaborators. Accounts may be nil: no fingerprint is taken.
type Deps struct {
	Ledger   Ledger
	Tokens   TokenReader
	Writer   TokenWriter
	LWA      TokenRefresher
	Accounts AccountReader
	Clock    authz.Clock
	Log      *slog.Logger
	// Progress, if set, is called about twice a second while the import runs, and
	// once at the end.
	Progress      func(Progress)
	ProgressEvery time.Duration
	// Pacer, if set, spaces the LWA calls on the budget the import shares with the
	// refresh workers (shared/pace); otherwise this import paces itself alone at
	// Config.MaxPerSecond.
	Pacer Pacer
}

// Progress is a snapshot of a running import.
type Progress struct {
	Rows            int             `json:"rows"` // rows with an outcome so far
	Counts          map[Outcome]int `json:"counts"`
	BytesRead       int64           `json:"bytesRead"`
	LWACalls        int             `json:"lwaCalls"`
	Elapsed         time.Duration   `json:"elapsed"`
	DoneThroughLine int             `json:"doneThroughLine"` // every row up to this line is finished
	Done            bool            `json:"done"`
}

// Processed is how many rows have an outcome.
func (p Progress) Processed() int {
	n := 0
	for _, c := range p.Counts {
		n += c
	}
	return n
}

// Importer runs imports.
type Importer struct {
	cfg      Config
	d        Deps
	limiter  Pacer
	flushers int // batches stored at once
}

// New builds an importer.
func New(cfg Config, d Deps) *Importer {
	cfg = cfg.withDefaults()
	if d.Clock == nil {
		d.Clock = authz.SystemClock
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.ProgressEvery <= 0 {
		d.ProgressEvery = defaultProgressEvery
	}
	var lim Pacer = d.Pacer
	if lim == nil {
		perSecond := cfg.MaxPerSecond
		if math.IsInf(perSecond, 0) { // withDefaults keeps only numbers above 0
			perSecond = 20
		}
		lim = rate.NewLocal(perSecond)
	}
	// A packed vault's batches go one after the other: two at once would queue on the
	// open bucket's lease and write it once each. A vault that keeps one secret per
	// authorization writes a secret per row whatever the batch, so batches go side by
	// side there.
	flushers, batch := 1, DefaultBatchSize
	if l, ok := d.Writer.(interface{ Layout() authz.VaultLayout }); ok && l.Layout() == perAuthorization {
		// Its PutMany writes the secrets one after the other: short batches, so that
		// none waits long behind a slow one.
		flushers, batch = 4, perSecretBatchSize
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = batch
	}
	return &Importer{cfg: cfg, d: d, limiter: lim, flushers: flushers}
}

// Config returns the configuration in effect.
func (im *Importer) Config() Config { return im.cfg }
