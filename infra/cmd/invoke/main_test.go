package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/spapi-auth-keeper/keeper/infra/emulators"
	"github.com/spapi-auth-keeper/keeper/infra/localstack"
	"github.com/spapi-auth-keeper/keeper/infra/testenv"
)

var binDir string

// TestMain builds every function once, as `make invoke` would build the one it runs.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "invoke-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	root, err := localstack.FindRoot(".")
	if err == nil {
		var tmpl *localstack.Template
		if tmpl, err = localstack.LoadTemplate(filepath.Join(root, "template.yaml")); err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			err = localstack.Build(ctx, root, dir, tmpl.Names())
			cancel()
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "build the functions:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	binDir = dir
	code := testenv.Run(m)
	os.RemoveAll(dir)
	os.Exit(code)
}

// emulatorEnv makes sure the emulators run (make test's, or this binary's own) and
// returns the environment invoke sees.
func emulatorEnv(t *testing.T) func(string) string {
	testenv.DynamoDB(t)
	testenv.SESv2(t)
	testenv.SQS(t)
	return func(k string) string {
		switch k {
		case emulators.EnvDynamoDB, emulators.EnvSES, emulators.EnvSQS:
			return os.Getenv(k)
		}
		return ""
	}
}

// TestSampleReminderReachesTheMailbox follows sqs-reminder.json to the email it sends.
func TestSampleReminderReachesTheMailbox(t *testing.T) {
	getenv := emulatorEnv(t)
	_, mail := testenv.SESv2(t)
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"-fn", "ReminderFunction", "-event", "events/sqs-reminder.json", "-bin-dir", binDir, "-standalone"}, getenv, &stdout, &stderr); err != nil {
		t.Fatalf("invoke: %v\n%s", err, stderr.String())
	}
	// Every standalone run seeds the same sample contact; one of them is this run's.
	sent := mail.SentTo(t, "seller@demo-acme.example")
	if !slices.ContainsFunc(sent, func(e testenv.Email) bool { return strings.Contains(e.Subject, "by 15 Feb 2027") }) {
		t.Fatalf("no -30 reminder for the sample expiry in %+v", sent)
	}
}

// TestBadInput: one clear line, a non-zero exit, and nothing started.
func TestBadInput(t *testing.T) {
	t.Parallel()
	bad := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(bad, []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args  []string
		usage bool
		want  string
	}{
		{[]string{"-fn", "NoSuchFunction", "-event", "events/schedule.json"}, false, `no function "NoSuchFunction" in template.yaml (it has CallbackFunction, CredentialsFunction, `},
		{[]string{"-fn", "ExpiryScanFunction", "-event", "events/nope.json"}, false, "event file events/nope.json does not exist"},
		{[]string{"-fn", "ExpiryScanFunction", "-event", bad}, false, "is not valid JSON"},
		{[]string{"-fn", "ExpiryScanFunction"}, true, "FN and EVENT are both required"},
		{[]string{"-function", "X"}, true, "flag provided but not defined"},
	} {
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), tc.args, func(string) string { return "" }, &stdout, &stderr)
		switch {
		case err == nil:
			t.Errorf("%v: no error", tc.args)
		case tc.usage && (!errors.Is(err, errUsage) || !strings.Contains(stderr.String(), tc.want)):
			t.Errorf("%v: %v, stderr %q; want usage naming %q", tc.args, err, stderr.String(), tc.want)
		case !tc.usage && (!strings.Contains(err.Error(), tc.want) || strings.Contains(firstLine(err), "\n")):
			t.Errorf("%v: %v; want one line with %q", tc.args, err, tc.want)
		}
		if stdout.Len() != 0 {
			t.Errorf("%v: printed %q on stdout", tc.args, stdout.String())
		}
	}
}

// TestAgainstARunningStack runs the function with the environment a running stack
// published, as `make invoke` does while `make run` is up.
func TestAgainstARunningStack(t *testing.T) {
	getenv := emulatorEnv(t)
	endpoints := map[string]string{}
	for _, k := range []string{emulators.EnvDynamoDB, emulators.EnvSES, emulators.EnvSQS} {
		endpoints[k] = getenv(k)
	}
	s, err := localstack.Start(context.Background(), localstack.Options{BinDir: binDir, Functions: []string{"CallbackFunction"},
		Endpoints: endpoints, Name: "invoke-" + testenv.Prefix(t), Seed: localstack.SeedSamples, NoEventSources: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	st := s.State()
	var stdout bytes.Buffer
	stderr := &lockedWriter{w: &bytes.Buffer{}}
	ev, err := os.ReadFile("../../../events/authorize-link.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := invokeAgainst(context.Background(), st, "CallbackFunction", localstack.BinaryPath(binDir, "CallbackFunction"), ev, &stdout, stderr); err != nil {
		t.Fatal(err)
	}
	var r events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil || r.StatusCode != http.StatusFound || !strings.HasPrefix(r.Headers["Location"], s.SellerCentralURL) {
		t.Fatalf("response %s", stdout.String())
	}
	if err := invokeAgainst(context.Background(), st, "NoSuchFunction", "x", ev, &stdout, stderr); err == nil || !strings.Contains(err.Error(), "does not run NoSuchFunction") {
		t.Fatalf("unknown function against the stack: %v", err)
	}
}
