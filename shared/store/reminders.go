package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	smithy "github.com/aws/smithy-go"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/tablekeys"
)

// Reminder stages are claimed, marked and released with conditional updates on the
// one remindersSent entry they concern, so that a stage is sent at most once however
// many senders and duplicate deliveries race for it. Every such write also increments
// version: a writer holding an older copy of the record (the callback, a refresh, the
// scan) then fails its version check and re-reads, instead of putting back a record
// without the claim.
// The claim's answers and the claim itself are the domain's (authz), for the
// reminder sender, which imports no adapter.
var (
	ErrReminderDone    = authz.ErrReminderDone
	ErrReminderClaimed = authz.ErrReminderClaimed
	ErrReminderStale   = authz.ErrReminderStale
	ErrClaimLost       = authz.ErrClaimLost
)

// ReminderClaim names one claim on one stage of one authorization.
type ReminderClaim = authz.ReminderClaim

const (
	attrReminders = "remindersSent"
	attrExpiresAt = "expiresAt"
)

// Expression attribute names shared by the reminder writes.
var reminderNames = map[string]string{
	"#pk": attrPK, "#v": attrVersion, "#exp": attrExpiresAt, "#rs": attrReminders,
	"#claimed": "claimedAt", "#sent": "sentAt", "#mid": "messageId", "#err": "error",
}

// names returns the attribute names the expressions use: DynamoDB refuses a request
// that declares a name none of its expressions mentions.
func claimNames(c ReminderClaim, exprs ...string) map[string]string {
	all := strings.Join(exprs, " ")
	n := map[string]string{"#k": c.Key}
	for k, v := range reminderNames {
		if usesName(all, k) {
			n[k] = v
		}
	}
	return n
}

// usesName reports whether exprs mention the placeholder name exactly (#v, not #val):
// name followed by anything but another lower-case letter.
func usesName(exprs, name string) bool {
	for i := 0; ; {
		j := strings.Index(exprs[i:], name)
		if j < 0 {
			return false
		}
		end := i + j + len(name)
		if end == len(exprs) || exprs[end] < 'a' || exprs[end] > 'z' {
			return true
		}
		i = end
	}
}

func validClaim(c ReminderClaim) error {
	if err := validKey(c.ConnectionID, c.Region); err != nil {
		return err
	}
	if c.Key == "" || c.ClaimedAt.IsZero() {
		return errors.New("reminder claim needs a stage key and a claim time")
	}
	return nil
}

func str(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }

var one = &types.AttributeValueMemberN{Value: "1"}

// ClaimReminder claims stage c.Key of the authorization for the sender, if the record
// still expires at c.ExpiresAt and the stage was never claimed, or was claimed more
// than staleAfter before c.ClaimedAt and never sent nor rejected (a sender crashed
// between claim and send). It returns the record as claimed. Otherwise:
// authz.ErrNotFound, ErrReminderStale, ErrReminderDone or ErrReminderClaimed.
func (s *Store) ClaimReminder(ctx context.Context, c ReminderClaim, staleAfter time.Duration) (authz.Authorization, error) {
	if err := validClaim(c); err != nil {
		return authz.Authorization{}, fmt.Errorf("claim reminder: %w", err)
	}
	mark, err := attributevalue.MarshalMap(reminderItem{ClaimedAt: formatTime(c.ClaimedAt)})
	if err != nil {
		return authz.Authorization{}, fmt.Errorf("claim reminder: encode: %w", err)
	}
	update := "SET #rs.#k = :mark ADD #v :one"
	// Claim times are stored with a fixed nine-digit fraction, so comparing the strings
	// compares the times.
	cond := "attribute_exists(#pk) AND #exp = :exp AND (attribute_not_exists(#rs.#k) OR " +
		"(attribute_not_exists(#rs.#k.#sent) AND attribute_not_exists(#rs.#k.#err) AND " +
		"(attribute_not_exists(#rs.#k.#claimed) OR #rs.#k.#claimed < :staleBefore)))"
	in := &dynamodb.UpdateItemInput{
		TableName:                aws.String(s.table),
		Key:                      authKey(c.ConnectionID, c.Region),
		UpdateExpression:         aws.String(update),
		ConditionExpression:      aws.String(cond),
		ExpressionAttributeNames: claimNames(c, update, cond),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":mark": &types.AttributeValueMemberM{Value: mark}, ":one": one,
			":exp": str(formatTime(c.ExpiresAt)), ":staleBefore": str(formatTime(c.ClaimedAt.Add(-staleAfter))),
		},
		ReturnValues:                        types.ReturnValueAllNew,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}
	for attempt := 0; ; attempt++ {
		out, err := s.db.UpdateItem(ctx, in)
		if err == nil {
			return decodeAuth(out.Attributes)
		}
		var failed *types.ConditionalCheckFailedException
		if errors.As(err, &failed) {
			return authz.Authorization{}, fmt.Errorf("claim reminder %s of %s/%s: %w", c.Key, c.ConnectionID, c.Region, whyNotClaimed(failed.Item, c))
		}
		if attempt == 0 && missingRemindersMap(err) {
			// A record written before remindersSent was always a map: give it one, then claim.
			if err := s.addRemindersMap(ctx, c); err != nil {
				return authz.Authorization{}, err
			}
			continue
		}
		return authz.Authorization{}, fmt.Errorf("claim reminder %s of %s/%s: %w", c.Key, c.ConnectionID, c.Region, unavailable(err))
	}
}

