package refresh_test

import (
	"encoding/json"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/spapi-auth-keeper/keeper/infra/amazonsim"
	"github.com/spapi-auth-keeper/keeper/infra/testenv"
	"github.com/spapi-auth-keeper/keeper/infra/testenv/deploy"
	"github.com/spapi-auth-keeper/keeper/shared/app"
	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/config"
	"github.com/spapi-auth-keeper/keeper/shared/lwa"
	"github.com/spapi-auth-keeper/keeper/shared/metrics"
	"github.com/spapi-auth-keeper/keeper/shared/refresh"
	"github.com/spapi-auth-keeper/keeper/shared/reminder"
	"github.com/spapi-auth-keeper/keeper/shared/secret"
	"github.com/spapi-auth-keeper/keeper/shared/vault"
)

func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

const (
	clientID     = "amzn1.application-oa2-client.refreshtest"
	clientSecret = "amzn1.oa2-cs.v1.refresh-test-client-secret"
	// maxReceive is the test queues' redrive maxReceiveCount.
	maxReceive = 2
)

// env is one isolated deployment of the token refresh: its own table, secret prefix,
// queues (the refresh queue with its DLQ, the reminder queue), Secrets Manager
// emulator (for exact call counts) and LWA simulator, over the shared emulators.
type env struct {
	*deploy.Deployment
	lwaURL      string
	sqs         *sqs.Client
	refreshURL  string
	refreshDLQ  string
	reminderURL string
	svc         *refresh.Service
	handler     *refresh.Handler
}

// options tune one env.
type options struct {
	service      refresh.Config
	lwaEndpoint  string // default: the simulator
	reminderURL  string // default: a fresh queue
	attemptLimit time.Duration
	// lwaBudget, when set, is REFRESH_MAX_PER_SECOND paced as deployed: on the stack's
	// shared budget in the table, not this process alone.
	lwaBudget float64
}

func newEnv(t testing.TB, tweak ...func(*options)) *env {
	t.Helper()
	e := &env{sqs: testenv.SQS(t)}
	e.refreshURL, e.refreshDLQ = testenv.NewQueueWithDLQ(t, "refresh", maxReceive)
	e.reminderURL = testenv.NewQueue(t, "reminders")
	o := options{service: refresh.Config{MaxPerSecond: 1000}, attemptLimit: 2 * time.Second}
	for _, f := range tweak {
		f(&o)
	}
	if o.reminderURL == "" {
		o.reminderURL = e.reminderURL
	}
	d := deploy.Deploy(t, deploy.DeployOptions{
		Sim: amazonsim.Config{ClientID: clientID, ClientSecret: clientSecret},
		ClientCredentials: &vault.ClientCredentials{ClientID: clientID, ClientSecret: secret.Value(clientSecret),
			ClientSecretExpiresAt: deploy.DefaultNow.AddDate(0, 0, 100)},
		Configure: func(d *deploy.Deployment) {
			c := &d.Config
			if o.lwaEndpoint == "" {
				o.lwaEndpoint = c.LWAEndpoint
			}
			c.RefreshQueueURL, c.ReminderQueueURL, c.LWAEndpoint = e.refreshURL, o.reminderURL, o.lwaEndpoint
			c.RefreshInterval, c.RefreshMaxPerSecond = 24*time.Hour, 1000
			c.SPAPIEndpoint = d.SimURL // the simulator's Sellers API: fingerprints of connections without one
			c.ReminderStages = config.DefaultReminderStages
		},
	})
	e.Deployment, e.lwaURL = d, d.SimURL+"/auth/o2/token"
	e.svc, e.handler = e.build(o)
	return e
}

