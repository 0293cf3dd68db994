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

// One selling partner is bound to at most one connection per region. The by-seller
// index cannot enforce that (an index has no unique keys), so a binding item
// `pk=SELLER#{region}#{sellingPartnerId}, sk=BINDING` names the connection, and every
// write that binds a seller puts it in the same transaction as the record, on the
// condition that it is absent or already names that connection.
const (
	bindingSK = tablekeys.BindingSK
)

// ErrSellerBound: the selling partner is bound to another connection in that region.
var ErrSellerBound = authz.ErrSellerBound

// SellerBoundError names the connection that holds the binding, for logs and history;
// pages must not show it (it is another customer).
type SellerBoundError = authz.SellerBoundError

func bindingKey(region authz.Region, sellingPartnerID string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		attrPK: &types.AttributeValueMemberS{Value: tablekeys.SellerPK(string(region), sellingPartnerID)},
		attrSK: &types.AttributeValueMemberS{Value: bindingSK},
	}
}

type bindingItem struct {
	PK           string `dynamodbav:"pk"`
	SK           string `dynamodbav:"sk"`
	ConnectionID string `dynamodbav:"connectionId"`
	BoundAt      string `dynamodbav:"boundAt"`
}

// SellerBinding returns the connection a selling partner is bound to in region, or
// "" when none is. Records bound before binding items existed are found through the
// by-seller index.
func (s *Store) SellerBinding(ctx context.Context, region authz.Region, sellingPartnerID string) (string, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.table), Key: bindingKey(region, sellingPartnerID), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return "", fmt.Errorf("read binding of %s/%s: %w", sellingPartnerID, region, unavailable(err))
	}
	if out.Item != nil {
		var it bindingItem
		if err := attributevalue.UnmarshalMap(out.Item, &it); err != nil {
			return "", fmt.Errorf("decode binding of %s/%s: %w", sellingPartnerID, region, err)
		}
		return it.ConnectionID, nil
	}
	found, err := s.FindBySeller(ctx, sellingPartnerID)
	if err != nil {
		return "", err
	}
	for _, a := range found {
		if a.Region == region {
			return a.ConnectionID, nil
		}
	}
	return "", nil
}

// UpdateBound is Update that also binds a.SellingPartnerID to a's connection in a's
// region, in the same transaction: if the seller is bound to another connection,
// nothing is written and the error is a *SellerBoundError.
func (s *Store) UpdateBound(ctx context.Context, a authz.Authorization, at time.Time, events ...authz.Event) (authz.Authorization, error) {
	if err := validKey(a.ConnectionID, a.Region); err != nil {
		return authz.Authorization{}, fmt.Errorf("update authorization: %w", err)
	}
	if a.SellingPartnerID == "" {
		return authz.Authorization{}, fmt.Errorf("update authorization %s: no selling partner to bind", a.Key())
	}
	bind, err := s.bindingPut(a, at)
	if err != nil {
		return authz.Authorization{}, err
	}
	cond := expression.Name(attrVersion).Equal(expression.Value(a.Version))
	a.Version++
	// transactionError hands onFailed the item whose condition failed: the binding item
	// says the seller is bound elsewhere; anything else is the record's version.
	onFailed := func(old map[string]types.AttributeValue) error {
		if sk, ok := old[attrSK].(*types.AttributeValueMemberS); ok && sk.Value == bindingSK {
			var it bindingItem
			_ = attributevalue.UnmarshalMap(old, &it)
			return &SellerBoundError{SellingPartnerID: a.SellingPartnerID, Region: a.Region, ConnectionID: it.ConnectionID}
		}
		return versionMoved(old)
	}
	stored, err := s.writeAuth(ctx, a, cond, events, onFailed, types.TransactWriteItem{Put: bind})
	if err != nil {
		return authz.Authorization{}, fmt.Errorf("update authorization %s at version %d: %w", a.Key(), a.Version-1, err)
	}
	return stored, nil
}