// whyNotClaimed reads the record that failed the claim's condition.
func whyNotClaimed(old map[string]types.AttributeValue, c ReminderClaim) error {
	if old == nil {
		return authz.ErrNotFound
	}
	a, err := decodeAuth(old)
	if err != nil {
		return err
	}
	if !a.ExpiresAt.Equal(c.ExpiresAt) {
		return fmt.Errorf("%w (job for %s, record expires %s)", ErrReminderStale, formatTime(c.ExpiresAt), formatTime(a.ExpiresAt))
	}
	m := a.Reminders[c.Key]
	if !m.SentAt.IsZero() || m.Error != "" {
		return ErrReminderDone
	}
	return fmt.Errorf("%w at %s", ErrReminderClaimed, formatTime(m.ClaimedAt))
}

// missingRemindersMap recognises DynamoDB's refusal to SET a path inside an attribute
// that does not exist.
func missingRemindersMap(err error) bool {
	var api smithy.APIError
	return errors.As(err, &api) && api.ErrorCode() == "ValidationException" &&
		strings.Contains(api.ErrorMessage(), "document path provided in the update expression is invalid")
}

func (s *Store) addRemindersMap(ctx context.Context, c ReminderClaim) error {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       authKey(c.ConnectionID, c.Region),
		UpdateExpression:          aws.String("SET #rs = :empty ADD #v :one"),
		ConditionExpression:       aws.String("attribute_exists(#pk) AND attribute_not_exists(#rs)"),
		ExpressionAttributeNames:  map[string]string{"#pk": attrPK, "#rs": attrReminders, "#v": attrVersion},
		ExpressionAttributeValues: map[string]types.AttributeValue{":empty": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{}}, ":one": one},
	})
	var failed *types.ConditionalCheckFailedException
	if err != nil && !errors.As(err, &failed) { // failed: gone, or someone added it; the claim retry tells
		return fmt.Errorf("claim reminder %s of %s/%s: add remindersSent: %w", c.Key, c.ConnectionID, c.Region, unavailable(err))
	}
	return nil
}

// MarkReminderSent records that SES accepted the stage's email (its message id) and
// adds a "reminded" history event, in one transaction. ErrClaimLost if the claim is no
// longer c's.
func (s *Store) MarkReminderSent(ctx context.Context, c ReminderClaim, messageID string, sentAt time.Time) error {
	return s.settleClaim(ctx, c, "SET #rs.#k.#sent = :sent, #rs.#k.#mid = :mid ADD #v :one",
		map[string]types.AttributeValue{":sent": str(formatTime(sentAt)), ":mid": str(messageID)},
		authz.Event{ConnectionID: c.ConnectionID, Region: c.Region, At: sentAt, Kind: authz.EventReminded,
			Detail: "reminder " + c.Key + " sent, SES message id " + messageID})
}

// maxRejection bounds the reason stored on the record and in the history.
const maxRejection = 500

// RejectReminder records that SES will never send the stage's email (reason says why:
// a suppressed address, a rejected message) and adds a "reminder_rejected" history
// event, in one transaction, so that the stage is not tried again. ErrClaimLost if the
// claim is no longer c's.
func (s *Store) RejectReminder(ctx context.Context, c ReminderClaim, reason string, at time.Time) error {
	if reason == "" {
		reason = "rejected"
	}
	if len(reason) > maxRejection {
		reason = reason[:maxRejection]
	}
	return s.settleClaim(ctx, c, "SET #rs.#k.#err = :reason ADD #v :one",
		map[string]types.AttributeValue{":reason": str(reason)},
		authz.Event{ConnectionID: c.ConnectionID, Region: c.Region, At: at, Kind: authz.EventReminderRejected,
			Detail: "reminder " + c.Key + " not sent: " + reason})
}

// claimHeld is true while the stage carries this very claim, neither sent nor rejected.
const claimHeld = "#rs.#k.#claimed = :claimed AND attribute_not_exists(#rs.#k.#sent) AND attribute_not_exists(#rs.#k.#err)"

// settleClaim applies update to c's claimed, unsent stage together with event.
func (s *Store) settleClaim(ctx context.Context, c ReminderClaim, update string, values map[string]types.AttributeValue, event authz.Event) error {
	if err := validClaim(c); err != nil {
		return fmt.Errorf("settle reminder claim: %w", err)
	}
	put, err := s.eventPut(event)
	if err != nil {
		return err
	}
	values[":claimed"] = str(formatTime(c.ClaimedAt))
	values[":one"] = one
	_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Update: &types.Update{
			TableName:                 aws.String(s.table),
			Key:                       authKey(c.ConnectionID, c.Region),
			UpdateExpression:          aws.String(update),
			ConditionExpression:       aws.String(claimHeld),
			ExpressionAttributeNames:  claimNames(c, update, claimHeld),
			ExpressionAttributeValues: values,
		}},
		{Put: put},
	}})
	if err != nil {
		return fmt.Errorf("%s reminder %s of %s/%s: %w", event.Kind, c.Key, c.ConnectionID, c.Region, settleError(err))
	}
	return nil
}

