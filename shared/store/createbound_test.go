package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/store"
)

func TestCreateBoundRefusesASecondConnectionForOneSeller(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _, _ := newStore(t)
	ev := func(id string) authz.Event {
		return authz.Event{ConnectionID: id, Region: authz.RegionEU, At: t0, Kind: authz.EventImported, Detail: "imported"}
	}
	first := active("acme", authz.RegionEU, "A1SELLER", t0.AddDate(0, 6, 0))
	if _, err := s.CreateBound(ctx, first, t0, ev("acme")); err != nil {
		t.Fatal(err)
	}
	if got, err := s.SellerBinding(ctx, authz.RegionEU, "A1SELLER"); err != nil || got != "acme" {
		t.Fatalf("binding = %q, %v; want acme", got, err)
	}
	for _, c := range []struct {
		name    string
		a       authz.Authorization
		want    error
		boundTo string
	}{
		{"another connection, same seller and region", active("acme-2", authz.RegionEU, "A1SELLER", t0), store.ErrSellerBound, "acme"},
		{"the same connection again", active("acme", authz.RegionEU, "A1OTHER", t0), authz.ErrAlreadyExists, ""},
		{"the same connection and seller again", first, authz.ErrAlreadyExists, ""},
		{"no seller to bind", active("acme-3", authz.RegionEU, "", t0), nil, ""},
	} {
		_, err := s.CreateBound(ctx, c.a, t0, ev(c.a.ConnectionID))
		switch {
		case c.want == nil && err == nil:
			t.Errorf("%s: created", c.name)
		case c.want != nil && !errors.Is(err, c.want):
			t.Errorf("%s: err = %v, want %v", c.name, err, c.want)
		}
		var bound *store.SellerBoundError
		if c.boundTo != "" && (!errors.As(err, &bound) || bound.ConnectionID != c.boundTo) {
			t.Errorf("%s: err = %v, want bound to %s", c.name, err, c.boundTo)
		}
		if c.a.ConnectionID != "acme" {
			if _, err := s.Get(ctx, c.a.ConnectionID, c.a.Region); !errors.Is(err, authz.ErrNotFound) {
				t.Errorf("%s: the refused record was written: %v", c.name, err)
			}
			if h, err := s.History(ctx, c.a.ConnectionID, 0); err != nil || len(h) != 0 {
				t.Errorf("%s: history of the refused record = %v, %v", c.name, h, err)
			}
		}
	}
	// The seller in another region is another binding.
	if _, err := s.CreateBound(ctx, active("acme-us", authz.RegionNA, "A1SELLER", t0), t0, ev("acme-us")); err != nil {
		t.Errorf("the seller in another region: %v", err)
	}
	if got, _ := s.SellerBinding(ctx, authz.RegionEU, "A1SELLER"); got != "acme" {
		t.Errorf("binding after the refusals = %q, want acme", got)
	}
}
