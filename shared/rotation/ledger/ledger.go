// Package ledger keeps the client secret rotation's state and history in the keeper's
// DynamoDB table, beside the authorizations: one state item and its history events
// under pk=META#client-secret, outside the authorization key space (no index and no
// authorization listing sees them). It maps DynamoDB errors to rotation.ErrConflict
// and ErrUnavailable; nothing above it sees an AWS type.
package ledger

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	smithy "github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/spapi-auth-keeper/keeper/shared/rotation"
	"github.com/spapi-auth-keeper/keeper/shared/tablekeys"
)

// ErrUnavailable: DynamoDB throttled, failed or could not be reached after the SDK's
// own retries. Try again later.
var ErrUnavailable = errors.New("DynamoDB unavailable")

// Keys of the rotation's items (shared/tablekeys lists every item kind's).
const (
	PK          = tablekeys.ClientSecretPK
	stateSK     = tablekeys.ClientSecretStateSK
	eventPrefix = tablekeys.EventPrefix
)

// timeLayout sorts as the times do (a fixed nine-digit fraction), as the
// authorizations' history does.
const timeLayout = tablekeys.TimeLayout

// historyTTL is how long history events live before DynamoDB's TTL removes them.
const historyTTL = 2 * 365 * 24 * time.Hour

// Ledger is a rotation.Store over one table.
type Ledger struct {
	db    *dynamodb.Client
	table string
}

// New returns a Ledger over an existing table (store.CreateTable, template.yaml).
func New(db *dynamodb.Client, table string) *Ledger { return &Ledger{db: db, table: table} }

type stateItem struct {
	PK                 string `dynamodbav:"pk"`
	SK                 string `dynamodbav:"sk"`
	PendingSince       string `dynamodbav:"pendingSince,omitempty"`
	PendingTrigger     string `dynamodbav:"pendingTrigger,omitempty"`
	LastRequestedAt    string `dynamodbav:"lastRequestedAt,omitempty"`
	LastRotatedAt      string `dynamodbav:"lastRotatedAt,omitempty"`
	SecretExpiresAt    string `dynamodbav:"secretExpiresAt,omitempty"`
	LastNotificationID string `dynamodbav:"lastNotificationId,omitempty"`
	Version            int64  `dynamodbav:"version"`
}

type eventItem struct {
	PK     string `dynamodbav:"pk"`
	SK     string `dynamodbav:"sk"`
	At     string `dynamodbav:"at"`
	Kind   string `dynamodbav:"kind"`
	Detail string `dynamodbav:"detail,omitempty"`
	TTL    int64  `dynamodbav:"ttl"`
}

func key(sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{tablekeys.PK: &types.AttributeValueMemberS{Value: PK}, tablekeys.SK: &types.AttributeValueMemberS{Value: sk}}
}

func format(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(timeLayout)
}

func parse(field, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("attribute %s: %w", field, err)
	}
	return t.UTC(), nil
}

// Load reads the state; before the first rotation it is the zero State.
func (l *Ledger) Load(ctx context.Context) (rotation.State, error) {
	out, err := l.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(l.table), Key: key(stateSK), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return rotation.State{}, fmt.Errorf("read the rotation state: %w", unavailable(err))
	}
	if out.Item == nil {
		return rotation.State{}, nil
	}
	var it stateItem
	if err := attributevalue.UnmarshalMap(out.Item, &it); err != nil {
		return rotation.State{}, fmt.Errorf("decode the rotation state: %w", err)
	}
	st := rotation.State{PendingTrigger: rotation.Trigger(it.PendingTrigger), LastNotificationID: it.LastNotificationID, Version: it.Version}
	for _, f := range []struct {
		name string
		raw  string
		dst  *time.Time
	}{
		{"pendingSince", it.PendingSince, &st.PendingSince}, {"lastRequestedAt", it.LastRequestedAt, &st.LastRequestedAt},
		{"lastRotatedAt", it.LastRotatedAt, &st.LastRotatedAt}, {"secretExpiresAt", it.SecretExpiresAt, &st.SecretExpiresAt},
	} {
		if *f.dst, err = parse(f.name, f.raw); err != nil {
			return rotation.State{}, fmt.Errorf("decode the rotation state: %w", err)
		}
	}
	return st, nil
}

