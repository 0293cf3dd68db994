package localstack

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/aws/aws-lambda-go/events"
	"github.com/spapi-auth-keeper/keeper/infra/ddbstream"
	"github.com/spapi-auth-keeper/keeper/infra/emulators"
	"github.com/spapi-auth-keeper/keeper/infra/eventbridgeemu"
	"github.com/spapi-auth-keeper/keeper/shared/secret"
	"github.com/spapi-auth-keeper/keeper/shared/webhook"
)

// EnvEventBridge is the SDK's endpoint variable for EventBridge.
const EnvEventBridge = "AWS_ENDPOINT_URL_EVENTBRIDGE"

// eventParts are the domain events' part of the stack: the EventBridge
// emulator with the stack's bus, the webhook key, a local webhook receiver that
// verifies each delivery's signature and lists what arrived, the stream poller that
// feeds EventPublisherFunction, and the token service's function URL.
type eventParts struct {
	Bus         *eventbridgeemu.Server
	BusName     string
	EventsURL   string // the EventBridge emulator
	ReceiverURL string // the webhook receiver's page; deliveries go to ReceiverURL + "/hooks"
	TokenURL    string // the token service's function URL
	key         secret.Value
	receiver    *Receiver
	stopStream  context.CancelFunc
	streamDone  sync.WaitGroup
}

// startEvents brings up the parts the bindings need before the functions start.
func (s *Stack) startEvents(ctx context.Context) error {
	s.ev.BusName = s.opts.Name + "-events"
	s.ev.Bus = eventbridgeemu.New(nil)
	s.ev.Bus.CreateBus(s.ev.BusName)
	ln, err := listenLocal(&s.ev.EventsURL)
	if err != nil {
		return err
	}
	s.serve(ln, s.ev.Bus)
	s.endpoints[EnvEventBridge] = s.ev.EventsURL

	s.ev.key = secret.Value(strings.ReplaceAll(rand.Text()+rand.Text()+rand.Text(), "=", ""))
	if _, err := s.clients.Secrets.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(s.webhookKeyName()),
		SecretString: aws.String(s.ev.key.Reveal())}); err != nil {
		return fmt.Errorf("create the webhook key: %w", err)
	}
	tln, err := listenLocal(&s.ev.TokenURL)
	if err != nil {
		return err
	}
	s.serve(tln, s.tokenFront())
	rln, err := listenLocal(&s.ev.ReceiverURL)
	if err != nil {
		return err
	}
	s.ev.receiver = &Receiver{Key: s.ev.key, URL: s.ev.ReceiverURL + "/hooks"}
	// Read by keeperctl --local webhooks (through Env and .local/stack.json).
	s.endpoints["KEEPER_WEBHOOK_URL"] = s.ev.receiver.URL
	s.endpoints["KEEPER_TOKEN_URL"] = s.ev.TokenURL
	s.serve(rln, s.ev.receiver)

	return nil
}

func (s *Stack) webhookKeyName() string { return s.SecretPrefix + "/webhook-key" }

// eventBindings adds what the new functions' variables resolve to here.
func (s *Stack) eventBindings(b *Bindings) {
	b.Resources["KeeperEventBus"] = s.ev.BusName
	b.Resources["WebhookKeySecret"] = s.webhookKeyName()
	b.Overrides[EnvEventBridge] = s.ev.EventsURL
	b.Overrides["WEBHOOK_URL"] = s.ev.ReceiverURL + "/hooks"
	b.Overrides["SP_API_ENDPOINT"] = s.SellerCentralURL
}

