package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
)

// Delivery events (SES's event publishing) land on the reminder entry whose message
// id they carry. The event names the entry through the tags the sender put on the
// message, which anyone able to publish to the event source could forge: the entry is
// only written while its stored messageId is the event's.
var (
	// ErrUnknownMessage: no reminder entry holds this message id (not our message, a
	// forged event, or an entry wiped by a renewal since).
	ErrUnknownMessage = errors.New("no reminder entry holds this SES message id")
	// ErrNotRecordedYet: the entry is claimed but the sender has not stored the
	// message id yet (SES's event outran the sender's write); retry shortly.
	ErrNotRecordedYet = errors.New("reminder entry has no message id yet")
)

// DeliveryKind is the kind of an SES event as it is recorded.
type DeliveryKind string

const (
	DeliveryAccepted   DeliveryKind = "accepted"    // Send
	DeliveryDelivered  DeliveryKind = "delivered"   // Delivery
	DeliveryBounced    DeliveryKind = "bounced"     // Bounce, Permanent
	DeliverySoftBounce DeliveryKind = "soft_bounce" // Bounce, Transient or Undetermined
	DeliveryComplained DeliveryKind = "complained"  // Complaint
	DeliveryDelayed    DeliveryKind = "delayed"     // DeliveryDelay
	DeliveryFailed     DeliveryKind = "failed"      // Reject, Rendering Failure
)

// deliveryField is the entry attribute each kind sets, and the funnel counter it adds.
var deliveryField = map[DeliveryKind]struct{ attr, counter string }{
	DeliveryAccepted:   {attrAcceptedAt, FunnelSent},
	DeliveryDelivered:  {attrDeliveredAt, FunnelDelivered},
	DeliveryBounced:    {attrBouncedAt, FunnelBounced},
	DeliverySoftBounce: {attrSoftBounceAt, ""},
	DeliveryComplained: {attrComplainedAt, FunnelComplaint},
	DeliveryDelayed:    {attrDelayedAt, ""},
	DeliveryFailed:     {attrFailedAt, ""},
}

// DeliveryEvent is one SES event about one reminder entry.
type DeliveryEvent struct {
	ConnectionID string
	Region       authz.Region
	Stage        string // the entry's key in remindersSent
	MessageID    string // SES's message id: must be the entry's
	Kind         DeliveryKind
	At           time.Time
	Detail       string   // bounce or complaint type, diagnostic; no address
	Recipients   []string // the addresses a bounce or complaint names
}

// DeliveryResult says what RecordDelivery did.
type DeliveryResult struct {
	Recorded  bool                // false: a duplicate of an event already recorded
	Contact   authz.ContactStatus // set when the record's contact was flagged by this event
	Record    authz.Authorization // the record as read before the write
	Stage     string
	Duplicate bool
}

// maxDetail bounds the diagnostic stored on an entry.
const maxDetail = 300

