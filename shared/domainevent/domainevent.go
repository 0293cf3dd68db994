// Package domainevent turns the ledger's history items into the keeper's domain
// events: the detail-types, the versioned detail every consumer sees on EventBridge and
// in webhooks, and the stable event id. A history item is written in the same
// transaction as the state change it records, so the events are exactly the changes
// that happened (a transactional outbox with no second write). It knows nothing of
// EventBridge or SQS.
package domainevent

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
)

// Version is the version of Detail; it changes only with an incompatible change.
const Version = 1

// DefaultSource is the EventBridge source of every event (EVENT_SOURCE overrides it).
const DefaultSource = "spapi-keeper"

// The detail-types. "Authorization Created" covers every way an authorization enters
// the ledger (created pending, first authorized, imported); StatusAfter tells which.
const (
	TypeCreated                    = "Authorization Created"
	TypeRenewed                    = "Authorization Renewed"
	TypeExpiring                   = "Authorization Expiring"
	TypeExpired                    = "Authorization Expired"
	TypeRevoked                    = "Authorization Revoked"
	TypeRestored                   = "Authorization Restored"
	TypeRefreshFailed              = "Authorization Refresh Failed"
	TypeAccountMismatch            = "Authorization Account Mismatch"
	TypeForgotten                  = "Authorization Forgotten"
	TypeReminderSent               = "Reminder Sent"
	TypeReminderRejected           = "Reminder Rejected"
	TypeReminderBounced            = "Reminder Bounced"
	TypeReminderComplained         = "Reminder Complained"
	TypeContactChanged             = "Contact Changed" // the vendor set the contact address; a bounce flag is cleared
	TypeClientSecretRotated        = "Client Secret Rotated"
	TypeClientSecretRotationFailed = "Client Secret Rotation Failed"
	// TypeTest is what `keeperctl webhooks test` sends; it never comes from history.
	TypeTest = "Webhook Test"
)

// kindTypes maps each history kind to its detail-type. Kinds of later waves
// (reminder_complained, client secret rotation) are named here already, so that the
// publisher needs no change when they start being written.
var kindTypes = map[authz.EventKind]string{
	authz.EventCreated:              TypeCreated,
	authz.EventAuthorized:           TypeCreated,
	authz.EventImported:             TypeCreated,
	authz.EventRenewed:              TypeRenewed,
	authz.EventExpiring:             TypeExpiring,
	authz.EventExpired:              TypeExpired,
	authz.EventRevoked:              TypeRevoked,
	authz.EventRestored:             TypeRestored,
	authz.EventRefreshFailed:        TypeRefreshFailed,
	authz.EventAccountMismatch:      TypeAccountMismatch,
	authz.EventMismatchedSeller:     TypeAccountMismatch,
	authz.EventSellerConflict:       TypeAccountMismatch, // a seller bound to another connection tried this one
	authz.EventAccountUnverified:    TypeAccountMismatch, // a renewal refused for want of evidence of its account
	authz.EventForgotten:            TypeForgotten,
	authz.EventReminded:             TypeReminderSent,
	authz.EventReminderRejected:     TypeReminderRejected,
	authz.EventReminderBounced:      TypeReminderBounced,
	"reminder_complained":           TypeReminderComplained,
	authz.EventContactChanged:       TypeContactChanged,
	"client_secret_rotated":         TypeClientSecretRotated,
	"client_secret_rotation_failed": TypeClientSecretRotationFailed,
}

// internalKinds are history kinds that record the keeper's own bookkeeping, not a
// change the vendor's systems act on: a token parked until the vault takes it (its
// renewal is published when it lands), an operator moving a seller's binding (the
// records' own events follow). They are not published, and not counted as unknown.
var internalKinds = map[authz.EventKind]bool{
	authz.EventTokenParked: true,
	authz.EventSellerMoved: true,
}

// ErrInternalKind is a history kind that is deliberately not a domain event.
var ErrInternalKind = errors.New("history kind is internal bookkeeping, not a domain event")

// ErrUnknownKind is a history kind with no detail-type: the publisher skips it with
// the metric DomainEventSkipped (Reason=unknown_kind) instead of inventing a generic
// type, because a detail-type is a contract consumers' rules match on.
var ErrUnknownKind = errors.New("history kind has no domain event type")

