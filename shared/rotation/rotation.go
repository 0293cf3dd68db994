// Package rotation keeps the vendor's own LWA client secret alive. Amazon requires
// rotating it every 180 days; when the deadline passes, every token request of the
// application fails with invalid_client, for every seller at once.
//
// A rotation is requested through the Application Management API when the lwa-client
// secret's clientSecretExpiresAt comes within RotateBefore (the daily check), when
// Amazon's APPLICATION_OAUTH_CLIENT_SECRET_EXPIRY notification arrives, or when an
// operator asks; at most once per rotation window, because the request is recorded as
// pending in the ledger table first. Amazon answers by putting the new secret on the
// vendor's queue (APPLICATION_OAUTH_CLIENT_NEW_SECRET). The service proves it works
// with a client_credentials grant before anything else, then stores it as the new
// version of the lwa-client secret (the previous one stays AWSPREVIOUS), records its
// expiry, emits a metric and writes a history event. Every function reads the
// lwa-client secret through a short cache and re-reads it on invalid_client, so the
// new secret is in use everywhere within minutes, without a redeploy; the old one
// keeps working for seven days meanwhile.
//
// The new secret is never logged and never leaves Secrets Manager and the queue: it
// travels through this package as a secret.Value.
package rotation

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/metrics"
)

// Trigger says what asked for a rotation.
type Trigger string

const (
	TriggerSchedule           Trigger = "schedule"            // the daily check found the secret within RotateBefore
	TriggerExpiryNotification Trigger = "expiry_notification" // APPLICATION_OAUTH_CLIENT_SECRET_EXPIRY
	TriggerOperator           Trigger = "operator"            // keeperctl client-secret rotate
)

// State is the rotation's record in the ledger table.
type State struct {
	// PendingSince is when the rotation now pending was requested; zero when none is.
	// While it is set and younger than PendingTimeout, no other rotation is requested.
	PendingSince   time.Time
	PendingTrigger Trigger
	// LastRequestedAt is when Amazon last accepted a rotation request (204).
	LastRequestedAt time.Time
	// LastRotatedAt is when a new secret was last verified and stored.
	LastRotatedAt time.Time
	// SecretExpiresAt is the expiry of the secret LastRotatedAt stored.
	SecretExpiresAt time.Time
	// LastNotificationID is the notificationId of the new-secret notification applied last.
	LastNotificationID string
	Version            int64 // optimistic lock: every save is conditional on it
}

// Pending says whether a rotation requested before now is still awaiting its secret.
func (s State) Pending(now time.Time, timeout time.Duration) bool {
	return !s.PendingSince.IsZero() && now.Before(s.PendingSince.Add(timeout))
}

// EventKind names a history event of the client secret.
type EventKind string

const (
	EventRequested EventKind = "rotation_requested"
	EventFailed    EventKind = "rotation_failed"
	EventRotated   EventKind = "rotated"
	EventRejected  EventKind = "notification_rejected"
)

// Event is one line of the client secret's history. Detail never holds a secret.
type Event struct {
	At     time.Time `json:"at"`
	Kind   EventKind `json:"kind"`
	Detail string    `json:"detail,omitempty"`
}

// ErrConflict says the state changed since it was loaded.
var ErrConflict = errors.New("rotation state changed concurrently")

// Store keeps the state and the history (the ledger table; see the ledger package).
type Store interface {
	Load(ctx context.Context) (State, error)
	// Save writes next if the stored version is still next.Version (ErrConflict
	// otherwise), with events, all or nothing; it returns the state as stored.
	Save(ctx context.Context, next State, events ...Event) (State, error)
	AddEvent(ctx context.Context, e Event) error
	Events(ctx context.Context, limit int) ([]Event, error)
}

// Vault holds the lwa-client secret.
type Vault interface {
	ClientCredentials(ctx context.Context) (authz.ClientCredentials, error)
	PutClientCredentials(ctx context.Context, c authz.ClientCredentials) error
}

// Rotator asks Amazon for a new client secret (the Application Management API). Its
// errors are classified as this package's kinds (ErrOutcomeUnknown, ErrThrottled,
// ErrNotEnrolled, ErrForbidden, ErrBadRequest) and authz.ErrClientRejected; a
// *RetryAfterError says how long Amazon asked to wait.
type Rotator interface {
	RotateClientSecret(ctx context.Context) error
}

// Verifier proves client credentials work at LWA, with the grant a rotation needs
// itself; authz.ErrClientRejected when LWA refuses them. The expiry is not read.
type Verifier interface {
	Verify(ctx context.Context, c authz.ClientCredentials) error
}

