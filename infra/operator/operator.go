// Package operator is what the vendor's operators do to the ledger by hand, behind
// the keeperctl command: list the authorizations as a vendor's "Amazon accounts"
// settings page would, show one with its history, onboard a seller (a pending record
// and its first authorization link), mint a fresh renewal link, prove one alive now
// (through the deployed token refresh function), and forget one. It works the same
// against the local stack and against AWS.
package operator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/consent"
	"github.com/spapi-auth-keeper/keeper/shared/secret"
)

// Error kinds; the CLI turns each into one line.
var (
	ErrUnknownConnection = errors.New("no authorization for this connection")
	ErrAmbiguousRegion   = errors.New("the connection has authorizations in several regions")
	ErrInvalid           = errors.New("invalid input")
	ErrNotConfigured     = errors.New("not configured")
	ErrRefreshFailed     = errors.New("the token refresh function failed")
)

// Ledger is the authorization table as the operator uses it (*store.Store).
type Ledger interface {
	Get(ctx context.Context, connectionID string, region authz.Region) (authz.Authorization, error)
	Create(ctx context.Context, a authz.Authorization, events ...authz.Event) (authz.Authorization, error)
	Update(ctx context.Context, a authz.Authorization, events ...authz.Event) (authz.Authorization, error)
	Delete(ctx context.Context, connectionID string, region authz.Region, version int64, sellers ...string) error
	ReleaseBindings(ctx context.Context, connectionID string, region authz.Region, sellers ...string) (int, error)
	List(ctx context.Context, fn func(authz.Authorization) error) error
	ByExpiryDay(ctx context.Context, day string, fn func(authz.Authorization) error) error
	History(ctx context.Context, connectionID string, limit int) ([]authz.Event, error)
	AddEvent(ctx context.Context, e authz.Event) error
}

// Secrets are the vault's operations the operator needs (*vault.Vault).
type Secrets interface {
	StateKey(ctx context.Context) (secret.Value, error)
	Delete(ctx context.Context, connectionID string, region authz.Region) error
}

// Invoker invokes a deployed function synchronously (the Lambda Invoke API).
type Invoker interface {
	Invoke(ctx context.Context, function string, payload []byte) ([]byte, error)
}

// Config is the deployment the operator acts on.
type Config struct {
	BaseURL         string        // where /authorize is served (the stack's BaseUrl output)
	LinkTTL         time.Duration // how long a link works; default 45 days, as the reminders'
	RefreshFunction string        // the token refresh function's name or ARN
	Slots           int           // refresh slots; default authz.DefaultRefreshSlots
}

// Operator carries out the commands.
type Operator struct {
	cfg     Config
	ledger  Ledger
	secrets Secrets
	invoker Invoker
	clock   authz.Clock
}

// New returns an operator. clock nil means the system clock.
func New(cfg Config, l Ledger, s Secrets, inv Invoker, clock authz.Clock) *Operator {
	if cfg.LinkTTL <= 0 {
		cfg.LinkTTL = 45 * 24 * time.Hour
	}
	if cfg.Slots <= 0 {
		cfg.Slots = authz.DefaultRefreshSlots
	}
	if clock == nil {
		clock = authz.SystemClock
	}
	return &Operator{cfg: cfg, ledger: l, secrets: s, invoker: inv, clock: clock}
}

// Row is one authorization as list and show print it. It holds no secret.
type Row struct {
	ConnectionID     string       `json:"connectionId"`
	Region           authz.Region `json:"region"`
	AccountType      string       `json:"accountType"`
	Marketplace      string       `json:"marketplace,omitempty"`
	SellingPartnerID string       `json:"sellingPartnerId,omitempty"`
	ContactEmail     string       `json:"contactEmail,omitempty"`
	Status           authz.Status `json:"status"`
	ExpiryKnown      bool         `json:"expiryKnown"`
	DisplayName      string       `json:"displayName,omitempty"`
	AuthorizedAt     time.Time    `json:"authorizedAt,omitzero"`
	ExpiresAt        time.Time    `json:"expiresAt,omitzero"`
	DaysLeft         *int         `json:"daysLeft,omitempty"`
	LastRefreshAt    time.Time    `json:"lastRefreshAt,omitzero"`
	LastRefreshError string       `json:"lastRefreshError,omitempty"`
	RefreshFailures  int          `json:"refreshFailures,omitempty"`
	Version          int64        `json:"version"`
	// NoFingerprint: a seller connection holding a token whose account SP-API has not
	// fingerprinted yet (its next successful refresh takes it).
	NoFingerprint bool `json:"noFingerprint,omitempty"`
}