// build assembles the function as main does, with millisecond LWA backoff.
func (e *env) build(o options) (*refresh.Service, *refresh.Handler) {
	e.T.Helper()
	logger := slog.New(slog.NewJSONHandler(e.Logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg := e.Config
	cfg.LWAEndpoint = o.lwaEndpoint
	cfg.ReminderQueueURL = o.reminderURL
	if o.lwaBudget > 0 {
		cfg.RefreshMaxPerSecond = o.lwaBudget
		o.service.MaxPerSecond = 0
	}
	h, svc, err := deploy.TokenRefresh(app.Deps{
		Config: cfg, Clients: e.Clients, Log: logger, Metrics: metrics.New(e.Metrics).WithClock(e.Clock.Now), Clock: e.Clock,
		LWARetry: lwa.Config{MaxAttempts: 3, BaseDelay: time.Millisecond, MaxDelay: 2 * time.Millisecond, AttemptTimeout: o.attemptLimit},
	}, e.sqs, nil, o.service)
	must(e.T, err)
	return svc, h
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// seeded is an authorization as a callback left it: the record and its secret.
type seeded struct {
	authz.Authorization
	token  string
	seller string
}

// seed stores an authorization granted authorizedAgo before now by a new seller, in
// status, with its refresh token in the vault, as the callback would have written them.
func (e *env) seed(connID string, status authz.Status, authorizedAgo time.Duration, tweak ...func(*authz.Authorization)) seeded {
	e.T.Helper()
	seller := "A" + strings.ToUpper(strings.ReplaceAll(connID, "-", "")) + "X"
	token := e.Sim.IssueRefreshToken(seller)
	at := e.Clock.Now().Add(-authorizedAgo).UTC()
	a := authz.Authorization{
		ConnectionID: connID, Region: authz.RegionEU, AccountType: authz.AccountSeller, Marketplace: "DE",
		SellingPartnerID: seller, ContactEmail: connID + "@example.com", Locale: "en-GB", Status: status,
		AuthorizedAt: at, ExpiresAt: at.Add(authz.Lifetime), LastRefreshAt: at,
		RefreshSlot: authz.SlotFor(connID, authz.RegionEU, authz.DefaultRefreshSlots),
		SecretID:    e.Vault.SecretName(connID, authz.RegionEU),
	}
	for _, f := range tweak {
		f(&a)
	}
	_, err := e.Vault.Put(e.Ctx, connID, authz.RegionEU, vault.RefreshToken{
		Token: secret.Value(token), SellingPartnerID: seller, Region: authz.RegionEU, AuthorizedAt: at,
	})
	must(e.T, err)
	created, err := e.Store.Create(e.Ctx, a)
	must(e.T, err)
	return seeded{Authorization: created, token: token, seller: seller}
}

// putSecret stores a new refresh token of seller for connID, authorized at at, as a
// callback does before it writes the record.
func (e *env) putSecret(connID, seller string, at time.Time) string {
	e.T.Helper()
	token := e.Sim.IssueRefreshToken(seller)
	_, err := e.Vault.Put(e.Ctx, connID, authz.RegionEU, vault.RefreshToken{
		Token: secret.Value(token), SellingPartnerID: seller, Region: authz.RegionEU, AuthorizedAt: at,
	})
	must(e.T, err)
	return token
}

func (e *env) record(connID string) authz.Authorization {
	e.T.Helper()
	a, err := e.Store.Get(e.Ctx, connID, authz.RegionEU)
	must(e.T, err)
	return a
}

func (e *env) storedToken(connID string) string {
	e.T.Helper()
	rt, err := e.Vault.Get(e.Ctx, connID, authz.RegionEU)
	must(e.T, err)
	return rt.Token.Reveal()
}

// secretWrites counts every Secrets Manager call that writes a secret.
func (e *env) secretWrites() int {
	return e.Secrets.Calls("PutSecretValue") + e.Secrets.Calls("CreateSecret") + e.Secrets.Calls("UpdateSecret")
}

func (e *env) refresh(connID string) refresh.Outcome {
	return e.svc.Refresh(e.Ctx, refresh.Request{ConnectionID: connID, Region: authz.RegionEU})
}

// queued reads and deletes every message on the queue at url.
func (e *env) queued(url string) []string {
	e.T.Helper()
	var bodies []string
	for {
		out, err := e.sqs.ReceiveMessage(e.Ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10, VisibilityTimeout: 30})
		must(e.T, err)
		if len(out.Messages) == 0 {
			return bodies
		}
		for _, m := range out.Messages {
			bodies = append(bodies, aws.ToString(m.Body))
			_, err := e.sqs.DeleteMessage(e.Ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle})
			must(e.T, err)
		}
	}
}

func (e *env) reconnectJobs() []reminder.Job {
	e.T.Helper()
	var jobs []reminder.Job
	for _, b := range e.queued(e.reminderURL) {
		j, err := reminder.ParseJob(b)
		must(e.T, err)
		jobs = append(jobs, j)
	}
	return jobs
}

// enqueue puts refresh requests on the refresh queue, as the sweep does.
func (e *env) enqueue(connIDs ...string) {
	e.T.Helper()
	for _, c := range connIDs {
		_, err := e.sqs.SendMessage(e.Ctx, &sqs.SendMessageInput{QueueUrl: aws.String(e.refreshURL),
			MessageBody: aws.String(refresh.Request{ConnectionID: c, Region: authz.RegionEU, QueuedAt: e.Clock.Now()}.Marshal())})
		must(e.T, err)
	}
}

// deliver plays Lambda's SQS event source mapping until the refresh queue is empty:
// it receives batches of up to ten, invokes the handler with the SQS event JSON,
// deletes the messages that succeeded, and makes the reported failures visible again
// at once (Lambda waits for the visibility timeout; the test does not). After
// maxReceiveCount receives, SQS moves a message to the DLQ. It returns how many
// invocations it made.
func (e *env) deliver(h *refresh.Handler) int {
	e.T.Helper()
	invocations := 0
	for round := 0; round < 50; round++ {
		out, err := e.sqs.ReceiveMessage(e.Ctx, &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(e.refreshURL), MaxNumberOfMessages: 10, VisibilityTimeout: 30,
			MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll},
		})
		must(e.T, err)
		if len(out.Messages) == 0 {
			if e.depth(e.refreshURL) == 0 {
				return invocations
			}
			continue
		}
		ev := events.SQSEvent{}
		handles := map[string]*string{}
		for _, m := range out.Messages {
			ev.Records = append(ev.Records, events.SQSMessage{MessageId: aws.ToString(m.MessageId), ReceiptHandle: aws.ToString(m.ReceiptHandle),
				Body: aws.ToString(m.Body), Attributes: m.Attributes, EventSource: "aws:sqs", AWSRegion: testenv.Region})
			handles[aws.ToString(m.MessageId)] = m.ReceiptHandle
		}
		payload, err := json.Marshal(ev)
		must(e.T, err)
		raw, err := h.Invoke(e.Ctx, payload)
		must(e.T, err)
		invocations++
		var resp events.SQSEventResponse
		must(e.T, json.Unmarshal(raw, &resp))
		for _, f := range resp.BatchItemFailures {
			_, err := e.sqs.ChangeMessageVisibility(e.Ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(e.refreshURL),
				ReceiptHandle: handles[f.ItemIdentifier], VisibilityTimeout: 0})
			must(e.T, err)
			delete(handles, f.ItemIdentifier)
		}
		for _, rh := range handles {
			_, err := e.sqs.DeleteMessage(e.Ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(e.refreshURL), ReceiptHandle: rh})
			must(e.T, err)
		}
	}
	e.T.Fatalf("refresh queue not drained after 50 rounds (depth %d)", e.depth(e.refreshURL))
	return invocations
}

// wantNoSecretsLogged checks every log and metric line against every secret the run
// handled: the simulator's codes, refresh and access tokens, the client secret, and
// what the vault holds now.
func (e *env) wantNoSecretsLogged(connIDs ...string) {
	e.T.Helper()
	secrets := append([]string{clientSecret}, e.Sim.IssuedSecrets()...)
	for _, c := range connIDs {
		if rt, err := e.Vault.Get(e.Ctx, c, authz.RegionEU); err == nil {
			secrets = append(secrets, rt.Token.Reveal())
		}
	}
	out := e.Logs.String() + e.Metrics.String()
	if out == "" {
		e.T.Fatal("no log output captured")
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(out, s) {
			e.T.Errorf("a secret appears in the logs: %s…", s[:8])
		}
	}
}

func (e *env) metricCount(name, reason string) float64 {
	e.T.Helper()
	return testenv.MetricSum(e.T, e.Metrics.String(), name, reason)
}

func (e *env) depth(url string) int {
	e.T.Helper()
	return testenv.QueueDepth(e.T, e.sqs, url)
}
