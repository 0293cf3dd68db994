package appnotify

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/metrics"
	"github.com/spapi-auth-keeper/keeper/shared/secret"
)

// Tokens mints a seller's access token (shared/tokensource).
type Tokens interface {
	Token(ctx context.Context, connectionID string, region authz.Region) (secret.Value, error)
}

// Template parameters the vendor's approved template must declare.
const (
	ParamExpiryDate = "expiryDate"
	ParamRenewalURL = "renewalUrl"
)

// ErrSkipped: the channel is off, or the authorization no longer works (Amazon
// refuses calls for an expired or revoked one): nothing was posted.
var ErrSkipped = errors.New("app notification not posted")

// marketplaceIDs are Amazon's marketplace ids by country code.
var marketplaceIDs = map[string]string{
	"US": "ATVPDKIKX0DER", "CA": "A2EUQ1WTGCTBG2", "MX": "A1AM78C64UM0Y8", "BR": "A2Q3Y263D00KWC",
	"GB": "A1F83G8C2ARO7P", "UK": "A1F83G8C2ARO7P", "DE": "A1PA6795UKMFR9", "FR": "A13V1IB3VIYZZH", "IT": "APJ6JRA9NG5V4",
	"ES": "A1RKKUPIHCS9HS", "NL": "A1805IZSGTT6HS", "SE": "A2NODRKZP88ZB9", "PL": "A1C3SOZRARQ6R3", "BE": "AMEN7PMS3EDWL",
	"TR": "A33AVAJ2PDY3EV", "AE": "A2VIGQ35RCS4UG", "SA": "A17E79C6D8DWNP", "EG": "ARBP9OOSHTCHU", "IN": "A21TJRUUN4KGV",
	"JP": "A1VC38T7YXB528", "AU": "A39IBJ37TRP1C6", "SG": "A19VAU5U5O7RUS",
}

// Channel posts and withdraws the reminder's app notification. Once Amazon answers
// 403 (the role is missing) it turns itself off for the life of the instance and
// says so once (metric AppNotificationsDisabled), not once per seller.
type Channel struct {
	templateID string
	client     *Client
	tokens     Tokens
	clock      authz.Clock
	log        *slog.Logger
	metrics    *metrics.Emitter
	disabled   atomic.Bool
	// RetryAfter is the wait before the one retry of a throttled call (the usage plan
	// refills one request a second); tests shorten it.
	RetryAfter time.Duration
}

// NewChannel returns the channel for templateID; an empty templateID returns nil, a
// channel that is off.
func NewChannel(templateID string, client *Client, tokens Tokens, clock authz.Clock, log *slog.Logger, m *metrics.Emitter) *Channel {
	if templateID == "" {
		return nil
	}
	if clock == nil {
		clock = authz.SystemClock
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Channel{templateID: templateID, client: client, tokens: tokens, clock: clock, log: log, metrics: m, RetryAfter: time.Second}
}

// Enabled reports whether the channel posts at all.
func (c *Channel) Enabled() bool { return c != nil && !c.disabled.Load() }

// Post posts the notification of a reminder for a, expiring on expiryDate (as the
// seller's language writes it), with the renewal link. It returns Amazon's id.
func (c *Channel) Post(ctx context.Context, a authz.Authorization, expiryDate, renewalURL string) (string, error) {
	if !c.Enabled() {
		return "", ErrSkipped
	}
	now := c.clock.Now()
	if (a.Status != authz.StatusActive && a.Status != authz.StatusExpiring) || !now.Before(a.ExpiresAt) {
		return "", ErrSkipped
	}
	token, err := c.tokens.Token(ctx, a.ConnectionID, a.Region)
	if err != nil {
		return "", err
	}
	n := Notification{TemplateID: c.templateID, MarketplaceID: marketplaceIDs[strings.ToUpper(a.Marketplace)],
		Parameters: map[string]string{ParamExpiryDate: expiryDate, ParamRenewalURL: renewalURL}}
	id, err := c.client.Create(ctx, a.Region, token, n)
	if errors.Is(err, ErrThrottled) {
		t := time.NewTimer(c.RetryAfter)
		select {
		case <-ctx.Done():
			t.Stop()
			return "", err
		case <-t.C:
		}
		id, err = c.client.Create(ctx, a.Region, token, n)
	}
	c.outcome(err)
	return id, err
}

// Withdraw deletes the app's reminder notifications for a, after a renewal.
func (c *Channel) Withdraw(ctx context.Context, a authz.Authorization) error {
	if !c.Enabled() {
		return ErrSkipped
	}
	token, err := c.tokens.Token(ctx, a.ConnectionID, a.Region)
	if err != nil {
		return err
	}
	// INCORRECT_CONTENT: the reminder no longer applies once the seller has renewed.
	err = c.client.Delete(ctx, a.Region, token, c.templateID, ReasonIncorrectContent)
	c.outcome(err)
	return err
}

func (c *Channel) outcome(err error) {
	switch {
	case err == nil:
		c.metrics.Count(metrics.AppNotificationsPosted, 1)
	case errors.Is(err, ErrForbidden):
		if c.disabled.CompareAndSwap(false, true) {
			c.log.Error("App Integrations refused the app: the Seller Central channel is off until the role is granted (README, the Seller Central channel)", "error", err)
			c.metrics.Count(metrics.AppNotificationsDisabled, 1)
		}
	default:
		c.metrics.Count(metrics.AppNotificationFailed, 1, metrics.Dim{Name: metrics.DimReason, Value: reason(err)})
	}
}

func reason(err error) string {
	switch {
	case errors.Is(err, ErrRejected):
		return "rejected"
	case errors.Is(err, ErrThrottled):
		return "throttled"
	case errors.Is(err, ErrUnavailable):
		return "unavailable"
	}
	return "token"
}