// TypeOf returns the detail-type of a history kind.
func TypeOf(kind authz.EventKind) (string, error) {
	t, ok := kindTypes[kind]
	if !ok && internalKinds[kind] {
		return "", fmt.Errorf("%w: %q", ErrInternalKind, kind)
	}
	if !ok {
		return "", fmt.Errorf("%w: %q", ErrUnknownKind, kind)
	}
	return t, nil
}

// Types lists every detail-type, sorted (schemas, docs).
func Types() []string {
	seen := map[string]bool{TypeTest: true}
	for _, t := range kindTypes {
		seen[t] = true
	}
	out := make([]string, 0, len(seen))
	for t := range seen {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// Detail is the detail of every domain event. It never holds a token, an email
// address or an email body: only ids, statuses and times.
type Detail struct {
	Version          int    `json:"version"`
	EventID          string `json:"eventId"`
	Kind             string `json:"kind"` // the history kind it comes from
	ConnectionID     string `json:"connectionId"`
	Region           string `json:"region,omitempty"`
	SellingPartnerID string `json:"sellingPartnerId,omitempty"`
	StatusBefore     string `json:"statusBefore,omitempty"`
	StatusAfter      string `json:"statusAfter,omitempty"`
	ExpiresAt        string `json:"expiresAt,omitempty"` // RFC 3339, UTC
	OccurredAt       string `json:"occurredAt"`          // RFC 3339, UTC
}

// Event is one domain event.
type Event struct {
	DetailType string
	Time       time.Time
	Detail     Detail
}

// ID is the event's stable id.
func (e Event) ID() string { return e.Detail.EventID }

// EventID derives the id of the event of the history item at (pk, sk): the same item
// always gives the same id, so a duplicate delivery (a retried stream batch, a replay)
// can be recognised by consumers. It reveals nothing but that.
func EventID(pk, sk string) string {
	sum := sha256.Sum256([]byte(pk + "\x00" + sk))
	return "evt_" + hex.EncodeToString(sum[:16])
}

// FromHistory is the domain event of a history event stored under (pk, sk).
func FromHistory(pk, sk string, h authz.Event) (Event, error) {
	t, err := TypeOf(h.Kind)
	if err != nil {
		return Event{}, err
	}
	d := Detail{
		Version:          Version,
		EventID:          EventID(pk, sk),
		Kind:             string(h.Kind),
		ConnectionID:     h.ConnectionID,
		Region:           string(h.Region),
		SellingPartnerID: h.SellingPartnerID,
		StatusBefore:     string(h.StatusBefore),
		StatusAfter:      string(h.StatusAfter),
		OccurredAt:       h.At.UTC().Format(time.RFC3339Nano),
	}
	if !h.ExpiresAt.IsZero() {
		d.ExpiresAt = h.ExpiresAt.UTC().Format(time.RFC3339)
	}
	return Event{DetailType: t, Time: h.At.UTC(), Detail: d}, nil
}

// DetailJSON is the detail as EventBridge carries it.
func (e Event) DetailJSON() string {
	b, err := json.Marshal(e.Detail)
	if err != nil {
		panic(err) // strings and ints only
	}
	return string(b)
}

// WebhookPayload is the body of a webhook, in the shape Standard Webhooks recommends
// (type, timestamp, data); data is the same detail EventBridge carries.
type WebhookPayload struct {
	Type       string `json:"type"`       // e.g. "authorization.renewed"
	DetailType string `json:"detailType"` // e.g. "Authorization Renewed"
	Timestamp  string `json:"timestamp"`
	Data       Detail `json:"data"`
}

// WebhookBody is the JSON body of the event's webhook.
func (e Event) WebhookBody() []byte {
	b, err := json.Marshal(WebhookPayload{Type: WebhookType(e.DetailType), DetailType: e.DetailType,
		Timestamp: e.Time.UTC().Format(time.RFC3339Nano), Data: e.Detail})
	if err != nil {
		panic(err)
	}
	return b
}

// WebhookType turns "Authorization Renewed" into "authorization.renewed".
func WebhookType(detailType string) string {
	out := make([]byte, 0, len(detailType))
	first := true
	for i := 0; i < len(detailType); i++ {
		c := detailType[i]
		switch {
		case c == ' ':
			if first {
				out = append(out, '.')
				first = false
			} else {
				out = append(out, '_')
			}
		case c >= 'A' && c <= 'Z':
			out = append(out, c+'a'-'A')
		default:
			out = append(out, c)
		}
	}
	return string(out)
}
