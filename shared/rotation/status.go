package rotation

import (
	"context"
	"fmt"
	"time"
)

// Status is the client secret as an operator sees it. It holds no secret.
type Status struct {
	ClientID        string    `json:"clientId"`
	ExpiresAt       time.Time `json:"expiresAt,omitzero"`
	DaysLeft        *int      `json:"daysLeft,omitempty"`
	RotateBefore    string    `json:"rotateBefore"`
	RotatesFrom     time.Time `json:"rotatesFrom,omitzero"` // when the daily check requests a rotation
	PendingSince    time.Time `json:"pendingSince,omitzero"`
	PendingTrigger  Trigger   `json:"pendingTrigger,omitempty"`
	LastRequestedAt time.Time `json:"lastRequestedAt,omitzero"`
	LastRotatedAt   time.Time `json:"lastRotatedAt,omitzero"`
	History         []Event   `json:"history"`
}

// StatusHistory is how many history events Status returns.
const StatusHistory = 10

// Status reads the lwa-client secret's expiry and the rotation state.
func (s *Service) Status(ctx context.Context) (Status, error) {
	now := s.clock.Now().UTC()
	c, err := s.vault.ClientCredentials(ctx)
	if err != nil {
		return Status{}, fmt.Errorf("read the lwa-client secret: %w", err)
	}
	st, err := s.store.Load(ctx)
	if err != nil {
		return Status{}, fmt.Errorf("read the rotation state: %w", err)
	}
	events, err := s.store.Events(ctx, StatusHistory)
	if err != nil {
		return Status{}, fmt.Errorf("read the rotation history: %w", err)
	}
	out := Status{ClientID: c.ClientID, RotateBefore: days(s.cfg.RotateBefore), LastRequestedAt: st.LastRequestedAt,
		LastRotatedAt: st.LastRotatedAt, History: events}
	if out.History == nil {
		out.History = []Event{}
	}
	if st.Pending(now, s.cfg.PendingTimeout) {
		out.PendingSince, out.PendingTrigger = st.PendingSince, st.PendingTrigger
	}
	if !c.ClientSecretExpiresAt.IsZero() {
		out.ExpiresAt = c.ClientSecretExpiresAt.UTC()
		out.DaysLeft = ptr(daysLeft(out.ExpiresAt, now))
		out.RotatesFrom = out.ExpiresAt.Add(-s.cfg.RotateBefore)
	}
	return out, nil
}

func days(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return d.String()
}
