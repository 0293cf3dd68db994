package vault_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/vault"
)

// BenchmarkRenewals: 1,000 renewals of 1,000 authorizations (100 buckets of 10 in the
// packed layout, a secret each in the other), 50 at a time, each renewal in a fresh
// execution environment, both layouts paced at the default 40 writes/s.
// It reports Secrets Manager writes per renewal, p50/p99 renewal latency and lost
// tokens (every token read back afterwards). Run with -bench Renewals -benchtime 1x.
func BenchmarkRenewals(b *testing.B) {
	const (
		authorizations = 1000
		perBucket      = 10
		concurrent     = 50
	)
	// spread: renewals in a random order, as sellers renew; clustered: in bucket order,
	// so that the 50 writers at a time share 5 buckets (10 queued per lease).
	runs := []struct {
		layout    vault.Layout
		clustered bool
	}{{vault.LayoutPerAuthorization, false}, {vault.LayoutPacked, false}, {vault.LayoutPacked, true}}
	for _, run := range runs {
		layout := run.layout
		name := string(layout)
		if layout == vault.LayoutPacked {
			name += map[bool]string{false: "/spread", true: "/clustered"}[run.clustered]
		}
		b.Run(name, func(b *testing.B) {
			env := newPackedEnvB(b, vault.Packing{MaxEntries: perBucket})
			seed := make([]vault.Entry, authorizations)
			for i := range seed {
				seed[i] = vault.Entry{ConnectionID: conn(i), Region: authz.RegionNA, Token: rtok("seed"+fmt.Sprint(i), authz.RegionNA)}
			}
			if _, err := env.vault(layout).PutMany(ctx, seed); err != nil {
				b.Fatal(err)
			}
			for range b.N {
				writesBefore := env.emu.Calls("PutSecretValue") + env.emu.Calls("CreateSecret")
				order := rand.New(rand.NewPCG(1, 2)).Perm(authorizations)
				if run.clustered {
					order = order[:0]
					for i := range authorizations {
						order = append(order, i)
					}
				}
				latencies := make([]time.Duration, authorizations)
				var next atomic.Int64
				var wg sync.WaitGroup
				start := time.Now()
				for range concurrent {
					wg.Go(func() {
						for {
							k := int(next.Add(1) - 1)
							if k >= authorizations {
								return
							}
							i := order[k]
							v := env.vault(layout) // a cold execution environment per renewal
							t0 := time.Now()
							if _, err := v.Put(ctx, conn(i), authz.RegionNA, rtok("renewed"+fmt.Sprint(i), authz.RegionNA)); err != nil {
								b.Error(err)
							}
							latencies[i] = time.Since(t0)
						}
					})
				}
				wg.Wait()
				elapsed := time.Since(start)
				writes := env.emu.Calls("PutSecretValue") + env.emu.Calls("CreateSecret") - writesBefore
				lost := 0
				reader := env.vault(layout)
				for i := range authorizations {
					got, err := reader.Get(ctx, conn(i), authz.RegionNA)
					if err != nil || got.Token != tok("renewed"+fmt.Sprint(i)) {
						lost++
					}
				}
				slices.Sort(latencies)
				p50, p99 := latencies[len(latencies)/2], latencies[len(latencies)*99/100]
				b.ReportMetric(float64(writes)/authorizations, "sm-writes/renewal")
				b.ReportMetric(float64(p50.Milliseconds()), "p50-ms")
				b.ReportMetric(float64(p99.Milliseconds()), "p99-ms")
				b.ReportMetric(float64(lost), "lost-tokens")
				b.ReportMetric(float64(authorizations)/elapsed.Seconds(), "renewals/s")
				b.Logf("%s: %d renewals, %d at a time: %.2f Secrets Manager writes per renewal, p50 %v, p99 %v, %.1f renewals/s, %d lost",
					name, authorizations, concurrent, float64(writes)/authorizations, p50.Round(time.Millisecond), p99.Round(time.Millisecond),
					float64(authorizations)/elapsed.Seconds(), lost)
				if lost > 0 {
					b.Errorf("%d tokens lost", lost)
				}
			}
		})
	}
}
