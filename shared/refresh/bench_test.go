package refresh_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/refresh"
)

// envInt reads a benchmark size from the environment, so a quick run can use less.
func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// BenchmarkRefreshThroughput refreshes REFRESH_BENCH_N (10,000) authorizations through
// the refresh queue with two workers (the template's default MaximumConcurrency) that
// share a budget of 20 refreshes a second, against an LWA simulator that takes 150 ms
// to answer. It reports the achieved rate over the budget (target ≥ 0.9), the busiest
// second LWA saw, and the Secrets Manager writes (target 0).
//
//	go test -run '^$' -bench RefreshThroughput -benchtime 1x ./shared/refresh
func BenchmarkRefreshThroughput(b *testing.B) {
	const budget, workers = 20.0, 2
	n := envInt("REFRESH_BENCH_N", 10000)
	batchSize := envInt("REFRESH_BENCH_BATCH", 50) // template.yaml's BatchSize
	e := newEnv(b)
	e.Sim.SetLatency(150 * time.Millisecond)
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("bench-%06d", i)
	}
	parallel(b, ids, 16, func(id string) {
		e.seed(id, authz.StatusActive, 30*day, func(a *authz.Authorization) { a.RefreshSlot = 0 })
	})
	writes := e.secretWrites()

	// The sweep queues them all (every record sits in slot 0 here).
	sweepStart := time.Now()
	res, err := e.svc.Sweep(e.Ctx, slotHour(0))
	must(b, err)
	b.Logf("sweep: read %d, queued %d in %v", res.Read, res.Queued, time.Since(sweepStart).Round(time.Millisecond))

	// Each worker is its own Lambda instance: its own service and token bucket.
	handlers := make([]*refresh.Handler, workers)
	for i := range handlers {
		_, handlers[i] = e.build(options{service: refresh.Config{MaxPerSecond: budget / workers}, lwaEndpoint: e.lwaURL, reminderURL: e.reminderURL, attemptLimit: 10 * time.Second})
	}
	start := e.Sim.Refreshes()
	perSecond := sampleRate(e.Sim.Refreshes)
	b.ResetTimer()
	began := time.Now()
	var wg sync.WaitGroup
	var failures atomic.Int64
	for _, h := range handlers {
		wg.Go(func() { failures.Add(int64(poll(b, e, h, batchSize))) })
	}
	wg.Wait()
	elapsed := time.Since(began)
	b.StopTimer()
	peak := perSecond()

	done := e.Sim.Refreshes() - start
	achieved := float64(done) / elapsed.Seconds()
	b.ReportMetric(achieved/budget, "achieved/budget")
	b.ReportMetric(achieved, "refreshes/s")
	b.ReportMetric(float64(peak), "peak-refreshes-in-1s")
	b.ReportMetric(float64(e.secretWrites()-writes), "secret-writes")
	b.Logf("%d refreshes (%d LWA calls, %d batch item failures) in batches of %d in %v: %.2f/s, budget %.0f/s, busiest second %d, Secrets Manager writes %d",
		n, done, failures.Load(), batchSize, elapsed.Round(time.Millisecond), achieved, budget, peak, e.secretWrites()-writes)
}

