package webhook_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/spapi-auth-keeper/keeper/infra/testenv"
	"github.com/spapi-auth-keeper/keeper/shared/metrics"
	"github.com/spapi-auth-keeper/keeper/shared/queue"
	"github.com/spapi-auth-keeper/keeper/shared/secret"
	"github.com/spapi-auth-keeper/keeper/shared/webhook"
)

// TestSenderDeliversOnlyToConfiguredEndpoints: a queue message is untrusted (anyone
// allowed to send to the queue writes one). One that names a URL outside WEBHOOK_URL
// is dropped without a request: the sender must not sign and post a body of the
// writer's choosing to a host of the writer's choosing, nor retry it for a day.
func TestSenderDeliversOnlyToConfiguredEndpoints(t *testing.T) {
	t.Parallel()
	ok := func(int) (int, http.Header, time.Duration) { return 204, nil, 0 }
	for _, tc := range []struct {
		name      string
		target    func(configured, attacker string) string
		delivered bool
	}{
		{"an attacker's URL", func(_, attacker string) string { return attacker + "/collect" }, false},
		{"the configured host on another path", func(configured, _ string) string { return configured + "/../admin" }, false},
		{"the configured URL with a query", func(configured, _ string) string { return configured + "?to=elsewhere" }, false},
		{"the configured URL", func(configured, _ string) string { return configured }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			vendor := newReceiver(t, false, ok)
			attacker := newReceiver(t, false, ok)
			configured := vendor.srv.URL + "/hooks"
			r := newRig(t, nil, configured)
			logs := &testenv.Buffer{}
			r.sender = webhook.New(nil, func(context.Context) (secret.Value, error) { return key, nil }, r.configured, r.store, queue.NewDelayer(r.vis, r.queue),
				slog.New(slog.NewJSONHandler(logs, nil)), metrics.New(r.emf))

			// Queued by someone else: a well-formed message, its endpoint id derived from
			// its URL as ParseMessage requires.
			target := tc.target(configured, attacker.srv.URL)
			body, _ := json.Marshal(webhook.Message{EndpointURL: target, EndpointID: webhook.EndpointID(target), EventID: "evt_forged",
				DetailType: "Authorization Renewed", Body: json.RawMessage(`{"type":"authorization.renewed","data":{"connectionId":"acme-de"}}`)})
			ctx := context.Background()
			if _, err := r.vis.Client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(r.queue), MessageBody: aws.String(string(body))}); err != nil {
				t.Fatal(err)
			}
			out, err := r.vis.Client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(r.queue), MaxNumberOfMessages: 1,
				MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameApproximateReceiveCount}})
			if err != nil || len(out.Messages) != 1 {
				t.Fatalf("receive: %v", err)
			}
			m := out.Messages[0]
			resp, err := r.sender.Handle(ctx, events.SQSEvent{Records: []events.SQSMessage{{MessageId: aws.ToString(m.MessageId),
				ReceiptHandle: aws.ToString(m.ReceiptHandle), Body: aws.ToString(m.Body), Attributes: m.Attributes}}})
			if err != nil || len(resp.BatchItemFailures) != 0 {
				t.Fatalf("handle: %v, failures %v; want the message done with (no retry)", err, resp.BatchItemFailures)
			}
			if n := len(attacker.deliveries()); n != 0 {
				t.Errorf("the attacker's server got %d requests", n)
			}
			got := len(vendor.deliveries())
			if tc.delivered != (got == 1) {
				t.Fatalf("the configured endpoint got %d requests, want delivered=%v", got, tc.delivered)
			}
			if tc.delivered {
				return
			}
			if testenv.MetricSum(t, r.emf.String(), "WebhookRejected", webhook.ReasonUnknownEndpoint) != 1 {
				t.Errorf("no WebhookRejected metric with Reason=%s:\n%s", webhook.ReasonUnknownEndpoint, r.emf.String())
			}
			if !strings.Contains(logs.String(), "not configured: dropped, nothing sent") || !strings.Contains(logs.String(), "evt_forged") {
				t.Errorf("the log does not say the message was dropped:\n%s", logs.String())
			}
			if len(r.vis.delays) != 0 {
				t.Errorf("a retry delay was set: %v", r.vis.delays)
			}
		})
	}
	// Send (keeperctl webhooks send uses it) refuses as well, before anything else.
	r := newRig(t, nil)
	res := r.sender.Send(context.Background(), webhook.Message{EndpointURL: "https://evil.example/", EndpointID: webhook.EndpointID("https://evil.example/"),
		EventID: "evt_x", Body: json.RawMessage(`{}`)})
	if res.Outcome != webhook.Rejected || res.Reason != webhook.ReasonUnknownEndpoint {
		t.Errorf("Send to an unconfigured endpoint = %+v", res)
	}
}
