package ledger_test

import (
	"context"
	"errors"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/spapi-auth-keeper/keeper/infra/testenv"
	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/rotation"
	"github.com/spapi-auth-keeper/keeper/shared/rotation/ledger"
	"github.com/spapi-auth-keeper/keeper/shared/store"
)

func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestStateAndHistory(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ddb := testenv.DynamoDB(t)
	table := testenv.NewTable(t)
	l := ledger.New(ddb, table)
	st, err := l.Load(ctx)
	must(t, err)
	if st != (rotation.State{}) {
		t.Fatalf("fresh table: %+v", st)
	}
	at := time.Date(2026, 11, 23, 9, 0, 0, 5, time.UTC)
	first := rotation.State{PendingSince: at, PendingTrigger: rotation.TriggerOperator}
	saved, err := l.Save(ctx, first, rotation.Event{At: at, Kind: rotation.EventRequested, Detail: "one"})
	must(t, err)
	if saved.Version != 1 {
		t.Fatalf("version %d", saved.Version)
	}
	if _, err := l.Save(ctx, first, rotation.Event{At: at.Add(time.Second), Kind: rotation.EventFailed}); !errors.Is(err, rotation.ErrConflict) {
		t.Fatalf("a second first save: %v, want ErrConflict", err)
	}
	next := saved
	next.PendingSince, next.PendingTrigger = time.Time{}, ""
	next.LastRotatedAt, next.SecretExpiresAt, next.LastNotificationID = at.Add(time.Minute), at.Add(180*24*time.Hour), "n-1"
	_, err = l.Save(ctx, next, rotation.Event{At: at.Add(time.Minute), Kind: rotation.EventRotated, Detail: "two"})
	must(t, err)
	if _, err := l.Save(ctx, saved); !errors.Is(err, rotation.ErrConflict) {
		t.Fatalf("a stale save: %v, want ErrConflict", err)
	}
	must(t, l.AddEvent(ctx, rotation.Event{At: at.Add(2 * time.Minute), Kind: rotation.EventRejected, Detail: "three"}))
	got, err := l.Load(ctx)
	must(t, err)
	want := next
	want.Version = 2
	if got != want {
		t.Fatalf("loaded %+v, want %+v", got, want)
	}
	events, err := l.Events(ctx, 2)
	must(t, err)
	if len(events) != 2 || events[0].Detail != "three" || events[1].Detail != "two" || !events[1].At.Equal(at.Add(time.Minute)) {
		t.Fatalf("events %+v", events)
	}
	// The rotation's items are no authorizations: the ledger's listing skips them.
	n := 0
	must(t, store.New(ddb, table).List(ctx, func(authz.Authorization) error { n++; return nil }))
	if n != 0 {
		t.Fatalf("listing shows %d authorizations", n)
	}
}

// TestOneClaimWins: of many writers saving from the same state, one wins.
func TestOneClaimWins(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l := ledger.New(testenv.DynamoDB(t), testenv.NewTable(t))
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		wins int
	)
	for i := range 8 {
		wg.Go(func() {
			_, err := l.Save(ctx, rotation.State{PendingSince: time.Unix(int64(1e9+i), 0)})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins++
			case !errors.Is(err, rotation.ErrConflict):
				t.Errorf("save: %v", err)
			}
		})
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d claims won, want 1", wins)
	}
}
