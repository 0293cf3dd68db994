// Package authz holds the domain of the authorization ledger: one record per seller
// authorization of the vendor's SP-API application, its status rules, and the
// history events written beside it. It knows nothing of AWS.
package authz

import (
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"time"
)

// Lifetime is how long a seller's authorization lasts: Amazon deactivates the refresh
// token 365 days after the seller granted or last renewed it.
const Lifetime = 365 * 24 * time.Hour

// DayLayout formats ExpiryDay, the by-expiry GSI partition key.
const DayLayout = "2006-01-02"

// Errors every store returns, so callers branch on kinds, never on AWS errors.
var (
	ErrNotFound        = errors.New("authorization not found")
	ErrAlreadyExists   = errors.New("authorization already exists")
	ErrVersionConflict = errors.New("authorization changed concurrently")
)

// Region is an SP-API region: the API endpoint and LWA token set an authorization belongs to.
type Region string

const (
	RegionNA Region = "na"
	RegionEU Region = "eu"
	RegionFE Region = "fe"
)

// ParseRegion accepts na, eu or fe.
func ParseRegion(s string) (Region, error) {
	switch r := Region(s); r {
	case RegionNA, RegionEU, RegionFE:
		return r, nil
	}
	return "", fmt.Errorf("unknown SP-API region %q (want na, eu or fe)", s)
}

// AccountType says whether the account signs in to Seller Central or Vendor Central.
type AccountType string

const (
	AccountSeller AccountType = "seller"
	AccountVendor AccountType = "vendor"
)

// Status is where an authorization stands.
type Status string

const (
	StatusPending  Status = "pending"  // created by the vendor, never authorized
	StatusActive   Status = "active"   // authorized, outside the reminder window
	StatusExpiring Status = "expiring" // inside the reminder window, still valid
	StatusExpired  Status = "expired"  // past ExpiresAt; renewing restores access
	StatusRevoked  Status = "revoked"  // LWA said invalid_grant before ExpiresAt
)

// ReminderMark records one reminder stage on the record. A stage is claimed before it
// is sent and marked sent afterwards; a claim without SentAt older than a timeout is
// released so that a crash between claim and send does not lose the reminder.
type ReminderMark struct {
	ClaimedAt time.Time
	SentAt    time.Time
	MessageID string
	Error     string // a permanent rejection (suppressed address, ...); not retried
	// Delivery is what SES reported afterwards about the message MessageID, and
	// whether the seller opened its link (the renewal funnel).
	Delivery Delivery
}

// Delivery is the fate of one sent reminder as SES's event publishing reports it.
// Each time is the first event of its kind (SES delivers events at least once).
type Delivery struct {
	AcceptedAt   time.Time // SES Send: accepted for delivery
	DeliveredAt  time.Time // Delivery: the recipient's mail server accepted it
	BouncedAt    time.Time // Bounce, Permanent: the address does not take mail
	SoftBounceAt time.Time // Bounce, Transient: SES retries by itself; only recorded
	ComplainedAt time.Time // Complaint: the recipient marked it as spam
	DelayedAt    time.Time // DeliveryDelay
	FailedAt     time.Time // Reject or Rendering Failure: SES never sent it
	OpenedAt     time.Time // the seller opened the renewal link (/authorize)
	Detail       string    // bounce type and diagnostic, complaint type, reject reason
	// The stage's app notification in Seller Central (App Integrations), if posted:
	// Amazon's id, or why it was not.
	AppNotificationID    string
	AppNotificationError string
}

// Authorization is one seller's (or vendor's) authorization of the vendor's app in one region.
type Authorization struct {
	ConnectionID     string // the vendor's own id for the seller account
	Region           Region
	AccountType      AccountType
	Marketplace      string // country code, picks the Seller/Vendor Central host
	SellingPartnerID string // Amazon's merchant token, known after the first authorization
	ContactEmail     string
	Locale           string
	Status           Status
	AuthorizedAt     time.Time // zero while pending
	ExpiresAt        time.Time // zero while pending
	Reminders        map[string]ReminderMark
	LastRefreshAt    time.Time
	LastRefreshError string
	RefreshFailures  int
	RefreshSlot      int
	SecretID         string
	Version          int64 // optimistic lock: every write is conditional on it

	// Account is what SP-API itself answered about the account behind the stored
	// token (zero until first taken). Renewals are checked against it.
	Account Account
	// LinkGeneration advances on every successful renewal; a renewal link carries the
	// generation it was made for, so an older link cannot start a second round trip.
	LinkGeneration int
	// ExpiryUnknown is set for imported authorizations whose grant date the vendor did
	// not know: ExpiresAt is then an assumed, conservative date.
	ExpiryUnknown bool
	ContactStatus ContactStatus // "" means ok
	DisplayName   string        // the vendor's name for the account, shown to the seller
}

