package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/tablekeys"
)

// PutNonce records a state nonce issued for an authorization round trip. A nonce that
// is already stored is refused (authz.ErrAlreadyExists): nonces are random, so that
// is a bug, never something to overwrite.
func (s *Store) PutNonce(ctx context.Context, nonce, connectionID string, region authz.Region, expiresAt time.Time) error {
	if nonce == "" {
		return errors.New("put nonce: empty nonce")
	}
	av, err := attributevalue.MarshalMap(nonceItem{
		PK:           tablekeys.StatePK(nonce),
		SK:           tablekeys.StateSK,
		ConnectionID: connectionID,
		Region:       string(region),
		ExpiresAt:    formatTime(expiresAt),
		TTL:          expiresAt.Add(time.Second - 1).Unix(), // rounded up: never before expiresAt
	})
	if err != nil {
		return fmt.Errorf("put nonce: encode: %w", err)
	}
	expr, err := expression.NewBuilder().WithCondition(expression.AttributeNotExists(expression.Name(attrPK))).Build()
	if err != nil {
		return fmt.Errorf("put nonce: build condition: %w", err)
	}
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                 aws.String(s.table),
		Item:                      av,
		ConditionExpression:       expr.Condition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
	})
	var failed *types.ConditionalCheckFailedException
	if errors.As(err, &failed) {
		return fmt.Errorf("put nonce for %s/%s: %w", connectionID, region, authz.ErrAlreadyExists)
	}
	if err != nil {
		return fmt.Errorf("put nonce for %s/%s: %w", connectionID, region, unavailable(err))
	}
	return nil
}

// ConsumeNonce deletes a nonce and returns what it was issued for, in one conditional
// DeleteItem: of two callbacks racing with the same state, exactly one gets it. A
// missing nonce (replayed, or never issued) is ErrNonceNotFound. A nonce past its
// expiry at now is deleted all the same and is ErrNonceExpired; the connection and
// region are returned with it, for the log. DynamoDB's TTL deletes unused nonces only
// eventually, so expiry is checked here.
func (s *Store) ConsumeNonce(ctx context.Context, nonce string, now time.Time) (connectionID string, region authz.Region, err error) {
	expr, err := expression.NewBuilder().WithCondition(expression.AttributeExists(expression.Name(attrPK))).Build()
	if err != nil {
		return "", "", fmt.Errorf("consume nonce: build condition: %w", err)
	}
	out, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: aws.String(s.table),
		Key: map[string]types.AttributeValue{
			attrPK: &types.AttributeValueMemberS{Value: tablekeys.StatePK(nonce)},
			attrSK: &types.AttributeValueMemberS{Value: tablekeys.StateSK},
		},
		ConditionExpression:      expr.Condition(),
		ExpressionAttributeNames: expr.Names(),
		ReturnValues:             types.ReturnValueAllOld,
	})
	var failed *types.ConditionalCheckFailedException
	if errors.As(err, &failed) {
		return "", "", fmt.Errorf("consume nonce: %w", ErrNonceNotFound)
	}
	if err != nil {
		return "", "", fmt.Errorf("consume nonce: %w", unavailable(err))
	}
	var it nonceItem
	if err := attributevalue.UnmarshalMap(out.Attributes, &it); err != nil {
		return "", "", fmt.Errorf("consume nonce: decode: %w", err)
	}
	exp, err := parseTime("expiresAt", it.ExpiresAt)
	if err != nil {
		return "", "", fmt.Errorf("consume nonce: %w", err)
	}
	if !now.Before(exp) {
		return it.ConnectionID, authz.Region(it.Region), fmt.Errorf("consume nonce for %s/%s (expired %s): %w",
			it.ConnectionID, it.Region, exp.Format(time.RFC3339), ErrNonceExpired)
	}
	return it.ConnectionID, authz.Region(it.Region), nil
}