// poll plays one Lambda instance behind the SQS event source: receive up to ten,
// invoke, delete what succeeded, until the queue is empty. It returns how many batch
// item failures it saw.
func poll(b *testing.B, e *env, h *refresh.Handler, batchSize int) int {
	failures := 0
	for {
		// Lambda's poller gathers up to BatchSize messages (ten per ReceiveMessage).
		ev := events.SQSEvent{}
		handles := map[string]*string{}
		for len(ev.Records) < batchSize {
			out, err := e.sqs.ReceiveMessage(e.Ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(e.refreshURL),
				MaxNumberOfMessages: int32(min(10, batchSize-len(ev.Records))), VisibilityTimeout: 120})
			if err != nil {
				b.Error(err)
				return failures
			}
			for _, m := range out.Messages {
				ev.Records = append(ev.Records, events.SQSMessage{MessageId: aws.ToString(m.MessageId), Body: aws.ToString(m.Body), EventSource: "aws:sqs"})
				handles[aws.ToString(m.MessageId)] = m.ReceiptHandle
			}
			if len(out.Messages) == 0 {
				break
			}
		}
		if len(ev.Records) == 0 {
			if e.depth(e.refreshURL) == 0 {
				return failures
			}
			time.Sleep(50 * time.Millisecond)
			continue
		}
		resp := h.HandleSQS(e.Ctx, ev)
		failures += len(resp.BatchItemFailures)
		for _, f := range resp.BatchItemFailures {
			delete(handles, f.ItemIdentifier)
		}
		var entries []sqstypes.DeleteMessageBatchRequestEntry
		for id, rh := range handles {
			entries = append(entries, sqstypes.DeleteMessageBatchRequestEntry{Id: aws.String(id), ReceiptHandle: rh})
			if len(entries) == 10 {
				deleteBatch(b, e, entries)
				entries = entries[:0]
			}
		}
		if len(entries) > 0 {
			deleteBatch(b, e, entries)
		}
	}
}

func deleteBatch(b *testing.B, e *env, entries []sqstypes.DeleteMessageBatchRequestEntry) {
	if _, err := e.sqs.DeleteMessageBatch(e.Ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(e.refreshURL), Entries: entries}); err != nil {
		b.Error(err)
	}
}

// sampleRate samples a counter every 50 ms and returns a function that stops and
// gives the most the counter grew within any window of at most one second.
func sampleRate(counter func() int) func() int {
	type sample struct {
		at time.Time
		n  int
	}
	stop := make(chan struct{})
	result := make(chan int)
	go func() {
		var samples []sample
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				samples = append(samples, sample{time.Now(), counter()})
			case <-stop:
				peak, lo := 0, 0
				for hi := range samples {
					for samples[hi].at.Sub(samples[lo].at) > time.Second {
						lo++
					}
					peak = max(peak, samples[hi].n-samples[lo].n)
				}
				result <- peak
				return
			}
		}
	}()
	return func() int { close(stop); return <-result }
}

func parallel(b *testing.B, ids []string, n int, fn func(string)) {
	b.Helper()
	ch := make(chan string)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			for id := range ch {
				fn(id)
			}
		})
	}
	for _, id := range ids {
		ch <- id
	}
	close(ch)
	wg.Wait()
}

// BenchmarkSweep measures the sweep of one slot against tables of growing size
// (SWEEP_BENCH_SIZES, default 24000,120000,240000 authorizations spread over 24 slots),
// and a table holding one slot the size of a 1,000,000-authorization ledger (41,667)
// among a few thousand others. It reports items read per item due (target ≤ 1.2) and
// the enqueue rate.
//
//	go test -run '^$' -bench Sweep -benchtime 1x ./shared/refresh
func BenchmarkSweep(b *testing.B) {
	sizes := []struct {
		total, inSlot int
	}{}
	for _, f := range splitInts(os.Getenv("SWEEP_BENCH_SIZES"), []int{24000, 120000, 240000}) {
		sizes = append(sizes, struct{ total, inSlot int }{f, 0})
	}
	sizes = append(sizes, struct{ total, inSlot int }{envInt("SWEEP_BENCH_SLOT", 1000000/24) + 4600, envInt("SWEEP_BENCH_SLOT", 1000000/24)})
	for _, sz := range sizes {
		name := fmt.Sprintf("table=%d", sz.total)
		if sz.inSlot > 0 {
			name = fmt.Sprintf("slot=%d_of_1M-ledger", sz.inSlot)
		}
		b.Run(name, func(b *testing.B) {
			e := newEnv(b)
			seedStart := time.Now()
			due := seedRaw(b, e, sz.total, sz.inSlot)
			b.Logf("seeded %d authorizations (%d in the swept slot) in %v", sz.total, due, time.Since(seedStart).Round(time.Millisecond))
			readStart, read := time.Now(), 0
			must(b, e.Store.BySlot(e.Ctx, 7, func(authz.Authorization) error { read++; return nil }))
			b.Logf("reading the slot alone: %d items in %v", read, time.Since(readStart).Round(time.Millisecond))
			b.ResetTimer()
			began := time.Now()
			res, err := e.svc.Sweep(e.Ctx, slotHour(7))
			elapsed := time.Since(began)
			b.StopTimer()
			must(b, err)
			if res.Queued+1 != due {
				b.Errorf("queued %d + 1 canary, want %d", res.Queued, due)
			}
			b.ReportMetric(float64(res.Read)/float64(due), "read/due")
			b.ReportMetric(float64(res.Queued)/elapsed.Seconds(), "enqueued/s")
			b.ReportMetric(float64(sz.total), "table-items")
			b.Logf("table %d: read %d for %d due, queued %d in %v (%.0f messages/s)", sz.total, res.Read, due, res.Queued,
				elapsed.Round(time.Millisecond), float64(res.Queued)/elapsed.Seconds())
		})
	}
}