// ContactStatus says whether reminder email reaches the seller's contact address.
type ContactStatus string

const (
	ContactOK         ContactStatus = "ok"
	ContactBouncing   ContactStatus = "bouncing"
	ContactComplained ContactStatus = "complained"
)

// Reachable reports whether reminder email may go to the contact address: not after
// a permanent bounce or a complaint, until the vendor sets the address again.
func (s ContactStatus) Reachable() bool {
	return s != ContactBouncing && s != ContactComplained
}

// Account is the fingerprint of an Amazon account, taken with SP-API itself using an
// access token of the refresh token in question: Amazon's redirect parameters are not
// signed and LWA's token answer does not name the account, so this is the only proof
// of whose token it is. It never holds a token.
type Account struct {
	StoreName        string   // Sellers API getMarketplaceParticipations: participation store name
	MarketplaceIDs   []string // marketplaces the account participates in, sorted
	SellerID         string   // the seller id SP-API reported for the token, where taken
	SellerIDVerified bool     // SellerID came from SP-API (not from a redirect parameter)
	TakenAt          time.Time
}

// SameAs tells whether evidence, freshly taken from SP-API, shows the same account as
// a (the one on record), and why not. Seller ids decide where both were verified;
// otherwise the store name must be the same and at least one marketplace shared (a
// store renamed since is accepted only where the seller ids are verified). An account
// with nothing on record cannot be compared: the caller decides.
func (a Account) SameAs(evidence Account) (bool, string) {
	if a.SellerIDVerified && evidence.SellerIDVerified {
		if a.SellerID == evidence.SellerID {
			return true, ""
		}
		return false, "seller id differs"
	}
	common := false
	for _, m := range evidence.MarketplaceIDs {
		for _, n := range a.MarketplaceIDs {
			if m == n {
				common = true
			}
		}
	}
	switch {
	case !common:
		return false, "no marketplace in common"
	case normalizeStoreName(a.StoreName) != normalizeStoreName(evidence.StoreName):
		return false, "store name differs"
	}
	return true, ""
}

// normalizeStoreName ignores case and runs of spaces, which sellers change freely.
func normalizeStoreName(s string) string {
	return strings.Join(strings.Fields(strings.ToLower(s)), " ")
}

// IsZero reports whether no fingerprint was taken.
func (a Account) IsZero() bool {
	return a.TakenAt.IsZero() && a.StoreName == "" && len(a.MarketplaceIDs) == 0 && a.SellerID == ""
}

// ExpiryDay is the UTC day of ExpiresAt, the by-expiry GSI key; empty while pending.
func (a Authorization) ExpiryDay() string {
	if a.ExpiresAt.IsZero() {
		return ""
	}
	return a.ExpiresAt.UTC().Format(DayLayout)
}

// Key names the authorization in logs and errors.
func (a Authorization) Key() string { return a.ConnectionID + "/" + string(a.Region) }

// Renew records a successful authorization or renewal at now by sellingPartnerID:
// status active, a fresh 365-day lifetime, reminders and refresh failures cleared.
// It returns the history event kind: EventAuthorized the first time, EventRenewed after.
func (a *Authorization) Renew(now time.Time, sellingPartnerID string) EventKind {
	kind := EventRenewed
	if a.AuthorizedAt.IsZero() {
		kind = EventAuthorized
	}
	now = now.UTC()
	a.SellingPartnerID = sellingPartnerID
	a.Status = StatusActive
	a.AuthorizedAt = now
	a.ExpiresAt = now.Add(Lifetime)
	a.Reminders = nil
	a.LastRefreshAt = now
	a.LastRefreshError = ""
	a.RefreshFailures = 0
	return kind
}

