package rotation_test

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/spapi-auth-keeper/keeper/infra/amazonsim"
	"github.com/spapi-auth-keeper/keeper/infra/testenv"
	"github.com/spapi-auth-keeper/keeper/infra/testenv/deploy"
	"github.com/spapi-auth-keeper/keeper/shared/lwa"
	"github.com/spapi-auth-keeper/keeper/shared/rotation"
	"github.com/spapi-auth-keeper/keeper/shared/rotation/ledger"
	"github.com/spapi-auth-keeper/keeper/shared/vault"
)

func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

const (
	appID        = "amzn1.sp.solution.rotation-test"
	clientID     = "amzn1.application-oa2-client.rotation"
	clientSecret = "amzn1.oa2-cs.v1.rotation-test-current-secret"
	day          = 24 * time.Hour
	maxReceive   = 3 // the notifications queue's redrive policy in these tests
)

// env is one deployment of the credentials function: its table, secret prefix,
// notifications queue with its DLQ, Secrets Manager emulator (for exact call counts
// and faults) and Amazon simulator with the queue registered, over the shared emulators.
type env struct {
	*deploy.Deployment
	ledger   *ledger.Ledger
	sqs      *sqs.Client
	queueURL string
	dlqURL   string
	svc      *rotation.Service
	handler  *rotation.Handler
}

// newEnv starts a deployment whose client secret expires expiresIn from now (zero: no
// expiry recorded).
func newEnv(t testing.TB, expiresIn time.Duration) *env {
	t.Helper()
	c := vault.ClientCredentials{ClientID: clientID, ClientSecret: clientSecret}
	if expiresIn != 0 {
		c.ClientSecretExpiresAt = deploy.DefaultNow.Add(expiresIn)
	}
	d := deploy.Deploy(t, deploy.DeployOptions{
		Sim:               amazonsim.Config{AppID: appID, ClientID: clientID, ClientSecret: clientSecret},
		SeparateSecrets:   true,
		ClientCredentials: &c,
		Configure:         func(d *deploy.Deployment) { d.Config.AppID = appID },
	})
	e := &env{Deployment: d, ledger: ledger.New(d.DDB, d.Table)}
	if expiresIn != 0 {
		e.Sim.SetClientSecretExpiry(clientSecret, c.ClientSecretExpiresAt)
	}
	e.sqs = testenv.SQS(t)
	e.queueURL, e.dlqURL = testenv.NewQueueWithDLQ(t, "notifications", maxReceive)
	e.Sim.SetNotificationDestination(e.sqs, e.queueURL)

	deps := d.Deps
	deps.LWARetry = lwa.Config{MaxAttempts: 2, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond}
	e.handler, e.svc = deploy.Credentials(deps, deploy.CredentialsOptions{SPAPIEndpoint: d.SimURL})
	return e
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func (e *env) stored() vault.ClientCredentials {
	e.T.Helper()
	c, err := e.Vault.ClientCredentials(e.Ctx)
	must(e.T, err)
	return c
}

// previous reads the AWSPREVIOUS version of the lwa-client secret.
func (e *env) previous() string {
	e.T.Helper()
	out, err := e.SM.GetSecretValue(e.Ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(e.Prefix + "/lwa-client"), VersionStage: aws.String("AWSPREVIOUS")})
	must(e.T, err)
	var doc struct {
		ClientSecret string `json:"clientSecret"`
	}
	must(e.T, json.Unmarshal([]byte(aws.ToString(out.SecretString)), &doc))
	return doc.ClientSecret
}

func (e *env) state() rotation.State {
	e.T.Helper()
	st, err := e.ledger.Load(e.Ctx)
	must(e.T, err)
	return st
}

func (e *env) history() []rotation.Event {
	e.T.Helper()
	ev, err := e.ledger.Events(e.Ctx, 50)
	must(e.T, err)
	return ev
}

func (e *env) kinds() string {
	var k []string
	for _, ev := range e.history() {
		k = append(k, string(ev.Kind))
	}
	return strings.Join(k, ",")
}

func (e *env) secretWrites() int {
	return e.Secrets.Calls("PutSecretValue") + e.Secrets.Calls("CreateSecret") + e.Secrets.Calls("UpdateSecretVersionStage")
}

// send puts a message on the notifications queue, as Amazon (or anyone with the
// queue's permission) would.
func (e *env) send(body string) {
	e.T.Helper()
	_, err := e.sqs.SendMessage(e.Ctx, &sqs.SendMessageInput{QueueUrl: aws.String(e.queueURL), MessageBody: aws.String(body)})
	must(e.T, err)
}

// peek reads the messages waiting on the queue without taking them.
func (e *env) peek(url string) []string {
	e.T.Helper()
	var bodies []string
	var handles []*string
	for {
		out, err := e.sqs.ReceiveMessage(e.Ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10, VisibilityTimeout: 30})
		must(e.T, err)
		if len(out.Messages) == 0 {
			break
		}
		for _, m := range out.Messages {
			bodies = append(bodies, aws.ToString(m.Body))
			handles = append(handles, m.ReceiptHandle)
		}
	}
	for _, h := range handles {
		_, err := e.sqs.ChangeMessageVisibility(e.Ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(url), ReceiptHandle: h, VisibilityTimeout: 0})
		must(e.T, err)
	}
	return bodies
}

