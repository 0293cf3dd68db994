package callback_test

import (
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"testing"
	"time"
)

// BenchmarkRenewalRoundTrip measures the callback end to end against the emulators:
// a renewal link click (/authorize: read record, write nonce) and the redirect back
// (/callback: consume nonce, LWA exchange, secret write, record transaction). It
// reports the median and p99 of /callback alone and of the whole round trip, with the
// LWA simulator answering at once and in 150 ms.
func BenchmarkRenewalRoundTrip(b *testing.B) {
	for _, latency := range []time.Duration{0, 150 * time.Millisecond} {
		b.Run("lwa="+latency.String(), func(b *testing.B) {
			e := newEnv(b)
			e.Sim.SetLatency(latency)
			var cb, trip []time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				// A seller of its own each time: the Sellers API that fingerprints the new
				// token allows a burst of 15 calls per seller (0.016/s after).
				b.StopTimer()
				conn, seller := fmt.Sprintf("bench-%d", i), fmt.Sprintf("A1BENCH%06d", i)
				e.onboard(conn, "", 0)
				link := e.link(conn, 24*time.Hour)
				b.StartTimer()
				start := time.Now()
				r := e.get(link)
				if r.status != http.StatusFound {
					b.Fatalf("/authorize = %d", r.status)
				}
				u, _ := url.Parse(r.location)
				q := url.Values{"state": {u.Query().Get("state")}, "selling_partner_id": {seller}, "spapi_oauth_code": {e.Sim.IssueCode(seller, e.Config.RedirectURI)}}
				mid := time.Now()
				if r := e.get(e.callbackURL(q)); r.status != http.StatusOK {
					b.Fatalf("/callback = %d: %s", r.status, r.body)
				}
				end := time.Now()
				cb = append(cb, end.Sub(mid))
				trip = append(trip, end.Sub(start))
			}
			b.StopTimer()
			b.ReportMetric(ms(pct(cb, 50)), "callback-p50-ms")
			b.ReportMetric(ms(pct(cb, 99)), "callback-p99-ms")
			b.ReportMetric(ms(pct(trip, 50)), "roundtrip-p50-ms")
			b.ReportMetric(ms(pct(trip, 99)), "roundtrip-p99-ms")
		})
	}
}

func pct(d []time.Duration, p int) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	idx := (len(s)*p + 99) / 100
	if idx > 0 {
		idx--
	}
	return s[idx]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