func (s *Store) bindingPut(a authz.Authorization, at time.Time) (*types.Put, error) {
	av, err := attributevalue.MarshalMap(bindingItem{
		PK: tablekeys.SellerPK(string(a.Region), a.SellingPartnerID), SK: bindingSK, ConnectionID: a.ConnectionID, BoundAt: formatTime(at),
	})
	if err != nil {
		return nil, fmt.Errorf("encode binding: %w", err)
	}
	expr, err := expression.NewBuilder().WithCondition(
		expression.AttributeNotExists(expression.Name(attrPK)).Or(expression.Name("connectionId").Equal(expression.Value(a.ConnectionID))),
	).Build()
	if err != nil {
		return nil, fmt.Errorf("build binding condition: %w", err)
	}
	return &types.Put{
		TableName: aws.String(s.table), Item: av,
		ConditionExpression: expr.Condition(), ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}, nil
}

// MoveBinding rebinds a selling partner from one connection to another in region: the
// operator's deliberate move. The old record loses the seller (it becomes pending and
// must be authorized again), the binding names the new connection, and both histories
// record the move, all in one transaction. The new record is not touched: its next
// authorization by that seller is then accepted.
func (s *Store) MoveBinding(ctx context.Context, from authz.Authorization, toConnectionID string, at time.Time, reason string) error {
	if from.SellingPartnerID == "" {
		return fmt.Errorf("move binding: %s has no selling partner", from.Key())
	}
	if err := authz.ValidateConnectionID(toConnectionID); err != nil {
		return fmt.Errorf("move binding: %w", err)
	}
	seller := from.SellingPartnerID
	bindAV, err := attributevalue.MarshalMap(bindingItem{PK: tablekeys.SellerPK(string(from.Region), seller), SK: bindingSK, ConnectionID: toConnectionID, BoundAt: formatTime(at)})
	if err != nil {
		return fmt.Errorf("move binding: encode: %w", err)
	}
	moved := from
	moved.SellingPartnerID = ""
	moved.Status = authz.StatusPending
	moved.Account = authz.Account{}
	detail := fmt.Sprintf("selling partner %s moved by the operator from %s to %s: %s", seller, from.ConnectionID, toConnectionID, reason)
	events := []authz.Event{
		{ConnectionID: from.ConnectionID, Region: from.Region, At: at, Kind: authz.EventSellerMoved, Detail: detail},
		{ConnectionID: toConnectionID, Region: from.Region, At: at, Kind: authz.EventSellerMoved, Detail: detail},
	}
	cond := expression.Name(attrVersion).Equal(expression.Value(from.Version))
	moved.Version++
	_, err = s.writeAuth(ctx, moved, cond, events, versionMoved, types.TransactWriteItem{Put: &types.Put{TableName: aws.String(s.table), Item: bindAV}})
	if err != nil {
		return fmt.Errorf("move binding of %s: %w", seller, err)
	}
	return nil
}

// bindingDeletes reads the bindings of sellers in region and returns a conditional
// delete of each that names connectionID (the condition holds it to that connection
// until the transaction runs). The empty seller, and a seller named twice, are skipped.
func (s *Store) bindingDeletes(ctx context.Context, connectionID string, region authz.Region, sellers []string) ([]types.TransactWriteItem, error) {
	expr, err := expression.NewBuilder().WithCondition(expression.Name("connectionId").Equal(expression.Value(connectionID))).Build()
	if err != nil {
		return nil, fmt.Errorf("build binding condition: %w", err)
	}
	var out []types.TransactWriteItem
	seen := map[string]bool{}
	for _, seller := range sellers {
		if seller == "" || seen[seller] {
			continue
		}
		seen[seller] = true
		got, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
			TableName: aws.String(s.table), Key: bindingKey(region, seller), ConsistentRead: aws.Bool(true),
		})
		if err != nil {
			return nil, fmt.Errorf("read binding of %s/%s: %w", seller, region, unavailable(err))
		}
		var it bindingItem
		if got.Item == nil {
			continue
		}
		if err := attributevalue.UnmarshalMap(got.Item, &it); err != nil {
			return nil, fmt.Errorf("decode binding of %s/%s: %w", seller, region, err)
		}
		if it.ConnectionID != connectionID {
			continue
		}
		out = append(out, types.TransactWriteItem{Delete: &types.Delete{
			TableName: aws.String(s.table), Key: bindingKey(region, seller),
			ConditionExpression: expr.Condition(), ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
		}})
	}
	return out, nil
}

