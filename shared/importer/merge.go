package importer

// This file holds the record merge: the authorization a row becomes, from the one on
// file and what LWA and SP-API said.

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"time"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/i18n"
	"github.com/spapi-auth-keeper/keeper/shared/secret"
)

// record is the authorization a row becomes, from what LWA said.
func (ru *run) record(row Row, existing authz.Authorization, found, accepted bool, acct authz.Account) (authz.Authorization, Outcome, string) {
	im := ru.im
	now := ru.now
	a := authz.Authorization{ConnectionID: row.ConnectionID, Region: row.Region}
	if found {
		a = existing // a pending record the vendor onboarded: keep what the file does not give
	}
	a.AccountType = row.AccountType
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&a.Marketplace, row.Marketplace)
	set(&a.SellingPartnerID, row.SellingPartnerID)
	set(&a.ContactEmail, row.ContactEmail)
	set(&a.DisplayName, row.DisplayName)
	// A locale the row gives wins; without one, the record keeps its own, and a
	// record with none takes its marketplace's language.
	set(&a.Locale, row.Locale)
	if a.Locale == "" {
		a.Locale = i18n.LocaleFor(a.Marketplace)
	}
	a.RefreshSlot = authz.SlotFor(a.ConnectionID, a.Region, im.cfg.Slots)
	a.Account = acct
	a.Reminders = nil
	a.AuthorizedAt, a.ExpiresAt, a.ExpiryUnknown = time.Time{}, time.Time{}, false
	known := !row.AuthorizedAt.IsZero()
	lapsed := known && !now.Before(row.AuthorizedAt.Add(authz.Lifetime))
	where := fmt.Sprintf("%s line %d", im.cfg.Source, row.Line)
	if im.cfg.Source == "" {
		where = fmt.Sprintf("line %d", row.Line)
	}
	switch {
	case accepted && known && !lapsed:
		a.Status = authz.StatusActive
		a.AuthorizedAt, a.ExpiresAt = row.AuthorizedAt, row.AuthorizedAt.Add(authz.Lifetime)
		a.Status = a.StatusAt(now, im.cfg.ExpiringWindow)
		a.LastRefreshAt, a.LastRefreshError, a.RefreshFailures = now, "", 0
		return a, OutcomeActive, fmt.Sprintf("%s from %s: LWA accepted the token; %s until %s", importedByDetailPrefix, where, a.Status, a.ExpiresAt.Format(authz.DayLayout))
	case accepted:
		n := ru.unknownN.Add(1) - 1
		a.Status = authz.StatusActive
		a.ExpiryUnknown = true
		a.ExpiresAt = now.Add(im.cfg.UnknownExpiry)
		if im.cfg.ConfirmPerDay > 0 {
			a.ExpiresAt = a.ExpiresAt.Add(time.Duration(n/int64(im.cfg.ConfirmPerDay)) * 24 * time.Hour)
		}
		a.LastRefreshAt, a.LastRefreshError, a.RefreshFailures = now, "", 0
		why := "no authorizedAt in the file"
		if lapsed {
			why = "authorizedAt " + row.AuthorizedAt.Format(authz.DayLayout) + " is over a year ago, yet LWA accepted the token (renewed since)"
		}
		return a, OutcomeUnknownExpiry, fmt.Sprintf("%s from %s: LWA accepted the token; expiry unknown (%s), assumed %s; the seller is asked to confirm",
			importedByDetailPrefix, where, why, a.ExpiresAt.Format(authz.DayLayout))
	case lapsed:
		a.Status = authz.StatusExpired
		a.AuthorizedAt, a.ExpiresAt = row.AuthorizedAt, row.AuthorizedAt.Add(authz.Lifetime)
		a.LastRefreshAt, a.LastRefreshError, a.RefreshFailures = now, "invalid_grant at import", 1
		return a, OutcomeExpired, fmt.Sprintf("%s from %s: LWA said invalid_grant and the authorization expired on %s; renewing restores it",
			importedByDetailPrefix, where, a.ExpiresAt.Format(authz.DayLayout))
	default:
		a.Status = authz.StatusRevoked
		if known {
			a.AuthorizedAt, a.ExpiresAt = row.AuthorizedAt, row.AuthorizedAt.Add(authz.Lifetime)
		} else {
			a.ExpiryUnknown = true
		}
		a.LastRefreshAt, a.LastRefreshError, a.RefreshFailures = now, "invalid_grant at import", 1
		return a, OutcomeRevoked, fmt.Sprintf("%s from %s: LWA said invalid_grant: the seller removed the app or Amazon revoked it; the seller must authorize again",
			importedByDetailPrefix, where)
	}
}

// outcomeInterrupted: the import was stopped before this row was done. It is not
// counted, and the next run (or the continuation) does it.
const outcomeInterrupted Outcome = ""

// failed turns an error into a failed row, or into no outcome when the import is
// being stopped.
func (ru *run) failed(ctx context.Context, what string, err error) (Outcome, string) {
	if ctx.Err() != nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return outcomeInterrupted, ""
	}
	return OutcomeFailed, fmt.Sprintf("%s: %s; nothing written for this row, run the import again", what, clip(err.Error(), 200))
}

// sameToken compares the stored token with the row's in memory, in constant time:
// no hash of a token is kept beyond the run's memory (tokenLines, seeded at random).
func sameToken(a, b secret.Value) bool {
	return subtle.ConstantTimeCompare([]byte(a.Reveal()), []byte(b.Reveal())) == 1
}
