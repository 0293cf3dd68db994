package refresh_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/spapi-auth-keeper/keeper/infra/testenv"
	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/refresh"
)

// BenchmarkLWARateTable measures the refresh workers' LWA budget where LWA sees it:
// for a total of 5 and 20 calls a second shared by 1 to 4 workers (each its own
// Service and pacer on the table's shared LWA budget, as each Lambda instance is,
// reserving times for each batch of ten as the SQS handler does), every token
// request's arrival at the simulator is timed. It prints the achieved rate over the
// budget (goal ≥ 0.95) and the busiest one-second window over the budget (goal ≤ 1).
//
//	go test -run '^$' -bench LWARateTable -benchtime 1x ./shared/refresh
func BenchmarkLWARateTable(b *testing.B) {
	seconds := float64(envInt("RATE_BENCH_SECONDS", 4))
	e := newEnv(b)
	arrivals := &testenv.Arrivals{}
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/auth/o2/token") {
			arrivals.Record()
		}
		e.Sim.ServeHTTP(w, r)
	}))
	b.Cleanup(proxy.Close)
	type row struct {
		total          float64
		workers, calls int
		achieved, peak float64
	}
	var rows []row
	next := 0
	for _, total := range []float64{5, 20} {
		for workers := 1; workers <= 4; workers++ {
			n := int(total * seconds)
			ids := make([][]string, workers)
			var all []string
			for i := range n {
				id := fmt.Sprintf("rate-%06d", next)
				next++
				ids[i%workers] = append(ids[i%workers], id)
				all = append(all, id)
			}
			parallel(b, all, 8, func(id string) { e.seed(id, authz.StatusActive, 30*day) })
			handlers := make([]*refresh.Handler, workers)
			for w := range handlers {
				_, handlers[w] = e.build(options{lwaBudget: total, lwaEndpoint: proxy.URL + "/auth/o2/token",
					reminderURL: e.reminderURL, attemptLimit: 10 * time.Second})
			}
			arrivals.Reset()
			var wg sync.WaitGroup
			for w, h := range handlers {
				// Batches of ten, one after another, as one Lambda instance takes them.
				wg.Go(func() {
					for i := 0; i < len(ids[w]); i += 10 {
						var ev events.SQSEvent
						for j, id := range ids[w][i:min(i+10, len(ids[w]))] {
							ev.Records = append(ev.Records, events.SQSMessage{MessageId: fmt.Sprintf("%s-%d", id, j),
								Body: refresh.Request{ConnectionID: id, Region: authz.RegionEU, QueuedAt: e.Clock.Now()}.Marshal()})
						}
						if resp := h.HandleSQS(e.Ctx, ev); len(resp.BatchItemFailures) > 0 {
							b.Errorf("%d refreshes failed", len(resp.BatchItemFailures))
						}
					}
				})
			}
			wg.Wait()
			got := arrivals.Times()
			r := row{total: total, workers: workers, calls: len(got),
				achieved: testenv.Rate(got) / total, peak: float64(testenv.Busiest(got, time.Second)) / total}
			rows = append(rows, r)
		}
	}
	var out strings.Builder
	out.WriteString("\n| LWA budget/s | workers | calls | achieved / budget | busiest second / budget |\n|---:|---:|---:|---:|---:|\n")
	for _, r := range rows {
		fmt.Fprintf(&out, "| %.0f | %d | %d | %.3f | %.2f |\n", r.total, r.workers, r.calls, r.achieved, r.peak)
	}
	fmt.Print(out.String()) // b.Log keeps only ten lines of a benchmark's output
}
