package rotation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/aws/aws-lambda-go/events"
)

// Handler is the credentials function: one binary that tells apart the events it is
// invoked with. It implements the aws-lambda-go lambda.Handler interface.
//
//   - an SQS event from the notifications queue: handle each notification, and report
//     the messages to deliver again (ReportBatchItemFailures);
//   - an EventBridge scheduled event: the daily check (returns a Result);
//   - {"action": "status" | "rotate" | "check"}: the operator's commands (keeperctl
//     client-secret status and rotate) and sam local invoke.
type Handler struct {
	svc *Service
}

// NewHandler returns the handler of svc.
func NewHandler(svc *Service) *Handler { return &Handler{svc: svc} }

// ErrUnknownEvent says the payload is none of the event shapes.
var ErrUnknownEvent = errors.New(`credentials: unknown event: want an SQS event, an EventBridge scheduled event, or {"action": "status"|"rotate"|"check"}`)

// Actions of a direct invocation.
const (
	ActionStatus = "status"
	ActionRotate = "rotate"
	ActionCheck  = "check"
)

type probe struct {
	Records []struct {
		EventSource string `json:"eventSource"`
	} `json:"Records"`
	DetailType string  `json:"detail-type"`
	Source     string  `json:"source"`
	Action     *string `json:"action"`
}

// Invoke handles one invocation.
func (h *Handler) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	var p probe
	if err := json.Unmarshal(payload, &p); err != nil {
		return nil, fmt.Errorf("%w: the payload is not a JSON object", ErrUnknownEvent)
	}
	switch {
	case len(p.Records) > 0 && p.Records[0].EventSource == "aws:sqs":
		var ev events.SQSEvent
		if err := json.Unmarshal(payload, &ev); err != nil {
			return nil, fmt.Errorf("credentials: SQS event: %w", err)
		}
		return json.Marshal(h.HandleSQS(ctx, ev))
	case p.DetailType == "Scheduled Event" && p.Source == "aws.events":
		return json.Marshal(h.svc.Check(ctx))
	case p.Action != nil:
		switch *p.Action {
		case ActionStatus:
			st, err := h.svc.Status(ctx)
			if err != nil {
				return nil, err
			}
			return json.Marshal(st)
		case ActionRotate:
			return json.Marshal(h.svc.Rotate(ctx, TriggerOperator))
		case ActionCheck:
			return json.Marshal(h.svc.Check(ctx))
		}
		return nil, fmt.Errorf("%w: unknown action %q", ErrUnknownEvent, truncate(*p.Action, 32))
	}
	return nil, ErrUnknownEvent
}

// HandleSQS handles each message and returns the ones to deliver again. Messages are
// few (a rotation brings one), so they are handled one at a time, in order.
func (h *Handler) HandleSQS(ctx context.Context, ev events.SQSEvent) events.SQSEventResponse {
	resp := events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{}}
	for _, m := range ev.Records {
		if r := h.svc.HandleMessage(ctx, m.MessageId, []byte(m.Body)); r.Retry {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: m.MessageId})
		}
	}
	return resp
}
