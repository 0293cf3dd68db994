package rotation

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/metrics"
)

// maxSaves bounds the re-read-and-save loop on version conflicts: each conflict means
// another trigger or the new secret's notification wrote the state first.
const maxSaves = 5

// Check is the scheduled check: it reads the lwa-client secret's expiry, emits the days
// left, and requests a rotation once the secret expires within RotateBefore.
func (s *Service) Check(ctx context.Context) Result {
	now := s.clock.Now().UTC()
	r := Result{Action: "check", Trigger: TriggerSchedule}
	c, err := s.vault.ClientCredentials(ctx)
	if err != nil {
		r = failed(r, ReasonStore, true, fmt.Errorf("read the lwa-client secret: %w", err))
		s.report(ctx, r)
		return r
	}
	if c.ClientSecretExpiresAt.IsZero() {
		// Nothing tells when to rotate; the ClientSecretDaysLeft alarm treats the missing
		// value as breaching, and Amazon's expiry notification still triggers a rotation.
		r.Result = ResultUnknownExpiry
		r.Error = "the lwa-client secret has no clientSecretExpiresAt: record the expiry the Solution Provider Portal shows"
		s.report(ctx, r)
		return r
	}
	r.ExpiresAt = c.ClientSecretExpiresAt.UTC()
	r.DaysLeft = ptr(daysLeft(r.ExpiresAt, now))
	s.metrics.Put(MetricDaysLeft, float64(*r.DaysLeft), metrics.None)
	if r.ExpiresAt.Sub(now) > s.cfg.RotateBefore {
		r.Result = ResultNotDue
		s.report(ctx, r)
		return r
	}
	out := s.rotate(ctx, TriggerSchedule, now)
	out.Action, out.ExpiresAt, out.DaysLeft = r.Action, r.ExpiresAt, r.DaysLeft
	s.report(ctx, out)
	return out
}

// Rotate requests a rotation now, unless one is pending.
func (s *Service) Rotate(ctx context.Context, trigger Trigger) Result {
	r := s.rotate(ctx, trigger, s.clock.Now().UTC())
	s.report(ctx, r)
	return r
}

// rotate claims the rotation window in the state (a conditional write, so that of two
// triggers at once only one calls Amazon), calls rotateApplicationClientSecret, and
// records the outcome. A failed call gives the window back, except when Amazon may
// have rotated (no answer): then the new secret may still arrive, and the window stays
// claimed until it does or PendingTimeout passes.
func (s *Service) rotate(ctx context.Context, trigger Trigger, now time.Time) Result {
	r := Result{Action: "rotate", Trigger: trigger}
	for range maxSaves {
		st, err := s.store.Load(ctx)
		if err != nil {
			return failed(r, ReasonStore, true, fmt.Errorf("read the rotation state: %w", err))
		}
		if st.Pending(now, s.cfg.PendingTimeout) {
			r.Result, r.PendingSince = ResultPending, st.PendingSince
			return r
		}
		var events []Event
		stale := st.PendingSince
		if !stale.IsZero() {
			events = append(events, Event{At: now, Kind: EventFailed, Detail: fmt.Sprintf(
				"no new client secret arrived within %s of the rotation requested at %s: check the queue registered for APPLICATION_OAUTH_CLIENT_NEW_SECRET; requesting another",
				s.cfg.PendingTimeout, stale.Format(time.RFC3339))})
		}
		claim := st
		claim.PendingSince, claim.PendingTrigger = now, trigger
		_, err = s.store.Save(ctx, claim, events...)
		if errors.Is(err, ErrConflict) {
			continue
		}
		if err != nil {
			return failed(r, ReasonStore, true, fmt.Errorf("claim the rotation: %w", err))
		}
		if !stale.IsZero() {
			s.report(ctx, Result{Action: "rotate", Trigger: st.PendingTrigger, Result: ResultFailed, Reason: ReasonNoNotification,
				PendingSince: stale, Error: events[0].Detail})
		}
		return s.request(ctx, r, now)
	}
	return failed(r, ReasonStore, true, errors.New("the rotation state kept changing under this request"))
}

// request calls Amazon with the window claimed at claimedAt.
func (s *Service) request(ctx context.Context, r Result, claimedAt time.Time) Result {
	err := s.rotator.RotateClientSecret(ctx)
	if err == nil {
		r.Result, r.PendingSince = ResultRequested, claimedAt
		detail := fmt.Sprintf("Amazon accepted the rotation request (%s); the new secret comes on the notifications queue", r.Trigger)
		if serr := s.update(ctx, func(st *State) { st.LastRequestedAt = claimedAt }, Event{At: claimedAt, Kind: EventRequested, Detail: detail}); serr != nil {
			// The rotation is under way and still claimed; only its history line is missing.
			s.log.WarnContext(ctx, "rotation requested but not recorded", "error", serr.Error())
		}
		return r
	}
	reason, retry := reasonOf(err)
	r = failed(r, reason, retry, err)
	var ae *RetryAfterError
	if errors.As(err, &ae) && ae.RetryAfter > 0 {
		r.RetryAfter = ae.RetryAfter.Round(time.Second).String()
	}
	event := Event{At: claimedAt, Kind: EventFailed, Detail: truncate(fmt.Sprintf("rotation request (%s) failed: %s: %v", r.Trigger, reason, err), 500)}
	if reason == ReasonUnknownOutcome {
		r.PendingSince = claimedAt
		if serr := s.update(ctx, func(*State) {}, event); serr != nil {
			s.log.WarnContext(ctx, "rotation outcome not recorded", "error", serr.Error())
		}
		return r
	}
	release := func(st *State) {
		if st.PendingSince.Equal(claimedAt) {
			st.PendingSince, st.PendingTrigger = time.Time{}, ""
		}
	}
	if serr := s.update(ctx, release, event); serr != nil {
		// The window stays claimed until PendingTimeout: a later trigger tries again then.
		s.log.ErrorContext(ctx, "could not give the rotation window back", "error", serr.Error())
	}
	return r
}

// reasonOf classifies a failed rotation request and says whether to retry it later.
func reasonOf(err error) (string, bool) {
	switch {
	case errors.Is(err, ErrOutcomeUnknown):
		return ReasonUnknownOutcome, false
	case errors.Is(err, authz.ErrClientRejected):
		return ReasonClient, false
	case errors.Is(err, ErrThrottled):
		return ReasonThrottled, true
	case errors.Is(err, ErrNotEnrolled):
		return ReasonNotEnrolled, false
	case errors.Is(err, ErrForbidden):
		return ReasonForbidden, false
	case errors.Is(err, ErrBadRequest):
		return ReasonBadRequest, false
	}
	return ReasonUnavailable, true
}

// update applies change to the latest state and saves it with events, reading it
// again after a conflict.
func (s *Service) update(ctx context.Context, change func(*State), events ...Event) error {
	for range maxSaves {
		st, err := s.store.Load(ctx)
		if err != nil {
			return err
		}
		change(&st)
		_, err = s.store.Save(ctx, st, events...)
		if !errors.Is(err, ErrConflict) {
			return err
		}
	}
	return fmt.Errorf("%w %d times", ErrConflict, maxSaves)
}

func failed(r Result, reason string, retry bool, err error) Result {
	r.Result, r.Reason, r.Retry = ResultFailed, reason, retry
	if err != nil {
		r.Error = truncate(err.Error(), 500)
	}
	return r
}
