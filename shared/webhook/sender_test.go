package webhook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/spapi-auth-keeper/keeper/infra/testenv"
	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/domainevent"
	"github.com/spapi-auth-keeper/keeper/shared/metrics"
	"github.com/spapi-auth-keeper/keeper/shared/queue"
	"github.com/spapi-auth-keeper/keeper/shared/secret"
	"github.com/spapi-auth-keeper/keeper/shared/store"
	"github.com/spapi-auth-keeper/keeper/shared/webhook"
)

func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

const key = secret.Value("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ01")

// receiver records every delivery and answers with the status its handler picks.
type receiver struct {
	mu   sync.Mutex
	got  []delivery
	srv  *httptest.Server
	next func(n int) (status int, header http.Header, delay time.Duration)
}

type delivery struct {
	Headers map[string]string
	Body    string
}

func newReceiver(t *testing.T, tlsServer bool, next func(n int) (int, http.Header, time.Duration)) *receiver {
	r := &receiver{next: next}
	h := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, delivery{Headers: map[string]string{"webhook-id": req.Header.Get("webhook-id"),
			"webhook-timestamp": req.Header.Get("webhook-timestamp"), "webhook-signature": req.Header.Get("webhook-signature")}, Body: string(body)})
		n := len(r.got)
		r.mu.Unlock()
		status, header, delay := r.next(n)
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-req.Context().Done():
			}
		}
		for k, v := range header {
			w.Header()[k] = v
		}
		w.WriteHeader(status)
	})
	if tlsServer {
		r.srv = httptest.NewTLSServer(h)
	} else {
		r.srv = httptest.NewServer(h)
	}
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) deliveries() []delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]delivery(nil), r.got...)
}

// visibility is the real SQS client, and remembers the delays the sender set.
type visibility struct {
	*sqs.Client
	mu     sync.Mutex
	delays []int32
}

func (v *visibility) ChangeMessageVisibility(ctx context.Context, in *sqs.ChangeMessageVisibilityInput, opts ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error) {
	v.mu.Lock()
	v.delays = append(v.delays, in.VisibilityTimeout)
	v.mu.Unlock()
	return v.Client.ChangeMessageVisibility(ctx, in, opts...)
}

func sampleEvent() domainevent.Event {
	h := authz.Event{ConnectionID: "acme-de", Region: authz.RegionEU, At: time.Now().UTC(), Kind: authz.EventRenewed,
		StatusBefore: authz.StatusExpiring, StatusAfter: authz.StatusActive, SellingPartnerID: "A1SELLER", ExpiresAt: time.Now().Add(authz.Lifetime)}
	pk, sk := store.HistoryKey(h)
	ev, err := domainevent.FromHistory(pk, sk, h)
	if err != nil {
		panic(err)
	}
	return ev
}

type rig struct {
	sender *webhook.Sender
	vis    *visibility
	queue  string
	store  *store.Store
	emf    *testenv.Buffer
	// configured are the endpoints of WEBHOOK_URL the sender was built with.
	configured []webhook.Endpoint
}

// newRig builds a sender whose configured endpoints (WEBHOOK_URL) are configured.
func newRig(t *testing.T, client *http.Client, configured ...string) *rig {
	t.Helper()
	eps, err := webhook.ParseEndpoints(strings.Join(configured, ","))
	if err != nil {
		t.Fatal(err)
	}
	sqsClient := testenv.SQS(t)
	q := testenv.NewQueue(t, "webhooks")
	st := store.New(testenv.DynamoDB(t), testenv.NewTable(t))
	vis := &visibility{Client: sqsClient}
	emf := &testenv.Buffer{}
	s := webhook.New(client, func(context.Context) (secret.Value, error) { return key, nil }, eps, st, queue.NewDelayer(vis, q),
		slog.New(slog.NewTextHandler(io.Discard, nil)), metrics.New(emf)).WithTimeout(20 * time.Second)
	return &rig{sender: s, vis: vis, queue: q, store: st, emf: emf, configured: eps}
}

