package expiryscan_test

import (
	"context"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/spapi-auth-keeper/keeper/infra/testenv"
	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/config"
	"github.com/spapi-auth-keeper/keeper/shared/expiryscan"
	"github.com/spapi-auth-keeper/keeper/shared/queue"
	"github.com/spapi-auth-keeper/keeper/shared/reminder"
	"github.com/spapi-auth-keeper/keeper/shared/store"
)

// Sizes of the scan benchmark: go test -run '^$' -bench Scan -scan.sizes 10000,100000,1000000
var (
	scanSizes = flag.String("scan.sizes", "10000", "comma-separated ledger sizes for BenchmarkScan")
	// DynamoDB Local's full Scan slows down as the table grows (10k items: 4 s, 100k:
	// 106 s); past this limit the baseline stops and its time is reported as a lower bound.
	baselineLimit = flag.Duration("scan.baselinelimit", 10*time.Minute, "longest the full-Scan baseline may run")
)

// BenchmarkScan seeds a ledger of each size in DynamoDB Local with 1% of it due today
// (spread over the ten partitions of today's stages, the rest over the other days of
// the year), runs the expiry scan against it and a naive full-table Scan baseline on
// the same data, and reports items read per due authorization, the jobs queued, both
// wall times and their ratio.
func BenchmarkScan(b *testing.B) {
	for _, field := range strings.Split(*scanSizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(field))
		if err != nil || n < 100 {
			b.Fatalf("-scan.sizes: %q", field)
		}
		b.Run(fmt.Sprintf("ledger=%d", n), func(b *testing.B) { benchScan(b, n) })
	}
}

