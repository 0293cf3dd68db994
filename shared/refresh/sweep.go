package refresh

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/metrics"
)

// ClientSecretWarnDays is when the LWA client secret's expiry becomes urgent: Amazon
// requires rotating it every 180 days, and the alarm fires below 14 days left.
const ClientSecretWarnDays = 14

// SweepResult is what one sweep did; the scheduled invocation returns it.
type SweepResult struct {
	At                   time.Time `json:"at"`    // the hour swept (the schedule's time)
	Slots                []int     `json:"slots"` // the refresh slots due at that hour
	Read                 int       `json:"read"`  // records read from those slots
	Queued               int       `json:"queued"`
	Canary               *Outcome  `json:"canary,omitempty"`  // the refresh done inline before queueing
	Stopped              string    `json:"stopped,omitempty"` // why the sweep stopped early
	ClientSecretDaysLeft *int      `json:"clientSecretDaysLeft,omitempty"`
	Parked               any       `json:"parked,omitempty"` // what the repair of parked tokens did
}

// maxBatch is SQS's limit of entries per SendMessageBatch: the sweep hands the
// refresh queue's sender chunks of this size.
const maxBatch = 10

// errStop ends a slot query early.
var errStop = errors.New("sweep stopped")

// SlotsAt returns the refresh slots the sweep of the hour holding at reads. Records
// are spread over Config.Slots slots; with an interval of I hours, slot s is due at
// the hours h with h mod I = floor(s·I/Slots), so every slot is read exactly once
// per interval, and each hour reads an even share (24 slots, 24 h: one slot an hour).
func (s *Service) SlotsAt(at time.Time) []int {
	interval := int64(s.cfg.Interval / time.Hour)
	hour := at.Unix() / 3600
	cycle := ((hour % interval) + interval) % interval
	var slots []int
	for slot := range s.cfg.Slots {
		if int64(slot)*interval/int64(s.cfg.Slots) == cycle {
			slots = append(slots, slot)
		}
	}
	return slots
}

// Sweep queues every authorization of the slots due at the hour holding at on the
// refresh queue. It reads those slots only (the by-slot index), checks the LWA client
// secret's expiry, and refreshes the first authorization due for a proof of life
// itself before queueing the rest: if LWA refuses the vendor's client credentials,
// every refresh would fail the same way, so the sweep stops there.
func (s *Service) Sweep(ctx context.Context, at time.Time) (SweepResult, error) {
	now := s.clock.Now().UTC()
	if at.IsZero() {
		at = now
	}
	res := SweepResult{At: at.UTC().Truncate(time.Hour), Slots: s.SlotsAt(at)}
	log := s.log.With("sweepAt", res.At, "slots", res.Slots)
	res.ClientSecretDaysLeft = s.checkClientSecret(ctx, now)
	if s.repair != nil {
		// A failure here must not cost the slot its proofs of life: logged, then on.
		parked, err := s.repair(ctx)
		if err != nil {
			log.ErrorContext(ctx, "repair of parked refresh tokens failed; retried next sweep", "error", err)
		}
		res.Parked = parked
	}

	chunks := make(chan []string)
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		queued  int
		sendErr []error
	)
	for range s.cfg.SweepSenders {
		wg.Go(func() {
			for c := range chunks {
				n, err := s.refreshQ.Send(ctx, c)
				mu.Lock()
				queued += n
				if err != nil {
					sendErr = append(sendErr, err)
				}
				mu.Unlock()
			}
		})
	}
	buf := make([]string, 0, maxBatch)
	flush := func() {
		if len(buf) > 0 {
			chunks <- buf
			buf = make([]string, 0, maxBatch)
		}
	}
	var readErr error
	for _, slot := range res.Slots {
		err := s.store.BySlot(ctx, slot, func(a authz.Authorization) error {
			res.Read++
			if res.Canary == nil && s.proofDue(a) {
				o := s.Refresh(ctx, Request{ConnectionID: a.ConnectionID, Region: a.Region})
				res.Canary = &o
				if o.Reason == ReasonClient {
					return errStop
				}
				if !o.Retry {
					return nil
				}
			}
			buf = append(buf, Request{ConnectionID: a.ConnectionID, Region: a.Region, QueuedAt: now}.Marshal())
			if len(buf) == maxBatch {
				flush()
			}
			return nil
		})
		if errors.Is(err, errStop) {
			res.Stopped = "LWA refused the vendor's client credentials: every refresh would fail the same way"
			buf = buf[:0]
			break
		}
		if err != nil {
			readErr = fmt.Errorf("read refresh slot %d: %w", slot, err)
			break
		}
	}
	flush()
	close(chunks)
	wg.Wait()
	res.Queued = queued
	s.metrics.Count(MetricQueued, float64(queued))

	err := errors.Join(readErr, errors.Join(sendErr...))
	level := slog.LevelInfo
	switch {
	case err != nil:
		level = slog.LevelError
	case res.Stopped != "":
		level = slog.LevelError
	}
	attrs := []slog.Attr{slog.Int("read", res.Read), slog.Int("queued", res.Queued)}
	if res.Stopped != "" {
		attrs = append(attrs, slog.String("stopped", res.Stopped))
	}
	if err != nil {
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	log.LogAttrs(ctx, level, "refresh sweep done", attrs...)
	if err != nil {
		return res, fmt.Errorf("refresh sweep of %s: %w", res.At.Format(time.RFC3339), err)
	}
	return res, nil
}

// checkClientSecret emits the LWA client secret's days left. A secret with no
// clientSecretExpiresAt emits nothing, and the alarm treats the missing value as
// breaching: the vendor is told to record the date.
func (s *Service) checkClientSecret(ctx context.Context, now time.Time) *int {
	c, err := s.creds.Full(ctx)
	if err != nil {
		s.log.ErrorContext(ctx, "cannot read the LWA client credentials to check the client secret's expiry", "error", err)
		return nil
	}
	if c.ClientSecretExpiresAt.IsZero() {
		s.log.ErrorContext(ctx, "the lwa-client secret has no clientSecretExpiresAt: the client secret's expiry is not watched")
		return nil
	}
	days := int(math.Floor(c.ClientSecretExpiresAt.Sub(now).Hours() / 24))
	s.metrics.Put(MetricClientDaysLeft, float64(days), metrics.None)
	level := slog.LevelInfo
	if days < ClientSecretWarnDays {
		level = slog.LevelWarn
	}
	s.log.Log(ctx, level, "LWA client secret expiry checked", "daysLeft", days, "expiresAt", c.ClientSecretExpiresAt.UTC())
	return &days
}