// Cache is this process's cached lwa-client secret, dropped once a new secret is
// stored.
type Cache interface {
	Invalidate()
}

// Metric names (namespace SpapiAuthKeeper) and the reasons of MetricFailed.
const (
	MetricRequested = metrics.ClientSecretRotationRequested
	MetricRotated   = metrics.ClientSecretRotated
	MetricFailed    = metrics.ClientSecretRotationFailed // dimension Reason
	MetricDaysLeft  = metrics.ClientSecretDaysLeft
	// MetricIgnored counts notifications meant for another application (dimension
	// Reason); no alarm watches it: a queue shared by several apps is normal.
	MetricIgnored = metrics.ClientSecretNotificationIgnored

	// A notification that changes nothing.
	ReasonMalformed   = "malformed"    // not the JSON of an SP-API notification
	ReasonUnknownType = "unknown_type" // a notification type this queue is not for
	ReasonOtherClient = "other_client" // for another application's client id
	ReasonDuplicate   = "duplicate"    // a secret already stored, or older than the stored one
	ReasonUnverified  = "unverified"   // LWA refused the new secret
	// A rotation request that failed.
	ReasonClient         = "client"          // LWA refused the current secret for the grantless token
	ReasonThrottled      = "throttled"       // 429 or the usage plan: retried later
	ReasonUnavailable    = "unavailable"     // LWA or Amazon failed or timed out: retried later
	ReasonUnknownOutcome = "unknown_outcome" // sent, no answer: the rotation stays pending
	ReasonNotEnrolled    = "not_enrolled"    // no queue registered for the new secret
	ReasonForbidden      = "forbidden"       // 403 from the Application Management API
	ReasonBadRequest     = "bad_request"     // another 4xx
	ReasonNoNotification = "no_notification" // no new secret arrived within PendingTimeout
	// Our own storage.
	ReasonStore = "store" // Secrets Manager or DynamoDB failed: retried
	// A notification for another application (MetricIgnored, never alarmed).
	ReasonOtherApplication = "other_application"
)

// AlarmReasons are the failures a person must look at. template.yaml's
// ClientSecretRotationFailedAlarm sums exactly these (its test checks it); the others
// are retried and reach the dead-letter queue's alarm if they persist.
var AlarmReasons = []string{
	ReasonMalformed, ReasonUnknownType, ReasonOtherClient, ReasonDuplicate, ReasonUnverified,
	ReasonClient, ReasonNotEnrolled, ReasonForbidden, ReasonBadRequest, ReasonNoNotification,
}

// Defaults of Config.
const (
	DefaultRotateBefore   = 30 * 24 * time.Hour
	DefaultPendingTimeout = 24 * time.Hour
)

// Config tunes the service. Zero fields take the defaults.
type Config struct {
	// RotateBefore is ROTATE_BEFORE: the daily check rotates once the secret expires
	// within it.
	RotateBefore time.Duration
	// PendingTimeout is how long a requested rotation waits for its new secret before
	// another may be requested. Well under the seven days the old secret lives on.
	PendingTimeout time.Duration
	// AppID is APP_ID: a notification whose notificationMetadata.applicationId names
	// another application is dropped (MetricIgnored) before anything is read. Empty:
	// not checked. A notification without an applicationId goes on to the client id
	// check, which alarms on a mismatch.
	AppID string
}

func (c Config) withDefaults() Config {
	if c.RotateBefore <= 0 {
		c.RotateBefore = DefaultRotateBefore
	}
	if c.PendingTimeout <= 0 {
		c.PendingTimeout = DefaultPendingTimeout
	}
	return c
}

// Deps are the service's collaborators.
type Deps struct {
	Vault    Vault
	Store    Store
	Rotator  Rotator
	Verifier Verifier
	Cache    Cache // may be nil
	Clock    authz.Clock
	Log      *slog.Logger
	Metrics  *metrics.Emitter // nil discards
}

// Service rotates the client secret.
type Service struct {
	cfg      Config
	vault    Vault
	store    Store
	rotator  Rotator
	verifier Verifier
	cache    Cache
	clock    authz.Clock
	log      *slog.Logger
	metrics  *metrics.Emitter
}

