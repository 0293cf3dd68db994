package tokenservice_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
)

// BenchmarkWarmCache: 50 concurrent callers ask for tokens of 100 connections, every
// token already cached. It reports requests per second, the p99 latency, and the LWA
// calls per connection (none once warm: one per connection per token lifetime, i.e.
// 60/55 ≈ 1.09 per hour with the 5-minute early replacement, in each execution
// environment).
func BenchmarkWarmCache(b *testing.B) {
	e := NewEnv(b)
	const conns, callers = 100, 50
	bodies := make([]string, conns)
	for i := range conns {
		id := fmt.Sprintf("bench-%03d", i)
		e.Seed(id, authz.RegionEU, authz.StatusActive)
		bodies[i] = `{"connectionId":"` + id + `","region":"eu"}`
		if a := e.post("/tokens", bodies[i]); a.Status != 200 {
			b.Fatalf("warm-up %s: %d %s", id, a.Status, a.Raw)
		}
	}
	warmCalls := e.Sim.TokenRequests()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: callers}}
	b.ResetTimer()
	start := time.Now()
	lat := make([][]time.Duration, callers)
	var wg sync.WaitGroup
	per := max(b.N/callers, 1)
	for c := range callers {
		wg.Go(func() {
			for i := range per {
				t0 := time.Now()
				resp, err := client.Post(e.URL+"/tokens", "application/json", strings.NewReader(bodies[(c*per+i)%conns]))
				if err != nil || resp.StatusCode != 200 {
					b.Errorf("request: %v %v", err, resp)
					return
				}
				resp.Body.Close()
				lat[c] = append(lat[c], time.Since(t0))
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	all := slices.Concat(lat...)
	slices.Sort(all)
	b.ReportMetric(float64(len(all))/elapsed.Seconds(), "req/s")
	b.ReportMetric(float64(all[len(all)*99/100])/float64(time.Millisecond), "p99-ms")
	b.ReportMetric(float64(e.Sim.TokenRequests()-warmCalls)/conns, "LWA-calls/conn")
	b.ReportMetric(float64(warmCalls)/conns, "LWA-calls/conn-warmup")
}