func benchScan(b *testing.B, n int) {
	ctx := context.Background()
	db := testenv.DynamoDB(b)
	table := testenv.NewTable(b)
	schedule := reminder.MustParseSchedule(config.DefaultReminderStages)
	dueDays := schedule.ExpiryDays(reminder.DayOf(today))
	isDue := map[reminder.Day]bool{}
	for _, d := range dueDays {
		isDue[d] = true
	}
	var otherDays []reminder.Day
	for d := reminder.DayOf(today).AddDays(-40); d < reminder.DayOf(today).AddDays(325); d++ {
		if !isDue[d] {
			otherDays = append(otherDays, d)
		}
	}
	due := n / 100
	start := time.Now()
	seedLedger(b, db, table, n, func(i int) reminder.Day {
		if i < due {
			return dueDays[i%len(dueDays)]
		}
		return otherDays[i%len(otherDays)]
	})
	b.Logf("seeded %d authorizations (%d due) in %s", n, due, time.Since(start).Round(time.Millisecond))

	st := store.New(db, table)
	sqsClient := testenv.SQS(b)
	queueURL := testenv.NewQueue(b, "bench")
	scan, err := expiryscan.New(expiryscan.Config{Schedule: schedule}, st, queue.NewSender(sqsClient, queueURL), authz.ClockFunc(func() time.Time { return today }), nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	var res expiryscan.Result
	var scanTime time.Duration
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		res, err = scan.Run(ctx)
		scanTime = time.Since(t0)
		if err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if _, err := sqsClient.PurgeQueue(ctx, &sqs.PurgeQueueInput{QueueUrl: aws.String(queueURL)}); err != nil {
		b.Logf("purge: %v", err)
	}

	// The naive baseline: read the whole table and pick out what is due.
	t0 := time.Now()
	scanned, found := 0, 0
	pages := dynamodb.NewScanPaginator(db, &dynamodb.ScanInput{TableName: aws.String(table)})
	complete := true
	for pages.HasMorePages() {
		if time.Since(t0) > *baselineLimit {
			complete = false
			break
		}
		page, err := pages.NextPage(ctx)
		if err != nil {
			b.Fatal(err)
		}
		scanned += int(page.ScannedCount)
		for _, it := range page.Items {
			if d, ok := it["expiryDay"].(*types.AttributeValueMemberS); ok {
				if day, err := reminder.ParseDay(d.Value); err == nil && isDue[day] {
					found++
				}
			}
		}
	}
	baseline := time.Since(t0)
	if res.Read != due || res.Queued != due || (complete && found != due) {
		b.Fatalf("scan read %d and queued %d, baseline found %d; want %d due", res.Read, res.Queued, found, due)
	}
	bound := ""
	if !complete {
		bound = fmt.Sprintf(" (stopped after %d of %d items: the ratio is a lower bound)", scanned, n)
	}
	b.ReportMetric(float64(res.Read)/float64(due), "read/due")
	b.ReportMetric(float64(res.Queued), "queued")
	b.ReportMetric(baseline.Seconds()/scanTime.Seconds(), "x-faster-than-Scan")
	b.Logf("ledger %d: scan read %d (due %d), queued %d, moved %d to expiring, in %s; full Scan read %d in %s; %.1fx%s",
		n, res.Read, due, res.Queued, res.Expiring, scanTime.Round(time.Millisecond), scanned, baseline.Round(time.Millisecond), baseline.Seconds()/scanTime.Seconds(), bound)
}

// seedLedger writes n authorizations straight into the table with BatchWriteItem, in
// the store's item layout (checked by reading one back through the store): the
// store's own writes are one transaction each, far too slow to seed a million.
// dayOf(i) is the expiry day of the i-th.
func seedLedger(b *testing.B, db *dynamodb.Client, table string, n int, dayOf func(i int) reminder.Day) {
	b.Helper()
	ctx := context.Background()
	const workers = 16
	jobs := make(chan []types.WriteRequest, workers)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for reqs := range jobs {
				for len(reqs) > 0 {
					out, err := db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{table: reqs}})
					if err != nil {
						mu.Lock()
						firstErr = err
						mu.Unlock()
						break
					}
					reqs = out.UnprocessedItems[table]
				}
			}
		}()
	}
	batch := make([]types.WriteRequest, 0, 25)
	for i := range n {
		batch = append(batch, types.WriteRequest{PutRequest: &types.PutRequest{Item: seedItem(i, dayOf(i))}})
		if len(batch) == 25 {
			jobs <- batch
			batch = make([]types.WriteRequest, 0, 25)
		}
	}
	if len(batch) > 0 {
		jobs <- batch
	}
	close(jobs)
	wg.Wait()
	if firstErr != nil {
		b.Fatalf("seed: %v", firstErr)
	}
	a, err := store.New(db, table).Get(ctx, seedID(0), authz.RegionNA)
	if err != nil || reminder.DayOf(a.ExpiresAt) != dayOf(0) || a.Version != 1 {
		b.Fatalf("seeded item reads back as %+v, %v", a, err)
	}
}

func seedID(i int) string { return fmt.Sprintf("bench-%07d", i) }

// seedItem is the i-th authorization, expiring on day at 09:30 UTC, with the status
// the previous days' scans would have given it.
func seedItem(i int, day reminder.Day) map[string]types.AttributeValue {
	exp := day.Time().Add(9*time.Hour + 30*time.Minute)
	a := authz.Authorization{Status: authz.StatusActive, ExpiresAt: exp}
	status := a.StatusAt(today.Add(-24*time.Hour), reminder.MustParseSchedule(config.DefaultReminderStages).Window())
	s := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	num := func(v int) types.AttributeValue { return &types.AttributeValueMemberN{Value: strconv.Itoa(v)} }
	ts := func(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000000Z07:00") }
	id := seedID(i)
	return map[string]types.AttributeValue{
		"pk": s("CONN#" + id), "sk": s("AUTH#na"), "connectionId": s(id), "region": s("na"), "accountType": s("seller"),
		"marketplace": s("US"), "sellingPartnerId": s("A" + strings.ToUpper(id)), "contactEmail": s(id + "@example.com"),
		"status": s(string(status)), "authorizedAt": s(ts(exp.Add(-authz.Lifetime))), "expiresAt": s(ts(exp)), "expiryDay": s(day.String()),
		"remindersSent": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{}}, "refreshFailures": num(0),
		"refreshSlot": num(authz.SlotFor(id, authz.RegionNA, 24)), "version": num(1),
	}
}