// New builds the service.
func New(cfg Config, d Deps) *Service {
	s := &Service{cfg: cfg.withDefaults(), vault: d.Vault, store: d.Store, rotator: d.Rotator, verifier: d.Verifier,
		cache: d.Cache, clock: d.Clock, log: d.Log, metrics: d.Metrics}
	if s.clock == nil {
		s.clock = authz.SystemClock
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	return s
}

// Config returns the configuration in effect.
func (s *Service) Config() Config { return s.cfg }

// Results of the service's operations.
const (
	ResultNotDue        = "not_due"        // the secret expires after RotateBefore
	ResultUnknownExpiry = "unknown_expiry" // the lwa-client secret has no clientSecretExpiresAt
	ResultRequested     = "requested"      // Amazon accepted the rotation request
	ResultPending       = "pending"        // a rotation is already pending: nothing done
	ResultRotated       = "rotated"        // the new secret is verified and stored
	ResultRecorded      = "recorded"       // the new secret was already stored; its record is now complete
	ResultSuperseded    = "superseded"     // an expiry notice about a secret already replaced
	ResultRejected      = "rejected"       // a notification that changes nothing (see Reason)
	ResultIgnored       = "ignored"        // a notification for another application: dropped, not alarmed
	ResultFailed        = "failed"         // see Reason; Retry says whether to try again
)

// Result is what one operation did; direct invocations return it as JSON. It never
// holds a secret.
type Result struct {
	Action       string    `json:"action"` // check, rotate, notification
	Result       string    `json:"result"`
	Reason       string    `json:"reason,omitempty"`
	Retry        bool      `json:"retry"` // the message or the request should be tried again later
	Trigger      Trigger   `json:"trigger,omitempty"`
	Notification string    `json:"notificationType,omitempty"`
	ExpiresAt    time.Time `json:"expiresAt,omitzero"` // the current secret's expiry
	DaysLeft     *int      `json:"daysLeft,omitempty"`
	PendingSince time.Time `json:"pendingSince,omitzero"`
	RetryAfter   string    `json:"retryAfter,omitempty"`
	Error        string    `json:"error,omitempty"`
}

// report logs the result (one line per decision) and emits its metrics.
func (s *Service) report(ctx context.Context, r Result, attrs ...slog.Attr) {
	attrs = append(attrs, slog.String("action", r.Action), slog.String("result", r.Result))
	if r.Trigger != "" {
		attrs = append(attrs, slog.String("trigger", string(r.Trigger)))
	}
	if r.Notification != "" {
		attrs = append(attrs, slog.String("notificationType", r.Notification))
	}
	if r.Reason != "" {
		attrs = append(attrs, slog.String("reason", r.Reason), slog.Bool("retry", r.Retry))
	}
	if !r.ExpiresAt.IsZero() {
		attrs = append(attrs, slog.Time("expiresAt", r.ExpiresAt))
	}
	if r.DaysLeft != nil {
		attrs = append(attrs, slog.Int("daysLeft", *r.DaysLeft))
	}
	if !r.PendingSince.IsZero() {
		attrs = append(attrs, slog.Time("pendingSince", r.PendingSince))
	}
	if r.Error != "" {
		attrs = append(attrs, slog.String("error", r.Error))
	}
	level := slog.LevelInfo
	switch {
	case alarmed(r.Reason) || r.Result == ResultUnknownExpiry:
		level = slog.LevelError
	case r.Result == ResultIgnored:
		level = slog.LevelInfo
	case r.Reason != "":
		level = slog.LevelWarn
	}
	s.log.LogAttrs(ctx, level, "client secret "+r.Action+": "+r.Result, attrs...)
	switch {
	case r.Result == ResultRequested:
		s.metrics.Count(MetricRequested, 1)
	case r.Result == ResultRotated || r.Result == ResultRecorded:
		s.metrics.Count(MetricRotated, 1)
	}
	switch {
	case r.Result == ResultIgnored:
		s.metrics.Count(MetricIgnored, 1, metrics.Dim{Name: "Reason", Value: r.Reason})
	case r.Reason != "":
		s.metrics.Count(MetricFailed, 1, metrics.Dim{Name: "Reason", Value: r.Reason})
	}
}

func alarmed(reason string) bool {
	for _, a := range AlarmReasons {
		if a == reason {
			return true
		}
	}
	return false
}

// daysLeft is the whole days from now until exp, rounded down.
func daysLeft(exp, now time.Time) int {
	d := exp.Sub(now)
	days := int(d / (24 * time.Hour))
	if d < 0 && d%(24*time.Hour) != 0 {
		days--
	}
	return days
}

func ptr[T any](v T) *T { return &v }
