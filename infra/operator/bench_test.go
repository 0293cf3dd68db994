package operator_test

import (
	"context"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/spapi-auth-keeper/keeper/infra/testenv"
	"github.com/spapi-auth-keeper/keeper/shared/store"
)

// BenchmarkReportYearOf100kAuthorizations: a year of funnel counters as 100,000
// authorizations would leave them (each expiring on a random day; reminded at the
// stages before and after; most delivered, a few bouncing; most renewing after one
// of the reminders), then `keeperctl report --since 365d` over them. The report reads
// one item per day whatever the number of authorizations; a table scan would read
// every record and history item.
func BenchmarkReportYearOf100kAuthorizations(b *testing.B) {
	ctx := context.Background()
	st := store.New(testenv.DynamoDB(b), testenv.NewTable(b))
	const auths = 100_000
	stages := []int{-30, -23, -16, -9, -3, -1, 0, 7, 14, 28}
	rng := rand.New(rand.NewPCG(1, 2))
	days := map[int][]string{} // day index (0 = a year ago) → counters
	for range auths {
		expiry := rng.IntN(365)
		renewAfter := rng.IntN(len(stages) + 2) // past the stages: never renewed
		for i, s := range stages {
			d := expiry + s
			if d < 0 || d >= 365 {
				continue
			}
			st := strconv.Itoa(s)
			if s > 0 {
				st = "+" + st
			}
			days[d] = append(days[d], "sent:"+st)
			if rng.IntN(100) < 2 {
				days[d] = append(days[d], "bounced:"+st, "contact_bouncing")
				break
			}
			days[d] = append(days[d], "delivered:"+st)
			if i == renewAfter {
				days[d] = append(days[d], "opened:"+st, "renewed:"+st)
				if s < 0 {
					days[d] = append(days[d], "renewedBeforeExpiry")
				} else {
					days[d] = append(days[d], "renewedAfterExpiry")
				}
				break
			}
		}
	}
	now := time.Now().UTC()
	counts := 0
	for d, cs := range days {
		counts += len(cs)
		if err := st.CountFunnel(ctx, now.AddDate(0, 0, d-364), cs...); err != nil {
			b.Fatal(err)
		}
	}
	op := newOperator(st, now)
	b.ResetTimer()
	var items int
	for i := 0; i < b.N; i++ {
		r, err := op.Report(ctx, 365*24*time.Hour)
		if err != nil {
			b.Fatal(err)
		}
		items = r.ItemsRead
	}
	b.ReportMetric(float64(items), "items-read/report")
	b.ReportMetric(float64(counts), "counted-steps")
	b.ReportMetric(float64(auths)/float64(items), "authorizations/item-read")
}