// startStream polls the table's stream, as the event source mapping does, and
// invokes EventPublisherFunction with each batch (retries from the failed record; a
// record that fails 3 times is logged, as the template's DLQ would hold it).
func (s *Stack) startStream() error {
	f, ok := s.functions["EventPublisherFunction"]
	if !ok {
		return nil
	}
	streams := dynamodbstreams.NewFromConfig(StaticConfig(), func(o *dynamodbstreams.Options) {
		o.BaseEndpoint = aws.String(s.endpoints[emulators.EnvDynamoDB])
	})
	ctx, cancel := context.WithCancel(context.Background())
	r, err := ddbstream.New(ctx, s.clients.DynamoDB, streams, s.Table)
	if err != nil {
		cancel()
		return err
	}
	r.OnFailure = func(_ context.Context, recs []events.DynamoDBEventRecord, err error) {
		s.log.Error("stream record failed every retry (the DLQ in AWS)", "sequenceNumber", recs[0].Change.SequenceNumber, "error", err)
	}
	s.ev.stopStream = cancel
	handler := func(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		var resp events.DynamoDBEventResponse
		payload, _ := json.Marshal(ev)
		out, err := s.invoke(f, ctx, payload)
		if err != nil {
			return resp, err
		}
		err = json.Unmarshal(out, &resp)
		return resp, err
	}
	s.ev.streamDone.Go(func() {
		r.Run(ctx, 200*time.Millisecond, handler, func(err error) { s.log.Warn("stream poll failed", "error", err) })
	})
	return nil
}

func (s *Stack) stopEvents() {
	if s.ev.stopStream != nil {
		s.ev.stopStream()
		s.ev.streamDone.Wait()
	}
}

// tokenFront plays the token service's function URL (payload format 2.0). AWS checks
// the caller's SigV4 signature before the function runs; here the front checks that
// the request is signed with SigV4 for the lambda service by the stack's static
// access key ("local"), and refuses anything else with 403 as AWS would, but does not
// recompute the signature.
func (s *Stack) tokenFront() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !signedForLambda(r.Header.Get("Authorization")) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			_, _ = io.WriteString(w, `{"Message":"Forbidden"}`)
			return
		}
		f, ok := s.functions["TokenServiceFunction"]
		if !ok {
			apiError(w, http.StatusNotFound, "Not Found")
			return
		}
		ev, err := HTTPEvent(r, "$default")
		if err != nil {
			apiError(w, http.StatusRequestEntityTooLarge, "Request Entity Too Large")
			return
		}
		payload, _ := json.Marshal(ev)
		ctx, cancel := context.WithTimeout(r.Context(), 15*time.Second)
		defer cancel()
		out, err := s.invoke(f, ctx, payload)
		if err != nil {
			apiError(w, http.StatusBadGateway, "Bad Gateway")
			return
		}
		if err := WriteHTTPResponse(w, out); err != nil {
			apiError(w, http.StatusBadGateway, "Bad Gateway")
		}
	})
}

func signedForLambda(auth string) bool {
	rest, ok := strings.CutPrefix(auth, "AWS4-HMAC-SHA256 Credential=local/")
	if !ok {
		return false
	}
	scope, _, _ := strings.Cut(rest, ",")
	parts := strings.Split(scope, "/")
	return len(parts) == 4 && parts[1] == Region && parts[2] == "lambda" && parts[3] == "aws4_request" && strings.Contains(auth, "Signature=")
}

// TokenURL is the local token service's function URL.
func (s *Stack) TokenURL() string { return s.ev.TokenURL }

// WebhookReceiverURL is the local webhook receiver's page.
func (s *Stack) WebhookReceiverURL() string { return s.ev.ReceiverURL }

// Webhooks returns what the local receiver got.
func (s *Stack) Webhooks() []Arrival { return s.ev.receiver.Arrivals() }

// EventBus is the stack's EventBridge emulator.
func (s *Stack) EventBus() *eventbridgeemu.Server { return s.ev.Bus }

// Arrival is one webhook the local receiver got.
type Arrival struct {
	ID         string    `json:"id"`
	Type       string    `json:"type"`
	Connection string    `json:"connectionId"`
	Verified   bool      `json:"verified"`
	At         time.Time `json:"at"`
	Body       string    `json:"body"`
}

// Receiver is the local webhook receiver: POST /hooks checks the Standard Webhooks
// signature with the endpoint's secret (derived from the stack's webhook key as the
// sender does) and records the delivery; GET / lists them; GET /arrivals.json too.
type Receiver struct {
	Key secret.Value
	URL string // its own /hooks URL, which the endpoint's secret derives from

	mu  sync.Mutex
	got []Arrival
}