func rowOf(a authz.Authorization, now time.Time) Row {
	r := Row{ConnectionID: a.ConnectionID, Region: a.Region, AccountType: string(a.AccountType), Marketplace: a.Marketplace,
		SellingPartnerID: a.SellingPartnerID, ContactEmail: a.ContactEmail, Status: a.Status, AuthorizedAt: a.AuthorizedAt,
		ExpiresAt: a.ExpiresAt, LastRefreshAt: a.LastRefreshAt, LastRefreshError: a.LastRefreshError,
		RefreshFailures: a.RefreshFailures, Version: a.Version, ExpiryKnown: !a.ExpiryUnknown, DisplayName: a.DisplayName,
		NoFingerprint: fingerprintDue(a)}
	if !a.ExpiresAt.IsZero() {
		// Calendar days in the seller's time zone, as the reminder emails count them.
		d := a.CalendarDaysLeft(now)
		r.DaysLeft = &d
	}
	return r
}

// Filter narrows list.
type Filter struct {
	Statuses       []authz.Status // any of these; empty: all
	UnknownExpiry  bool           // or (with Statuses) only: imported without a grant date, expiry assumed
	Region         authz.Region   // "": every region
	ExpiringWithin time.Duration  // expiring between now and now+d; 0: no limit
}

// match tells whether a passes f at now.
func (f Filter) match(a authz.Authorization, now time.Time) bool {
	if len(f.Statuses) > 0 || f.UnknownExpiry {
		if !slices.Contains(f.Statuses, a.Status) && !(f.UnknownExpiry && a.ExpiryUnknown) {
			return false
		}
	}
	if f.Region != "" && a.Region != f.Region {
		return false
	}
	if f.ExpiringWithin > 0 && (a.ExpiresAt.IsZero() || a.ExpiresAt.Before(now) || a.ExpiresAt.After(now.Add(f.ExpiringWithin))) {
		return false
	}
	return true
}

// StatusUnknownExpiry is the pseudo-status list --status takes for the records whose
// expiry is assumed (imported without a grant date).
const StatusUnknownExpiry = "unknown-expiry"

// ParseFilterStatuses reads "active,expiring" or "unknown-expiry" into a filter.
func ParseFilterStatuses(s string) (Filter, error) {
	var f Filter
	var rest []string
	for _, p := range strings.Split(s, ",") {
		if strings.EqualFold(strings.TrimSpace(p), StatusUnknownExpiry) {
			f.UnknownExpiry = true
			continue
		}
		rest = append(rest, p)
	}
	if len(rest) > 0 {
		st, err := ParseStatuses(strings.Join(rest, ","))
		if err != nil {
			return Filter{}, fmt.Errorf("%w, or %s", err, StatusUnknownExpiry)
		}
		f.Statuses = st
	}
	return f, nil
}

// ParseStatuses reads "active,expiring".
func ParseStatuses(s string) ([]authz.Status, error) {
	var out []authz.Status
	for _, p := range strings.Split(s, ",") {
		switch st := authz.Status(strings.ToLower(strings.TrimSpace(p))); st {
		case authz.StatusPending, authz.StatusActive, authz.StatusExpiring, authz.StatusExpired, authz.StatusRevoked:
			out = append(out, st)
		default:
			return nil, fmt.Errorf("%w: status %q (want pending, active, expiring, expired or revoked)", ErrInvalid, p)
		}
	}
	return out, nil
}

