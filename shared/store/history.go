package store

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/tablekeys"
)

func (s *Store) eventPut(e authz.Event) (*types.Put, error) {
	if err := authz.ValidateConnectionID(e.ConnectionID); err != nil {
		return nil, fmt.Errorf("history event: %w", err)
	}
	if e.At.IsZero() || e.Kind == "" {
		return nil, fmt.Errorf("history event for %s: time and kind are required", e.ConnectionID)
	}
	av, err := attributevalue.MarshalMap(toEventItem(e))
	if err != nil {
		return nil, fmt.Errorf("encode history event: %w", err)
	}
	return &types.Put{TableName: aws.String(s.table), Item: av}, nil
}

// AddEvent writes one history event on its own, for events that change no record (a
// rejected callback, a mismatched seller). Events that go with a record change are
// passed to Create or Update instead, so both are written or neither.
func (s *Store) AddEvent(ctx context.Context, e authz.Event) error {
	put, err := s.eventPut(e)
	if err != nil {
		return err
	}
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: put.TableName, Item: put.Item})
	if err != nil {
		return fmt.Errorf("add %s event for %s: %w", e.Kind, e.ConnectionID, unavailable(err))
	}
	return nil
}

// History returns up to limit events of a connection (every region), newest first;
// limit <= 0 returns them all.
func (s *Store) History(ctx context.Context, connectionID string, limit int) ([]authz.Event, error) {
	key := expression.Key(attrPK).Equal(expression.Value(connPK(connectionID))).
		And(expression.Key(attrSK).BeginsWith(tablekeys.EventPrefix))
	expr, err := expression.NewBuilder().WithKeyCondition(key).Build()
	if err != nil {
		return nil, fmt.Errorf("history of %s: build key condition: %w", connectionID, err)
	}
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		KeyConditionExpression:    expr.KeyCondition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
		ScanIndexForward:          aws.Bool(false), // sort keys hold the time: newest first
		ConsistentRead:            aws.Bool(true),
	}
	if limit > 0 {
		in.Limit = aws.Int32(int32(min(limit, 1000)))
	}
	var events []authz.Event
	pages := dynamodb.NewQueryPaginator(s.db, in)
	for pages.HasMorePages() && (limit <= 0 || len(events) < limit) {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("history of %s: %w", connectionID, unavailable(err))
		}
		for _, item := range page.Items {
			var it eventItem
			if err := attributevalue.UnmarshalMap(item, &it); err != nil {
				return nil, fmt.Errorf("history of %s: decode: %w", connectionID, err)
			}
			e, err := it.event()
			if err != nil {
				return nil, fmt.Errorf("history of %s: %w", connectionID, err)
			}
			events = append(events, e)
		}
	}
	if limit > 0 && len(events) > limit {
		events = events[:limit]
	}
	return events, nil
}
