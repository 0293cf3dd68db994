package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/spapi-auth-keeper/keeper/infra/demo"
	"github.com/spapi-auth-keeper/keeper/infra/emulators"
	"github.com/spapi-auth-keeper/keeper/infra/localstack"
	"github.com/spapi-auth-keeper/keeper/infra/runtimeapi"
	"github.com/spapi-auth-keeper/keeper/infra/testenv"
	"github.com/spapi-auth-keeper/keeper/shared/store"
	"github.com/spapi-auth-keeper/keeper/shared/vault"
)

// TestSampleEventsAgainstTheDemoStack invokes every file in events/ against a stack
// started as `make run` starts it (the demo sellers, a state key of its own), as
// `make invoke` does while `make run` is up: each sample must do there what it does in
// its throw-away deployment. The samples that change the client secret are refused
// without --yes and go through with it; the callback samples work twice in a row.
func TestSampleEventsAgainstTheDemoStack(t *testing.T) {
	getenv := emulatorEnv(t)
	endpoints := map[string]string{}
	for _, k := range []string{emulators.EnvDynamoDB, emulators.EnvSES, emulators.EnvSQS} {
		endpoints[k] = getenv(k)
	}
	ctx := context.Background()
	s, err := localstack.Start(ctx, localstack.Options{BinDir: binDir, Endpoints: endpoints, Name: "run-" + testenv.Prefix(t), Seed: localstack.SeedDemo})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	st := s.State()

	type outcome struct {
		fn      string
		yes     bool
		wantErr string // non-zero exit saying this
		want    string // in the function's answer
	}
	refused := "to go ahead: make invoke FN=CredentialsFunction EVENT=events/"
	steps := []struct {
		file string
		outcome
	}{
		// Before a renewal moves the sample's expiry: the reminder's job names the old one.
		{"sqs-reminder.json", outcome{fn: "ReminderFunction", want: `"batchItemFailures":`}},
		{"authorize-link.json", outcome{fn: "CallbackFunction", want: `"statusCode":302`}},
		{"callback-good.json", outcome{fn: "CallbackFunction", want: "renewed"}},
		{"callback-good.json", outcome{fn: "CallbackFunction", want: "renewed"}}, // a fresh nonce and code each time
		{"authorize-link.json", outcome{fn: "CallbackFunction", want: `"statusCode":302`}},
		{"callback-missing-code.json", outcome{fn: "CallbackFunction", want: "missing"}},
		{"callback-tampered-state.json", outcome{fn: "CallbackFunction", want: "could not verify"}},
		{"login-uri.json", outcome{fn: "CallbackFunction", want: "amazon_state=amzn-state-demo"}},
		{"dynamodb-stream-history.json", outcome{fn: "EventPublisherFunction", want: `"batchItemFailures":`}},
		{"function-url-token.json", outcome{fn: "TokenServiceFunction", want: "accessToken"}},
		{"import-object-created.json", outcome{fn: "ImporterFunction", want: `"batchItemFailures":`}},
		{"refresh-one.json", outcome{fn: "TokenRefreshFunction", want: `"result":"refreshed"`}},
		{"sqs-refresh.json", outcome{fn: "TokenRefreshFunction", want: `"batchItemFailures":`}},
		{"schedule-refresh.json", outcome{fn: "TokenRefreshFunction", want: `"read":`}},
		{"schedule.json", outcome{fn: "ExpiryScanFunction", want: `"today":`}},
		{"schedule-credentials.json", outcome{fn: "CredentialsFunction", want: `"result":"not_due"`}},
		{"sqs-client-secret-new.json", outcome{fn: "CredentialsFunction", wantErr: refused + "sqs-client-secret-new.json INVOKE_FLAGS=--yes"}},
		{"sqs-client-secret-expiry.json", outcome{fn: "CredentialsFunction", wantErr: refused + "sqs-client-secret-expiry.json INVOKE_FLAGS=--yes"}},
		{"sqs-client-secret-expiry.json", outcome{fn: "CredentialsFunction", yes: true, want: `"batchItemFailures":`}},
		{"sqs-client-secret-new.json", outcome{fn: "CredentialsFunction", yes: true, want: `"batchItemFailures":`}},
		// The stack signs in to LWA with the sample's secret now, and LWA accepts it.
		{"refresh-one.json", outcome{fn: "TokenRefreshFunction", want: `"result":"refreshed"`}},
		{"sqs-webhook.json", outcome{fn: "WebhookSenderFunction", want: `"batchItemFailures":`}},
	}
	covered := map[string]bool{}
	for i, step := range steps {
		covered[step.file] = true
		if step.fn != sampleFunctions[step.file] {
			t.Errorf("%s: invoked with %s, the README gives it to %s", step.file, step.fn, sampleFunctions[step.file])
		}
		ev, err := os.ReadFile(filepath.Join("../../../events", step.file))
		if err != nil {
			t.Fatal(err)
		}
		var stdout, stderr bytes.Buffer
		err = invokeRunning(ctx, st, step.fn, binDir, "events/"+step.file, ev, step.yes, &stdout, &lockedWriter{w: &stderr})
		out := compact(stdout.Bytes())
		switch {
		case step.wantErr == "" && err != nil:
			t.Errorf("%d %s: %v\n%s", i, step.file, err, stderr.String())
		case step.wantErr != "" && (err == nil || !strings.Contains(err.Error(), step.wantErr)):
			t.Errorf("%d %s: %v, want an error saying %q\n%s", i, step.file, err, step.wantErr, stderr.String())
		case strings.HasPrefix(step.wantErr, refused) && (!errors.Is(err, localstack.ErrChangesClientSecret) || stdout.Len() > 0):
			t.Errorf("%d %s: %v, printed %q; want the refusal, before any invoke", i, step.file, err, stdout.String())
		case step.wantErr == "" && strings.Contains(out, "itemIdentifier"):
			t.Errorf("%d %s: batch failures %s", i, step.file, out)
		case step.want != "" && !strings.Contains(out, step.want):
			t.Errorf("%d %s: answer %.800s, want %q\n%s", i, step.file, out, step.want, stderr.String())
		}
		// What the invoke queued is done before the next, as between two commands typed.
		wctx, cancel := context.WithTimeout(ctx, time.Minute)
		if err := s.WaitIdle(wctx); err != nil {
			t.Fatal(err)
		}
		cancel()
		if strings.Contains(stderr.String(), demo.StateKey) {
			t.Errorf("%s: the demo state key on stderr", step.file)
		}
	}
	files, _ := filepath.Glob("../../../events/*.json")
	for _, f := range files {
		if !covered[filepath.Base(f)] {
			t.Errorf("events/%s is not invoked against the demo stack here", filepath.Base(f))
		}
	}

	// The demo's own sellers are untouched; the sample's authorization was added once.
	a, err := store.New(s.Clients().DynamoDB, s.Table).Get(ctx, demo.ConnectionID, demo.Region)
	if err != nil || a.SellingPartnerID != demo.SellingPartnerID {
		t.Errorf("sample authorization in the stack: %+v, %v", a, err)
	}
	creds, err := vault.New(s.Clients().Secrets, s.SecretPrefix, "").ClientCredentials(ctx)
	if err != nil || creds.ClientSecret.Reveal() != demo.RotatedClientSecret {
		t.Errorf("after sqs-client-secret-new.json with --yes the stack's client secret is not the sample's (%v)", err)
	}
	for _, d := range localstack.DemoSellers {
		if _, err := store.New(s.Clients().DynamoDB, s.Table).Get(ctx, d.ConnectionID, d.Region); err != nil {
			t.Errorf("demo seller %s: %v", d.ConnectionID, err)
		}
	}
}

