package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/spapi-auth-keeper/keeper/infra/demo"
	"github.com/spapi-auth-keeper/keeper/infra/emulators"
	"github.com/spapi-auth-keeper/keeper/infra/localstack"
	"github.com/spapi-auth-keeper/keeper/infra/runtimeapi"
	"github.com/spapi-auth-keeper/keeper/infra/sesevents"
	"github.com/spapi-auth-keeper/keeper/infra/testenv"
	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/expiryscan"
	"github.com/spapi-auth-keeper/keeper/shared/refresh"
	"github.com/spapi-auth-keeper/keeper/shared/rotation"
	"github.com/spapi-auth-keeper/keeper/shared/secret"
	"github.com/spapi-auth-keeper/keeper/shared/store"
	"github.com/spapi-auth-keeper/keeper/shared/vault"
)

// fnCase is one row of TestEveryFunction: a function, a sample event from events/, and
// what its answer and its side effects must be.
type fnCase struct {
	fn      string // the function under test, by its logical id in template.yaml
	event   string // the sample event, a file in events/
	variant string // names a second row for the same function and event
	// via, when set, is the function the event goes to; fn is reached by what the stack
	// delivers on its own, as AWS would: SES's events about the email via sent.
	via string
	// setup changes the seeded deployment before fn's cold start.
	setup func(t *testing.T, d *deployment)
	// send delivers the event; default: one invocation of fn (or of via).
	send  func(t *testing.T, d *deployment, event []byte) ([]byte, error)
	check func(t *testing.T, d *deployment, out []byte)
}

func (c fnCase) name() string {
	n := c.fn + ":" + c.event
	if c.variant != "" {
		n += ":" + c.variant
	}
	return n
}

// deployment is one row's throw-away local stack, seeded as `make invoke` seeds its
// own (localstack.SeedSamples: what the sample events were made with).
type deployment struct {
	s      *localstack.Stack
	fn     string
	env    map[string]string   // fn's environment: template.yaml's, with the emulators' endpoints
	before authz.Authorization // the sample authorization just before the event
	ledger *store.Store
	vault  *vault.Vault
	mail   *testenv.SESStore
	logs   *lockedWriter // the stack's and the functions' output, and the REPORT line
	buf    *bytes.Buffer // what logs holds

	recipient string // the sample seller's contact, when a row gives it one of its own

	rt   *runtimeapi.Runtime
	init time.Duration
}

// invoke sends event to fn's own process, started (a cold start, with fn's
// environment in the stack) at the first call and kept for the row.
func (d *deployment) invoke(t *testing.T, event []byte) ([]byte, error) {
	t.Helper()
	ctx := context.Background()
	if d.rt == nil {
		f := d.s.State().Functions[d.fn]
		rt, err := runtimeapi.Start(runtimeapi.Function{Name: d.fn, Binary: localstack.BinaryPath(binDir, d.fn), Env: d.env,
			Timeout: time.Duration(f.TimeoutSeconds) * time.Second, Memory: f.MemoryMB, Stdout: d.logs})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = rt.Stop() })
		if d.init, err = rt.WaitReady(ctx); err != nil {
			t.Fatalf("%s did not start: %v", d.fn, err)
		}
		d.rt = rt
	}
	return d.rt.Invoke(ctx, event)
}

// output is what the stack, the functions and the report wrote so far.
func (d *deployment) output() string {
	d.logs.mu.Lock()
	defer d.logs.mu.Unlock()
	return d.buf.String()
}

// sample reads the sample events' authorization (demo-acme/eu) from the ledger.
func (d *deployment) sample(t *testing.T) authz.Authorization {
	t.Helper()
	a, err := d.ledger.Get(context.Background(), demo.ConnectionID, demo.Region)
	if err != nil {
		t.Fatalf("the sample authorization: %v", err)
	}
	return a
}

func (d *deployment) updateSample(t *testing.T, change func(a *authz.Authorization)) {
	t.Helper()
	a := d.sample(t)
	change(&a)
	if _, err := d.ledger.Update(context.Background(), a); err != nil {
		t.Fatal(err)
	}
}

// newRecipient gives the sample seller a contact address of the row's own.
func (d *deployment) newRecipient(t *testing.T) {
	d.recipient = testenv.NewRecipient(t)
	d.updateSample(t, func(a *authz.Authorization) { a.ContactEmail = d.recipient })
}