// unbindError explains a failed transaction whose first item is the record's
// condition (explained by onRecord) and whose other items are binding deletes held to
// the connection: a binding that changed meanwhile is a conflict (read again, retry).
func unbindError(err error, onRecord func(old map[string]types.AttributeValue) error) error {
	if err == nil {
		return nil
	}
	var canceled *types.TransactionCanceledException
	if !errors.As(err, &canceled) {
		return unavailable(err)
	}
	for i, r := range canceled.CancellationReasons {
		if aws.ToString(r.Code) != "ConditionalCheckFailed" {
			continue
		}
		if i == 0 {
			return onRecord(r.Item)
		}
		return fmt.Errorf("%w: the seller's binding changed meanwhile", authz.ErrVersionConflict)
	}
	return transactionError(err, versionMoved)
}

// ReleaseBindings deletes the bindings of sellers in region that still name
// connectionID, whose record is gone: what a forget that stopped half way (or one
// from before forgets released bindings) left behind. It holds to the record being
// absent, so a connection created again meanwhile keeps its binding
// (authz.ErrAlreadyExists). It returns how many bindings it deleted.
func (s *Store) ReleaseBindings(ctx context.Context, connectionID string, region authz.Region, sellers ...string) (int, error) {
	if err := validKey(connectionID, region); err != nil {
		return 0, fmt.Errorf("release bindings: %w", err)
	}
	unbind, err := s.bindingDeletes(ctx, connectionID, region, sellers)
	if err != nil || len(unbind) == 0 {
		return 0, err
	}
	absent, err := expression.NewBuilder().WithCondition(expression.AttributeNotExists(expression.Name(attrPK))).Build()
	if err != nil {
		return 0, fmt.Errorf("release bindings: build condition: %w", err)
	}
	items := append([]types.TransactWriteItem{{ConditionCheck: &types.ConditionCheck{
		TableName: aws.String(s.table), Key: authKey(connectionID, region),
		ConditionExpression: absent.Condition(), ExpressionAttributeNames: absent.Names(),
	}}}, unbind...)
	_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	if err := unbindError(err, alreadyExists); err != nil {
		return 0, fmt.Errorf("release bindings of %s/%s: %w", connectionID, region, err)
	}
	return len(unbind), nil
}

// ClaimBinding binds a selling partner to a connection in region before anything of
// the seller's is stored there: a conditional PutItem that succeeds when no binding
// exists or it already names the connection, and otherwise fails with a
// *SellerBoundError naming the holder. The renewal claims the binding before it writes
// the new token to the vault, so a seller bound elsewhere meanwhile is refused before
// the write, not after it. The record's own write binds again, in its transaction.
func (s *Store) ClaimBinding(ctx context.Context, region authz.Region, sellingPartnerID, connectionID string, at time.Time) error {
	if sellingPartnerID == "" {
		return nil
	}
	if holder, err := s.SellerBinding(ctx, region, sellingPartnerID); err != nil {
		return err
	} else if holder != "" && holder != connectionID {
		return &SellerBoundError{SellingPartnerID: sellingPartnerID, Region: region, ConnectionID: holder}
	}
	av, err := attributevalue.MarshalMap(bindingItem{PK: tablekeys.SellerPK(string(region), sellingPartnerID), SK: bindingSK,
		ConnectionID: connectionID, BoundAt: formatTime(at)})
	if err != nil {
		return fmt.Errorf("claim binding: encode: %w", err)
	}
	cond := expression.AttributeNotExists(expression.Name(attrPK)).Or(expression.Name("connectionId").Equal(expression.Value(connectionID)))
	expr, err := expression.NewBuilder().WithCondition(cond).Build()
	if err != nil {
		return fmt.Errorf("claim binding: build condition: %w", err)
	}
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(s.table), Item: av,
		ConditionExpression: expr.Condition(), ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var failed *types.ConditionalCheckFailedException
	if errors.As(err, &failed) {
		var held bindingItem
		_ = attributevalue.UnmarshalMap(failed.Item, &held)
		return &SellerBoundError{SellingPartnerID: sellingPartnerID, Region: region, ConnectionID: held.ConnectionID}
	}
	if err != nil {
		return fmt.Errorf("claim binding of %s: %w", sellingPartnerID, unavailable(err))
	}
	return nil
}
