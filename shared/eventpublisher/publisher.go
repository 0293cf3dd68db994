// Package eventpublisher is the stream consumer behind the domain events: it reads
// the history items from the table's DynamoDB stream, puts one event per item on the
// stack's EventBridge bus, and queues one webhook delivery per endpoint. It reports
// partial batch failures, so a record that fails is retried from where it failed and
// a poison record ends on the stream's on-failure destination (a DLQ with an alarm).
package eventpublisher

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/spapi-auth-keeper/keeper/shared/domainevent"
	"github.com/spapi-auth-keeper/keeper/shared/metrics"
	"github.com/spapi-auth-keeper/keeper/shared/store"
)

// PutEventsAPI is the part of the EventBridge client the publisher uses.
type PutEventsAPI interface {
	PutEvents(ctx context.Context, in *eventbridge.PutEventsInput, opts ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error)
}

// Webhooks queues the webhook deliveries of events (the webhook package's Outbox).
type Webhooks interface {
	Enqueue(ctx context.Context, evs []domainevent.Event) error
}

// maxEntries is EventBridge's limit of entries per PutEvents.
const maxEntries = 10

// Publisher publishes stream batches.
type Publisher struct {
	api     PutEventsAPI
	bus     string
	source  string
	hooks   Webhooks // nil: no webhook endpoints
	log     *slog.Logger
	metrics *metrics.Emitter
}

// New returns a publisher to the bus (a name or ARN) with the given source.
func New(api PutEventsAPI, bus, source string, hooks Webhooks, log *slog.Logger, m *metrics.Emitter) *Publisher {
	if source == "" {
		source = domainevent.DefaultSource
	}
	return &Publisher{api: api, bus: bus, source: source, hooks: hooks, log: log, metrics: m}
}

type pending struct {
	seq string
	ev  domainevent.Event
}

// Handle publishes the history inserts of a stream batch in order. At the first record
// that fails it stops and reports that record: Lambda retries the batch from there
// (the records before it are done; later ones come again, with the same event ids).
func (p *Publisher) Handle(ctx context.Context, batch events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	var resp events.DynamoDBEventResponse
	var chunk []pending
	flush := func() bool {
		if len(chunk) == 0 {
			return true
		}
		done, err := p.publish(ctx, chunk)
		if err != nil {
			p.metrics.Count(metrics.DomainEventFailed, 1, metrics.Dim{Name: metrics.DimReason, Value: "eventbridge"})
			p.log.ErrorContext(ctx, "publish domain events", "error", err, "eventId", chunk[done].ev.ID(), "published", done)
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.DynamoDBBatchItemFailure{ItemIdentifier: chunk[done].seq})
			return false
		}
		chunk = chunk[:0]
		return true
	}
	for _, r := range batch.Records {
		ev, ok, err := p.decode(r)
		if err != nil {
			// A history item that does not decode fails the same way on every retry:
			// report it, and after the retries the event source mapping sends it to
			// the on-failure destination, whose alarm tells a person.
			if !flush() {
				return resp, nil
			}
			p.metrics.Count(metrics.DomainEventFailed, 1, metrics.Dim{Name: metrics.DimReason, Value: "malformed"})
			p.log.ErrorContext(ctx, "malformed history record", "error", err, "sequenceNumber", r.Change.SequenceNumber)
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.DynamoDBBatchItemFailure{ItemIdentifier: r.Change.SequenceNumber})
			return resp, nil
		}
		if !ok {
			continue
		}
		chunk = append(chunk, pending{seq: r.Change.SequenceNumber, ev: ev})
		if len(chunk) == maxEntries && !flush() {
			return resp, nil
		}
	}
	flush()
	return resp, nil
}

// decode returns the domain event of a record, or ok=false for a record that is not a
// new history item (record updates, nonces, TTL deletions) or of an unknown kind.
func (p *Publisher) decode(r events.DynamoDBEventRecord) (domainevent.Event, bool, error) {
	if r.EventName != string(events.DynamoDBOperationTypeInsert) {
		return domainevent.Event{}, false, nil
	}
	pk, sk, h, err := store.HistoryFromImage(r.Change.NewImage)
	if errors.Is(err, store.ErrNotHistory) {
		return domainevent.Event{}, false, nil
	}
	if err != nil {
		return domainevent.Event{}, false, err
	}
	ev, err := domainevent.FromHistory(pk, sk, h)
	if errors.Is(err, domainevent.ErrInternalKind) {
		return domainevent.Event{}, false, nil
	}
	if errors.Is(err, domainevent.ErrUnknownKind) {
		// Documented choice (README, "React in your own app"): skipped with a metric.
		p.metrics.Count(metrics.DomainEventSkipped, 1, metrics.Dim{Name: metrics.DimReason, Value: "unknown_kind"})
		p.log.Warn("history kind without a domain event type: skipped", "kind", h.Kind, "connectionId", h.ConnectionID)
		return domainevent.Event{}, false, nil
	}
	return ev, err == nil, err
}

// publish puts the events on the bus and queues their webhooks. It returns how many
// of them are done; with an error, evs[done] is the first that is not.
func (p *Publisher) publish(ctx context.Context, evs []pending) (int, error) {
	entries := make([]types.PutEventsRequestEntry, len(evs))
	for i, e := range evs {
		entries[i] = Entry(p.bus, p.source, e.ev)
	}
	out, err := p.api.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: entries})
	if err != nil {
		return 0, fmt.Errorf("PutEvents: %w", err)
	}
	done := len(evs)
	var cause error
	for i, r := range out.Entries {
		if r.ErrorCode != nil && i < done {
			done = i
			cause = fmt.Errorf("PutEvents entry %s: %s: %s", evs[i].ev.ID(), aws.ToString(r.ErrorCode), aws.ToString(r.ErrorMessage))
		}
	}
	if len(out.Entries) < len(evs) && cause == nil && out.FailedEntryCount > 0 {
		done, cause = 0, fmt.Errorf("PutEvents: %d entries failed", out.FailedEntryCount)
	}
	if p.hooks != nil && done > 0 {
		list := make([]domainevent.Event, done)
		for i := range list {
			list[i] = evs[i].ev
		}
		if err := p.hooks.Enqueue(ctx, list); err != nil {
			// Already on the bus: the retry puts them there again with the same ids.
			return 0, fmt.Errorf("queue webhooks: %w", err)
		}
	}
	for _, e := range evs[:done] {
		p.metrics.Count(metrics.DomainEventPublished, 1, metrics.Dim{Name: "DetailType", Value: e.ev.DetailType})
		p.log.InfoContext(ctx, "domain event published", "eventId", e.ev.ID(), "detailType", e.ev.DetailType,
			"connectionId", e.ev.Detail.ConnectionID, "region", e.ev.Detail.Region)
	}
	return done, cause
}

// Entry is the PutEvents entry of an event.
func Entry(bus, source string, ev domainevent.Event) types.PutEventsRequestEntry {
	return types.PutEventsRequestEntry{
		EventBusName: aws.String(bus),
		Source:       aws.String(source),
		DetailType:   aws.String(ev.DetailType),
		Detail:       aws.String(ev.DetailJSON()),
		Time:         aws.Time(ev.Time),
	}
}