// TestEveryFunction is the one table of the functions' mains. Each row builds nothing
// of its own: it runs the function's built bootstrap (TestMain builds every function of
// template.yaml) behind the local Lambda Runtime API, with the environment
// template.yaml gives it in a throw-away local stack on the emulators, seeded with what
// the sample events were made with, as `make invoke` runs it; then it sends the row's
// sample event and checks the answer and what the function changed.
func TestEveryFunction(t *testing.T) {
	getenv := emulatorEnv(t)
	endpoints := map[string]string{}
	for _, k := range []string{emulators.EnvDynamoDB, emulators.EnvSES, emulators.EnvSQS} {
		endpoints[k] = getenv(k)
	}
	cases := functionCases()

	// Every function of the template and every sample event has a row, and each event
	// goes to the function the README gives it to.
	root, err := localstack.FindRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := localstack.LoadTemplate(filepath.Join(root, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	fns, files := map[string]bool{}, map[string]bool{}
	for _, c := range cases {
		fns[c.fn], files[c.event] = true, true
		to := c.fn
		if c.via != "" {
			to = c.via
		}
		if sampleFunctions[c.event] != to { // readme_test.go
			t.Errorf("%s: events/%s goes to %s here, the README gives it to %s", c.name(), c.event, to, sampleFunctions[c.event])
		}
	}
	for _, fn := range tmpl.Names() {
		if !fns[fn] {
			t.Errorf("%s has no row here: every function's main must be run through its binary", fn)
		}
	}
	all, err := filepath.Glob("../../../events/*.json")
	if err != nil || len(all) == 0 {
		t.Fatalf("no sample events: %v", err)
	}
	for _, f := range all {
		if !files[filepath.Base(f)] {
			t.Errorf("events/%s has no row here: every sample event must be invoked through its binary", filepath.Base(f))
		}
	}

	for _, c := range cases {
		t.Run(c.name(), func(t *testing.T) {
			t.Parallel()
			c.run(t, endpoints)
		})
	}
}

func (c fnCase) run(t *testing.T, endpoints map[string]string) {
	ctx := context.Background()
	event, err := os.ReadFile(filepath.Join("../../../events", c.event))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	d := &deployment{fn: c.fn, logs: &lockedWriter{w: &buf}, buf: &buf}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the stack's and the functions' output:\n%s", d.output())
		}
	})
	functions := []string{c.fn}
	if c.via != "" {
		functions = append(functions, c.via)
	}
	d.s, err = localstack.Start(ctx, localstack.Options{BinDir: binDir, Functions: functions, Endpoints: endpoints,
		Name: "fn-" + testenv.Prefix(t), Seed: localstack.SeedSamples, NoEventSources: true, Log: d.logs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.s.Stop() })
	d.env, _ = d.s.FunctionEnv(c.fn)
	d.ledger = store.New(d.s.Clients().DynamoDB, d.s.Table)
	d.vault = vault.New(d.s.Clients().Secrets, d.s.SecretPrefix, "")
	_, d.mail = testenv.SESv2(t)
	if c.setup != nil {
		c.setup(t, d)
	}
	d.before = d.sample(t)

	send := c.send
	if send == nil {
		send = func(t *testing.T, d *deployment, event []byte) ([]byte, error) {
			if c.via == "" {
				return d.invoke(t, event)
			}
			out, err := d.s.Invoke(ctx, c.via, event)
			d.s.WaitSESEvents()
			return out, err
		}
	}
	begin := time.Now()
	out, err := send(t, d, event)
	// As `make invoke` reports it: a function error or a batch item failure is an error.
	var stdout bytes.Buffer
	if err := report(&stdout, d.logs, out, err, d.init, time.Since(begin)); err != nil {
		t.Fatalf("invoke: %v", err)
	}
	c.check(t, d, stdout.Bytes())
	output := d.output()
	if !strings.Contains(output, "REPORT Init: ") {
		t.Errorf("no REPORT line on stderr")
	}
	for name, v := range map[string]string{"state key": demo.StateKey, "client secret": demo.ClientSecret,
		"rotated client secret": demo.RotatedClientSecret} {
		if strings.Contains(output, v) {
			t.Errorf("the demo %s is in the output", name)
		}
	}
}

