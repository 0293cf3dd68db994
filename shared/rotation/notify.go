package rotation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/metrics"
)

// supersededTolerance: an expiry notice whose expiry is this much before the stored
// secret's is about a secret already replaced (Amazon warns about the old secret after
// a rotation too). The stored expiry may be a date alone, as the portal shows it.
const supersededTolerance = 48 * time.Hour

// HandleMessage handles one message of the notifications queue. Result.Retry says
// whether the message must come back (a failure that may pass, or a new secret LWA
// refused: it then waits in the dead-letter queue rather than being lost).
func (s *Service) HandleMessage(ctx context.Context, messageID string, body []byte) Result {
	now := s.clock.Now().UTC()
	r := Result{Action: "notification"}
	attrs := []slog.Attr{slog.String("messageId", messageID)}
	n, err := ParseNotification(body)
	r.Notification = n.Type
	if n.NotificationID != "" {
		attrs = append(attrs, slog.String("notificationId", n.NotificationID))
	}
	switch {
	case errors.Is(err, ErrUnknownType):
		r = s.reject(ctx, r, ReasonUnknownType, err.Error()+"; this queue is for "+TypeNewSecret+" and "+TypeSecretExpiry, now)
	case err != nil:
		// Reported as a failure: after the queue's receives it waits in the dead-letter
		// queue for a person (it may hold a secret) instead of being deleted unread.
		r = s.reject(ctx, r, ReasonMalformed, fmt.Sprintf("message %s: %v", messageID, err), now)
		r.Retry = true
	case s.cfg.AppID != "" && n.ApplicationID != "" && n.ApplicationID != s.cfg.AppID:
		// Another application's notification on a queue it shares with this one: not
		// ours to apply, and nothing a person must do. Nothing is read or written.
		r.Result, r.Reason = ResultIgnored, ReasonOtherApplication
		r.Error = "notification for application " + truncate(n.ApplicationID, 80) + "; this deployment's is " + s.cfg.AppID
	case n.NewSecret != nil:
		r = s.newSecret(ctx, r, n, now)
	default:
		r = s.secretExpiry(ctx, r, n, now)
	}
	s.report(ctx, r, attrs...)
	return r
}

// reject records a notification that changes nothing.
func (s *Service) reject(ctx context.Context, r Result, reason, detail string, now time.Time) Result {
	r.Result, r.Reason, r.Error = ResultRejected, reason, truncate(detail, 500)
	kind := r.Notification
	if kind == "" {
		kind = "a message"
	}
	if err := s.store.AddEvent(ctx, Event{At: now, Kind: EventRejected, Detail: truncate(kind+" rejected ("+reason+"): "+detail, 500)}); err != nil {
		s.log.WarnContext(ctx, "rejected notification not recorded in the history", "error", err.Error())
	}
	return r
}

// newSecret applies APPLICATION_OAUTH_CLIENT_NEW_SECRET: prove the secret at LWA,
// store it, record it. The order matters: a secret that does not work never replaces
// one that does, and a secret once stored is recorded even if that takes a redelivery.
func (s *Service) newSecret(ctx context.Context, r Result, n Notification, now time.Time) Result {
	p := n.NewSecret
	c, err := s.vault.ClientCredentials(ctx)
	if err != nil {
		return failed(r, ReasonStore, true, fmt.Errorf("read the lwa-client secret: %w", err))
	}
	r.ExpiresAt = c.ClientSecretExpiresAt
	if p.ClientID != c.ClientID {
		return s.reject(ctx, r, ReasonOtherClient, fmt.Sprintf("the new secret is for client id %s; this deployment's is %s", p.ClientID, c.ClientID), now)
	}
	st, err := s.store.Load(ctx)
	if err != nil {
		return failed(r, ReasonStore, true, fmt.Errorf("read the rotation state: %w", err))
	}
	if n.NotificationID != "" && n.NotificationID == st.LastNotificationID {
		return s.reject(ctx, r, ReasonDuplicate, "notification "+n.NotificationID+" was applied already", now)
	}
	if p.ClientSecret == c.ClientSecret {
		if !st.PendingSince.IsZero() && !st.SecretExpiresAt.Equal(p.ExpiresAt) {
			// The rotation pending is this one: an earlier delivery stored the secret and
			// failed before recording it.
			return s.complete(ctx, r, n, now, ResultRecorded)
		}
		return s.reject(ctx, r, ReasonDuplicate, "the lwa-client secret holds this secret already", now)
	}
	if !c.ClientSecretExpiresAt.IsZero() && !p.ExpiresAt.After(c.ClientSecretExpiresAt) {
		return s.reject(ctx, r, ReasonDuplicate, fmt.Sprintf("the secret expires %s, no later than the stored one (%s): an older notification",
			p.ExpiresAt.Format(time.RFC3339), c.ClientSecretExpiresAt.UTC().Format(time.RFC3339)), now)
	}
	if err := s.verifier.Verify(ctx, authz.ClientCredentials{ClientID: p.ClientID, ClientSecret: p.ClientSecret}); err != nil {
		if errors.Is(err, authz.ErrClientRejected) {
			// Kept on the queue: if LWA has not caught up yet, a later delivery works;
			// if it never does, the message waits in the dead-letter queue for a person.
			r = s.reject(ctx, r, ReasonUnverified, "LWA refused the new secret: "+err.Error()+"; the stored secret is unchanged", now)
			r.Retry = true
			return r
		}
		return failed(r, ReasonUnavailable, true, fmt.Errorf("verify the new secret at LWA: %w", err))
	}
	if err := s.vault.PutClientCredentials(ctx, authz.ClientCredentials{ClientID: c.ClientID, ClientSecret: p.ClientSecret, ClientSecretExpiresAt: p.ExpiresAt}); err != nil {
		// The message comes back; the secret is still in it (and in the dead-letter
		// queue after the last attempt), so it is never lost.
		return failed(r, ReasonStore, true, fmt.Errorf("store the verified secret: %w", err))
	}
	if s.cache != nil {
		s.cache.Invalidate()
	}
	return s.complete(ctx, r, n, now, ResultRotated)
}

