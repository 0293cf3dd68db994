// Package funnel records the steps of the renewal funnel that happen on the renewal
// pages: a seller opened a reminder's link (/authorize), and an authorization was
// renewed. Each is credited to the last reminder sent before it, counted in the
// ledger's per-day counters (keeperctl report) and emitted as a metric (the
// dashboard). It stores nothing personal: a time on the reminder entry and counts.
// A failure to count is logged and never fails the seller's request.
package funnel

import (
	"context"
	"log/slog"
	"time"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/metrics"
	"github.com/spapi-auth-keeper/keeper/shared/store"
)

// Store is the ledger as the recorder uses it (*store.Store).
type Store interface {
	RecordLinkOpened(ctx context.Context, a authz.Authorization, at time.Time) (string, error)
	RecordRenewal(ctx context.Context, prev authz.Authorization, at time.Time) (string, error)
}

// Recorder records funnel steps. A nil *Recorder records nothing.
type Recorder struct {
	store   Store
	log     *slog.Logger
	metrics *metrics.Emitter
}

// New returns a recorder; log and m may be nil.
func New(st Store, log *slog.Logger, m *metrics.Emitter) *Recorder {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Recorder{store: st, log: log, metrics: m}
}

// LinkOpened records that the seller of a (as read to verify the link) opened a
// renewal link at at: metric LinkOpened with the stage credited.
func (r *Recorder) LinkOpened(ctx context.Context, a authz.Authorization, at time.Time) {
	if r == nil {
		return
	}
	stage, err := r.store.RecordLinkOpened(context.WithoutCancel(ctx), a, at)
	if err != nil {
		r.log.WarnContext(ctx, "funnel: link opening not counted", "connectionId", a.ConnectionID, "region", a.Region, "error", err)
	}
	r.metrics.Count(metrics.LinkOpened, 1, metrics.Dim{Name: "Stage", Value: store.FunnelStage(stage)})
}

// Renewed records the renewal at at of prev (the record before the renewal wiped its
// reminders): metric RenewedBeforeExpiry or RenewedAfterExpiry, with the stage.
func (r *Recorder) Renewed(ctx context.Context, prev authz.Authorization, at time.Time) {
	if r == nil || prev.ExpiresAt.IsZero() {
		return // a first authorization renews nothing
	}
	stage, err := r.store.RecordRenewal(context.WithoutCancel(ctx), prev, at)
	if err != nil {
		r.log.WarnContext(ctx, "funnel: renewal not counted", "connectionId", prev.ConnectionID, "region", prev.Region, "error", err)
	}
	name := "RenewedBeforeExpiry"
	if !at.Before(prev.ExpiresAt) {
		name = "RenewedAfterExpiry"
	}
	r.metrics.Count(name, 1, metrics.Dim{Name: "Stage", Value: store.FunnelStage(stage)})
}
