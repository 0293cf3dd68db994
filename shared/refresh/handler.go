package refresh

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/spapi-auth-keeper/keeper/shared/metrics"
)

// Handler is the token refresh function: one binary that tells apart the three events
// it is invoked with. It implements the aws-lambda-go lambda.Handler interface.
//
//   - an EventBridge scheduled event: sweep the refresh slots due at the event's time
//     and queue them (returns a SweepResult);
//   - an SQS event from the refresh queue: refresh each message, and report the ones
//     to deliver again (ReportBatchItemFailures: returns an events.SQSEventResponse);
//   - {"connectionId": "...", "region": "eu"}: refresh that authorization now and
//     return its Outcome (operators, and sam local invoke).
type Handler struct {
	svc *Service
}

// NewHandler returns the handler of svc.
func NewHandler(svc *Service) *Handler { return &Handler{svc: svc} }

// ErrUnknownEvent says the payload is none of the three event shapes.
var ErrUnknownEvent = errors.New("token refresh: unknown event: want an EventBridge scheduled event, an SQS event, or {\"connectionId\",\"region\"}")

// probe holds the fields that tell the event shapes apart.
type probe struct {
	Records []struct {
		EventSource string `json:"eventSource"`
	} `json:"Records"`
	DetailType   string  `json:"detail-type"`
	Source       string  `json:"source"`
	ConnectionID *string `json:"connectionId"`
}

// Invoke handles one invocation.
func (h *Handler) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	var p probe
	if err := json.Unmarshal(payload, &p); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnknownEvent, err)
	}
	switch {
	case len(p.Records) > 0 && p.Records[0].EventSource == "aws:sqs":
		var ev events.SQSEvent
		if err := json.Unmarshal(payload, &ev); err != nil {
			return nil, fmt.Errorf("token refresh: SQS event: %w", err)
		}
		return json.Marshal(h.HandleSQS(ctx, ev))
	case p.DetailType == "Scheduled Event" && p.Source == "aws.events":
		var ev events.CloudWatchEvent
		if err := json.Unmarshal(payload, &ev); err != nil {
			return nil, fmt.Errorf("token refresh: scheduled event: %w", err)
		}
		res, err := h.svc.Sweep(ctx, ev.Time)
		if err != nil {
			return nil, err
		}
		return json.Marshal(res)
	case p.ConnectionID != nil:
		req, err := ParseRequest(payload)
		if err != nil {
			return nil, fmt.Errorf("token refresh: %w", err)
		}
		req.Force, req.QueuedAt = true, time.Time{}
		return json.Marshal(h.svc.Refresh(ctx, req))
	}
	return nil, ErrUnknownEvent
}

// ReturnMargin is how long before the invocation's deadline HandleSQS stops starting
// refreshes and cuts the running ones short: the response must reach Lambda in time,
// or every message of the batch, done or not, is delivered again.
const ReturnMargin = 5 * time.Second

// ReasonMalformed is RefreshFailed's reason for a queue message that names no
// authorization. The message goes to the dead-letter queue, whose alarm calls a person.
const ReasonMalformed = "malformed"

// HandleSQS refreshes each message of a batch, Config.Concurrency at a time, and
// returns the messages to deliver again: transient failures, so that the queue's
// redrive policy moves an authorization that keeps failing to the dead-letter queue,
// and the messages left when the invocation's time runs out. A message that names no
// authorization is logged, counted (RefreshFailed{Reason=malformed}) and handed back
// too, so that it ends in the dead-letter queue for a person instead of being deleted.
func (h *Handler) HandleSQS(ctx context.Context, ev events.SQSEvent) events.SQSEventResponse {
	work := ctx
	if deadline, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		work, cancel = context.WithDeadline(ctx, deadline.Add(-ReturnMargin))
		defer cancel()
	}
	var (
		mu   sync.Mutex
		resp = events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{}}
		wg   sync.WaitGroup
		sem  = make(chan struct{}, h.svc.cfg.Concurrency)
	)
	// One reservation on the LWA budget for the batch: the times it does not use (an
	// authorization already refreshed, a confirmed revocation) pass unused rather
	// than cost a table write per refresh.
	h.svc.pacer.Reserve(len(ev.Records))
	retry := func(m events.SQSMessage) {
		mu.Lock()
		resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: m.MessageId})
		mu.Unlock()
	}
	for _, m := range ev.Records {
		sem <- struct{}{}
		if work.Err() != nil {
			<-sem
			retry(m)
			continue
		}
		wg.Go(func() {
			defer func() { <-sem }()
			req, err := ParseRequest([]byte(m.Body))
			if err != nil {
				h.svc.log.ErrorContext(ctx, "refresh message malformed; left for the dead-letter queue", "messageId", m.MessageId, "error", err)
				h.svc.metrics.Count(MetricFailed, 1, metrics.Dim{Name: "Reason", Value: ReasonMalformed})
				retry(m)
				return
			}
			if o := h.svc.Refresh(work, req); o.Retry {
				retry(m)
			}
		})
	}
	wg.Wait()
	if n := len(resp.BatchItemFailures); n > 0 && work.Err() != nil {
		h.svc.log.WarnContext(ctx, "invocation time ran out; messages go back to the queue", "messages", n)
	}
	return resp
}
