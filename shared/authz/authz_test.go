package authz_test

import (
	"testing"
	"time"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
)

func TestRenewStartsAFreshYear(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		before   authz.Authorization
		wantKind authz.EventKind
	}{
		{"first authorization", authz.Authorization{Status: authz.StatusPending}, authz.EventAuthorized},
		{"renewal of an expired one", authz.Authorization{
			Status: authz.StatusExpired, AuthorizedAt: now.AddDate(-1, 0, -3), ExpiresAt: now.AddDate(0, 0, -3),
			Reminders: map[string]authz.ReminderMark{"-30": {SentAt: now}}, RefreshFailures: 4, LastRefreshError: "invalid_grant",
		}, authz.EventRenewed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := tt.before
			if got := a.Renew(now, "A1SELLER"); got != tt.wantKind {
				t.Errorf("kind = %s, want %s", got, tt.wantKind)
			}
			if a.Status != authz.StatusActive || a.SellingPartnerID != "A1SELLER" {
				t.Errorf("status %s seller %s, want active A1SELLER", a.Status, a.SellingPartnerID)
			}
			if want := now.Add(365 * 24 * time.Hour); !a.ExpiresAt.Equal(want) {
				t.Errorf("expiresAt = %s, want %s", a.ExpiresAt, want)
			}
			if a.ExpiryDay() != "2027-11-23" {
				t.Errorf("expiryDay = %s", a.ExpiryDay())
			}
			if len(a.Reminders) != 0 || a.RefreshFailures != 0 || a.LastRefreshError != "" {
				t.Errorf("renewal left reminders %v, failures %d, error %q", a.Reminders, a.RefreshFailures, a.LastRefreshError)
			}
		})
	}
}

func TestStatusAt(t *testing.T) {
	t.Parallel()
	exp := time.Date(2027, 2, 15, 12, 0, 0, 0, time.UTC)
	window := 30 * 24 * time.Hour
	tests := []struct {
		stored authz.Status
		now    time.Time
		want   authz.Status
	}{
		{authz.StatusActive, exp.AddDate(0, 0, -31), authz.StatusActive},
		{authz.StatusActive, exp.AddDate(0, 0, -30), authz.StatusExpiring},
		{authz.StatusExpiring, exp.Add(-time.Second), authz.StatusExpiring},
		{authz.StatusExpiring, exp, authz.StatusExpired},
		{authz.StatusRevoked, exp.AddDate(0, 0, 3), authz.StatusRevoked},
		{authz.StatusPending, exp, authz.StatusPending},
	}
	for _, tt := range tests {
		a := authz.Authorization{Status: tt.stored, ExpiresAt: exp}
		if got := a.StatusAt(tt.now, window); got != tt.want {
			t.Errorf("%s at %s = %s, want %s", tt.stored, tt.now, got, tt.want)
		}
	}
}

func TestDaysLeft(t *testing.T) {
	t.Parallel()
	exp := time.Date(2027, 2, 15, 12, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		now  time.Time
		want int
	}{
		{exp.AddDate(0, 0, -3), 3},
		{exp.Add(-time.Hour), 0},
		{exp.Add(time.Hour), -1},
		{exp.AddDate(0, 0, 5), -5},
	} {
		if got := (authz.Authorization{ExpiresAt: exp}).DaysLeft(tt.now); got != tt.want {
			t.Errorf("DaysLeft(%s) = %d, want %d", tt.now, got, tt.want)
		}
	}
}

func TestSlotForSpreadsEvenly(t *testing.T) {
	t.Parallel()
	counts := make([]int, 24)
	const n = 24000
	for i := 0; i < n; i++ {
		counts[authz.SlotFor("conn-"+string(rune('a'+i%26))+time.Duration(i).String(), authz.RegionEU, 24)]++
	}
	for slot, c := range counts {
		if c < n/24*8/10 || c > n/24*12/10 {
			t.Errorf("slot %d holds %d of %d, want about %d", slot, c, n, n/24)
		}
	}
	if a, b := authz.SlotFor("acme", authz.RegionEU, 24), authz.SlotFor("acme", authz.RegionEU, 24); a != b {
		t.Fatal("slot is not stable")
	}
}

func TestParseRegion(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"na", "eu", "fe"} {
		if _, err := authz.ParseRegion(ok); err != nil {
			t.Errorf("ParseRegion(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "EU", "us-east-1", "eu "} {
		if _, err := authz.ParseRegion(bad); err == nil {
			t.Errorf("ParseRegion(%q) accepted", bad)
		}
	}
}
