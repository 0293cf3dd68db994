package operator_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/spapi-auth-keeper/keeper/infra/operator"
	"github.com/spapi-auth-keeper/keeper/shared/authz"
)

// TestListExpiryDayIsTheSellers: keeperctl list's EXPIRES is the day in the seller's
// marketplace time zone, the day its DAYS LEFT counts to and its emails and Seller
// Central name, not the UTC day.
func TestListExpiryDayIsTheSellers(t *testing.T) {
	t.Parallel()
	exp := time.Date(2026, 11, 27, 1, 50, 0, 0, time.UTC) // 26 Nov in Los Angeles, 27 Nov in Tokyo
	for _, tc := range []struct {
		marketplace string
		region      authz.Region
		want        string
	}{
		{"US", authz.RegionNA, "2026-11-26"},
		{"JP", authz.RegionFE, "2026-11-27"},
		{"", authz.RegionNA, "2026-11-26"}, // no marketplace: the region's main one
	} {
		var out bytes.Buffer
		operator.WriteTable(&out, []operator.Row{{ConnectionID: "c", Region: tc.region, Marketplace: tc.marketplace, Status: authz.StatusActive,
			ExpiresAt: exp, ExpiryKnown: true}}, exp)
		if lines := strings.Split(out.String(), "\n"); len(lines) < 2 || !strings.Contains(lines[1], " "+tc.want+" ") {
			t.Errorf("%s/%s: %q, want the expiry day %s", tc.marketplace, tc.region, out.String(), tc.want)
		}
	}
}
