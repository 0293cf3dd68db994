package authz_test

import (
	"testing"
	"time"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
)

func TestCalendarDaysLeftCountsTheSellersDays(t *testing.T) {
	t.Parallel()
	expires := time.Date(2027, 3, 4, 6, 0, 0, 0, time.UTC) // 4 March in Europe, 3 March evening in California
	tests := []struct {
		name   string
		market string
		region authz.Region
		now    time.Time
		want   int
	}{
		{"Germany, 2 days 18 hours before: 3 calendar days", "DE", authz.RegionEU, time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC), 3},
		{"US west coast: the expiry falls on the 3rd", "US", authz.RegionNA, time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC), 2},
		{"Japan, already the 2nd there", "JP", authz.RegionFE, time.Date(2027, 3, 1, 20, 0, 0, 0, time.UTC), 2},
		{"expiry day itself", "DE", authz.RegionEU, time.Date(2027, 3, 4, 5, 0, 0, 0, time.UTC), 0},
		{"after expiry", "DE", authz.RegionEU, time.Date(2027, 3, 6, 12, 0, 0, 0, time.UTC), -2},
		{"no marketplace: the region's", "", authz.RegionEU, time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC), 3},
		{"unknown marketplace code", "ZZ", authz.RegionNA, time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC), 2},
	}
	for _, tc := range tests {
		a := authz.Authorization{Marketplace: tc.market, Region: tc.region, ExpiresAt: expires}
		if got := a.CalendarDaysLeft(tc.now); got != tc.want {
			t.Errorf("%s: %d, want %d (old DaysLeft %d)", tc.name, got, tc.want, a.DaysLeft(tc.now))
		}
	}
}
