// Package expiryscan holds the daily expiry scan: it finds the authorizations whose
// reminder stage falls due today (and on any day a missed run should have covered),
// moves their status to expiring or expired as the clock says, and queues one
// reminder job per due stage for the sender. It reads the by-expiry index partitions
// that hold due authorizations and nothing else, so its cost follows what is due,
// not the size of the ledger.
package expiryscan

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/metrics"
	"github.com/spapi-auth-keeper/keeper/shared/stages"
	"github.com/spapi-auth-keeper/keeper/shared/store"
)

// Store is the ledger as the scan uses it.
type Store interface {
	ByExpiryDay(ctx context.Context, day string, fn func(authz.Authorization) error) error
	Get(ctx context.Context, connectionID string, region authz.Region) (authz.Authorization, error)
	Update(ctx context.Context, a authz.Authorization, events ...authz.Event) (authz.Authorization, error)
	ScanCursor(ctx context.Context) (store.ScanCursor, error)
	SaveScanCursor(ctx context.Context, c store.ScanCursor) error
}

// Queue takes reminder jobs (the reminder queue through queue.Sender).
type Queue interface {
	Send(ctx context.Context, bodies []string) (int, error)
}

// Config tunes the scan.
type Config struct {
	Schedule stages.Schedule // REMINDER_STAGES
	// MaxCatchUpDays bounds how many missed days one run covers (default 31). Older
	// misses are logged and left: a reminder weeks late helps nobody.
	MaxCatchUpDays int
	// ClaimTimeout is the sender's: a stage claimed longer ago without being sent was
	// lost by a crashed sender and is queued again.
	ClaimTimeout time.Duration
	// Workers update records and queue jobs in parallel (default 8).
	Workers int
}

// DefaultMaxCatchUpDays covers a month of missed runs.
const DefaultMaxCatchUpDays = 31

// Service runs the scan.
type Service struct {
	cfg     Config
	store   Store
	queue   Queue
	clock   authz.Clock
	log     *slog.Logger
	metrics *metrics.Emitter
}

