package delivery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/metrics"
	"github.com/spapi-auth-keeper/keeper/shared/store"
)

// Store is the ledger as the delivery function uses it.
type Store interface {
	RecordDelivery(ctx context.Context, e store.DeliveryEvent) (store.DeliveryResult, error)
}

// UnreachableWindow: a seller whose contact stops taking mail within this long of
// the expiry (or after it) may lapse unnoticed; SellerUnreachable alarms on it.
const UnreachableWindow = 30 * 24 * time.Hour

// Service records SES events on reminder entries.
type Service struct {
	store   Store
	clock   authz.Clock
	log     *slog.Logger
	metrics *metrics.Emitter
}

// New wires the service; log and m may be nil.
func New(st Store, clock authz.Clock, log *slog.Logger, m *metrics.Emitter) *Service {
	if clock == nil {
		clock = authz.SystemClock
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{store: st, clock: clock, log: log, metrics: m}
}

// Outcome is what became of one event.
type Outcome string

const (
	OutcomeRecorded  Outcome = "recorded"
	OutcomeDuplicate Outcome = "duplicate" // already recorded: SES delivers at least once
	OutcomeIgnored   Outcome = "ignored"   // not ours, not a reminder entry of ours, or a type we do not track
	OutcomeRetry     Outcome = "retry"     // the ledger was unavailable, or the sender has not recorded the id yet
)

// Reasons an event is ignored (metric DeliveryEventIgnored, dimension Reason).
const (
	ReasonNotOurs        = "not_ours"
	ReasonUnknownMessage = "unknown_message"
	ReasonUnknownType    = "unknown_type"
	ReasonMalformed      = "malformed"
)

// Handle is the Lambda handler: an EventBridge event from SES, or an SNS event. An
// event that can never be recorded is dropped with a metric; an error asks Lambda to
// retry the invocation (asynchronous invocations are retried twice, then go to the
// function's dead-letter queue), which is only returned when retrying can help.
func (s *Service) Handle(ctx context.Context, payload json.RawMessage) error {
	recs, err := Records(payload)
	if err != nil {
		s.log.WarnContext(ctx, "delivery event malformed, dropped", "error", err)
		s.ignored(ReasonMalformed)
		return nil
	}
	var errs []error
	for _, r := range recs {
		if out, err := s.Process(ctx, r); out == OutcomeRetry {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Process records one event record.
func (s *Service) Process(ctx context.Context, r Record) (Outcome, error) {
	log := s.log.With("sesMessageId", r.Mail.MessageID, "eventType", r.EventType)
	target, err := ParseTags(r.Mail.Tags)
	if err != nil {
		reason := ReasonMalformed
		if errors.Is(err, ErrNotOurs) {
			reason = ReasonNotOurs
		}
		log.InfoContext(ctx, "delivery event ignored", "reason", reason, "error", err)
		s.ignored(reason)
		return OutcomeIgnored, nil
	}
	log = log.With("connectionId", target.ConnectionID, "region", target.Region, "stage", target.Stage)
	e := store.DeliveryEvent{ConnectionID: target.ConnectionID, Region: target.Region, Stage: target.Stage,
		MessageID: r.Mail.MessageID, At: r.At(s.clock.Now())}
	metric := ""
	switch r.EventType {
	case TypeSend:
		e.Kind = store.DeliveryAccepted
	case TypeDelivery:
		e.Kind, metric = store.DeliveryDelivered, "ReminderDelivered"
	case TypeBounce:
		if r.Bounce == nil {
			s.ignored(ReasonMalformed)
			return OutcomeIgnored, nil
		}
		// Only a Permanent bounce says the address does not take mail; SES retries
		// Transient ones itself and reports Undetermined when it cannot tell.
		e.Kind, metric = store.DeliverySoftBounce, "ReminderSoftBounced"
		if r.Bounce.BounceType == "Permanent" {
			e.Kind, metric = store.DeliveryBounced, "ReminderBounced"
		}
		e.Detail = r.Bounce.BounceType + "/" + r.Bounce.BounceSubType
		for _, b := range r.Bounce.BouncedRecipients {
			e.Recipients = append(e.Recipients, b.EmailAddress)
			if b.DiagnosticCode != "" && len(e.Detail) < 100 {
				e.Detail += ": " + oneLine(b.DiagnosticCode)
			}
		}
	case TypeComplaint:
		if r.Complaint == nil {
			s.ignored(ReasonMalformed)
			return OutcomeIgnored, nil
		}
		e.Kind, metric = store.DeliveryComplained, "ReminderComplained"
		e.Detail = oneLine("complaint " + r.Complaint.ComplaintFeedbackType + " " + r.Complaint.ComplaintSubType)
		for _, c := range r.Complaint.ComplainedRecipients {
			e.Recipients = append(e.Recipients, c.EmailAddress)
		}
		if len(e.Recipients) == 0 {
			// SES may leave complainedRecipients out when the report did not name one;
			// the reminder has a single recipient, so it is the one.
			e.Recipients = r.Mail.Destination
		}
	case TypeDeliveryDelay:
		e.Kind, metric = store.DeliveryDelayed, "ReminderDelayed"
		if r.DeliveryDelay != nil {
			e.Detail = oneLine(r.DeliveryDelay.DelayType)
		}
	case TypeReject:
		e.Kind, metric = store.DeliveryFailed, "ReminderDeliveryFailed"
		if r.Reject != nil {
			e.Detail = "rejected: " + oneLine(r.Reject.Reason)
		}
	case TypeRenderingFailure:
		e.Kind, metric = store.DeliveryFailed, "ReminderDeliveryFailed"
		if r.Failure != nil {
			e.Detail = "rendering failed: " + oneLine(r.Failure.ErrorMessage)
		}
	default:
		log.InfoContext(ctx, "delivery event of a type the keeper does not track, ignored")
		s.ignored(ReasonUnknownType)
		return OutcomeIgnored, nil
	}

	res, err := s.store.RecordDelivery(ctx, e)
	switch {
	case errors.Is(err, store.ErrUnknownMessage):
		log.WarnContext(ctx, "delivery event for a message that is not on its reminder entry, ignored", "error", err)
		s.ignored(ReasonUnknownMessage)
		return OutcomeIgnored, nil
	case errors.Is(err, store.ErrNotRecordedYet):
		log.InfoContext(ctx, "delivery event before the sender recorded the message, retried", "error", err)
		return OutcomeRetry, err
	case err != nil:
		log.ErrorContext(ctx, "delivery event not recorded, retried", "error", err)
		return OutcomeRetry, fmt.Errorf("record %s event of %s: %w", r.EventType, r.Mail.MessageID, err)
	case res.Duplicate:
		log.InfoContext(ctx, "delivery event already recorded, duplicate dropped")
		return OutcomeDuplicate, nil
	}
	if metric != "" {
		s.metrics.Count(metric, 1, metrics.Dim{Name: "Stage", Value: store.FunnelStage(target.Stage)})
	}
	if res.Contact != "" {
		a := res.Record
		log.WarnContext(ctx, "seller contact flagged: no more email to it until the vendor sets it again", "contactStatus", res.Contact, "detail", e.Detail)
		now := s.clock.Now()
		if a.Status == authz.StatusRevoked || (a.Status != authz.StatusPending && !a.ExpiresAt.IsZero() && a.ExpiresAt.Sub(now) <= UnreachableWindow) {
			s.metrics.Count(metrics.SellerUnreachable, 1)
		}
	}
	log.InfoContext(ctx, "delivery event recorded", "kind", e.Kind)
	return OutcomeRecorded, nil
}

func (s *Service) ignored(reason string) {
	s.metrics.Count(metrics.DeliveryEventIgnored, 1, metrics.Dim{Name: metrics.DimReason, Value: reason})
}
