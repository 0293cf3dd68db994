package testenv

import (
	"context"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// DrainSQS plays Lambda's SQS event source mapping with ReportBatchItemFailures until
// the queue at url is empty: it receives batches of up to ten, calls handle with the
// SQS event, deletes what succeeded, and makes the reported failures visible again at
// once (Lambda waits for the visibility timeout; the test does not). A queue made by
// NewQueueWithDLQ moves a message to its DLQ after maxReceive receives. It returns
// how many failures were reported in all.
func DrainSQS(t testing.TB, client *sqs.Client, url string, handle func(events.SQSEvent) events.SQSEventResponse) int {
	t.Helper()
	ctx := context.Background()
	failures := 0
	for range 60 {
		out, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10, VisibilityTimeout: 30,
			MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll}})
		if err != nil {
			t.Fatalf("testenv: receive from %s: %v", url, err)
		}
		if len(out.Messages) == 0 {
			if QueueDepth(t, client, url) == 0 {
				return failures
			}
			continue
		}
		ev := events.SQSEvent{}
		handles := map[string]*string{}
		for _, m := range out.Messages {
			ev.Records = append(ev.Records, events.SQSMessage{MessageId: aws.ToString(m.MessageId), ReceiptHandle: aws.ToString(m.ReceiptHandle),
				Body: aws.ToString(m.Body), Attributes: m.Attributes, EventSource: "aws:sqs", AWSRegion: Region})
			handles[aws.ToString(m.MessageId)] = m.ReceiptHandle
		}
		resp := handle(ev)
		for _, f := range resp.BatchItemFailures {
			rh, ok := handles[f.ItemIdentifier]
			if !ok {
				t.Fatalf("testenv: the handler reported %q, which was not in the batch", f.ItemIdentifier)
			}
			if _, err := client.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(url), ReceiptHandle: rh, VisibilityTimeout: 0}); err != nil {
				t.Fatalf("testenv: hand back %s: %v", f.ItemIdentifier, err)
			}
			delete(handles, f.ItemIdentifier)
			failures++
		}
		for _, rh := range handles {
			if _, err := client.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: rh}); err != nil {
				t.Fatalf("testenv: delete: %v", err)
			}
		}
	}
	t.Fatalf("testenv: queue %s not drained (depth %d)", url, QueueDepth(t, client, url))
	return failures
}

// ReceiveBodies takes every message waiting on the queue at url (a DLQ, say) and
// returns their bodies; the messages are deleted.
func ReceiveBodies(t testing.TB, client *sqs.Client, url string) []string {
	t.Helper()
	ctx := context.Background()
	var bodies []string
	for range 20 {
		out, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10, VisibilityTimeout: 30})
		if err != nil {
			t.Fatalf("testenv: receive from %s: %v", url, err)
		}
		if len(out.Messages) == 0 {
			return bodies
		}
		for _, m := range out.Messages {
			bodies = append(bodies, aws.ToString(m.Body))
			if _, err := client.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle}); err != nil {
				t.Fatalf("testenv: delete: %v", err)
			}
		}
	}
	return bodies
}