// List returns the authorizations that pass f, the soonest expiry first and pending
// ones (no expiry yet) last. With ExpiringWithin it reads only the by-expiry index's
// days in that window; otherwise the whole table (a Scan): an operator's tool, never a
// function's.
func (o *Operator) List(ctx context.Context, f Filter) ([]Row, error) {
	now := o.clock.Now()
	var rows []Row
	keep := func(a authz.Authorization) error {
		if f.match(a, now) {
			rows = append(rows, rowOf(a, now))
		}
		return nil
	}
	var err error
	if f.ExpiringWithin > 0 {
		// ExpiryDay is the UTC day of expiresAt: every day from today's to the window's last.
		first := now.UTC().Truncate(24 * time.Hour)
		for d := first; !d.After(now.Add(f.ExpiringWithin)) && err == nil; d = d.Add(24 * time.Hour) {
			err = o.ledger.ByExpiryDay(ctx, d.Format(authz.DayLayout), keep)
		}
	} else {
		err = o.ledger.List(ctx, keep)
	}
	if err != nil {
		return nil, err
	}
	slices.SortFunc(rows, func(a, b Row) int {
		switch {
		case a.ExpiresAt.IsZero() != b.ExpiresAt.IsZero():
			if a.ExpiresAt.IsZero() {
				return 1
			}
			return -1
		case !a.ExpiresAt.Equal(b.ExpiresAt):
			return a.ExpiresAt.Compare(b.ExpiresAt)
		}
		return strings.Compare(a.ConnectionID+"/"+string(a.Region), b.ConnectionID+"/"+string(b.Region))
	})
	return rows, nil
}