// complete records a stored new secret: the rotation is no longer pending.
func (s *Service) complete(ctx context.Context, r Result, n Notification, now time.Time, result string) Result {
	p := n.NewSecret
	detail := fmt.Sprintf("new client secret verified at LWA and stored in the lwa-client secret; it expires %s. The previous secret stays AWSPREVIOUS",
		p.ExpiresAt.Format(time.RFC3339))
	if !p.OldExpiresAt.IsZero() {
		detail += "; LWA accepts it until " + p.OldExpiresAt.Format(time.RFC3339)
	}
	err := s.update(ctx, func(st *State) {
		st.PendingSince, st.PendingTrigger = time.Time{}, ""
		st.LastRotatedAt, st.SecretExpiresAt, st.LastNotificationID = now, p.ExpiresAt, n.NotificationID
	}, Event{At: now, Kind: EventRotated, Detail: detail})
	if err != nil {
		return failed(r, ReasonStore, true, fmt.Errorf("the new secret is stored but its rotation is not recorded: %w", err))
	}
	r.Result, r.ExpiresAt = result, p.ExpiresAt
	r.DaysLeft = ptr(daysLeft(p.ExpiresAt, now))
	s.metrics.Put(MetricDaysLeft, float64(*r.DaysLeft), metrics.None)
	return r
}

// secretExpiry applies APPLICATION_OAUTH_CLIENT_SECRET_EXPIRY: rotate, unless it is
// about a secret already replaced or a rotation is pending.
func (s *Service) secretExpiry(ctx context.Context, r Result, n Notification, now time.Time) Result {
	p := n.SecretExpiry
	c, err := s.vault.ClientCredentials(ctx)
	if err != nil {
		return failed(r, ReasonStore, true, fmt.Errorf("read the lwa-client secret: %w", err))
	}
	if p.ClientID != c.ClientID {
		return s.reject(ctx, r, ReasonOtherClient, fmt.Sprintf("the expiry notice is for client id %s; this deployment's is %s", p.ClientID, c.ClientID), now)
	}
	if !c.ClientSecretExpiresAt.IsZero() && p.ExpiresAt.Before(c.ClientSecretExpiresAt.Add(-supersededTolerance)) {
		r.Result, r.ExpiresAt = ResultSuperseded, c.ClientSecretExpiresAt
		r.Error = fmt.Sprintf("the notice is about a secret expiring %s; the stored one expires %s", p.ExpiresAt.Format(time.RFC3339),
			c.ClientSecretExpiresAt.UTC().Format(time.RFC3339))
		return r
	}
	out := s.rotate(ctx, TriggerExpiryNotification, now)
	out.Action, out.Notification, out.ExpiresAt = r.Action, r.Notification, p.ExpiresAt
	out.DaysLeft = ptr(daysLeft(p.ExpiresAt, now))
	return out
}