// Arrivals returns the deliveries so far, oldest first.
func (rc *Receiver) Arrivals() []Arrival {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]Arrival(nil), rc.got...)
}

var receiverPage = template.Must(template.New("r").Parse(`<!doctype html><html><head><meta charset="utf-8"><title>Webhook receiver</title>
<style>body{font-family:system-ui,sans-serif;margin:2em}td,th{padding:.3em .8em;text-align:left;border-bottom:1px solid #ddd}.bad{color:#b00}</style></head>
<body><h1>Webhook receiver (local)</h1><p>Endpoint <code>{{.URL}}</code>; signing secret: <code>keeperctl --local webhooks secret {{.URL}}</code>. Newest first.</p>
<table><tr><th>received</th><th>type</th><th>connection</th><th>webhook-id</th><th>signature</th></tr>
{{range .Rows}}<tr><td>{{.At.Format "15:04:05.000"}}</td><td>{{.Type}}</td><td>{{.Connection}}</td><td><code>{{.ID}}</code></td><td>{{if .Verified}}valid{{else}}<span class="bad">INVALID</span>{{end}}</td></tr>
{{else}}<tr><td colspan="5">nothing yet: renew a seller, or run keeperctl --local webhooks test</td></tr>{{end}}</table></body></html>`))

func (rc *Receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/hooks":
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		a := Arrival{ID: r.Header.Get("webhook-id"), At: time.Now(), Body: string(body), Verified: rc.verify(r.Header, body)}
		var p struct {
			Type string `json:"type"`
			Data struct {
				ConnectionID string `json:"connectionId"`
			} `json:"data"`
		}
		_ = json.Unmarshal(body, &p)
		a.Type, a.Connection = p.Type, p.Data.ConnectionID
		rc.mu.Lock()
		rc.got = append(rc.got, a)
		rc.mu.Unlock()
		if !a.Verified {
			http.Error(w, "signature does not verify", http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case r.Method == http.MethodGet && r.URL.Path == "/arrivals.json":
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(rc.Arrivals())
	case r.Method == http.MethodGet && r.URL.Path == "/":
		rows := rc.Arrivals()
		for i, j := 0, len(rows)-1; i < j; i, j = i+1, j-1 {
			rows[i], rows[j] = rows[j], rows[i]
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = receiverPage.Execute(w, map[string]any{"URL": rc.URL, "Rows": rows})
	default:
		http.NotFound(w, r)
	}
}

// verify checks a delivery as Standard Webhooks says: the timestamp within five
// minutes, and one of the signatures equal to the expected v1 signature.
func (rc *Receiver) verify(h http.Header, body []byte) bool {
	ts, err := strconv.ParseInt(h.Get("webhook-timestamp"), 10, 64)
	if err != nil || time.Since(time.Unix(ts, 0)).Abs() > 5*time.Minute {
		return false
	}
	want, err := webhook.Sign(webhook.SigningSecret(rc.Key, rc.URL), h.Get("webhook-id"), time.Unix(ts, 0), body)
	if err != nil {
		return false
	}
	for _, sig := range strings.Fields(h.Get("webhook-signature")) {
		if hmac.Equal([]byte(sig), []byte(want)) {
			return true
		}
	}
	return false
}

// EventsBanner is what `make run` prints about the domain events and the tokens.
func (s *Stack) EventsBanner() string {
	return fmt.Sprintf(`  Webhook receiver (signatures verified; renew a seller to see one): %s
  A signed test webhook:  go run ./infra/cmd/keeperctl --local webhooks test
  An access token (curl 7.75+ signs with SigV4 for the function URL):
    curl --aws-sigv4 "aws:amz:%s:lambda" --user local:local -H 'Content-Type: application/json' \
      -d '{"connectionId":"demo-healthy","region":"eu"}' %s/tokens
`, s.ev.ReceiverURL, Region, s.ev.TokenURL)
}