func splitInts(s string, def []int) []int {
	if s == "" {
		return def
	}
	var out []int
	for _, f := range strings.Split(s, ",") {
		if n, err := strconv.Atoi(f); err == nil && n > 0 {
			out = append(out, n)
		}
	}
	return out
}

// seedRaw writes total authorization items with BatchWriteItem, copies of one record
// the store wrote, so seeding is fast. With inSlot 0 they spread over the 24 slots by
// SlotFor; otherwise inSlot of them go to slot 7 and the rest to the other slots. It
// returns how many sit in slot 7.
func seedRaw(b *testing.B, e *env, total, inSlot int) int {
	b.Helper()
	e.seed("model", authz.StatusActive, 30*day, func(a *authz.Authorization) { a.RefreshSlot = 23 })
	out, err := e.Clients.DynamoDB.GetItem(e.Ctx, &dynamodb.GetItemInput{TableName: aws.String(e.Config.TableName),
		Key: map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: "CONN#model"}, "sk": &ddbtypes.AttributeValueMemberS{Value: "AUTH#eu"}}})
	must(b, err)
	due := 0
	items := make(chan map[string]ddbtypes.AttributeValue, 1000)
	go func() {
		for i := range total {
			id := fmt.Sprintf("seller-%07d", i)
			slot := authz.SlotFor(id, authz.RegionEU, authz.DefaultRefreshSlots)
			if inSlot > 0 {
				slot = 7
				if i >= inSlot {
					slot = i % 23
					if slot >= 7 {
						slot++
					}
				}
			}
			if slot == 7 {
				due++
			}
			it := make(map[string]ddbtypes.AttributeValue, len(out.Item))
			for k, v := range out.Item {
				it[k] = v
			}
			it["pk"] = &ddbtypes.AttributeValueMemberS{Value: "CONN#" + id}
			it["connectionId"] = &ddbtypes.AttributeValueMemberS{Value: id}
			it["refreshSlot"] = &ddbtypes.AttributeValueMemberN{Value: strconv.Itoa(slot)}
			items <- it
		}
		close(items)
	}()
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			batch := make([]ddbtypes.WriteRequest, 0, 25)
			flush := func() {
				req := map[string][]ddbtypes.WriteRequest{e.Config.TableName: batch}
				for len(req) > 0 {
					res, err := e.Clients.DynamoDB.BatchWriteItem(context.Background(), &dynamodb.BatchWriteItemInput{RequestItems: req})
					if err != nil {
						b.Error(err)
						return
					}
					req = res.UnprocessedItems
				}
				batch = batch[:0]
			}
			for it := range items {
				batch = append(batch, ddbtypes.WriteRequest{PutRequest: &ddbtypes.PutRequest{Item: it}})
				if len(batch) == 25 {
					flush()
				}
			}
			if len(batch) > 0 {
				flush()
			}
		})
	}
	wg.Wait()
	return due
}
