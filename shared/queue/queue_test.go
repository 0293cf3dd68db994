package queue_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/spapi-auth-keeper/keeper/infra/testenv"
	"github.com/spapi-auth-keeper/keeper/shared/queue"
)

func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

// TestSendDeliversEveryBodyInBatchesOfTen sends more than one SendMessageBatch holds
// to the SQS emulator and reads every message back.
func TestSendDeliversEveryBodyInBatchesOfTen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	client := testenv.SQS(t)
	url := testenv.NewQueue(t, "send")
	var bodies []string
	for i := 0; i < 25; i++ {
		bodies = append(bodies, fmt.Sprintf(`{"n":%02d}`, i))
	}
	sent, err := queue.NewSender(client, url).Send(ctx, bodies)
	if err != nil || sent != 25 {
		t.Fatalf("Send = %d, %v; want 25, nil", sent, err)
	}
	var got []string
	for len(got) < 25 {
		out, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Messages) == 0 {
			t.Fatalf("received %d of 25 messages", len(got))
		}
		for _, m := range out.Messages {
			got = append(got, aws.ToString(m.Body))
		}
	}
	sort.Strings(got)
	for i, b := range bodies {
		if got[i] != b {
			t.Fatalf("message %d = %s, want %s", i, got[i], b)
		}
	}
}

func TestSendToAMissingQueueSaysSo(t *testing.T) {
	t.Parallel()
	sent, err := queue.NewSender(testenv.SQS(t), testenv.NewQueue(t, "gone")+"-missing").Send(context.Background(), []string{"x"})
	if err == nil || sent != 0 {
		t.Fatalf("Send = %d, %v; want 0 and an error", sent, err)
	}
}

func TestHandleReportsOnlyTheFailedMessages(t *testing.T) {
	t.Parallel()
	ev := events.SQSEvent{Records: []events.SQSMessage{{MessageId: "a", Body: "ok"}, {MessageId: "b", Body: "fail"}, {MessageId: "c", Body: "ok"}}}
	resp := queue.Handle(context.Background(), ev, func(_ context.Context, m events.SQSMessage) error {
		if m.Body == "fail" {
			return errors.New("boom")
		}
		return nil
	})
	if len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != "b" {
		t.Fatalf("failures = %+v, want only b", resp.BatchItemFailures)
	}
}
