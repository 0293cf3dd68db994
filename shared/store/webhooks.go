package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/spapi-auth-keeper/keeper/shared/tablekeys"
)

// Webhook endpoints that answered 410 Gone are recorded here, one meta item each
// (outside the authorization key space: no index holds them), so that the sender stops
// calling them until an operator enables them again.
const webhooksPK = tablekeys.WebhooksPK

// DisabledEndpoint is a webhook endpoint the sender no longer calls.
type DisabledEndpoint struct {
	EndpointID string
	URL        string
	Reason     string
	At         time.Time
}

type endpointItem struct {
	PK         string `dynamodbav:"pk"`
	SK         string `dynamodbav:"sk"`
	EndpointID string `dynamodbav:"endpointId"`
	URL        string `dynamodbav:"url"`
	Reason     string `dynamodbav:"reason"`
	At         string `dynamodbav:"at"`
}

func endpointKey(id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrPK: str(webhooksPK), attrSK: str(tablekeys.EndpointSK(id))}
}

// EndpointDisabled returns the record of a disabled endpoint, or ok=false.
func (s *Store) EndpointDisabled(ctx context.Context, endpointID string) (DisabledEndpoint, bool, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.table), Key: endpointKey(endpointID), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return DisabledEndpoint{}, false, fmt.Errorf("read webhook endpoint %s: %w", endpointID, unavailable(err))
	}
	if out.Item == nil {
		return DisabledEndpoint{}, false, nil
	}
	var it endpointItem
	if err := attributevalue.UnmarshalMap(out.Item, &it); err != nil {
		return DisabledEndpoint{}, false, fmt.Errorf("decode webhook endpoint %s: %w", endpointID, err)
	}
	at, err := parseTime("at", it.At)
	if err != nil {
		return DisabledEndpoint{}, false, err
	}
	return DisabledEndpoint{EndpointID: it.EndpointID, URL: it.URL, Reason: it.Reason, At: at}, true, nil
}

// DisableEndpoint records an endpoint as disabled (idempotent: the first record stays).
func (s *Store) DisableEndpoint(ctx context.Context, d DisabledEndpoint) error {
	av, err := attributevalue.MarshalMap(endpointItem{PK: webhooksPK, SK: tablekeys.EndpointSK(d.EndpointID), EndpointID: d.EndpointID, URL: d.URL,
		Reason: d.Reason, At: formatTime(d.At)})
	if err != nil {
		return fmt.Errorf("encode webhook endpoint: %w", err)
	}
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: av,
		ConditionExpression: aws.String("attribute_not_exists(pk)")})
	var exists *types.ConditionalCheckFailedException
	if err != nil && !errors.As(err, &exists) {
		return fmt.Errorf("disable webhook endpoint %s: %w", d.EndpointID, unavailable(err))
	}
	return nil
}

// EnableEndpoint removes an endpoint's disabled record.
func (s *Store) EnableEndpoint(ctx context.Context, endpointID string) error {
	_, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(s.table), Key: endpointKey(endpointID)})
	if err != nil {
		return fmt.Errorf("enable webhook endpoint %s: %w", endpointID, unavailable(err))
	}
	return nil
}
