package amazonsim

import (
	"slices"
	"strings"
	"time"
	_ "time/tzdata" // Seller Central's dates are in the marketplace's zone, on any machine
)

// Manage Your Apps lists each account's authorization of the app as Seller Central
// does: its state, the day it expires on the marketplace's calendar, and the action
// that state offers: Renew an authorization that is active, about to expire or
// expired (renewing reactivates its refresh tokens), Enable an app the seller removed
// (every refresh token revoked) or never authorized.

// ExpiringWithin is how close to its expiry Seller Central shows an authorization as
// expiring: Amazon's own emails to the seller start a month before.
const ExpiringWithin = 30 * 24 * time.Hour

// Authorization states on Manage Your Apps.
const (
	ManageActive        = "active"
	ManageExpiring      = "expiring"
	ManageExpired       = "expired"
	ManageRevoked       = "revoked"
	ManageNotAuthorized = "not authorized"
)

// Actions on Manage Your Apps.
const (
	ActionRenew  = "Renew"
	ActionEnable = "Enable"
)

// sellerCentralZones are the time zones the marketplaces' Seller Central shows dates in.
var sellerCentralZones = map[string]string{
	"US": "America/Los_Angeles", "CA": "America/Toronto", "MX": "America/Mexico_City", "BR": "America/Sao_Paulo",
	"GB": "Europe/London", "IE": "Europe/Dublin", "DE": "Europe/Berlin", "FR": "Europe/Paris", "IT": "Europe/Rome",
	"ES": "Europe/Madrid", "NL": "Europe/Amsterdam", "BE": "Europe/Brussels", "SE": "Europe/Stockholm", "PL": "Europe/Warsaw",
	"TR": "Europe/Istanbul", "EG": "Africa/Cairo", "SA": "Asia/Riyadh", "AE": "Asia/Dubai", "IN": "Asia/Kolkata",
	"ZA": "Africa/Johannesburg", "JP": "Asia/Tokyo", "AU": "Australia/Sydney", "SG": "Asia/Singapore",
}

// ManageRow is one account's line on Manage Your Apps.
type ManageRow struct {
	ID, Name string
	State    string // ManageActive, ManageExpiring, ManageExpired, ManageRevoked, ManageNotAuthorized
	Expires  string // the expiry day (2006-01-02) in the marketplace's time zone; "" when not authorized
	Zone     string // that time zone
	Action   string // ActionRenew or ActionEnable
}

// IssueRefreshTokenAt seeds a seller who authorized the app (or last renewed) at
// authorizedAt, not now: the local demo's sellers expire in 3 days, or expired 5 days
// ago, and Manage Your Apps must say so as the keeper's ledger does.
func (s *Sim) IssueRefreshTokenAt(sellerID string, authorizedAt time.Time) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	token := s.authorizeLocked(sellerID)
	s.sellers[sellerID].authorizedAt = authorizedAt
	return token
}

// ManageRows returns what Manage Your Apps lists, one row per account.
func (s *Sim) ManageRows() []ManageRow {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock()
	var rows []ManageRow
	for _, sl := range s.accounts {
		r := ManageRow{ID: sl.ID, Name: sl.Name, State: ManageNotAuthorized, Action: ActionEnable}
		loc := sellerCentralZone(sl, s.accountLocked(sl.ID))
		r.Zone = loc.String()
		if a, ok := s.sellers[sl.ID]; ok {
			exp := a.authorizedAt.Add(AuthorizationLifetime)
			r.Expires = exp.In(loc).Format(time.DateOnly)
			r.State, r.Action = ManageActive, ActionRenew
			switch {
			case a.expired || !now.Before(exp):
				r.State = ManageExpired
			case s.removedLocked(sl.ID):
				r.State, r.Action = ManageRevoked, ActionEnable
			case exp.Sub(now) <= ExpiringWithin:
				r.State = ManageExpiring
			}
		}
		rows = append(rows, r)
	}
	return rows
}

// removedLocked says whether the seller removed the app: it holds refresh tokens and
// every one is revoked.
func (s *Sim) removedLocked(sellerID string) bool {
	n := 0
	for _, g := range s.refreshTokens {
		if g.sellerID == sellerID {
			if !g.revoked {
				return false
			}
			n++
		}
	}
	return n > 0
}

// sellerCentralZone is the time zone of the account's marketplace: its first country
// code, else its first marketplace; UTC for one not listed.
func sellerCentralZone(sl Seller, a account) *time.Location {
	countries := slices.Clone(sl.CountryCodes)
	for _, m := range a.participating {
		countries = append(countries, m.CountryCode)
	}
	for _, cc := range countries {
		cc = strings.ToUpper(cc)
		if cc == "UK" {
			cc = "GB"
		}
		if name, ok := sellerCentralZones[cc]; ok {
			if loc, err := time.LoadLocation(name); err == nil {
				return loc
			}
		}
	}
	return time.UTC
}