// deliverOnce plays one poll of Lambda's SQS event source mapping: receive up to ten
// messages, invoke the handler with the SQS event JSON, delete what succeeded, and
// make the reported failures visible again at once (Lambda waits for the visibility
// timeout; the test does not). After maxReceive receives SQS moves a message to the
// DLQ. It returns the response, or false when the queue was empty.
func (e *env) deliverOnce() (events.SQSEventResponse, bool) {
	e.T.Helper()
	out, err := e.sqs.ReceiveMessage(e.Ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(e.queueURL), MaxNumberOfMessages: 10, VisibilityTimeout: 30,
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll}})
	must(e.T, err)
	if len(out.Messages) == 0 {
		return events.SQSEventResponse{}, false
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
	raw, err := e.handler.Invoke(e.Ctx, payload)
	must(e.T, err)
	var resp events.SQSEventResponse
	must(e.T, json.Unmarshal(raw, &resp))
	for _, f := range resp.BatchItemFailures {
		_, err := e.sqs.ChangeMessageVisibility(e.Ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(e.queueURL),
			ReceiptHandle: handles[f.ItemIdentifier], VisibilityTimeout: 0})
		must(e.T, err)
		delete(handles, f.ItemIdentifier)
	}
	for _, rh := range handles {
		_, err := e.sqs.DeleteMessage(e.Ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(e.queueURL), ReceiptHandle: rh})
		must(e.T, err)
	}
	return resp, true
}

// deliver polls until the queue is empty (failures move to the DLQ after maxReceive)
// and returns how many messages were reported as failed in all.
func (e *env) deliver() int {
	e.T.Helper()
	failures := 0
	for range 30 {
		resp, ok := e.deliverOnce()
		if !ok {
			if e.depth(e.queueURL) == 0 {
				return failures
			}
			continue
		}
		failures += len(resp.BatchItemFailures)
	}
	e.T.Fatalf("notifications queue not drained (depth %d)", e.depth(e.queueURL))
	return failures
}

// invoke sends a direct invocation payload to the handler.
func (e *env) invoke(payload string) []byte {
	e.T.Helper()
	out, err := e.handler.Invoke(e.Ctx, []byte(payload))
	must(e.T, err)
	return out
}

func (e *env) check() rotation.Result {
	e.T.Helper()
	var r rotation.Result
	must(e.T, json.Unmarshal(e.invoke(`{"version":"0","id":"x","detail-type":"Scheduled Event","source":"aws.events","time":"`+
		e.Clock.Now().Format(time.RFC3339)+`","detail":{}}`), &r))
	return r
}

// wantNoSecretsLogged checks every log and metric line against every secret the run
// handled: the original and every rotated client secret, and LWA's tokens.
func (e *env) wantNoSecretsLogged(extra ...string) {
	e.T.Helper()
	secrets := append(append([]string{clientSecret, e.stored().ClientSecret.Reveal()}, extra...), e.Sim.IssuedSecrets()...)
	out := e.Logs.String() + e.Metrics.String()
	if out == "" {
		e.T.Fatal("no log output captured")
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(out, s) {
			e.T.Errorf("a secret appears in the logs: %s…", s[:12])
		}
	}
}

// newSecretBody is an APPLICATION_OAUTH_CLIENT_NEW_SECRET message as Amazon sends it.
func newSecretBody(client, newSecret string, expires, oldExpires time.Time, notificationID string) string {
	n := amazonsim.Notification{NotificationVersion: "1.0", NotificationType: amazonsim.NotificationNewSecret, PayloadVersion: "2023-11-30",
		EventTime: amazonsim.Time(expires.Add(-180 * day)),
		Payload: amazonsim.Payload{NewSecret: &amazonsim.NewSecretPayload{ClientID: client, NewClientSecret: newSecret,
			NewClientSecretExpiryTime: amazonsim.Time(expires), OldClientSecretExpiryTime: amazonsim.Time(oldExpires)}},
		NotificationMetadata: amazonsim.NotificationMetadata{ApplicationID: appID, SubscriptionID: "sub-1", PublishTime: amazonsim.Time(expires.Add(-180 * day)),
			NotificationID: notificationID}}
	return n.Marshal()
}

// expiryBody is an APPLICATION_OAUTH_CLIENT_SECRET_EXPIRY message.
func expiryBody(client string, expires time.Time) string {
	n := amazonsim.Notification{NotificationVersion: "1.0", NotificationType: amazonsim.NotificationSecretExpiry, PayloadVersion: "2023-11-30",
		EventTime: amazonsim.Time(expires.Add(-90 * day)),
		Payload: amazonsim.Payload{SecretExpiry: &amazonsim.SecretExpiryPayload{ClientID: client, ClientSecretExpiryTime: amazonsim.Time(expires),
			ClientSecretExpiryReason: "PERIODIC_ROTATION"}},
		NotificationMetadata: amazonsim.NotificationMetadata{ApplicationID: appID, SubscriptionID: "sub-2", NotificationID: "n-expiry"}}
	return n.Marshal()
}

func (e *env) metricCount(name, reason string) float64 {
	e.T.Helper()
	return testenv.MetricSum(e.T, e.Metrics.String(), name, reason)
}

func (e *env) depth(url string) int {
	e.T.Helper()
	return testenv.QueueDepth(e.T, e.sqs, url)
}