// New wires the scan. m may be nil.
func New(cfg Config, st Store, q Queue, clock authz.Clock, log *slog.Logger, m *metrics.Emitter) (*Service, error) {
	if len(cfg.Schedule) == 0 {
		return nil, errors.New("expiry scan: empty reminder schedule")
	}
	if cfg.MaxCatchUpDays <= 0 {
		cfg.MaxCatchUpDays = DefaultMaxCatchUpDays
	}
	if cfg.ClaimTimeout <= 0 {
		cfg.ClaimTimeout = stages.DefaultClaimTimeout
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 8
	}
	if clock == nil {
		clock = authz.SystemClock
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{cfg: cfg, store: st, queue: q, clock: clock, log: log, metrics: m}, nil
}

// Result says what one run did.
type Result struct {
	Today       string   `json:"today"`
	Days        []string `json:"days"`       // the days whose due stages this run covered: missed ones, then today
	Partitions  int      `json:"partitions"` // by-expiry partitions queried
	Read        int      `json:"read"`       // authorizations read
	Queued      int      `json:"queued"`     // reminder jobs sent to the queue
	AlreadyDone int      `json:"alreadyDone"`
	InFlight    int      `json:"inFlight"` // claimed by a sender less than ClaimTimeout ago
	Skipped     int      `json:"skipped"`  // revoked or renewed while the scan ran
	Expiring    int      `json:"expiring"` // moved to expiring by this run
	Expired     int      `json:"expired"`  // moved to expired by this run
}

// Run scans once, as of the clock's now. The cursor (the last day a run completed)
// only moves when everything due was queued, so a failed run is covered again by the
// next one; the sender's claims make a job queued twice harmless.
func (s *Service) Run(ctx context.Context) (Result, error) {
	now := s.clock.Now().UTC()
	today := stages.DayOf(now)
	res := Result{Today: today.String()}

	cur, err := s.store.ScanCursor(ctx)
	if err != nil {
		return res, fmt.Errorf("read scan cursor: %w", err)
	}
	after := today.AddDays(-1) // the first run, or a second run on the same day
	if cur.LastDay != "" {
		last, err := stages.ParseDay(cur.LastDay)
		if err != nil {
			return res, fmt.Errorf("scan cursor: %w", err)
		}
		if last < after {
			after = last
			if oldest := today.AddDays(-s.cfg.MaxCatchUpDays - 1); after < oldest {
				s.log.WarnContext(ctx, "expiry scan missed more days than it catches up", "lastRun", cur.LastDay, "catchUpDays", s.cfg.MaxCatchUpDays)
				after = oldest
			}
		}
	}
	var days []stages.Day
	for d := after + 1; d <= today; d++ {
		days = append(days, d)
		res.Days = append(res.Days, d.String())
	}
	partitions := s.cfg.Schedule.ExpiryDays(days...)
	res.Partitions = len(partitions)
	if len(days) > 1 {
		s.log.InfoContext(ctx, "expiry scan catching up on missed days", "lastRun", cur.LastDay, "days", res.Days)
	}

	w := s.startWorkers(ctx, now, after, today)
	var readErr error
	for _, p := range partitions {
		err := s.store.ByExpiryDay(ctx, p.String(), func(a authz.Authorization) error {
			select {
			case w.records <- a:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
		if err != nil {
			readErr = fmt.Errorf("query expiry day %s: %w", p, err)
			break
		}
	}
	close(w.records)
	w.wg.Wait()
	for _, t := range w.tallies {
		res.add(t)
	}
	err = errors.Join(append([]error{readErr}, w.errs...)...)

	s.metrics.Count(metrics.AuthorizationsExpiring, float64(res.Expiring))
	s.metrics.Count(metrics.AuthorizationsExpired, float64(res.Expired))
	s.metrics.Count(metrics.RemindersQueued, float64(res.Queued))
	log := s.log.With("today", res.Today, "days", len(res.Days), "partitions", res.Partitions, "read", res.Read, "queued", res.Queued,
		"alreadyDone", res.AlreadyDone, "inFlight", res.InFlight, "expiring", res.Expiring, "expired", res.Expired)
	if err != nil {
		log.ErrorContext(ctx, "expiry scan incomplete; the next run covers these days again", "error", err)
		return res, err
	}
	if err := s.store.SaveScanCursor(ctx, store.ScanCursor{LastDay: res.Today, At: now}); err != nil {
		log.ErrorContext(ctx, "expiry scan done but its cursor was not saved", "error", err)
		return res, fmt.Errorf("save scan cursor: %w", err)
	}
	log.InfoContext(ctx, "expiry scan done")
	return res, nil
}

func (r *Result) add(t Result) {
	r.Read += t.Read
	r.Queued += t.Queued
	r.AlreadyDone += t.AlreadyDone
	r.InFlight += t.InFlight
	r.Skipped += t.Skipped
	r.Expiring += t.Expiring
	r.Expired += t.Expired
}

// workers take records from the query and each queue their jobs in batches of ten
// (SQS's SendMessageBatch limit), so the writes and the sends overlap the reads.
type workers struct {
	records chan authz.Authorization
	wg      sync.WaitGroup
	tallies []Result
	errs    []error
}

func (s *Service) startWorkers(ctx context.Context, now time.Time, after, today stages.Day) *workers {
	w := &workers{records: make(chan authz.Authorization, 256), tallies: make([]Result, s.cfg.Workers), errs: make([]error, s.cfg.Workers)}
	for i := range s.cfg.Workers {
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			t := &w.tallies[i]
			var batch []string
			var errs []error
			flush := func() {
				if len(batch) == 0 {
					return
				}
				n, err := s.queue.Send(ctx, batch)
				t.Queued += n
				if err != nil {
					errs = append(errs, fmt.Errorf("queue reminder jobs: %w", err))
				}
				batch = batch[:0]
			}
			for a := range w.records {
				t.Read++
				job, ok, err := s.visit(ctx, a, now, after, today, t)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				if ok {
					batch = append(batch, job.Marshal())
					if len(batch) == 10 {
						flush()
					}
				}
			}
			flush()
			w.errs[i] = errors.Join(errs...)
		}()
	}
	return w
}

// visit moves one authorization's status if the clock says so and returns the job to
// queue for it, if any.
func (s *Service) visit(ctx context.Context, a authz.Authorization, now time.Time, after, today stages.Day, t *Result) (stages.Job, bool, error) {
	log := s.log.With("connectionId", a.ConnectionID, "region", a.Region)
	a, err := s.moveStatus(ctx, a, now, t, log)
	if err != nil {
		return stages.Job{}, false, err
	}
	if a.Status != authz.StatusActive && a.Status != authz.StatusExpiring && a.Status != authz.StatusExpired {
		// Revoked sellers get the reconnect email instead; pending ones have no expiry.
		t.Skipped++
		return stages.Job{}, false, nil
	}
	stage, ok := s.cfg.Schedule.LatestDue(stages.DayOf(a.ExpiresAt), after, today)
	if !ok {
		t.Skipped++ // renewed into another expiry day while the scan ran
		return stages.Job{}, false, nil
	}
	key := stage.Key()
	mark, marked := a.Reminders[key]
	switch {
	case marked && (!mark.SentAt.IsZero() || mark.Error != ""):
		t.AlreadyDone++
		return stages.Job{}, false, nil
	case marked && !mark.ClaimedAt.IsZero() && now.Sub(mark.ClaimedAt) < s.cfg.ClaimTimeout:
		t.InFlight++
		return stages.Job{}, false, nil
	}
	log.InfoContext(ctx, "reminder queued", "stage", key, "expiresAt", a.ExpiresAt)
	return stages.Job{ConnectionID: a.ConnectionID, Region: a.Region, Stage: key, ExpiresAt: a.ExpiresAt}, true, nil
}

// moveStatus writes the status the clock gives the record, if it moved forward
// (active → expiring → expired). A concurrent write (a sender's claim, a renewal) makes
// it re-read and decide again.
func (s *Service) moveStatus(ctx context.Context, a authz.Authorization, now time.Time, t *Result, log *slog.Logger) (authz.Authorization, error) {
	expiresAt := a.ExpiresAt
	for try := 0; ; try++ {
		want := a.StatusAt(now, s.cfg.Schedule.Window())
		if !forward(a.Status, want) {
			return a, nil
		}
		from := a.Status
		a.Status = want
		var evs []authz.Event
		if want == authz.StatusExpired {
			evs = append(evs, authz.Event{ConnectionID: a.ConnectionID, Region: a.Region, At: now, Kind: authz.EventExpired, StatusBefore: from,
				Detail: "authorization expired on " + a.ExpiresAt.UTC().Format(time.RFC3339) + "; renewing restores access"})
		} else {
			// The domain event "Authorization Expiring" needs a history item to come from.
			evs = append(evs, authz.Event{ConnectionID: a.ConnectionID, Region: a.Region, At: now, Kind: authz.EventExpiring, StatusBefore: from,
				Detail: "entered the reminder window; expires on " + a.ExpiresAt.UTC().Format(time.RFC3339)})
		}
		updated, err := s.store.Update(ctx, a, evs...)
		if err == nil {
			log.InfoContext(ctx, "authorization status moved", "from", from, "to", want, "expiresAt", a.ExpiresAt)
			if want == authz.StatusExpiring {
				t.Expiring++
			} else {
				t.Expired++
			}
			return updated, nil
		}
		if !errors.Is(err, authz.ErrVersionConflict) || try == 3 {
			return a, fmt.Errorf("move %s to %s: %w", a.Key(), want, err)
		}
		if a, err = s.store.Get(ctx, a.ConnectionID, a.Region); err != nil {
			return a, fmt.Errorf("re-read %s: %w", a.Key(), err)
		}
		if !a.ExpiresAt.Equal(expiresAt) {
			return a, nil // renewed meanwhile: its new expiry is another day's business
		}
	}
}

// forward reports whether the clock moves a record from status from to want.
func forward(from, want authz.Status) bool {
	switch from {
	case authz.StatusActive:
		return want == authz.StatusExpiring || want == authz.StatusExpired
	case authz.StatusExpiring:
		return want == authz.StatusExpired
	}
	return false
}

// Handle is the Lambda handler of the EventBridge schedule. The event carries nothing
// the scan needs: the day comes from the clock and the cursor, so a late or repeated
// delivery (EventBridge delivers at least once) is harmless.
func (s *Service) Handle(ctx context.Context, _ events.EventBridgeEvent) (Result, error) {
	return s.Run(ctx)
}
