package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/spapi-auth-keeper/keeper/infra/demo"
	"github.com/spapi-auth-keeper/keeper/infra/testenv"
	"github.com/spapi-auth-keeper/keeper/shared/app"
	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/awsclients"
	"github.com/spapi-auth-keeper/keeper/shared/config"
	"github.com/spapi-auth-keeper/keeper/shared/expiryscan"
	"github.com/spapi-auth-keeper/keeper/shared/store"
)

func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

// sampleExpiry is the demo authorization's expiry in the reminder samples: the scan of
// events/schedule.json's day (30 days before) queues the -30 stage of
// events/sqs-reminder.json.
var sampleExpiry = time.Date(2027, 2, 15, 9, 30, 0, 0, time.UTC)

// TestSampleScheduleEvent feeds events/schedule.json to the handler main starts, as
// Lambda would (JSON in, JSON out), against the emulators, so the file that
// `sam local invoke ExpiryScanFunction -e events/schedule.json` documents never rots.
// The scan it runs queues exactly the job of events/sqs-reminder.json.
func TestSampleScheduleEvent(t *testing.T) {
	ctx := context.Background()
	raw, err := os.ReadFile(filepath.Join("..", "..", "events", "schedule.json"))
	must(t, err)
	var ev events.EventBridgeEvent
	must(t, json.Unmarshal(raw, &ev))
	if ev.DetailType != "Scheduled Event" || ev.Source != "aws.events" {
		t.Fatalf("schedule.json is not an EventBridge scheduled event: %+v", ev)
	}

	ddb, sqsClient := testenv.DynamoDB(t), testenv.SQS(t)
	table, queueURL := testenv.NewTable(t), testenv.NewQueue(t, "reminders")
	st := store.New(ddb, table)
	_, err = st.Create(ctx, authz.Authorization{ConnectionID: demo.ConnectionID, Region: demo.Region, AccountType: authz.AccountSeller,
		Marketplace: demo.Marketplace, SellingPartnerID: demo.SellingPartnerID, ContactEmail: "demo@example.com", Status: authz.StatusActive,
		AuthorizedAt: sampleExpiry.Add(-authz.Lifetime), ExpiresAt: sampleExpiry})
	must(t, err)

	cfg := config.Config{TableName: table, ReminderQueueURL: queueURL, ReminderStages: config.DefaultReminderStages}
	svc, err := scan(app.Deps{Config: cfg, Clients: awsclients.Clients{DynamoDB: ddb},
		Log: slog.New(slog.DiscardHandler), Clock: authz.ClockFunc(func() time.Time { return ev.Time })}, sqsClient)
	must(t, err)
	out, err := lambda.NewHandler(svc.Handle).Invoke(ctx, raw)
	must(t, err)
	var res expiryscan.Result
	must(t, json.Unmarshal(out, &res))
	if res.Today != "2027-01-16" || res.Queued != 1 || res.Expiring != 1 {
		t.Fatalf("scan result %s", out)
	}

	msgs, err := sqsClient.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(queueURL), MaxNumberOfMessages: 10})
	must(t, err)
	sample, err := os.ReadFile(filepath.Join("..", "..", "events", "sqs-reminder.json"))
	must(t, err)
	var sqsEvent events.SQSEvent
	must(t, json.Unmarshal(sample, &sqsEvent))
	if len(msgs.Messages) != 1 || aws.ToString(msgs.Messages[0].Body) != sqsEvent.Records[0].Body {
		t.Fatalf("queued %d messages; want one, the body of events/sqs-reminder.json (%s)", len(msgs.Messages), sqsEvent.Records[0].Body)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
