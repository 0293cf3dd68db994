package store

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/tablekeys"
)

// The renewal funnel is kept as per-day counters, one meta item per UTC day
// (pk=META#funnel#{day}, sk=COUNTS), so that a report over any period reads one item
// per day and never the ledger. Each day has a partition of its own: the counters of
// one busy day never share a partition's write throughput with the days before it.
// Counter names are "{step}:{stage}" ("sent:-30", "opened:+7") and a few totals
// ("renewedBeforeExpiry", "contactBounced").
const (
	funnelPrefix = tablekeys.FunnelPrefix
	funnelSK     = tablekeys.FunnelSK
)

// Funnel steps, per reminder stage.
const (
	FunnelSent      = "sent"      // SES accepted the reminder (its Send event)
	FunnelDelivered = "delivered" // the recipient's server took it (Delivery)
	FunnelBounced   = "bounced"   // a permanent bounce
	FunnelComplaint = "complained"
	FunnelOpened    = "opened"  // the seller opened the renewal link
	FunnelRenewed   = "renewed" // the authorization was renewed after this stage
	// Totals without a stage.
	FunnelRenewedBeforeExpiry = "renewedBeforeExpiry"
	FunnelRenewedAfterExpiry  = "renewedAfterExpiry"
	// FunnelNoStage is the stage of a renewal or an opened link with no reminder
	// before it (the seller renewed from Seller Central, or from a link the vendor
	// handed out).
	FunnelNoStage = "none"
)

// FunnelCounter names one counter: step and stage, or a total when stage is "".
// Reconnect stages ("reconnect@{revokedAt}") count as one stage, "reconnect".
func FunnelCounter(step, stage string) string {
	if stage == "" {
		return step
	}
	return step + ":" + FunnelStage(stage)
}

// FunnelStage is the stage a reminder key counts under: reconnect stages together.
func FunnelStage(key string) string {
	if strings.HasPrefix(key, "reconnect@") {
		return "reconnect"
	}
	return key
}

func funnelKey(day string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrPK: str(tablekeys.FunnelPK(day)), attrSK: str(funnelSK)}
}

// funnelUpdate adds one to each counter of day (a counter named twice gets two); for
// a transaction or on its own. DynamoDB refuses an expression that names one path
// twice, so repeats are summed first.
func (s *Store) funnelUpdate(day string, counters ...string) *types.Update {
	sums := map[string]int{}
	var order []string
	for _, c := range counters {
		if sums[c] == 0 {
			order = append(order, c)
		}
		sums[c]++
	}
	names := map[string]string{}
	values := map[string]types.AttributeValue{}
	parts := make([]string, len(order))
	for i, c := range order {
		n, v := "#c"+strconv.Itoa(i), ":n"+strconv.Itoa(i)
		names[n] = c
		values[v] = &types.AttributeValueMemberN{Value: strconv.Itoa(sums[c])}
		parts[i] = n + " " + v
	}
	return &types.Update{
		TableName:                 aws.String(s.table),
		Key:                       funnelKey(day),
		UpdateExpression:          aws.String("ADD " + strings.Join(parts, ", ")),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
	}
}

// CountFunnel adds one to each counter on the UTC day of at. A counter update is
// not part of the change it counts when that change is not a DynamoDB write of ours
// (a renewal counted after it was stored): a crash between the two loses one count,
// which a funnel can afford.
func (s *Store) CountFunnel(ctx context.Context, at time.Time, counters ...string) error {
	if len(counters) == 0 {
		return nil
	}
	u := s.funnelUpdate(at.UTC().Format(authz.DayLayout), counters...)
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: u.TableName, Key: u.Key, UpdateExpression: u.UpdateExpression,
		ExpressionAttributeNames: u.ExpressionAttributeNames, ExpressionAttributeValues: u.ExpressionAttributeValues,
	})
	if err != nil {
		return fmt.Errorf("count funnel %v: %w", counters, unavailable(err))
	}
	return nil
}

// FunnelDay is one day's counters.
type FunnelDay struct {
	Day    string // YYYY-MM-DD (UTC)
	Counts map[string]int64
}

// FunnelDays reads the counters of every day from first to last (inclusive, UTC
// days) with BatchGetItem, 100 days a request. Days without any count are left out.
// It returns the days in order and the number of items read.
func (s *Store) FunnelDays(ctx context.Context, first, last time.Time) ([]FunnelDay, int, error) {
	var keys []map[string]types.AttributeValue
	for d := first.UTC().Truncate(24 * time.Hour); !d.After(last.UTC()); d = d.AddDate(0, 0, 1) {
		keys = append(keys, funnelKey(d.Format(authz.DayLayout)))
	}
	var days []FunnelDay
	read := 0
	for len(keys) > 0 {
		n := min(len(keys), 100)
		pending := map[string]types.KeysAndAttributes{s.table: {Keys: keys[:n], ConsistentRead: aws.Bool(true)}}
		keys = keys[n:]
		for delay := 50 * time.Millisecond; len(pending) > 0; delay = min(delay*2, 2*time.Second) {
			out, err := s.db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: pending})
			if err != nil {
				return nil, read, fmt.Errorf("read funnel counters: %w", unavailable(err))
			}
			for _, item := range out.Responses[s.table] {
				read++
				day, err := decodeFunnelDay(item)
				if err != nil {
					return nil, read, err
				}
				days = append(days, day)
			}
			pending = out.UnprocessedKeys
			if len(pending) > 0 {
				select {
				case <-ctx.Done():
					return nil, read, ctx.Err()
				case <-time.After(delay):
				}
			}
		}
	}
	sort.Slice(days, func(i, j int) bool { return days[i].Day < days[j].Day })
	return days, read, nil
}

