package authz

import (
	"strings"
	"time"
	_ "time/tzdata" // Lambda's provided.al2023 image has no zoneinfo of its own
)

// marketplaceZones is the time zone a marketplace's sellers live by: "in 3 days" and
// "expires on 1 May" are counted on their calendar, not on UTC's.
var marketplaceZones = map[string]string{
	"US": "America/Los_Angeles", "CA": "America/Toronto", "MX": "America/Mexico_City", "BR": "America/Sao_Paulo",
	"GB": "Europe/London", "UK": "Europe/London", "IE": "Europe/Dublin", "ES": "Europe/Madrid", "FR": "Europe/Paris",
	"BE": "Europe/Brussels", "NL": "Europe/Amsterdam", "DE": "Europe/Berlin", "IT": "Europe/Rome", "SE": "Europe/Stockholm",
	"PL": "Europe/Warsaw", "TR": "Europe/Istanbul", "ZA": "Africa/Johannesburg", "EG": "Africa/Cairo", "SA": "Asia/Riyadh",
	"AE": "Asia/Dubai", "IN": "Asia/Kolkata", "SG": "Asia/Singapore", "AU": "Australia/Sydney", "JP": "Asia/Tokyo",
}

// regionZones is used for a record without a marketplace: the region's main one.
var regionZones = map[Region]string{RegionNA: "America/Los_Angeles", RegionEU: "Europe/Berlin", RegionFE: "Asia/Tokyo"}

// Location is the time zone the seller counts days in: its marketplace's, else its
// region's main marketplace's, else UTC.
func (a Authorization) Location() *time.Location {
	name, ok := marketplaceZones[strings.ToUpper(a.Marketplace)]
	if !ok {
		name = regionZones[a.Region]
	}
	if loc, err := time.LoadLocation(name); err == nil && name != "" {
		return loc
	}
	return time.UTC
}

// CalendarDaysLeft is how many calendar days from now's day to ExpiresAt's day, both
// in the seller's time zone (Location): 0 on the expiry day, 1 the day before,
// negative once past. The list, show and the reminder emails all say this number.
func (a Authorization) CalendarDaysLeft(now time.Time) int {
	loc := a.Location()
	day := func(t time.Time) int64 {
		y, m, d := t.In(loc).Date()
		return time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400
	}
	return int(day(a.ExpiresAt) - day(now))
}
