package operator_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/spapi-auth-keeper/keeper/infra/operator"
	"github.com/spapi-auth-keeper/keeper/shared/authz"
)

// TestListCountsConnectionsWithoutAFingerprint: keeperctl list says how many of the
// seller connections it lists still have no account fingerprint (their renewals have
// nothing to be checked against until their next refresh takes one). Pending
// connections hold no token and vendor accounts have no Sellers API: not counted.
func TestListCountsConnectionsWithoutAFingerprint(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, nil)
	e.seed(t, "bare-one", authz.RegionEU, authz.StatusActive, 100)
	e.seed(t, "bare-two", authz.RegionNA, authz.StatusExpiring, 10)
	e.seed(t, "waiting", authz.RegionEU, authz.StatusPending, 0)
	fp := e.seed(t, "printed", authz.RegionEU, authz.StatusActive, 200)
	fp.Account = authz.Account{StoreName: "Printed Store", MarketplaceIDs: []string{"A1PA6795UKMFR9"}, TakenAt: now}
	_, err := e.st.Update(ctx, fp)
	must(t, err)
	vendor := e.seed(t, "vendor-co", authz.RegionEU, authz.StatusActive, 150)
	vendor.AccountType = authz.AccountVendor
	_, err = e.st.Update(ctx, vendor)
	must(t, err)

	for _, tc := range []struct {
		name   string
		filter operator.Filter
		want   string
	}{
		{"every connection", operator.Filter{}, "2 of the 3 seller connections listed have no account fingerprint yet"},
		{"expiring within 30 days", operator.Filter{ExpiringWithin: 30 * 24 * time.Hour}, "1 of the 1 seller connections listed have no account fingerprint yet"},
	} {
		rows, err := e.op.List(ctx, tc.filter)
		must(t, err)
		var out bytes.Buffer
		operator.WriteTable(&out, rows, now)
		if !strings.Contains(out.String(), tc.want) {
			t.Errorf("%s: list does not say %q:\n%s", tc.name, tc.want, out.String())
		}
	}
	// All fingerprinted: no line.
	var out bytes.Buffer
	operator.WriteTable(&out, []operator.Row{{ConnectionID: "x", Region: authz.RegionEU, AccountType: "seller", Status: authz.StatusActive}}, now)
	if strings.Contains(out.String(), "fingerprint") {
		t.Errorf("a list where every connection has a fingerprint mentions them:\n%s", out.String())
	}
}
