package operator_test

import (
	"context"
	"errors"
	"testing"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/store"
)

// TestForgetReleasesTheSellersBinding: once a connection is forgotten, its seller can
// authorize another connection in that region (before, the binding outlived the
// record and the seller was told the account was already connected, naming a
// connection that no longer existed). A binding that names another connection stays.
func TestForgetReleasesTheSellersBinding(t *testing.T) {
	t.Parallel()
	const seller = "A1MOVINGON"
	for _, c := range []struct {
		name string
		// before runs after "leaving" is bound to the seller, before forget.
		before       func(t *testing.T, e *env, a authz.Authorization)
		region       authz.Region // forget's --region
		wantRecord   bool         // forget deleted the record
		wantReleased int          // bindings left over and released
		wantBoundTo  string       // "" when another connection may bind the seller
	}{
		{name: "bound connection"},
		{name: "forget that stopped after the record, run again", region: authz.RegionEU, wantReleased: 1,
			before: func(t *testing.T, e *env, a authz.Authorization) {
				// The record deleted without its binding, as forgets did before.
				must(t, e.st.Delete(context.Background(), a.ConnectionID, a.Region, a.Version))
			}},
		{name: "seller moved to another connection", wantBoundTo: "other",
			before: func(t *testing.T, e *env, a authz.Authorization) {
				must(t, e.st.MoveBinding(context.Background(), a, "other", now, "the seller asked"))
			}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			e := newEnv(t, nil)
			a := e.seed(t, "leaving", authz.RegionEU, authz.StatusPending, 0)
			a.SellingPartnerID, a.Status, a.AuthorizedAt, a.ExpiresAt = seller, authz.StatusActive, now, now.Add(authz.Lifetime)
			a, err := e.st.UpdateBound(ctx, a, now, authz.Event{ConnectionID: a.ConnectionID, Region: a.Region, At: now, Kind: authz.EventAuthorized, Detail: "authorized"})
			must(t, err)
			if c.before != nil {
				c.before(t, e, a)
			}
			f, err := e.op.Forget(ctx, "leaving", c.region)
			if err != nil {
				t.Fatalf("forget: %v", err)
			}
			if f.RecordDeleted == (c.region != "") || f.BindingsReleased != c.wantReleased || !f.SecretDeleted {
				t.Errorf("forget = %+v; want record deleted %v, %d leftover bindings released", f, c.region == "", c.wantReleased)
			}
			// The seller now authorizes a new connection in the same region.
			next := e.seed(t, "arriving", authz.RegionEU, authz.StatusPending, 0)
			next.SellingPartnerID, next.Status, next.AuthorizedAt, next.ExpiresAt = seller, authz.StatusActive, now, now.Add(authz.Lifetime)
			_, err = e.st.UpdateBound(ctx, next, now)
			var bound *store.SellerBoundError
			switch {
			case c.wantBoundTo == "" && err != nil:
				t.Errorf("the seller authorizing another connection after forget: %v", err)
			case c.wantBoundTo != "" && (!errors.As(err, &bound) || bound.ConnectionID != c.wantBoundTo):
				t.Errorf("the seller authorizing another connection = %v; want still bound to %s", err, c.wantBoundTo)
			}
			// Forget once more finishes nothing else and fails nothing.
			if f, err := e.op.Forget(ctx, "leaving", authz.RegionEU); err != nil || f.RecordDeleted || f.BindingsReleased != 0 {
				t.Errorf("forget again = %+v, %v", f, err)
			}
		})
	}
}