// deliver queues ev for endpoint through the outbox, receives it from SQS as Lambda
// would, and runs the sender on it.
func (r *rig) deliver(t *testing.T, endpoint string, ev domainevent.Event) events.SQSEventResponse {
	t.Helper()
	ctx := context.Background()
	eps, err := webhook.ParseEndpoints(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	if err := webhook.NewOutbox(queue.NewSender(r.vis.Client, r.queue), eps).Enqueue(ctx, []domainevent.Event{ev}); err != nil {
		t.Fatal(err)
	}
	out, err := r.vis.Client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(r.queue), MaxNumberOfMessages: 10,
		MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameApproximateReceiveCount}})
	if err != nil || len(out.Messages) != 1 {
		t.Fatalf("receive: %v, %d messages", err, len(out.Messages))
	}
	m := out.Messages[0]
	resp, err := r.sender.Handle(ctx, events.SQSEvent{Records: []events.SQSMessage{{MessageId: aws.ToString(m.MessageId),
		ReceiptHandle: aws.ToString(m.ReceiptHandle), Body: aws.ToString(m.Body), Attributes: m.Attributes}}})
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// verifyWithReferenceLibrary checks deliveries with the standardwebhooks npm package.
func verifyWithReferenceLibrary(t *testing.T, endpoint string, ds []delivery) {
	t.Helper()
	root, _ := filepath.Abs("../..")
	var in bytes.Buffer
	for _, d := range ds {
		line, _ := json.Marshal(map[string]any{"secret": webhook.SigningSecret(key, endpoint).Reveal(), "payload": d.Body, "headers": d.Headers})
		in.Write(append(line, '\n'))
	}
	cmd := exec.Command("node", filepath.Join(root, "infra/clients/verify-webhooks.cjs"))
	cmd.Env = append(os.Environ(), "NODE_PATH="+filepath.Join(root, "infra/node_modules"))
	cmd.Stdin = &in
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("standardwebhooks refused a delivery: %v\n%s", err, out)
	}
	if n := strings.Count(string(out), "ok "); n != len(ds) {
		t.Fatalf("standardwebhooks verified %d of %d deliveries:\n%s", n, len(ds), out)
	}
}

func TestDeliveryIsSignedPerStandardWebhooks(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t, false, func(int) (int, http.Header, time.Duration) { return 204, nil, 0 })
	r := newRig(t, nil, rcv.srv.URL+"/hooks")
	ev := sampleEvent()
	if resp := r.deliver(t, rcv.srv.URL+"/hooks", ev); len(resp.BatchItemFailures) != 0 {
		t.Fatalf("failures %v", resp.BatchItemFailures)
	}
	ds := rcv.deliveries()
	if len(ds) != 1 || ds[0].Headers["webhook-id"] != ev.ID() {
		t.Fatalf("deliveries %+v", ds)
	}
	verifyWithReferenceLibrary(t, rcv.srv.URL+"/hooks", ds)
	var p domainevent.WebhookPayload
	if err := json.Unmarshal([]byte(ds[0].Body), &p); err != nil || p.Type != "authorization.renewed" || p.Data.EventID != ev.ID() {
		t.Errorf("payload %s: %v", ds[0].Body, err)
	}
	// A signature under another endpoint's secret does not verify.
	wrong := ds[0]
	wrong.Body = strings.Replace(wrong.Body, "acme-de", "evil-co", 1)
	cmd := exec.Command("node", "../../infra/clients/verify-webhooks.cjs")
	cmd.Env = append(os.Environ(), "NODE_PATH=../../infra/node_modules")
	line, _ := json.Marshal(map[string]any{"secret": webhook.SigningSecret(key, rcv.srv.URL+"/hooks").Reveal(), "payload": wrong.Body, "headers": wrong.Headers})
	cmd.Stdin = bytes.NewReader(line)
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Errorf("a tampered body verified: %s", out)
	}
}

