package refresh_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/spapi-auth-keeper/keeper/infra/testenv"
	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/refresh"
)

// TestMalformedRefreshMessagesWaitInTheDLQ: a message that names no authorization is
// reported as a batch item failure on each receive, so SQS parks it in the
// dead-letter queue (whose alarm calls a person) instead of Lambda deleting it unread.
// A good message in the same batches is refreshed and deleted.
func TestMalformedRefreshMessagesWaitInTheDLQ(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.seed("conn-good", authz.StatusActive, 30*24*time.Hour)
	bad := []string{`not json`, `{"connectionId":"conn-1","region":"xx"}`, `{"connectionId":"a#b","region":"eu"}`, `{}`}
	for _, b := range bad {
		_, err := e.sqs.SendMessage(e.Ctx, &sqs.SendMessageInput{QueueUrl: aws.String(e.refreshURL), MessageBody: aws.String(b)})
		must(t, err)
	}
	e.enqueue("conn-good")

	e.deliver(e.handler)
	dlq := testenv.ReceiveBodies(t, e.sqs, e.refreshDLQ)
	slices.Sort(dlq)
	want := slices.Clone(bad)
	slices.Sort(want)
	if !slices.Equal(dlq, want) {
		t.Fatalf("DLQ holds %q, want the malformed messages %q", dlq, want)
	}
	if got := e.metricCount(refresh.MetricFailed, refresh.ReasonMalformed); got != float64(len(bad)*maxReceive) {
		t.Fatalf("%s{Reason=malformed} = %v, want %d (one per receive)", refresh.MetricFailed, got, len(bad)*maxReceive)
	}
	if got := e.metricCount(refresh.MetricSucceeded, ""); got != 1 {
		t.Fatalf("%s = %v: the good message was not refreshed once", refresh.MetricSucceeded, got)
	}
	if n := strings.Count(e.Logs.String(), "refresh message malformed"); n != len(bad)*maxReceive {
		t.Fatalf("%d log lines for malformed messages, want one per receive", n)
	}
}
