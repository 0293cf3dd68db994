package refresh_test

import (
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/spapi-auth-keeper/keeper/infra/testenv"
	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/refresh"
)

// BenchmarkRefreshCapacity measures what DynamoDB charges for the proof of life, from
// the ConsumedCapacity DynamoDB Local returns (INDEXES): write and read units per
// successful refresh (the worker's read and record write) and read units per record
// the hourly sweep reads, with the calls by operation.
//
//	go test -run '^$' -bench RefreshCapacity -benchtime 1x ./shared/refresh
func BenchmarkRefreshCapacity(b *testing.B) {
	n := envInt("REFRESH_CAPACITY_N", 200)
	e := newEnv(b)
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("cap-%05d", i)
	}
	parallel(b, ids, 8, func(id string) {
		e.seed(id, authz.StatusActive, 30*day, func(a *authz.Authorization) { a.RefreshSlot = 0 })
	})
	calls := testenv.NewCalls()
	e.Clients.DynamoDB = dynamodb.New(e.Clients.DynamoDB.Options(), func(o *dynamodb.Options) { o.APIOptions = append(o.APIOptions, calls.Middleware) })
	svc, _ := e.build(options{service: refresh.Config{MaxPerSecond: 1000}, lwaEndpoint: e.lwaURL, reminderURL: e.reminderURL, attemptLimit: 10 * time.Second})
	b.ResetTimer()
	for range b.N {
		calls.Reset()
		res, err := svc.Sweep(e.Ctx, slotHour(0))
		must(b, err)
		sweepRead, sweepWrite, _ := calls.Units()
		sweepCalls := calls.String()
		// Drain what the sweep queued: the canary was refreshed inline.
		calls.Reset()
		ok := 0
		for _, id := range ids {
			if o := svc.Refresh(e.Ctx, refresh.Request{ConnectionID: id, Region: authz.RegionEU}); o.Result == refresh.ResultRefreshed {
				ok++
			}
		}
		read, write, byIndex := calls.Units()
		if ok == 0 {
			b.Fatal("no refresh succeeded")
		}
		b.ReportMetric(write/float64(ok), "WCU/refresh")
		b.ReportMetric(read/float64(ok), "RCU/refresh")
		b.ReportMetric(sweepRead/float64(res.Read), "sweep-RCU/record")
		names := make([]string, 0, len(byIndex))
		for k := range byIndex {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			b.Logf("refresh write units on %s: %.2f per refresh", k, byIndex[k][1]/float64(ok))
		}
		b.Logf("%d refreshes: %.2f write units, %.2f read units each; calls:\n%s", ok, write/float64(ok), read/float64(ok), calls)
		b.Logf("sweep of %d records: %.1f read units, %.1f write units (canary); calls:\n%s", res.Read, sweepRead, sweepWrite, sweepCalls)
	}
}
