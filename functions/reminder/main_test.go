package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/spapi-auth-keeper/keeper/infra/demo"
	"github.com/spapi-auth-keeper/keeper/infra/testenv"
	"github.com/spapi-auth-keeper/keeper/shared/app"
	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/awsclients"
	"github.com/spapi-auth-keeper/keeper/shared/config"
	"github.com/spapi-auth-keeper/keeper/shared/secret"
	"github.com/spapi-auth-keeper/keeper/shared/store"
	"github.com/spapi-auth-keeper/keeper/shared/vault"
)

func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

// TestSampleSQSEvent feeds events/sqs-reminder.json to the handler main starts, as
// Lambda would, against the emulators (DynamoDB Local, aws-ses-v2-local, the Secrets
// Manager emulator), so the file that `sam local invoke ReminderFunction -e
// events/sqs-reminder.json` documents never rots: the demo seller gets its -30 email.
// The function starts without waiting for the state key: a batch that comes before
// the key can be read fails whole (SQS delivers it again) and sends nothing, and the
// next delivery sends the email once.
func TestSampleSQSEvent(t *testing.T) {
	for _, tc := range []struct {
		name    string
		keyLate bool
	}{
		{"state key in the vault at start", false},
		{"state key written after the first delivery", true},
	} {
		t.Run(tc.name, func(t *testing.T) { sampleSQSEvent(t, tc.keyLate) })
	}
}

func sampleSQSEvent(t *testing.T, keyLate bool) {
	ctx := context.Background()
	raw, err := os.ReadFile(filepath.Join("..", "..", "events", "sqs-reminder.json"))
	must(t, err)
	var ev events.SQSEvent
	must(t, json.Unmarshal(raw, &ev))
	if len(ev.Records) != 1 || ev.Records[0].EventSource != "aws:sqs" {
		t.Fatalf("sqs-reminder.json is not an SQS event of one message")
	}

	sm := testenv.SecretsManager(t)
	prefix := testenv.Prefix(t)
	putKey := func() { must(t, vault.New(sm, prefix, "").PutStateKey(ctx, secret.Value(demo.StateKey))) }
	if !keyLate {
		putKey()
	}
	ddb := testenv.DynamoDB(t)
	table := testenv.NewTable(t)
	ses, mail := testenv.SESv2(t)
	recipient := testenv.NewRecipient(t)
	expires := time.Date(2027, 2, 15, 9, 30, 0, 0, time.UTC)
	_, err = store.New(ddb, table).Create(ctx, authz.Authorization{ConnectionID: demo.ConnectionID, Region: demo.Region,
		AccountType: authz.AccountSeller, Marketplace: demo.Marketplace, SellingPartnerID: demo.SellingPartnerID, ContactEmail: recipient,
		Locale: "en-US", Status: authz.StatusExpiring, AuthorizedAt: expires.Add(-authz.Lifetime), ExpiresAt: expires})
	must(t, err)

	cfg := config.Config{TableName: table, SecretPrefix: prefix, AppName: "Demo App", BaseURL: demo.BaseURL,
		SenderEmail: "reminders@keeper.example.com", SESMaxPerSecond: 1, ReminderStages: config.DefaultReminderStages, LinkTTL: config.DefaultLinkTTL}
	handle, err := wire(app.Deps{Config: cfg, Clients: awsclients.Clients{DynamoDB: ddb, Secrets: sm},
		Log: slog.New(slog.DiscardHandler), Clock: authz.ClockFunc(func() time.Time { return time.Date(2027, 1, 16, 6, 0, 1, 0, time.UTC) })}, ses)
	must(t, err)
	if keyLate {
		if out, err := lambda.NewHandler(handle).Invoke(ctx, raw); err == nil {
			t.Fatalf("a batch before the state key could be read succeeded: %s", out)
		}
		if sent := mail.SentTo(t, recipient); len(sent) != 0 {
			t.Fatalf("emails sent before the state key could be read: %+v", sent)
		}
		putKey()
	}
	out, err := lambda.NewHandler(handle).Invoke(ctx, raw)
	must(t, err)
	var resp events.SQSEventResponse
	must(t, json.Unmarshal(out, &resp))
	if len(resp.BatchItemFailures) != 0 {
		t.Fatalf("batch item failures: %s", out)
	}
	sent := mail.SentTo(t, recipient)
	if len(sent) != 1 || !strings.Contains(sent[0].Subject, "by 15 Feb 2027") || !strings.Contains(sent[0].Text, demo.BaseURL+"/authorize?t=") {
		t.Fatalf("emails to the demo seller: %+v", sent)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
