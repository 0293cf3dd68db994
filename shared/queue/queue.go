// Package queue holds the SQS plumbing the functions share: sending many messages in
// batches of ten, and running a handler over an SQS event with partial batch
// failures, so one bad message never makes Lambda redeliver the good ones.
package queue

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// API is the part of the SQS client the sender uses.
type API interface {
	SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, opts ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error)
}

// MaxBatch is SQS's limit of entries per SendMessageBatch.
const MaxBatch = 10

// Sender sends message bodies to one queue.
type Sender struct {
	api API
	url string
}

// NewSender returns a sender for the queue at url.
func NewSender(api API, url string) *Sender { return &Sender{api: api, url: url} }

// Send sends every body, ten per request, and retries the entries SQS reports as
// failed once; it returns how many were sent and an error naming what was not.
func (s *Sender) Send(ctx context.Context, bodies []string) (int, error) {
	sent := 0
	var errs []error
	for start := 0; start < len(bodies); start += MaxBatch {
		chunk := bodies[start:min(start+MaxBatch, len(bodies))]
		n, err := s.sendChunk(ctx, chunk)
		sent += n
		if err != nil {
			errs = append(errs, err)
			if ctx.Err() != nil {
				break
			}
		}
	}
	return sent, errors.Join(errs...)
}

func (s *Sender) sendChunk(ctx context.Context, bodies []string) (int, error) {
	pending := make(map[string]string, len(bodies))
	for i, b := range bodies {
		pending[strconv.Itoa(i)] = b
	}
	sent := 0
	for attempt := 0; attempt < 2 && len(pending) > 0; attempt++ {
		entries := make([]types.SendMessageBatchRequestEntry, 0, len(pending))
		for id, b := range pending {
			entries = append(entries, types.SendMessageBatchRequestEntry{Id: aws.String(id), MessageBody: aws.String(b)})
		}
		out, err := s.api.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(s.url), Entries: entries})
		if err != nil {
			return sent, fmt.Errorf("send %d messages: %w", len(entries), err)
		}
		for _, ok := range out.Successful {
			delete(pending, aws.ToString(ok.Id))
			sent++
		}
		if len(out.Failed) > 0 && attempt == 1 {
			f := out.Failed[0]
			return sent, fmt.Errorf("%d messages not sent: %s: %s", len(out.Failed), aws.ToString(f.Code), aws.ToString(f.Message))
		}
	}
	return sent, nil
}

// Handle runs fn on every record and reports the ones that failed, for an event
// source mapping with ReportBatchItemFailures. fn returns nil for a message that is
// done; an error sends that message back to the queue, and after maxReceiveCount to
// the dead-letter queue. A malformed message is an error too: deleting it would lose
// it unread, while the dead-letter queue keeps it for a person and alarms.
func Handle(ctx context.Context, ev events.SQSEvent, fn func(ctx context.Context, m events.SQSMessage) error) events.SQSEventResponse {
	var resp events.SQSEventResponse
	for _, m := range ev.Records {
		if err := fn(ctx, m); err != nil {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: m.MessageId})
		}
	}
	return resp
}