// Save writes next and events in one transaction, if the stored version is still
// next.Version (none stored for version 0).
func (l *Ledger) Save(ctx context.Context, next rotation.State, events ...rotation.Event) (rotation.State, error) {
	saved := next
	saved.Version = next.Version + 1
	av, err := attributevalue.MarshalMap(stateItem{
		PK: PK, SK: stateSK, PendingSince: format(saved.PendingSince), PendingTrigger: string(saved.PendingTrigger),
		LastRequestedAt: format(saved.LastRequestedAt), LastRotatedAt: format(saved.LastRotatedAt),
		SecretExpiresAt: format(saved.SecretExpiresAt), LastNotificationID: saved.LastNotificationID, Version: saved.Version,
	})
	if err != nil {
		return rotation.State{}, fmt.Errorf("encode the rotation state: %w", err)
	}
	cond := expression.AttributeNotExists(expression.Name("pk"))
	if next.Version > 0 {
		cond = expression.Name("version").Equal(expression.Value(next.Version))
	}
	expr, err := expression.NewBuilder().WithCondition(cond).Build()
	if err != nil {
		return rotation.State{}, fmt.Errorf("build the state condition: %w", err)
	}
	items := []types.TransactWriteItem{{Put: &types.Put{TableName: aws.String(l.table), Item: av,
		ConditionExpression: expr.Condition(), ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values()}}}
	for _, e := range events {
		put, err := l.eventPut(e)
		if err != nil {
			return rotation.State{}, err
		}
		items = append(items, types.TransactWriteItem{Put: put})
	}
	_, err = l.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	var canceled *types.TransactionCanceledException
	if errors.As(err, &canceled) && len(canceled.CancellationReasons) > 0 && aws.ToString(canceled.CancellationReasons[0].Code) == "ConditionalCheckFailed" {
		return rotation.State{}, rotation.ErrConflict
	}
	if err != nil {
		return rotation.State{}, fmt.Errorf("save the rotation state: %w", unavailable(err))
	}
	return saved, nil
}

func (l *Ledger) eventPut(e rotation.Event) (*types.Put, error) {
	if e.At.IsZero() || e.Kind == "" {
		return nil, errors.New("rotation history event: time and kind are required")
	}
	av, err := attributevalue.MarshalMap(eventItem{PK: PK, SK: tablekeys.EventSK(e.At, string(e.Kind)), At: format(e.At),
		Kind: string(e.Kind), Detail: e.Detail, TTL: e.At.Add(historyTTL).Unix()})
	if err != nil {
		return nil, fmt.Errorf("encode a rotation history event: %w", err)
	}
	return &types.Put{TableName: aws.String(l.table), Item: av}, nil
}

// AddEvent writes one history event on its own.
func (l *Ledger) AddEvent(ctx context.Context, e rotation.Event) error {
	put, err := l.eventPut(e)
	if err != nil {
		return err
	}
	if _, err := l.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: put.TableName, Item: put.Item}); err != nil {
		return fmt.Errorf("add a rotation history event: %w", unavailable(err))
	}
	return nil
}

// Events returns up to limit history events, newest first.
func (l *Ledger) Events(ctx context.Context, limit int) ([]rotation.Event, error) {
	k := expression.Key(tablekeys.PK).Equal(expression.Value(PK)).And(expression.Key(tablekeys.SK).BeginsWith(eventPrefix))
	expr, err := expression.NewBuilder().WithKeyCondition(k).Build()
	if err != nil {
		return nil, fmt.Errorf("build the history query: %w", err)
	}
	out, err := l.db.Query(ctx, &dynamodb.QueryInput{
		TableName: aws.String(l.table), KeyConditionExpression: expr.KeyCondition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
		ScanIndexForward: aws.Bool(false), Limit: aws.Int32(int32(min(max(limit, 1), 100))),
	})
	if err != nil {
		return nil, fmt.Errorf("read the rotation history: %w", unavailable(err))
	}
	events := make([]rotation.Event, 0, len(out.Items))
	for _, item := range out.Items {
		var it eventItem
		if err := attributevalue.UnmarshalMap(item, &it); err != nil {
			return nil, fmt.Errorf("decode a rotation history event: %w", err)
		}
		at, err := parse("at", it.At)
		if err != nil {
			return nil, fmt.Errorf("decode a rotation history event: %w", err)
		}
		events = append(events, rotation.Event{At: at, Kind: rotation.EventKind(it.Kind), Detail: it.Detail})
	}
	return events, nil
}

// unavailableCodes say "not now" rather than "no".
var unavailableCodes = map[string]bool{
	"ProvisionedThroughputExceededException": true, "ThrottlingException": true, "RequestLimitExceeded": true,
	"InternalServerError": true, "ServiceUnavailable": true, "TransactionInProgressException": true,
}

func unavailable(err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var api smithy.APIError
	var resp *smithyhttp.ResponseError
	var send *smithyhttp.RequestSendError
	var netErr net.Error
	switch {
	case errors.As(err, &api) && unavailableCodes[api.ErrorCode()],
		errors.As(err, &resp) && resp.HTTPStatusCode() >= 500,
		errors.As(err, &send), errors.As(err, &netErr):
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return err
}