// RecordDelivery records e on its reminder entry, once: the entry's time for e.Kind is
// set only if it is not set yet, so SES's redeliveries change nothing and count
// nothing. A permanent bounce or a complaint for the record's current contact address
// also flags the contact (bouncing, complained) and writes a history event, in the
// same transaction, with the day's funnel counter.
func (s *Store) RecordDelivery(ctx context.Context, e DeliveryEvent) (DeliveryResult, error) {
	f, ok := deliveryField[e.Kind]
	if !ok {
		return DeliveryResult{}, fmt.Errorf("record delivery: unknown kind %q", e.Kind)
	}
	if err := validKey(e.ConnectionID, e.Region); err != nil {
		return DeliveryResult{}, fmt.Errorf("record delivery: %w", err)
	}
	if e.Stage == "" || e.MessageID == "" || e.At.IsZero() {
		return DeliveryResult{}, errors.New("record delivery: stage, message id and time are required")
	}
	if len(e.Detail) > maxDetail {
		e.Detail = e.Detail[:maxDetail]
	}
	for attempt := 0; ; attempt++ {
		a, err := s.Get(ctx, e.ConnectionID, e.Region)
		if errors.Is(err, authz.ErrNotFound) {
			return DeliveryResult{}, fmt.Errorf("record delivery %s of %s/%s: %w", e.MessageID, e.ConnectionID, e.Region, ErrUnknownMessage)
		}
		if err != nil {
			return DeliveryResult{}, err
		}
		res := DeliveryResult{Record: a, Stage: e.Stage}
		m, ok := a.Reminders[e.Stage]
		switch {
		case !ok || (m.MessageID != "" && m.MessageID != e.MessageID):
			return res, fmt.Errorf("record delivery %s on %s/%s stage %s: %w", e.MessageID, e.ConnectionID, e.Region, e.Stage, ErrUnknownMessage)
		case m.MessageID == "" && m.Error == "":
			return res, fmt.Errorf("record delivery %s on %s/%s stage %s: %w", e.MessageID, e.ConnectionID, e.Region, e.Stage, ErrNotRecordedYet)
		case m.MessageID == "":
			return res, fmt.Errorf("record delivery %s on %s/%s stage %s (rejected before sending): %w", e.MessageID, e.ConnectionID, e.Region, e.Stage, ErrUnknownMessage)
		}
		flag := contactFlag(a, e)
		err = s.writeDelivery(ctx, a, e, f.attr, f.counter, flag)
		if err == nil {
			res.Recorded, res.Contact = true, flag
			return res, nil
		}
		if !errors.Is(err, ErrClaimLost) {
			return res, err
		}
		// The condition failed: the time is already set (a duplicate), or the record
		// moved under us (the contact changed, a renewal wiped the entry): read again.
		fresh, gerr := s.Get(ctx, e.ConnectionID, e.Region)
		if gerr == nil {
			if fm, ok := fresh.Reminders[e.Stage]; ok && fm.MessageID == e.MessageID && deliveryTime(fm.Delivery, e.Kind) {
				res.Record, res.Duplicate = fresh, true
				return res, nil
			}
		}
		if attempt >= 2 {
			return res, fmt.Errorf("record delivery %s on %s/%s: the record kept changing: %w", e.MessageID, e.ConnectionID, e.Region, ErrUnavailable)
		}
	}
}

// contactFlag is the contact status e puts on a, or "" for none: only a permanent
// bounce or a complaint, only for the record's current address (a late bounce for an
// address the vendor has replaced since says nothing about the new one), and only
// if it changes something (a complaint outranks a bounce).
func contactFlag(a authz.Authorization, e DeliveryEvent) authz.ContactStatus {
	var want authz.ContactStatus
	switch e.Kind {
	case DeliveryBounced:
		want = authz.ContactBouncing
	case DeliveryComplained:
		want = authz.ContactComplained
	default:
		return ""
	}
	if a.ContactEmail == "" || a.ContactStatus == want || (want == authz.ContactBouncing && a.ContactStatus == authz.ContactComplained) {
		return ""
	}
	for _, r := range e.Recipients {
		if strings.EqualFold(strings.TrimSpace(r), a.ContactEmail) {
			return want
		}
	}
	return ""
}

func deliveryTime(d authz.Delivery, k DeliveryKind) bool {
	switch k {
	case DeliveryAccepted:
		return !d.AcceptedAt.IsZero()
	case DeliveryDelivered:
		return !d.DeliveredAt.IsZero()
	case DeliveryBounced:
		return !d.BouncedAt.IsZero()
	case DeliverySoftBounce:
		return !d.SoftBounceAt.IsZero()
	case DeliveryComplained:
		return !d.ComplainedAt.IsZero()
	case DeliveryDelayed:
		return !d.DelayedAt.IsZero()
	case DeliveryFailed:
		return !d.FailedAt.IsZero()
	}
	return false
}

