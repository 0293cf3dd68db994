package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/store"
)

// TestDeleteReleasesTheSellersBinding: deleting a connection (keeperctl forget)
// deletes its seller's binding with it, so the seller can connect again under another
// connection in that region; a binding that names another connection stays.
func TestDeleteReleasesTheSellersBinding(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const seller = "A1LEAVING"
	ev := func(id string) authz.Event {
		return authz.Event{ConnectionID: id, Region: authz.RegionEU, At: t0, Kind: authz.EventImported, Detail: "imported"}
	}
	for _, c := range []struct {
		name string
		// setup stores the connection "old" and returns it; the binding names boundTo.
		setup      func(t *testing.T, s *store.Store) authz.Authorization
		version    func(a authz.Authorization) int64
		wantErr    error
		wantBound  string // the binding after the delete
		newConnOK  bool   // another connection may then bind the seller
		releaseErr error  // ReleaseBindings afterwards
	}{
		{name: "bound to the deleted connection", setup: func(t *testing.T, s *store.Store) authz.Authorization {
			a, err := s.CreateBound(ctx, active("old", authz.RegionEU, seller, t0.AddDate(0, 6, 0)), t0, ev("old"))
			must(t, err)
			return a
		}, wantBound: "", newConnOK: true},
		{name: "bound to another connection", setup: func(t *testing.T, s *store.Store) authz.Authorization {
			_, err := s.CreateBound(ctx, active("other", authz.RegionEU, seller, t0.AddDate(0, 6, 0)), t0, ev("other"))
			must(t, err)
			a, err := s.Create(ctx, active("old", authz.RegionEU, seller, t0.AddDate(0, 6, 0)), ev("old"))
			must(t, err)
			return a
		}, wantBound: "other"},
		{name: "stale version", setup: func(t *testing.T, s *store.Store) authz.Authorization {
			a, err := s.CreateBound(ctx, active("old", authz.RegionEU, seller, t0.AddDate(0, 6, 0)), t0, ev("old"))
			must(t, err)
			return a
		}, version: func(a authz.Authorization) int64 { return a.Version + 1 }, wantErr: authz.ErrVersionConflict, wantBound: "old",
			releaseErr: authz.ErrAlreadyExists},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s, _, _ := newStore(t)
			a := c.setup(t, s)
			v := a.Version
			if c.version != nil {
				v = c.version(a)
			}
			err := s.Delete(ctx, "old", authz.RegionEU, v, a.SellingPartnerID)
			if !errors.Is(err, c.wantErr) || (c.wantErr == nil && err != nil) {
				t.Fatalf("delete = %v, want %v", err, c.wantErr)
			}
			if got := binding(t, s, seller); got != c.wantBound {
				t.Errorf("binding after delete = %q, want %q", got, c.wantBound)
			}
			_, err = s.CreateBound(ctx, active("new", authz.RegionEU, seller, t0.AddDate(1, 0, 0)), t0, ev("new"))
			if c.newConnOK != (err == nil) {
				t.Errorf("the seller connecting as another connection: %v, want allowed=%v", err, c.newConnOK)
			}
			if n, err := s.ReleaseBindings(ctx, "old", authz.RegionEU, seller); n != 0 || !errors.Is(err, c.releaseErr) || (c.releaseErr == nil && err != nil) {
				t.Errorf("release again = %d, %v; want 0, %v", n, err, c.releaseErr)
			}
		})
	}
}

// TestReleaseBindingsFinishesAForget: a record deleted without its binding (a forget
// from before bindings were released with the record) leaves the seller bound to a
// connection that no longer exists; ReleaseBindings deletes that binding, and only
// while the record is absent.
func TestReleaseBindingsFinishesAForget(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _, _ := newStore(t)
	const seller = "A1HALFWAY"
	a, err := s.CreateBound(ctx, active("old", authz.RegionEU, seller, t0.AddDate(0, 6, 0)), t0)
	must(t, err)
	if n, err := s.ReleaseBindings(ctx, "old", authz.RegionEU, seller); !errors.Is(err, authz.ErrAlreadyExists) || n != 0 {
		t.Fatalf("release while the record exists = %d, %v; want 0, already exists", n, err)
	}
	must(t, s.Delete(ctx, "old", authz.RegionEU, a.Version)) // no seller named: the binding stays
	if got := binding(t, s, seller); got != "old" {
		t.Fatalf("binding = %q, want the leftover naming old", got)
	}
	if _, err := s.CreateBound(ctx, active("new", authz.RegionEU, seller, t0), t0); !errors.Is(err, store.ErrSellerBound) {
		t.Fatalf("before the release the seller is refused: %v", err)
	}
	n, err := s.ReleaseBindings(ctx, "old", authz.RegionEU, "", seller, seller, "A1NEVERBOUND")
	if err != nil || n != 1 {
		t.Fatalf("release = %d, %v; want 1", n, err)
	}
	if _, err := s.CreateBound(ctx, active("new", authz.RegionEU, seller, t0), t0); err != nil {
		t.Errorf("after the release the seller connects as another connection: %v", err)
	}
	if n, err := s.ReleaseBindings(ctx, "old", authz.RegionEU, seller); err != nil || n != 0 {
		t.Errorf("release of a binding that names another connection = %d, %v; want 0", n, err)
	}
	if got := binding(t, s, seller); got != "new" {
		t.Errorf("binding = %q, want new", got)
	}
}

func binding(t *testing.T, s *store.Store, seller string) string {
	t.Helper()
	got, err := s.SellerBinding(context.Background(), authz.RegionEU, seller)
	must(t, err)
	return got
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