func settleError(err error) error {
	var canceled *types.TransactionCanceledException
	if !errors.As(err, &canceled) {
		return unavailable(err)
	}
	for i, r := range canceled.CancellationReasons {
		switch aws.ToString(r.Code) {
		case "ConditionalCheckFailed":
			if i == 0 {
				return ErrClaimLost
			}
			return fmt.Errorf("history event already recorded: %w", authz.ErrAlreadyExists)
		case "TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded", "InternalServerError":
			return fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
	}
	return unavailable(err)
}

// ReleaseReminder gives up c's claim (the send failed and will be retried), so that the
// retry can claim the stage at once rather than after the claim timeout.
// ErrClaimLost if the claim is no longer c's.
func (s *Store) ReleaseReminder(ctx context.Context, c ReminderClaim) error {
	if err := validClaim(c); err != nil {
		return fmt.Errorf("release reminder claim: %w", err)
	}
	const release = "REMOVE #rs.#k ADD #v :one"
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       authKey(c.ConnectionID, c.Region),
		UpdateExpression:          aws.String(release),
		ConditionExpression:       aws.String(claimHeld),
		ExpressionAttributeNames:  claimNames(c, release, claimHeld),
		ExpressionAttributeValues: map[string]types.AttributeValue{":claimed": str(formatTime(c.ClaimedAt)), ":one": one},
	})
	var failed *types.ConditionalCheckFailedException
	switch {
	case errors.As(err, &failed):
		err = ErrClaimLost
	case err != nil:
		err = unavailable(err)
	}
	if err != nil {
		return fmt.Errorf("release reminder %s of %s/%s: %w", c.Key, c.ConnectionID, c.Region, err)
	}
	return nil
}

// The expiry scan's cursor: one item outside the authorization key space (no
// expiryDay, refreshSlot or sellingPartnerId, so no index holds it).
const (
	cursorPK = tablekeys.ExpiryScanPK
	cursorSK = tablekeys.ExpiryScanSK
)

// ScanCursor is where the daily expiry scan stands: the last day it completed.
type ScanCursor struct {
	LastDay string    // YYYY-MM-DD (UTC); "" before the first run
	At      time.Time // when that run finished
}

type cursorItem struct {
	PK      string `dynamodbav:"pk"`
	SK      string `dynamodbav:"sk"`
	LastDay string `dynamodbav:"lastDay"`
	At      string `dynamodbav:"at"`
}

func cursorKey() map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrPK: str(cursorPK), attrSK: str(cursorSK)}
}

// ScanCursor reads the expiry scan's cursor; before the first run it is the zero value.
func (s *Store) ScanCursor(ctx context.Context) (ScanCursor, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.table), Key: cursorKey(), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return ScanCursor{}, fmt.Errorf("read expiry scan cursor: %w", unavailable(err))
	}
	if out.Item == nil {
		return ScanCursor{}, nil
	}
	var it cursorItem
	if err := attributevalue.UnmarshalMap(out.Item, &it); err != nil {
		return ScanCursor{}, fmt.Errorf("decode expiry scan cursor: %w", err)
	}
	at, err := parseTime("at", it.At)
	if err != nil {
		return ScanCursor{}, fmt.Errorf("decode expiry scan cursor: %w", err)
	}
	return ScanCursor{LastDay: it.LastDay, At: at}, nil
}

// SaveScanCursor records a completed run. The cursor never moves back: a late or
// repeated run of an earlier day leaves a later day in place.
func (s *Store) SaveScanCursor(ctx context.Context, c ScanCursor) error {
	if _, err := time.Parse(authz.DayLayout, c.LastDay); err != nil {
		return fmt.Errorf("save expiry scan cursor: day %q: %w", c.LastDay, err)
	}
	av, err := attributevalue.MarshalMap(cursorItem{PK: cursorPK, SK: cursorSK, LastDay: c.LastDay, At: formatTime(c.At)})
	if err != nil {
		return fmt.Errorf("save expiry scan cursor: encode: %w", err)
	}
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                 aws.String(s.table),
		Item:                      av,
		ConditionExpression:       aws.String("attribute_not_exists(#pk) OR #day <= :day"),
		ExpressionAttributeNames:  map[string]string{"#pk": attrPK, "#day": "lastDay"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":day": str(c.LastDay)},
	})
	var failed *types.ConditionalCheckFailedException
	if errors.As(err, &failed) {
		return nil // a later day is already recorded
	}
	if err != nil {
		return fmt.Errorf("save expiry scan cursor: %w", unavailable(err))
	}
	return nil
}
