package queue_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/spapi-auth-keeper/keeper/infra/testenv"
	"github.com/spapi-auth-keeper/keeper/shared/queue"
)

// TestDelayHoldsTheMessageBack: a received message delayed by an hour is not received
// again now; delayed by nothing, it is received again at once.
func TestDelayHoldsTheMessageBack(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	client := testenv.SQS(t)
	url := testenv.NewQueue(t, "delay")
	if _, err := client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(`{"n":1}`)}); err != nil {
		t.Fatal(err)
	}
	receive := func() []string {
		t.Helper()
		out, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout: 30})
		if err != nil {
			t.Fatal(err)
		}
		var handles []string
		for _, m := range out.Messages {
			handles = append(handles, aws.ToString(m.ReceiptHandle))
		}
		return handles
	}
	d := queue.NewDelayer(client, url)
	first := receive()
	if len(first) != 1 {
		t.Fatalf("received %d messages, want 1", len(first))
	}
	if err := d.Delay(ctx, first[0], 0); err != nil {
		t.Fatal(err)
	}
	again := receive()
	if len(again) != 1 {
		t.Fatalf("after a delay of 0: received %d messages, want the message again", len(again))
	}
	if err := d.Delay(ctx, again[0], time.Hour); err != nil {
		t.Fatal(err)
	}
	if got := receive(); len(got) != 0 {
		t.Fatalf("after a delay of an hour: received %d messages, want none", len(got))
	}
}

// TestDelayOfAnUnknownReceiptFails: SQS's refusal comes back as an error naming the
// delay, for the caller's log.
func TestDelayOfAnUnknownReceiptFails(t *testing.T) {
	t.Parallel()
	client := testenv.SQS(t)
	url := testenv.NewQueue(t, "delay-unknown")
	err := queue.NewDelayer(client, url).Delay(context.Background(), "not-a-receipt-handle", 5*time.Minute)
	if err == nil {
		t.Fatal("Delay of an unknown receipt handle succeeded")
	}
}