// StatusAt is the status the clock gives an authorization at now, where window is how
// long before ExpiresAt the reminders start. Pending and revoked records keep their
// status until something happens to them (an authorization, a successful refresh).
func (a Authorization) StatusAt(now time.Time, window time.Duration) Status {
	switch a.Status {
	case StatusPending, StatusRevoked:
		return a.Status
	}
	switch {
	case a.ExpiresAt.IsZero():
		return a.Status
	case !now.Before(a.ExpiresAt):
		return StatusExpired
	case !now.Before(a.ExpiresAt.Add(-window)):
		return StatusExpiring
	}
	return StatusActive
}

// DaysLeft is the number of whole days from now until ExpiresAt; negative once past.
func (a Authorization) DaysLeft(now time.Time) int {
	d := a.ExpiresAt.Sub(now)
	days := int(d / (24 * time.Hour))
	if d < 0 && d%(24*time.Hour) != 0 {
		days--
	}
	return days
}

// DefaultRefreshSlots spreads proof-of-life refreshes over the hours of a day.
const DefaultRefreshSlots = 24

// SlotFor places an authorization in one of slots refresh slots, from a hash of its
// key, so that the hourly sweep reads an even share of the ledger.
func SlotFor(connectionID string, region Region, slots int) int {
	if slots <= 0 {
		slots = DefaultRefreshSlots
	}
	h := fnv.New32a()
	h.Write([]byte(connectionID))
	h.Write([]byte{0})
	h.Write([]byte(region))
	return int(h.Sum32() % uint32(slots))
}

// EventKind names a history event.
type EventKind string

const (
	EventCreated          EventKind = "created"
	EventAuthorized       EventKind = "authorized"
	EventRenewed          EventKind = "renewed"
	EventReminded         EventKind = "reminded"
	EventReminderRejected EventKind = "reminder_rejected"
	EventRefreshFailed    EventKind = "refresh_failed"
	EventRevoked          EventKind = "revoked"
	EventExpired          EventKind = "expired"
	EventRestored         EventKind = "restored"
	EventMismatchedSeller EventKind = "mismatched_seller"
	EventForgotten        EventKind = "forgotten"
	EventAccountMismatch  EventKind = "account_mismatch"
	EventImported         EventKind = "imported"
	EventReminderBounced  EventKind = "reminder_bounced"
	EventSellerConflict   EventKind = "seller_conflict" // a seller bound to another connection tried to bind here
	EventSellerMoved      EventKind = "seller_moved"    // the operator moved a seller's binding
	EventTokenParked      EventKind = "token_parked"    // a new token waits, encrypted, for the vault
	// EventAccountUnverified: a new token was refused because nothing showed it is the
	// connection's account (a Login URI renewal without a fingerprint on record, say).
	EventAccountUnverified EventKind = "account_unverified"
	// EventReminderComplained: the seller's contact marked a reminder as spam; no
	// more email goes to that address until the vendor sets another (or the same) one.
	EventReminderComplained EventKind = "reminder_complained"
	// EventContactChanged: the vendor set the contact address; a bounce flag is cleared.
	EventContactChanged EventKind = "contact_changed"
)

// Event is one line of an authorization's history. Detail never holds a secret.
type Event struct {
	ConnectionID string
	Region       Region
	At           time.Time
	Kind         EventKind
	Detail       string

	// What the record looked like around the event, for the domain events (the store
	// fills StatusAfter, SellingPartnerID and ExpiresAt from the record it writes in
	// the same transaction; StatusBefore is set by the code that changed the status).
	StatusBefore     Status
	StatusAfter      Status
	SellingPartnerID string
	ExpiresAt        time.Time
}

// Clock tells the time; tests pass a fixed one.
type Clock interface{ Now() time.Time }

// SystemClock is the real clock.
var SystemClock Clock = systemClock{}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now().UTC() }

// ClockFunc adapts a function to Clock.
type ClockFunc func() time.Time

func (f ClockFunc) Now() time.Time { return f() }

// ValidateConnectionID checks a vendor's connection id: 1 to 128 characters that a
// Secrets Manager name and a URL path accept unescaped (letters, digits and _ . @ -).
func ValidateConnectionID(id string) error {
	if id == "" || len(id) > 128 {
		return fmt.Errorf("connection id must be 1 to 128 characters, got %d", len(id))
	}
	for _, r := range id {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '.', r == '@', r == '-':
		default:
			return fmt.Errorf("connection id %q has %q: use letters, digits and _ . @ -", id, r)
		}
	}
	return nil
}