// find reads a connection's authorization: in region if given, else the only one it
// has (a connection may hold one per SP-API region).
func (o *Operator) find(ctx context.Context, connectionID string, region authz.Region) (authz.Authorization, error) {
	if err := authz.ValidateConnectionID(connectionID); err != nil {
		return authz.Authorization{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	regions := []authz.Region{authz.RegionNA, authz.RegionEU, authz.RegionFE}
	if region != "" {
		if _, err := authz.ParseRegion(string(region)); err != nil {
			return authz.Authorization{}, fmt.Errorf("%w: %v", ErrInvalid, err)
		}
		regions = []authz.Region{region}
	}
	var found []authz.Authorization
	for _, r := range regions {
		a, err := o.ledger.Get(ctx, connectionID, r)
		if errors.Is(err, authz.ErrNotFound) {
			continue
		}
		if err != nil {
			return authz.Authorization{}, err
		}
		found = append(found, a)
	}
	switch len(found) {
	case 0:
		where := ""
		if region != "" {
			where = " in region " + string(region)
		}
		return authz.Authorization{}, fmt.Errorf("%w: %q%s", ErrUnknownConnection, connectionID, where)
	case 1:
		return found[0], nil
	}
	var rs []string
	for _, a := range found {
		rs = append(rs, string(a.Region))
	}
	return authz.Authorization{}, fmt.Errorf("%w: %q is authorized in %s; name one with --region", ErrAmbiguousRegion, connectionID, strings.Join(rs, ", "))
}

// Detail is what show prints.
type Detail struct {
	Row
	Reminders map[string]authz.ReminderMark `json:"reminders,omitempty"`
	SecretID  string                        `json:"secretId,omitempty"`
	History   []HistoryLine                 `json:"history,omitempty"`
}

// HistoryLine is one history event.
type HistoryLine struct {
	At     time.Time       `json:"at"`
	Region authz.Region    `json:"region"`
	Kind   authz.EventKind `json:"kind"`
	Detail string          `json:"detail,omitempty"`
}

// Show returns one authorization, and its history (newest first) if asked.
func (o *Operator) Show(ctx context.Context, connectionID string, region authz.Region, history bool) (Detail, error) {
	a, err := o.find(ctx, connectionID, region)
	if err != nil {
		return Detail{}, err
	}
	d := Detail{Row: rowOf(a, o.clock.Now()), Reminders: a.Reminders, SecretID: a.SecretID}
	if history {
		evs, err := o.ledger.History(ctx, connectionID, 0)
		if err != nil {
			return Detail{}, err
		}
		for _, e := range evs {
			d.History = append(d.History, HistoryLine{At: e.At, Region: e.Region, Kind: e.Kind, Detail: e.Detail})
		}
	}
	return d, nil
}

// OnboardRequest names a seller the vendor wants to connect.
type OnboardRequest struct {
	ConnectionID string
	Region       authz.Region
	Email        string
	Marketplace  string // country code; default the region's main marketplace
	Vendor       bool   // a Vendor Central account
}

// Onboard creates a pending authorization and returns it with its first
// authorization link, to send to the seller.
func (o *Operator) Onboard(ctx context.Context, r OnboardRequest) (Row, string, error) {
	if err := authz.ValidateConnectionID(r.ConnectionID); err != nil {
		return Row{}, "", fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if r.Region == "" {
		return Row{}, "", fmt.Errorf("%w: --region is required (na, eu or fe)", ErrInvalid)
	}
	if _, err := authz.ParseRegion(string(r.Region)); err != nil {
		return Row{}, "", fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	addr, err := mail.ParseAddress(r.Email)
	if r.Email == "" || err != nil || addr.Address != strings.TrimSpace(r.Email) {
		return Row{}, "", fmt.Errorf("%w: --email %q is not an email address (want name@example.com)", ErrInvalid, r.Email)
	}
	market := strings.ToUpper(r.Marketplace)
	if market != "" {
		if err := consent.ValidMarketplace(market, r.Region); err != nil {
			return Row{}, "", fmt.Errorf("%w: --marketplace: %v", ErrInvalid, err)
		}
	}
	if err := o.linkReady(); err != nil {
		return Row{}, "", err
	}
	kind := authz.AccountSeller
	if r.Vendor {
		kind = authz.AccountVendor
	}
	now := o.clock.Now().UTC()
	a := authz.Authorization{ConnectionID: r.ConnectionID, Region: r.Region, AccountType: kind, Marketplace: market,
		ContactEmail: addr.Address, Locale: "en-US", Status: authz.StatusPending,
		RefreshSlot: authz.SlotFor(r.ConnectionID, r.Region, o.cfg.Slots)}
	created, err := o.ledger.Create(ctx, a, authz.Event{ConnectionID: a.ConnectionID, Region: a.Region, At: now,
		Kind: authz.EventCreated, Detail: "onboarded by an operator"})
	if errors.Is(err, authz.ErrAlreadyExists) {
		return Row{}, "", fmt.Errorf("%w: %s/%s already exists; use `link %s` for a fresh link", ErrInvalid, r.ConnectionID, r.Region, r.ConnectionID)
	}
	if err != nil {
		return Row{}, "", err
	}
	link, err := o.sign(ctx, created)
	if err != nil {
		return Row{}, "", err
	}
	return rowOf(created, now), link, nil
}

// Link returns a fresh renewal link for an authorization.
func (o *Operator) Link(ctx context.Context, connectionID string, region authz.Region) (Row, string, error) {
	if err := o.linkReady(); err != nil {
		return Row{}, "", err
	}
	a, err := o.find(ctx, connectionID, region)
	if err != nil {
		return Row{}, "", err
	}
	link, err := o.sign(ctx, a)
	if err != nil {
		return Row{}, "", err
	}
	return rowOf(a, o.clock.Now()), link, nil
}

func (o *Operator) linkReady() error {
	u, err := url.Parse(o.cfg.BaseURL)
	if o.cfg.BaseURL == "" || err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("%w: --base-url (the stack's BaseUrl output, where /authorize is served) is required for links", ErrNotConfigured)
	}
	return nil
}

// sign makes the link the reminders carry: {baseUrl}/authorize?t={signed token},
// signed with the stack's state-key secret.
func (o *Operator) sign(ctx context.Context, a authz.Authorization) (string, error) {
	key, err := o.secrets.StateKey(ctx)
	if err != nil {
		return "", fmt.Errorf("read the state key: %w", err)
	}
	signer, err := consent.NewSigner(key)
	if err != nil {
		return "", err
	}
	token := signer.SignLink(consent.Link{ConnectionID: a.ConnectionID, Region: a.Region, Expires: o.clock.Now().Add(o.cfg.LinkTTL), Generation: a.LinkGeneration})
	return strings.TrimRight(o.cfg.BaseURL, "/") + "/authorize?t=" + url.QueryEscape(token), nil
}

// Refresh proves an authorization alive now through the token refresh function, with
// its direct-invocation payload, and returns the function's outcome (JSON).
func (o *Operator) Refresh(ctx context.Context, connectionID string, region authz.Region) (json.RawMessage, error) {
	if o.cfg.RefreshFunction == "" || o.invoker == nil {
		return nil, fmt.Errorf("%w: --refresh-function (the deployed TokenRefreshFunction's name) is required", ErrNotConfigured)
	}
	a, err := o.find(ctx, connectionID, region)
	if err != nil {
		return nil, err
	}
	payload, _ := json.Marshal(map[string]string{"connectionId": a.ConnectionID, "region": string(a.Region)})
	out, err := o.invoker.Invoke(ctx, o.cfg.RefreshFunction, payload)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrRefreshFailed, err)
	}
	return out, nil
}

// Forgotten is what forget removed.
type Forgotten struct {
	ConnectionID  string       `json:"connectionId"`
	Region        authz.Region `json:"region"`
	RecordDeleted bool         `json:"recordDeleted"`
	SecretDeleted bool         `json:"secretDeleted"`
	// BindingsReleased counts the bindings left over from a forget that stopped half
	// way that still named the connection, deleted now so their sellers can connect
	// as another connection. (A record deleted now takes its binding with it.)
	BindingsReleased int `json:"bindingsReleased,omitempty"`
}

// Forget deletes an authorization: the record (at the version just read, so a
// renewal landing meanwhile is not lost silently) and, in the same transaction, the
// binding that ties its seller to it in that region; then the refresh token's secret
// at once (no recovery window); and writes a history event that names neither the
// seller nor the contact. Run again, it finishes a forget that stopped half way,
// including a binding left behind that still names the connection.
func (o *Operator) Forget(ctx context.Context, connectionID string, region authz.Region) (Forgotten, error) {
	a, err := o.find(ctx, connectionID, region)
	switch {
	case errors.Is(err, ErrUnknownConnection) && region != "":
		// The record is gone; a secret or a binding may remain from a forget that
		// stopped half way.
		a = authz.Authorization{ConnectionID: connectionID, Region: region}
	case err != nil:
		return Forgotten{}, err
	}
	out := Forgotten{ConnectionID: a.ConnectionID, Region: a.Region}
	sellers, err := o.sellersOf(ctx, a)
	if err != nil {
		return out, err
	}
	if a.Version > 0 {
		if err := o.ledger.Delete(ctx, a.ConnectionID, a.Region, a.Version, sellers...); err != nil {
			if errors.Is(err, authz.ErrVersionConflict) {
				return out, fmt.Errorf("%s/%s changed while it was being forgotten (a renewal or a refresh); run forget again: %w", a.ConnectionID, a.Region, err)
			}
			return out, err
		}
		out.RecordDeleted = true
	} else {
		n, err := o.ledger.ReleaseBindings(ctx, a.ConnectionID, a.Region, sellers...)
		if err != nil {
			return out, fmt.Errorf("the seller's binding to %s/%s was not released; run forget again: %w", a.ConnectionID, a.Region, err)
		}
		out.BindingsReleased = n
	}
	if err := o.secrets.Delete(ctx, a.ConnectionID, a.Region); err != nil {
		return out, fmt.Errorf("record deleted, but the refresh token's secret was not; run `forget %s --region %s` again: %w", a.ConnectionID, a.Region, err)
	}
	out.SecretDeleted = true
	if out.RecordDeleted {
		ev := authz.Event{ConnectionID: a.ConnectionID, Region: a.Region, At: o.clock.Now().UTC(), Kind: authz.EventForgotten,
			Detail: "authorization and refresh token deleted by an operator"}
		if err := o.ledger.AddEvent(ctx, ev); err != nil {
			return out, fmt.Errorf("forgotten, but the history event was not written: %w", err)
		}
	}
	return out, nil
}

// sellersOf names every selling partner a may be bound to in its region: the record's
// own, and those its history names there (a record cleared since, or gone).
func (o *Operator) sellersOf(ctx context.Context, a authz.Authorization) ([]string, error) {
	sellers := []string{a.SellingPartnerID}
	hist, err := o.ledger.History(ctx, a.ConnectionID, 0)
	if err != nil {
		return nil, fmt.Errorf("read the history of %s for its sellers: %w", a.ConnectionID, err)
	}
	for _, e := range hist {
		if e.Region == a.Region && e.SellingPartnerID != "" && !slices.Contains(sellers, e.SellingPartnerID) {
			sellers = append(sellers, e.SellingPartnerID)
		}
	}
	return sellers, nil
}
