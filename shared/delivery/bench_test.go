package delivery_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/spapi-auth-keeper/keeper/infra/testenv"
	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/delivery"
	"github.com/spapi-auth-keeper/keeper/shared/store"
)

// BenchmarkEventsPerInstance is one function instance handling SES events one after
// another, as Lambda hands an instance one asynchronous event at a time: each is a
// consistent read of the record and one transaction (entry, funnel counter). Every
// event is new (four kinds on each of ceil(N/4) reminders), so none short-cuts as a
// duplicate. Against DynamoDB Local on this machine; AWS's latency differs.
func BenchmarkEventsPerInstance(b *testing.B) {
	ctx := context.Background()
	st := store.New(testenv.DynamoDB(b), testenv.NewTable(b))
	svc := delivery.New(st, testenv.NewClock(now), nil, nil)
	kinds := []struct {
		typ  string
		body map[string]any
	}{
		{delivery.TypeSend, map[string]any{"send": map[string]any{}}},
		{delivery.TypeDelivery, map[string]any{"delivery": map[string]any{"timestamp": now.Format(time.RFC3339Nano)}}},
		{delivery.TypeDeliveryDelay, map[string]any{"deliveryDelay": map[string]any{"delayType": "TransientCommunicationFailure"}}},
		{delivery.TypeBounce, bounceBody("Transient", "x@example.com")},
	}
	n := (b.N + len(kinds) - 1) / len(kinds)
	events := make([][]byte, 0, n*len(kinds))
	for i := range n {
		id := fmt.Sprintf("bench-%06d", i)
		mid := "mid-" + id
		sent := now.Add(-time.Hour)
		if _, err := st.Create(ctx, authz.Authorization{ConnectionID: id, Region: authz.RegionEU, ContactEmail: id + "@example.com",
			Status: authz.StatusExpiring, AuthorizedAt: expiresAt.Add(-authz.Lifetime), ExpiresAt: expiresAt,
			Reminders: map[string]authz.ReminderMark{"-30": {ClaimedAt: sent, SentAt: sent, MessageID: mid}}}); err != nil {
			b.Fatal(err)
		}
		for _, k := range kinds {
			events = append(events, sesEvent(k.typ, mid, delivery.Tags(id, authz.RegionEU, "-30"), id+"@example.com", k.body))
		}
	}
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		if err := svc.Handle(ctx, events[i]); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if secs := time.Since(start).Seconds(); secs > 0 {
		b.ReportMetric(float64(b.N)/secs, "events/s")
	}
}
