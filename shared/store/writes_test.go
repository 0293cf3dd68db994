package store_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/spapi-auth-keeper/keeper/infra/testenv"
	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/store"
)

// countingStore is a Store whose client counts its calls and their capacity.
func countingStore(t *testing.T) (*store.Store, *testenv.Calls) {
	t.Helper()
	calls := testenv.NewCalls()
	db := dynamodb.New(testenv.DynamoDB(t).Options(), func(o *dynamodb.Options) { o.APIOptions = append(o.APIOptions, calls.Middleware) })
	return store.New(db, testenv.NewTable(t)), calls
}

// TestRecordWritesUseATransactionOnlyWithEvents: a record change without a history
// event is one conditional PutItem (half the write units of a transaction); with
// events it stays one transaction. A refresh writes no index copy.
func TestRecordWritesUseATransactionOnlyWithEvents(t *testing.T) {
	t.Parallel()
	ev := func(a authz.Authorization) authz.Event {
		return authz.Event{ConnectionID: a.ConnectionID, Region: a.Region, At: t0, Kind: authz.EventRenewed}
	}
	tests := []struct {
		name      string
		write     func(s *store.Store, a authz.Authorization) error
		wantOp    string
		wantIndex bool // whether some index copy is written
	}{
		{"create without events", func(s *store.Store, a authz.Authorization) error {
			a.ConnectionID += "-new"
			_, err := s.Create(t.Context(), a)
			return err
		}, "PutItem", true},
		{"refresh: update without events", func(s *store.Store, a authz.Authorization) error {
			a.LastRefreshAt = t0.Add(time.Hour)
			_, err := s.Update(t.Context(), a)
			return err
		}, "PutItem", false},
		{"renewal: update with an event", func(s *store.Store, a authz.Authorization) error {
			a.ExpiresAt = a.ExpiresAt.AddDate(1, 0, 0)
			_, err := s.Update(t.Context(), a, ev(a))
			return err
		}, "TransactWriteItems", true},
		{"status move without events", func(s *store.Store, a authz.Authorization) error {
			a.Status = authz.StatusExpiring
			_, err := s.Update(t.Context(), a)
			return err
		}, "PutItem", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, calls := countingStore(t)
			a := mustCreate(t, s, active("w-1", authz.RegionEU, "A1WRITES", t0.AddDate(0, 6, 0)))
			calls.Reset()
			if err := tc.write(s, a); err != nil {
				t.Fatal(err)
			}
			snap := calls.Snapshot()
			if len(snap) != 1 || snap["DynamoDB."+tc.wantOp] != 1 {
				t.Fatalf("calls = %v, want one %s", snap, tc.wantOp)
			}
			_, write, byIndex := calls.Units()
			indexWrites := 0.0
			for name, u := range byIndex {
				if name != "table" {
					indexWrites += u[1]
				}
			}
			t.Logf("%s: %.1f write units (by index %v)", tc.name, write, byIndex)
			if tc.wantIndex != (indexWrites > 0) {
				t.Errorf("index write units = %.1f, want some: %v", indexWrites, tc.wantIndex)
			}
		})
	}
}

// TestLostAnswerIsNoConflict: the SDK retries a put whose answer was lost; DynamoDB
// then finds the version already moved, by this very write. That is a success; a
// different write from the same version is a conflict.
func TestLostAnswerIsNoConflict(t *testing.T) {
	t.Parallel()
	s, _, _ := newStore(t)
	a := mustCreate(t, s, active("w-2", authz.RegionNA, "A1RETRY", t0.AddDate(0, 6, 0)))
	a.LastRefreshAt = t0.Add(time.Hour)
	first, err := s.Update(t.Context(), a)
	if err != nil {
		t.Fatal(err)
	}
	again, err := s.Update(t.Context(), a) // the same write, as a retry sends it
	if err != nil || again.Version != first.Version {
		t.Fatalf("same write again = version %d, %v; want version %d, no error", again.Version, err, first.Version)
	}
	other := a
	other.LastRefreshAt = t0.Add(2 * time.Hour)
	if _, err := s.Update(t.Context(), other); !errors.Is(err, authz.ErrVersionConflict) {
		t.Fatalf("another write from the same version = %v, want ErrVersionConflict", err)
	}
	if got, _ := s.Get(t.Context(), a.ConnectionID, a.Region); !got.LastRefreshAt.Equal(first.LastRefreshAt) || got.Version != first.Version {
		t.Fatalf("stored %v at version %d, want the first write's", got.LastRefreshAt, got.Version)
	}
}

// TestPartialSlotRecordCannotOverwrite: by-slot records carry the sweep's attributes
// only; writing one back must fail rather than wipe the rest of the record.
func TestPartialSlotRecordCannotOverwrite(t *testing.T) {
	t.Parallel()
	s, _, _ := newStore(t)
	a := active("w-3", authz.RegionFE, "A1PARTIAL", t0.AddDate(0, 6, 0))
	a.RefreshSlot = 5
	mustCreate(t, s, a)
	var partial []authz.Authorization
	if err := s.BySlot(t.Context(), 5, func(p authz.Authorization) error { partial = append(partial, p); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(partial) != 1 {
		t.Fatalf("by-slot 5 = %d records, want 1", len(partial))
	}
	p := partial[0]
	if p.ConnectionID != a.ConnectionID || p.Region != a.Region || p.Status != authz.StatusActive || p.RefreshSlot != 5 {
		t.Fatalf("by-slot record %+v lacks what the sweep needs", p)
	}
	if _, err := s.Update(t.Context(), p); !errors.Is(err, authz.ErrVersionConflict) {
		t.Fatalf("Update of a by-slot record = %v, want ErrVersionConflict", err)
	}
	if got, err := s.Get(t.Context(), a.ConnectionID, a.Region); err != nil || got.ContactEmail != a.ContactEmail || got.Version != 1 {
		t.Fatalf("record after the refused write = %+v, %v; want it unchanged", got, err)
	}
}

// TestKeysOnlyIndexReadsEveryRecord: a day with more records than BatchGetItem takes
// at once (100) comes back whole, in the index's order (by pk).
func TestKeysOnlyIndexReadsEveryRecord(t *testing.T) {
	t.Parallel()
	s, calls := countingStore(t)
	expires := time.Date(2026, 12, 24, 10, 0, 0, 0, time.UTC)
	const n = 130
	for i := range n {
		mustCreate(t, s, active(fmt.Sprintf("day-%03d", i), authz.RegionEU, "", expires))
	}
	calls.Reset()
	var got []string
	if err := s.ByExpiryDay(t.Context(), "2026-12-24", func(a authz.Authorization) error {
		if a.Version != 1 || a.ContactEmail == "" {
			t.Errorf("partial record %+v", a)
		}
		got = append(got, a.ConnectionID)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != n || !slices.IsSorted(got) {
		t.Fatalf("ByExpiryDay returned %d records (sorted %v), want %d in pk order", len(got), slices.IsSorted(got), n)
	}
	if q, g := calls.Count("DynamoDB", "Query"), calls.Count("DynamoDB", "BatchGetItem"); q != 1 || g != 2 {
		t.Errorf("Query %d, BatchGetItem %d; want 1 and 2 (100 keys per batch)", q, g)
	}
}