func compact(b []byte) string {
	var buf bytes.Buffer
	if json.Compact(&buf, bytes.TrimSpace(b)) != nil {
		return string(b)
	}
	// An HTTP answer's page is a JSON string: look inside it too.
	var r events.APIGatewayV2HTTPResponse
	if json.Unmarshal(buf.Bytes(), &r) == nil && r.StatusCode != 0 {
		return buf.String() + r.Body + r.Headers["Location"]
	}
	return buf.String()
}

// TestExitStatus: a function error and a partial batch failure both exit non-zero and
// say why; a clean answer, even one listing no failures, does not.
func TestExitStatus(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		out  string
		err  error
		want string
	}{
		{"clean", `{"result":"refreshed"}`, nil, ""},
		{"empty batch failures", `{"batchItemFailures":[]}`, nil, ""},
		{"batch failures", `{"batchItemFailures":[{"itemIdentifier":"m-1"},{"itemIdentifier":"m-2"}]}`, nil,
			"the function reported 2 of the batch's records as failed (batchItemFailures: m-1, m-2)"},
		{"function error", "", &runtimeapi.InvokeError{Response: runtimeapi.ErrorResponse{ErrorType: "errorString", ErrorMessage: "table missing"}},
			"the function returned an error: errorString: table missing"},
		{"transport", "", errors.New("connection reset"), "connection reset"},
	} {
		var stdout, stderr bytes.Buffer
		err := report(&stdout, &stderr, []byte(tc.out), tc.err, 0, 0)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
		if tc.want != "" && tc.name != "transport" && !strings.Contains(stderr.String(), "Status: ") {
			t.Errorf("%s: REPORT line without a status: %q", tc.name, stderr.String())
		}
	}
}