func TestEndpointAnswers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		status     int
		header     http.Header
		delay      time.Duration
		tls        bool
		wantRetry  bool
		wantDelay  int32
		metric     string
		reason     string
		wantErrSub string
	}{
		{"500 is retried after the schedule's first delay", 500, nil, 0, false, true, 5, "WebhookFailed", "500", ""},
		{"429 honours Retry-After", 429, http.Header{"Retry-After": {"3600"}}, 0, false, true, 3600, "WebhookFailed", "429", ""},
		{"408 is retried", 408, nil, 0, false, true, 5, "WebhookFailed", "408", ""},
		{"a slow endpoint times out and is retried", 200, nil, 5 * time.Second, false, true, 5, "WebhookFailed", "timeout", ""},
		{"400 is not retried", 400, nil, 0, false, false, 0, "WebhookRejected", "400", ""},
		{"a redirect is not followed", 302, http.Header{"Location": {"https://elsewhere.example/"}}, 0, false, false, 0, "WebhookRejected", "302", ""},
		{"an untrusted certificate is a configuration error", 200, nil, 0, true, true, 5, "WebhookFailed", "tls", "configuration error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rcv := newReceiver(t, tt.tls, func(int) (int, http.Header, time.Duration) { return tt.status, tt.header, tt.delay })
			r := newRig(t, nil)
			logs := &testenv.Buffer{}
			eps, _ := webhook.ParseEndpoints(rcv.srv.URL)
			r.sender = webhook.New(nil, func(context.Context) (secret.Value, error) { return key, nil }, eps, r.store, queue.NewDelayer(r.vis, r.queue),
				slog.New(slog.NewTextHandler(logs, nil)), metrics.New(r.emf)).WithTimeout(timeoutFor(tt.delay))
			resp := r.deliver(t, rcv.srv.URL, sampleEvent())
			if got := len(resp.BatchItemFailures) == 1; got != tt.wantRetry {
				t.Fatalf("retried = %v, want %v", got, tt.wantRetry)
			}
			if tt.wantRetry && (len(r.vis.delays) != 1 || r.vis.delays[0] != tt.wantDelay) {
				t.Errorf("visibility delays %v, want [%d]", r.vis.delays, tt.wantDelay)
			}
			if testenv.MetricSum(t, r.emf.String(), tt.metric, tt.reason) != 1 {
				t.Errorf("no %s metric with Reason=%s:\n%s", tt.metric, tt.reason, r.emf.String())
			}
			if tt.wantErrSub != "" && !strings.Contains(logs.String(), tt.wantErrSub) {
				t.Errorf("logs do not say %q:\n%s", tt.wantErrSub, logs.String())
			}
			if strings.Contains(logs.String(), webhook.SigningSecret(key, rcv.srv.URL).Reveal()[6:]) {
				t.Error("the signing secret reached the log")
			}
		})
	}
}

func TestGoneDisablesTheEndpoint(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t, false, func(int) (int, http.Header, time.Duration) { return 410, nil, 0 })
	r := newRig(t, nil, rcv.srv.URL)
	if resp := r.deliver(t, rcv.srv.URL, sampleEvent()); len(resp.BatchItemFailures) != 0 {
		t.Fatal("410 was retried")
	}
	if _, off, err := r.store.EndpointDisabled(context.Background(), webhook.EndpointID(rcv.srv.URL)); err != nil || !off {
		t.Fatalf("endpoint not recorded as disabled: %v", err)
	}
	if testenv.MetricSum(t, r.emf.String(), "WebhookEndpointDisabled", "") != 1 {
		t.Error("no WebhookEndpointDisabled metric")
	}
	r.deliver(t, rcv.srv.URL, sampleEvent())
	if n := len(rcv.deliveries()); n != 1 {
		t.Errorf("a disabled endpoint was called again: %d calls", n)
	}
}

func TestRetriesCoverADay(t *testing.T) {
	t.Parallel()
	var total time.Duration
	for n := 1; n <= len(webhook.Schedule); n++ {
		total += webhook.NextDelay(n, 0)
	}
	if total < 24*time.Hour {
		t.Errorf("retries span %s, want at least 24h", total)
	}
	t.Logf("retries span %s over %d attempts", total, len(webhook.Schedule)+1)
	if d := webhook.NextDelay(1, 30*time.Hour); d != 12*time.Hour {
		t.Errorf("a Retry-After beyond SQS's limit gives %s, want 12h", d)
	}
}

func TestBadInput(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"http://example.com/hook", "ftp://x/", "https://user:pw@example.com/", "not a url", "https://example.com/#frag"} {
		if _, err := webhook.ParseEndpoints(u); err == nil {
			t.Errorf("ParseEndpoints(%q) accepted", u)
		}
	}
	eps, err := webhook.ParseEndpoints("https://a.example/h, https://b.example/h https://a.example/h")
	if err != nil || len(eps) != 2 {
		t.Errorf("two endpoints: %v %v", eps, err)
	}
	if _, err := webhook.ParseMessage(`{"endpointUrl":"https://evil.example/","endpointId":"ep_000000000000","eventId":"x","body":{}}`); err == nil {
		t.Error("a message whose endpoint id does not match its URL was accepted")
	}
	r := newRig(t, nil)
	resp, _ := r.sender.Handle(context.Background(), events.SQSEvent{Records: []events.SQSMessage{{MessageId: "1", Body: "{nope"}}})
	if len(resp.BatchItemFailures) != 0 || testenv.MetricSum(t, r.emf.String(), "WebhookFailed", "malformed") != 1 {
		t.Errorf("a malformed message: failures %v, metrics %s", resp.BatchItemFailures, r.emf.String())
	}
}

// timeoutFor gives a slow endpoint a short attempt, and every other case a long one:
// this machine may be loaded enough that a TLS handshake takes seconds.
func timeoutFor(delay time.Duration) time.Duration {
	if delay > 0 {
		return delay / 4
	}
	return 20 * time.Second
}
