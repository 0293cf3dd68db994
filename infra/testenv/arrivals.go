package testenv

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sort"
	"sync"
	"testing"
	"time"
)

// Arrivals records when requests reached a service, for the rate benchmarks: a rate
// is measured where the service receives the calls, not where they leave.
type Arrivals struct {
	mu    sync.Mutex
	times []time.Time
}

// Record notes a request arriving now.
func (a *Arrivals) Record() {
	a.mu.Lock()
	a.times = append(a.times, time.Now())
	a.mu.Unlock()
}

// Reset forgets the arrivals recorded so far.
func (a *Arrivals) Reset() {
	a.mu.Lock()
	a.times = nil
	a.mu.Unlock()
}

// Times are the arrivals so far, in order.
func (a *Arrivals) Times() []time.Time {
	a.mu.Lock()
	got := append([]time.Time(nil), a.times...)
	a.mu.Unlock()
	sort.Slice(got, func(i, j int) bool { return got[i].Before(got[j]) })
	return got
}

// TimingProxy starts a reverse proxy to target that records every request's arrival,
// and returns its URL.
func TimingProxy(tb testing.TB, target string) (string, *Arrivals) {
	tb.Helper()
	u, err := url.Parse(target)
	if err != nil {
		tb.Fatal(err)
	}
	arrivals := &Arrivals{}
	proxy := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrivals.Record()
		proxy.ServeHTTP(w, r)
	}))
	tb.Cleanup(srv.Close)
	return srv.URL, arrivals
}

// Busiest is the most of the sorted times in any half-open window [t, t+w).
func Busiest(times []time.Time, w time.Duration) int {
	best, j := 0, 0
	for i := range times {
		for times[i].Sub(times[j]) >= w {
			j++
		}
		best = max(best, i-j+1)
	}
	return best
}

// Rate is the sorted times' rate per second: the calls after the first over the time
// from the first to the last (0 for fewer than two).
func Rate(times []time.Time) float64 {
	if len(times) < 2 {
		return 0
	}
	return float64(len(times)-1) / times[len(times)-1].Sub(times[0]).Seconds()
}
