package localstack

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// createQueues creates the template's queues, dead-letter queues first so that each
// redrive policy can name its target's ARN.
func (s *Stack) createQueues(ctx context.Context) error {
	ids := make([]string, 0, len(s.tmpl.Queues))
	for id := range s.tmpl.Queues {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b string) int {
		da, db := s.tmpl.Queues[a].DeadLetter == "", s.tmpl.Queues[b].DeadLetter == ""
		switch {
		case da && !db:
			return -1
		case !da && db:
			return 1
		}
		if a < b {
			return -1
		}
		return 1
	})
	for _, id := range ids {
		q := s.tmpl.Queues[id]
		attrs := map[string]string{string(types.QueueAttributeNameVisibilityTimeout): strconv.Itoa(q.VisibilityTimeout)}
		if q.DeadLetter != "" {
			dlq, ok := s.queues[q.DeadLetter]
			if !ok {
				return fmt.Errorf("queue %s: dead-letter queue %s is not an AWS::SQS::Queue of the template", id, q.DeadLetter)
			}
			policy, _ := json.Marshal(map[string]any{"deadLetterTargetArn": dlq.ARN, "maxReceiveCount": q.MaxReceiveCount})
			attrs[string(types.QueueAttributeNameRedrivePolicy)] = string(policy)
		}
		name := s.opts.Name + "-" + id
		out, err := s.clients.SQS.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs})
		if err != nil {
			return fmt.Errorf("create queue %s: %w", name, err)
		}
		url := aws.ToString(out.QueueUrl)
		got, err := s.clients.SQS.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url),
			AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn}})
		if err != nil {
			return fmt.Errorf("queue %s ARN: %w", name, err)
		}
		s.queues[id] = queueInfo{URL: url, ARN: got.Attributes[string(types.QueueAttributeNameQueueArn)], Name: name}
	}
	return nil
}

// QueueURL is the URL of a template queue (by logical id) in this stack.
func (s *Stack) QueueURL(logicalID string) string { return s.queues[logicalID].URL }

// poller is one SQS event source mapping: it receives batches from a queue, invokes
// the function with them, and deletes what the function did not report as failed.
type poller struct {
	fn     *function
	src    SQSSource
	queue  queueInfo
	busy   atomic.Bool
	polled atomic.Int64 // receives that returned, for WaitIdle
}

func (s *Stack) startPollers() {
	ctx, cancel := context.WithCancel(context.Background())
	s.pollStop = cancel
	for _, fn := range s.opts.Functions {
		f := s.functions[fn]
		for _, src := range f.spec.Queues {
			p := &poller{fn: f, src: src, queue: s.queues[src.Queue]}
			s.pollers = append(s.pollers, p)
			s.pollWG.Go(func() { s.poll(ctx, p) })
		}
	}
}

func (s *Stack) poll(ctx context.Context, p *poller) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		out, err := s.clients.SQS.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(p.queue.URL), MaxNumberOfMessages: int32(min(p.src.BatchSize, 10)),
			WaitTimeSeconds:             int32(s.opts.PollWait / time.Second),
			MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll},
			MessageAttributeNames:       []string{"All"},
		})
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			s.log.Warn("SQS receive failed; retrying", "queue", p.queue.Name, "error", err)
			sleepCtx(ctx, backoff)
			backoff = min(backoff*2, 5*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
		if len(out.Messages) > 0 {
			p.busy.Store(true)
			s.deliver(ctx, p, out.Messages)
			p.busy.Store(false)
		} else if s.opts.PollWait < time.Second {
			sleepCtx(ctx, s.opts.PollWait)
		}
		p.polled.Add(1)
	}
}

// deliver invokes the function with one batch, as Lambda's event source mapping does:
// a function error leaves the whole batch to come back after the visibility timeout;
// with ReportBatchItemFailures, only the reported messages come back, and an answer
// naming an unknown message fails the whole batch, as AWS documents.
func (s *Stack) deliver(ctx context.Context, p *poller, msgs []types.Message) {
	ev := events.SQSEvent{}
	for _, m := range msgs {
		rec := events.SQSMessage{
			MessageId: aws.ToString(m.MessageId), ReceiptHandle: aws.ToString(m.ReceiptHandle), Body: aws.ToString(m.Body),
			Md5OfBody: aws.ToString(m.MD5OfBody), Attributes: m.Attributes, EventSource: "aws:sqs",
			EventSourceARN: p.queue.ARN, AWSRegion: Region, MessageAttributes: map[string]events.SQSMessageAttribute{},
		}
		for k, v := range m.MessageAttributes {
			rec.MessageAttributes[k] = events.SQSMessageAttribute{DataType: aws.ToString(v.DataType), StringValue: v.StringValue, BinaryValue: v.BinaryValue}
		}
		ev.Records = append(ev.Records, rec)
	}
	payload, _ := json.Marshal(ev) // strings and maps of strings: cannot fail
	resp, err := s.invoke(p.fn, ctx, payload)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Error("SQS batch failed; it returns after the visibility timeout", "function", p.fn.spec.LogicalID, "queue", p.queue.Name, "messages", len(msgs), "error", err)
		}
		return
	}
	failed := map[string]bool{}
	if p.src.ReportFailures {
		var r events.SQSEventResponse
		if err := json.Unmarshal(resp, &r); err != nil {
			s.log.Error("SQS batch answer is not an SQSEventResponse; the whole batch returns", "function", p.fn.spec.LogicalID, "error", err)
			return
		}
		known := map[string]bool{}
		for _, m := range ev.Records {
			known[m.MessageId] = true
		}
		for _, f := range r.BatchItemFailures {
			if !known[f.ItemIdentifier] {
				s.log.Error("batchItemFailures names a message not in the batch; the whole batch returns", "function", p.fn.spec.LogicalID, "itemIdentifier", f.ItemIdentifier)
				return
			}
			failed[f.ItemIdentifier] = true
		}
	}
	var del []types.DeleteMessageBatchRequestEntry
	for i, m := range msgs {
		if !failed[aws.ToString(m.MessageId)] {
			del = append(del, types.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle})
		}
	}
	if len(failed) > 0 {
		s.log.Info("SQS batch partly failed; the failed messages return after the visibility timeout", "function", p.fn.spec.LogicalID, "queue", p.queue.Name, "failed", len(failed), "done", len(del))
	}
	if len(del) == 0 {
		return
	}
	if _, err := s.clients.SQS.DeleteMessageBatch(context.WithoutCancel(ctx), &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(p.queue.URL), Entries: del}); err != nil {
		s.log.Error("SQS delete failed; the messages will be delivered again", "queue", p.queue.Name, "error", err)
	}
}

// WaitIdle waits until every polled queue has no visible message and no batch is
// being handled, twice in a row, so that the work a scan or a sweep queued has been
// done (messages a function reported as failed stay invisible for the visibility
// timeout and are not waited for).
func (s *Stack) WaitIdle(ctx context.Context) error {
	calm := 0
	for calm < 2 {
		idle := true
		for _, p := range s.pollers {
			if p.busy.Load() {
				idle = false
				break
			}
			out, err := s.clients.SQS.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(p.queue.URL),
				AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameApproximateNumberOfMessages}})
			if err != nil {
				return fmt.Errorf("queue %s depth: %w", p.queue.Name, err)
			}
			if n, _ := strconv.Atoi(out.Attributes[string(types.QueueAttributeNameApproximateNumberOfMessages)]); n > 0 {
				idle = false
				break
			}
		}
		if idle {
			calm++
		} else {
			calm = 0
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for the queues to drain: %w", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