func functionCases() []fnCase {
	type check = func(t *testing.T, d *deployment, out []byte)
	httpAnswer := func(status int, want string) check {
		return func(t *testing.T, _ *deployment, out []byte) {
			t.Helper()
			var r events.APIGatewayV2HTTPResponse
			if err := json.Unmarshal(out, &r); err != nil || r.StatusCode != status || !strings.Contains(r.Headers["Location"]+r.Body, want) {
				t.Fatalf("want HTTP %d with %q, got %.600s", status, want, out)
			}
		}
	}
	noBatchFailures := func(t *testing.T, out []byte) {
		t.Helper()
		var r events.SQSEventResponse
		if err := json.Unmarshal(out, &r); err != nil || len(r.BatchItemFailures) != 0 || !bytes.Contains(out, []byte(`"batchItemFailures":`)) {
			t.Fatalf("want an SQSEventResponse without failures, got %s", out)
		}
	}
	// emptyFailureList: the credentials function answers with an empty list, not null.
	emptyFailureList := func(t *testing.T, out []byte) {
		t.Helper()
		noBatchFailures(t, out)
		if !bytes.Contains(out, []byte(`"batchItemFailures":[]`)) {
			t.Fatalf("want an empty batchItemFailures list, got %s", out)
		}
	}
	decode := func(t *testing.T, out []byte, v any) {
		t.Helper()
		if err := json.Unmarshal(out, v); err != nil {
			t.Fatalf("answer %s: %v", out, err)
		}
	}
	// refreshed: the sample authorization was written once more (a refresh).
	refreshed := func(t *testing.T, d *deployment) authz.Authorization {
		t.Helper()
		after := d.sample(t)
		if after.Version != d.before.Version+1 {
			t.Fatalf("record version %d → %d, want one refresh", d.before.Version, after.Version)
		}
		return after
	}
	// reminded: the sample seller got exactly one email, its -30 reminder.
	reminded := func(t *testing.T, d *deployment) {
		t.Helper()
		var ev events.SQSEvent
		decode(t, readEvent(t, "sqs-reminder.json"), &ev)
		if len(ev.Records) != 1 || ev.Records[0].EventSource != "aws:sqs" {
			t.Fatalf("sqs-reminder.json is not an SQS event of one message")
		}
		sent := d.mail.SentTo(t, d.recipient)
		if len(sent) != 1 || !strings.Contains(sent[0].Subject, "by 15 Feb 2027") || !strings.Contains(sent[0].Text, d.env["BASE_URL"]+"/authorize?t=") {
			t.Fatalf("emails to the sample seller: %+v", sent)
		}
	}
	rotations := func(t *testing.T, d *deployment, want int) {
		t.Helper()
		if n := d.s.Sim().Rotations(); n != want {
			t.Fatalf("the client secret was rotated %d times with Amazon, want %d", n, want)
		}
	}

	return []fnCase{
		{fn: "CallbackFunction", event: "authorize-link.json", check: httpAnswer(302, "/apps/authorize/consent?application_id="+demo.AppID)},
		{fn: "CallbackFunction", event: "login-uri.json", check: httpAnswer(302, demo.CallbackHost+"?amazon_state=amzn-state-demo")},
		{fn: "CallbackFunction", event: "callback-good.json", check: func(t *testing.T, d *deployment, out []byte) {
			httpAnswer(200, "renewed")(t, d, out)
			if after := d.sample(t); !after.ExpiresAt.After(d.before.ExpiresAt) {
				t.Fatalf("renewed, but the expiry stayed %v", after.ExpiresAt)
			}
		}},
		{fn: "CallbackFunction", event: "callback-tampered-state.json", check: httpAnswer(400, "could not verify")},
		{fn: "CallbackFunction", event: "callback-missing-code.json", check: httpAnswer(400, "missing")},

		{fn: "TokenRefreshFunction", event: "refresh-one.json", check: func(t *testing.T, d *deployment, out []byte) {
			var o refresh.Outcome
			decode(t, out, &o)
			if o.Result != refresh.ResultRefreshed || o.ConnectionID != demo.ConnectionID {
				t.Fatalf("outcome %s", out)
			}
			refreshed(t, d)
		}},
		{fn: "TokenRefreshFunction", event: "sqs-refresh.json", check: func(t *testing.T, d *deployment, out []byte) {
			noBatchFailures(t, out)
			if after := refreshed(t, d); after.LastRefreshAt.Equal(d.before.LastRefreshAt) {
				t.Fatalf("last refresh still %v", after.LastRefreshAt)
			}
		}},
		{fn: "TokenRefreshFunction", event: "schedule-refresh.json", check: func(t *testing.T, d *deployment, out []byte) {
			var r refresh.SweepResult
			decode(t, out, &r)
			// The sample authorization sits in the swept slot; the sweep refreshes it itself.
			if r.Read != 1 || r.Canary == nil || r.Canary.Result != refresh.ResultRefreshed {
				t.Fatalf("sweep %s", out)
			}
			if r.ClientSecretDaysLeft == nil {
				t.Fatalf("sweep did not check the client secret: %s", out)
			}
			refreshed(t, d)
		}},

		// The daily scan on the day the sample's -30 reminder falls due queues exactly
		// the job of events/sqs-reminder.json. The function runs on the real clock, so
		// the sample authorization's expiry is moved to the same time 30 days from today.
		{fn: "ExpiryScanFunction", event: "schedule.json", setup: func(t *testing.T, d *deployment) {
			d.updateSample(t, func(a *authz.Authorization) {
				now := time.Now().UTC()
				a.ExpiresAt = time.Date(now.Year(), now.Month(), now.Day()+30, 9, 30, 0, 0, time.UTC)
				a.AuthorizedAt = a.ExpiresAt.Add(-authz.Lifetime)
			})
		}, check: func(t *testing.T, d *deployment, out []byte) {
			var ev events.EventBridgeEvent
			decode(t, readEvent(t, "schedule.json"), &ev)
			if ev.DetailType != "Scheduled Event" || ev.Source != "aws.events" {
				t.Fatalf("schedule.json is not an EventBridge scheduled event: %+v", ev)
			}
			var res expiryscan.Result
			decode(t, out, &res)
			setupDay := d.before.ExpiresAt.AddDate(0, 0, -30).Format("2006-01-02")
			if res.Today != setupDay && res.Today == time.Now().UTC().Format("2006-01-02") {
				t.Skipf("the day changed between the setup (%s) and the scan (%s)", setupDay, res.Today)
			}
			if res.Today != setupDay || res.Queued != 1 || res.Expiring != 1 {
				t.Fatalf("scan result %s", out)
			}
			var sample events.SQSEvent
			decode(t, readEvent(t, "sqs-reminder.json"), &sample)
			sampleExpiry := localstack.SampleExpiry.Format(time.RFC3339)
			if len(sample.Records) != 1 || !strings.Contains(sample.Records[0].Body, `"expiresAt":"`+sampleExpiry+`"`) {
				t.Fatalf("sqs-reminder.json is not one job for the sample expiry %s", sampleExpiry)
			}
			want := strings.Replace(sample.Records[0].Body, sampleExpiry, d.before.ExpiresAt.Format(time.RFC3339), 1)
			msgs, err := d.s.Clients().SQS.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
				QueueUrl: aws.String(d.env["REMINDER_QUEUE_URL"]), MaxNumberOfMessages: 10})
			if err != nil {
				t.Fatal(err)
			}
			if len(msgs.Messages) != 1 || aws.ToString(msgs.Messages[0].Body) != want {
				t.Fatalf("queued %d messages; want one, the body of events/sqs-reminder.json for this expiry (%s)", len(msgs.Messages), want)
			}
		}},

		{fn: "ReminderFunction", event: "sqs-reminder.json", variant: "state key in the vault at start",
			setup: func(t *testing.T, d *deployment) { d.newRecipient(t) },
			check: func(t *testing.T, d *deployment, out []byte) {
				noBatchFailures(t, out)
				reminded(t, d)
			}},
		// The function starts without waiting for the state key: a batch that comes
		// before the key can be read fails whole (SQS delivers it again) and sends
		// nothing, and the next delivery, to the same process, sends the email once.
		{fn: "ReminderFunction", event: "sqs-reminder.json", variant: "state key written after the first delivery",
			setup: func(t *testing.T, d *deployment) {
				d.newRecipient(t)
				if _, err := d.s.Clients().Secrets.DeleteSecret(context.Background(), &secretsmanager.DeleteSecretInput{
					SecretId: aws.String(d.s.SecretPrefix + "/state-key"), ForceDeleteWithoutRecovery: aws.Bool(true)}); err != nil {
					t.Fatal(err)
				}
			},
			send: func(t *testing.T, d *deployment, event []byte) ([]byte, error) {
				if out, err := d.invoke(t, event); err == nil {
					t.Fatalf("a batch before the state key could be read succeeded: %s", out)
				}
				if sent := d.mail.SentTo(t, d.recipient); len(sent) != 0 {
					t.Fatalf("emails sent before the state key could be read: %+v", sent)
				}
				if err := d.vault.PutStateKey(context.Background(), secret.Value(demo.StateKey)); err != nil {
					t.Fatal(err)
				}
				return d.invoke(t, event)
			},
			check: func(t *testing.T, d *deployment, out []byte) {
				noBatchFailures(t, out)
				reminded(t, d)
			}},

		// The sample reminder goes to SES's bounce simulator address; SES's events about
		// it reach the delivery function, which stops email to the contact.
		{fn: "DeliveryFunction", event: "sqs-reminder.json", via: "ReminderFunction", setup: func(t *testing.T, d *deployment) {
			d.updateSample(t, func(a *authz.Authorization) { a.ContactEmail = "bounce@" + sesevents.SimulatorDomain })
		}, check: func(t *testing.T, d *deployment, out []byte) {
			noBatchFailures(t, out)
			after := d.sample(t)
			mark := after.Reminders["-30"]
			if after.ContactStatus != authz.ContactBouncing || mark.SentAt.IsZero() || mark.Delivery.AcceptedAt.IsZero() || mark.Delivery.BouncedAt.IsZero() {
				t.Fatalf("after a permanent bounce: contact %q, -30 reminder %+v", after.ContactStatus, mark)
			}
		}},

		{fn: "CredentialsFunction", event: "sqs-client-secret-new.json", check: func(t *testing.T, d *deployment, out []byte) {
			emptyFailureList(t, out)
			c, err := d.vault.ClientCredentials(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if c.ClientSecret.Reveal() != demo.RotatedClientSecret || !c.ClientSecretExpiresAt.Equal(demo.Expires) {
				t.Fatalf("the sample's secret was not stored (expiry %v)", c.ClientSecretExpiresAt)
			}
		}},
		{fn: "CredentialsFunction", event: "sqs-client-secret-expiry.json", check: func(t *testing.T, d *deployment, out []byte) {
			emptyFailureList(t, out)
			rotations(t, d, 1)
			if n := d.s.Sim().NotificationsSent(); n != 1 {
				t.Fatalf("Amazon sent %d new-secret notifications, want 1", n)
			}
		}},
		// The seeded client secret expires in 150 days: nothing to do yet.
		{fn: "CredentialsFunction", event: "schedule-credentials.json", check: func(t *testing.T, d *deployment, out []byte) {
			var r rotation.Result
			decode(t, out, &r)
			if r.Result != rotation.ResultNotDue {
				t.Fatalf("check %s", out)
			}
			rotations(t, d, 0)
		}},
		{fn: "CredentialsFunction", event: "schedule-credentials.json", variant: "client secret expiring in 16 days",
			setup: func(t *testing.T, d *deployment) {
				ctx := context.Background()
				c, err := d.vault.ClientCredentials(ctx)
				if err != nil {
					t.Fatal(err)
				}
				// An hour over 16 days: the check, a moment later, still counts 16.
				c.ClientSecretExpiresAt = time.Now().Add(16*24*time.Hour + time.Hour)
				if err := d.vault.PutClientCredentials(ctx, c); err != nil {
					t.Fatal(err)
				}
			},
			check: func(t *testing.T, d *deployment, out []byte) {
				var r rotation.Result
				decode(t, out, &r)
				if r.Result != rotation.ResultRequested || r.DaysLeft == nil || *r.DaysLeft != 16 {
					t.Fatalf("check %s", out)
				}
				rotations(t, d, 1)
			}},

		{fn: "ImporterFunction", event: "import-object-created.json", check: func(t *testing.T, d *deployment, out []byte) {
			noBatchFailures(t, out)
			if _, err := d.ledger.Get(context.Background(), localstack.SampleImportConnection, authz.RegionEU); err != nil {
				t.Fatalf("the sample file's authorization is not in the ledger: %v", err)
			}
		}},
		{fn: "EventPublisherFunction", event: "dynamodb-stream-history.json", check: func(t *testing.T, d *deployment, out []byte) {
			var r events.DynamoDBEventResponse
			if err := json.Unmarshal(out, &r); err != nil || len(r.BatchItemFailures) != 0 {
				t.Fatalf("want a DynamoDBEventResponse without failures, got %s", out)
			}
			// The history item's domain event is on the stack's bus.
			evs := d.s.EventBus().Events()
			if len(evs) != 1 || !bytes.Contains(evs[0].Detail, []byte(demo.ConnectionID)) {
				t.Fatalf("events on the bus: %+v", evs)
			}
		}},
		{fn: "WebhookSenderFunction", event: "sqs-webhook.json", check: func(t *testing.T, d *deployment, out []byte) {
			noBatchFailures(t, out)
			// Not an endpoint of WEBHOOK_URL: dropped unsent.
			if got := d.s.Webhooks(); len(got) != 0 {
				t.Fatalf("delivered %d webhooks to an endpoint the stack does not configure", len(got))
			}
		}},
		{fn: "TokenServiceFunction", event: "function-url-token.json", check: httpAnswer(200, "accessToken")},
	}
}

func readEvent(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("../../../events", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