func (s *Store) writeDelivery(ctx context.Context, a authz.Authorization, e DeliveryEvent, attr, counter string, flag authz.ContactStatus) error {
	names := map[string]string{"#rs": attrReminders, "#k": e.Stage, "#f": attr, "#mid": "messageId", "#v": attrVersion}
	values := map[string]types.AttributeValue{":at": str(formatTime(e.At)), ":mid": str(e.MessageID), ":one": one}
	set := []string{"#rs.#k.#f = :at"}
	cond := "#rs.#k.#mid = :mid AND attribute_not_exists(#rs.#k.#f)"
	if e.Detail != "" && (e.Kind == DeliveryBounced || e.Kind == DeliverySoftBounce || e.Kind == DeliveryComplained || e.Kind == DeliveryFailed) {
		names["#d"] = attrDetail
		values[":detail"] = str(e.Detail)
		set = append(set, "#rs.#k.#d = :detail")
	}
	items := []types.TransactWriteItem{}
	if flag != "" {
		names["#cs"], names["#ce"] = "contactStatus", "contactEmail"
		values[":cs"], values[":ce"] = str(string(flag)), str(a.ContactEmail)
		set = append(set, "#cs = :cs")
		cond += " AND #ce = :ce"
		kind := authz.EventReminderBounced
		if flag == authz.ContactComplained {
			kind = authz.EventReminderComplained
		}
		detail := "reminder " + e.Stage + " (SES message id " + e.MessageID + ") " + string(e.Kind)
		if e.Detail != "" {
			detail += ": " + e.Detail
		}
		detail += "; contact is now " + string(flag) + ", no more email to it until it is set again"
		put, err := s.eventPut(authz.Event{ConnectionID: a.ConnectionID, Region: a.Region, At: e.At, Kind: kind, Detail: detail})
		if err != nil {
			return err
		}
		items = append(items, types.TransactWriteItem{Put: put})
	}
	update := "SET " + strings.Join(set, ", ") + " ADD #v :one"
	items = append([]types.TransactWriteItem{{Update: &types.Update{
		TableName:                 aws.String(s.table),
		Key:                       authKey(a.ConnectionID, a.Region),
		UpdateExpression:          aws.String(update),
		ConditionExpression:       aws.String(cond),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
	}}}, items...)
	if counter != "" {
		counters := []string{FunnelCounter(counter, e.Stage)}
		if flag != "" {
			counters = append(counters, FunnelCounter("contact_"+string(flag), ""))
		}
		items = append(items, types.TransactWriteItem{Update: s.funnelUpdate(e.At.UTC().Format(authz.DayLayout), counters...)})
	}
	_, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	if err != nil {
		return fmt.Errorf("record %s of %s on %s/%s: %w", e.Kind, e.MessageID, e.ConnectionID, e.Region, settleError(err))
	}
	return nil
}

// SetContact sets the contact address of an authorization (and, when name is not
// empty, its display name) and clears a bouncing or complained flag: the vendor has
// checked the address, so the next due stage is sent to it. A history event records
// the change without the address.
func (s *Store) SetContact(ctx context.Context, connectionID string, region authz.Region, email string, at time.Time) (authz.Authorization, error) {
	if err := validKey(connectionID, region); err != nil {
		return authz.Authorization{}, fmt.Errorf("set contact: %w", err)
	}
	for attempt := 0; ; attempt++ {
		a, err := s.Get(ctx, connectionID, region)
		if err != nil {
			return authz.Authorization{}, fmt.Errorf("set contact: %w", err)
		}
		was := a.ContactStatus
		a.ContactEmail = email
		a.ContactStatus = ""
		detail := "contact address set"
		if !was.Reachable() {
			detail += "; " + string(was) + " flag cleared"
		}
		stored, err := s.Update(ctx, a, authz.Event{ConnectionID: connectionID, Region: region, At: at, Kind: authz.EventContactChanged, Detail: detail})
		if errors.Is(err, authz.ErrVersionConflict) && attempt < 3 {
			continue
		}
		return stored, err
	}
}

// RecordAppNotification records on c's stage what became of its app notification in
// Seller Central: Amazon's id, or the error. The stage must still carry claim c.
func (s *Store) RecordAppNotification(ctx context.Context, c ReminderClaim, id, errText string) error {
	if err := validClaim(c); err != nil {
		return fmt.Errorf("record app notification: %w", err)
	}
	if len(errText) > maxDetail {
		errText = errText[:maxDetail]
	}
	attr, val := "appNotificationId", id
	if id == "" {
		attr, val = "appNotificationError", errText
	}
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       authKey(c.ConnectionID, c.Region),
		UpdateExpression:          aws.String("SET #rs.#k.#a = :v ADD #v :one"),
		ConditionExpression:       aws.String("#rs.#k.#claimed = :claimed"),
		ExpressionAttributeNames:  map[string]string{"#rs": attrReminders, "#k": c.Key, "#a": attr, "#v": attrVersion, "#claimed": "claimedAt"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":v": str(val), ":one": one, ":claimed": str(formatTime(c.ClaimedAt))},
	})
	var failed *types.ConditionalCheckFailedException
	if errors.As(err, &failed) {
		return fmt.Errorf("record app notification of %s/%s %s: %w", c.ConnectionID, c.Region, c.Key, ErrClaimLost)
	}
	if err != nil {
		return fmt.Errorf("record app notification of %s/%s %s: %w", c.ConnectionID, c.Region, c.Key, unavailable(err))
	}
	return nil
}