func decodeFunnelDay(item map[string]types.AttributeValue) (FunnelDay, error) {
	pk, _ := item[attrPK].(*types.AttributeValueMemberS)
	if pk == nil || !strings.HasPrefix(pk.Value, funnelPrefix) {
		return FunnelDay{}, fmt.Errorf("decode funnel counters: not a funnel item")
	}
	d := FunnelDay{Day: strings.TrimPrefix(pk.Value, funnelPrefix), Counts: map[string]int64{}}
	for k, v := range item {
		if k == attrPK || k == attrSK {
			continue
		}
		if n, ok := v.(*types.AttributeValueMemberN); ok {
			c, err := strconv.ParseInt(n.Value, 10, 64)
			if err != nil {
				return FunnelDay{}, fmt.Errorf("decode funnel counter %s of %s: %w", k, d.Day, err)
			}
			d.Counts[k] = c
		}
	}
	return d, nil
}

// LastSentStage is the reminder stage whose email went out last (by sentAt), the
// one a renewal or an opened link is credited to; "" when none was sent.
func LastSentStage(a authz.Authorization) string {
	var key string
	var at time.Time
	for k, m := range a.Reminders {
		if m.MessageID != "" && !m.SentAt.IsZero() && (m.SentAt.After(at) || (m.SentAt.Equal(at) && k > key)) {
			key, at = k, m.SentAt
		}
	}
	return key
}

// RecordLinkOpened credits the opening of a renewal link at at to the last reminder
// sent to a (read just before): the stage's openedAt is set once, and the day's
// "opened:{stage}" counter counts it once however often the seller clicks. Nothing
// personal is stored: the time, on the entry that already exists. It returns the
// stage credited ("none" when no reminder was sent, counted every time).
func (s *Store) RecordLinkOpened(ctx context.Context, a authz.Authorization, at time.Time) (string, error) {
	if err := validKey(a.ConnectionID, a.Region); err != nil {
		return "", fmt.Errorf("record link opened: %w", err)
	}
	stage := LastSentStage(a)
	if stage == "" {
		return FunnelNoStage, s.CountFunnel(ctx, at, FunnelCounter(FunnelOpened, FunnelNoStage))
	}
	if !a.Reminders[stage].Delivery.OpenedAt.IsZero() {
		return stage, nil
	}
	const update = "SET #rs.#k.#opened = :at ADD #v :one"
	const cond = "#rs.#k.#mid = :mid AND attribute_not_exists(#rs.#k.#opened)"
	_, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Update: &types.Update{
			TableName:                aws.String(s.table),
			Key:                      authKey(a.ConnectionID, a.Region),
			UpdateExpression:         aws.String(update),
			ConditionExpression:      aws.String(cond),
			ExpressionAttributeNames: map[string]string{"#rs": attrReminders, "#k": stage, "#opened": attrOpenedAt, "#v": attrVersion, "#mid": "messageId"},
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":at": str(formatTime(at)), ":mid": str(a.Reminders[stage].MessageID), ":one": one,
			},
		}},
		{Update: s.funnelUpdate(at.UTC().Format(authz.DayLayout), FunnelCounter(FunnelOpened, stage))},
	}})
	if err != nil {
		if err := settleError(err); err == ErrClaimLost {
			return stage, nil // opened before, or the entry changed (renewed since): nothing to count
		}
		return stage, fmt.Errorf("record link opened for %s: %w", a.Key(), settleError(err))
	}
	return stage, nil
}

// RecordRenewal counts a renewal at at of prev, the record as it was before the
// renewal: "renewed:{stage}" for the last reminder sent (or "none"), and whether it
// came before or after the expiry. It returns the stage credited.
func (s *Store) RecordRenewal(ctx context.Context, prev authz.Authorization, at time.Time) (string, error) {
	stage := LastSentStage(prev)
	if stage == "" {
		stage = FunnelNoStage
	}
	counters := []string{FunnelCounter(FunnelRenewed, stage)}
	switch {
	case prev.ExpiresAt.IsZero(): // a first authorization: not a renewal of anything
		return stage, nil
	case at.Before(prev.ExpiresAt):
		counters = append(counters, FunnelRenewedBeforeExpiry)
	default:
		counters = append(counters, FunnelRenewedAfterExpiry)
	}
	return stage, s.CountFunnel(ctx, at, counters...)
}
