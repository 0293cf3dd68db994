package reminder_test

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/spapi-auth-keeper/keeper/infra/testenv"
	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/config"
	"github.com/spapi-auth-keeper/keeper/shared/pace"
	"github.com/spapi-auth-keeper/keeper/shared/reminder"
	"github.com/spapi-auth-keeper/keeper/shared/sesmail"
	"github.com/spapi-auth-keeper/keeper/shared/store"
)

// go test -run '^$' -bench Sender -args -send.count=10000 -send.rate=50 -send.concurrency=2
var (
	sendCount       = flag.Int("send.count", 1000, "reminders BenchmarkSender sends")
	sendRate        = flag.Float64("send.rate", 50, "SES_MAX_PER_SECOND for BenchmarkSender")
	sendConcurrency = flag.Int("send.concurrency", 2, "concurrent sender invocations (the event source's MaximumConcurrency)")
)

// BenchmarkSender sends send.count reminders through send.concurrency senders (as many
// concurrent Lambda invocations, sharing SES_MAX_PER_SECOND through one pace budget) taking
// batches of ten from one queue, against DynamoDB Local and aws-ses-v2-local. The
// arrival of every SendEmail at SES is timed by a proxy in front of the emulator; it
// reports the achieved rate over the configured one, and the most requests SES saw in
// any one-second window over the configured rate (which must never exceed 1).
func BenchmarkSender(b *testing.B) {
	ctx := context.Background()
	n, total, conc := *sendCount, *sendRate, *sendConcurrency
	db := testenv.DynamoDB(b)
	table := testenv.NewTable(b)
	seedSellers(b, db, table, n)

	emuClient, _ := testenv.SESv2(b)
	proxyURL, arrivals := testenv.TimingProxy(b, aws.ToString(emuClient.Options().BaseEndpoint))
	ses := sesmail.New(sesClient(proxyURL), "")
	st := store.New(db, table)
	schedule := reminder.MustParseSchedule(config.DefaultReminderStages)

	b.ResetTimer()
	for iter := range b.N {
		arrivals.Reset()
		stage := schedule[iter%len(schedule)].Key() // a fresh stage per iteration: nothing is a duplicate
		batches := make(chan events.SQSEvent, n/10+1)
		for i := 0; i < n; i += 10 {
			ev := events.SQSEvent{}
			for j := i; j < min(i+10, n); j++ {
				body := reminder.Job{ConnectionID: sellerID(j), Region: authz.RegionNA, Stage: stage, ExpiresAt: benchExpiry}.Marshal()
				ev.Records = append(ev.Records, events.SQSMessage{MessageId: fmt.Sprintf("m-%d-%d", iter, j), Body: body})
			}
			batches <- ev
		}
		close(batches)
		start := time.Now()
		var wg sync.WaitGroup
		var failed sync.Map
		for range conc {
			p, err := pace.New(db, table, fmt.Sprintf("ses-bench-%d", iter), total)
			if err != nil {
				b.Fatal(err)
			}
			s, err := reminder.NewSender(reminder.SenderConfig{From: "reminders@keeper.example.com", Schedule: schedule,
				Pacer: p}, st, ses, testRenderer(b, "Keeper Bench"),
				authz.ClockFunc(func() time.Time { return benchExpiry.AddDate(0, 0, -30) }), slog.New(slog.DiscardHandler), nil)
			if err != nil {
				b.Fatal(err)
			}
			wg.Add(1)
			go func() { // one Lambda invocation after another on this concurrency slot
				defer wg.Done()
				for ev := range batches {
					resp, _ := s.Handle(ctx, ev)
					for _, f := range resp.BatchItemFailures {
						failed.Store(f.ItemIdentifier, true)
					}
				}
			}()
		}
		wg.Wait()
		elapsed := time.Since(start)
		nFailed := 0
		failed.Range(func(any, any) bool { nFailed++; return true })
		got := arrivals.Times()
		if nFailed != 0 || len(got) != n {
			b.Fatalf("%d failed, SES saw %d requests; want %d sent", nFailed, len(got), n)
		}
		achieved := testenv.Rate(got)
		peak := testenv.Busiest(got, time.Second)
		b.ReportMetric(achieved/total, "achieved/configured")
		b.ReportMetric(float64(peak)/total, "peak-1s-window/configured")
		b.Logf("%d reminders, %d senders sharing %.3g/s: %s, achieved %.2f/s (%.3f of configured), busiest 1 s window %d sends (%.3f)",
			n, conc, total, elapsed.Round(time.Millisecond), achieved, achieved/total, peak, float64(peak)/total)
		if float64(peak) > total {
			b.Errorf("%d sends in one second, above the configured %.3g", peak, total)
		}
	}
}

var benchExpiry = time.Date(2027, 2, 15, 9, 30, 0, 0, time.UTC)

func sellerID(i int) string { return fmt.Sprintf("seller-%06d", i) }

// seedSellers writes n expiring authorizations in the store's item layout with
// BatchWriteItem (checked by reading one back through the store).
func seedSellers(b *testing.B, db *dynamodb.Client, table string, n int) {
	b.Helper()
	ctx := context.Background()
	s := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	ts := func(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000000Z07:00") }
	var batch []types.WriteRequest
	flush := func() {
		for len(batch) > 0 {
			out, err := db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{table: batch}})
			if err != nil {
				b.Fatalf("seed: %v", err)
			}
			batch = out.UnprocessedItems[table]
		}
	}
	for i := range n {
		id := sellerID(i)
		batch = append(batch, types.WriteRequest{PutRequest: &types.PutRequest{Item: map[string]types.AttributeValue{
			"pk": s("CONN#" + id), "sk": s("AUTH#na"), "connectionId": s(id), "region": s("na"), "accountType": s("seller"),
			"marketplace": s("US"), "sellingPartnerId": s("A" + strings.ToUpper(id)), "contactEmail": s(id + "@bench.example.com"),
			"status": s("expiring"), "authorizedAt": s(ts(benchExpiry.Add(-authz.Lifetime))), "expiresAt": s(ts(benchExpiry)),
			"expiryDay": s(benchExpiry.Format(authz.DayLayout)), "remindersSent": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{}},
			"refreshFailures": &types.AttributeValueMemberN{Value: "0"}, "refreshSlot": &types.AttributeValueMemberN{Value: strconv.Itoa(i % 24)},
			"version": &types.AttributeValueMemberN{Value: "1"},
		}}})
		if len(batch) == 25 {
			flush()
		}
	}
	flush()
	if a, err := store.New(db, table).Get(ctx, sellerID(0), authz.RegionNA); err != nil || !a.ExpiresAt.Equal(benchExpiry) {
		b.Fatalf("seeded item reads back as %+v, %v", a, err)
	}
}
