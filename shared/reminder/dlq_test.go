package reminder_test

import (
	"slices"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/spapi-auth-keeper/keeper/infra/testenv"
	"github.com/spapi-auth-keeper/keeper/shared/reminder"
)

// TestMalformedJobsWaitInTheDLQ: on a real queue with its redrive policy, jobs that
// can never be sent come back on every receive and end in the dead-letter queue,
// where its alarm calls a person; the good job of the same batches is sent once.
func TestMalformedJobsWaitInTheDLQ(t *testing.T) {
	t.Parallel()
	const maxReceive = 3
	e := newSenderEnv(t)
	a := e.seed("dlq-good")
	client := testenv.SQS(t)
	url, dlqURL := testenv.NewQueueWithDLQ(t, "reminders", maxReceive)
	bad := []string{`{"connectionId":`, `{"hello":"world"}`, `{"connectionId":"known","region":"xx","stage":"-30","expiresAt":"2027-02-15T09:30:00Z"}`, jobFor(a, "-31")}
	for _, b := range append(slices.Clone(bad), jobFor(a, "-30")) {
		_, err := client.SendMessage(e.ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(b)})
		if err != nil {
			t.Fatal(err)
		}
	}
	failures := testenv.DrainSQS(t, client, url, func(ev events.SQSEvent) events.SQSEventResponse {
		resp, err := e.sender.Handle(e.ctx, ev)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	})
	if failures != len(bad)*maxReceive {
		t.Fatalf("%d batch item failures, want %d (each malformed job on each receive)", failures, len(bad)*maxReceive)
	}
	dlq := testenv.ReceiveBodies(t, client, dlqURL)
	slices.Sort(dlq)
	want := slices.Clone(bad)
	slices.Sort(want)
	if !slices.Equal(dlq, want) {
		t.Fatalf("DLQ holds %q, want the malformed jobs %q", dlq, want)
	}
	if got := testenv.MetricSum(t, e.metrics.String(), "ReminderFailed", reminder.ReasonMalformed); got != float64(len(bad)*maxReceive) {
		t.Fatalf("ReminderFailed{malformed} = %v, want %d", got, len(bad)*maxReceive)
	}
	if n := len(e.mail.SentTo(t, a.ContactEmail)); n != 1 {
		t.Fatalf("%d emails for the good job, want 1", n)
	}
}
