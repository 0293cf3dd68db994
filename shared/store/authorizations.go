package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/tablekeys"
)

func authKey(connectionID string, region authz.Region) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		attrPK: &types.AttributeValueMemberS{Value: connPK(connectionID)},
		attrSK: &types.AttributeValueMemberS{Value: authSK(region)},
	}
}

// Get reads one authorization, strongly consistent so that a record just written by
// the callback or a refresh is seen as written. A missing one is authz.ErrNotFound.
func (s *Store) Get(ctx context.Context, connectionID string, region authz.Region) (authz.Authorization, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.table),
		Key:            authKey(connectionID, region),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return authz.Authorization{}, fmt.Errorf("get authorization %s/%s: %w", connectionID, region, unavailable(err))
	}
	if out.Item == nil {
		return authz.Authorization{}, fmt.Errorf("get authorization %s/%s: %w", connectionID, region, authz.ErrNotFound)
	}
	return decodeAuth(out.Item)
}

// Create stores a new authorization at version 1 together with its first history
// events, in one transaction: both are written or neither. An authorization already
// stored under the same connection and region is authz.ErrAlreadyExists.
func (s *Store) Create(ctx context.Context, a authz.Authorization, events ...authz.Event) (authz.Authorization, error) {
	if err := validKey(a.ConnectionID, a.Region); err != nil {
		return authz.Authorization{}, fmt.Errorf("create authorization: %w", err)
	}
	a.Version = 1
	cond := expression.AttributeNotExists(expression.Name(attrPK))
	stored, err := s.writeAuth(ctx, a, cond, events, alreadyExists)
	if err != nil {
		return authz.Authorization{}, fmt.Errorf("create authorization %s: %w", a.Key(), err)
	}
	return stored, nil
}

// Update replaces an authorization whose stored version is still a.Version, stores
// version a.Version+1 with the events in one transaction, and returns the record as
// stored. If someone wrote it since a was read, nothing changes and the error is
// authz.ErrVersionConflict: read again, reapply, retry. A record that is gone is
// authz.ErrNotFound.
func (s *Store) Update(ctx context.Context, a authz.Authorization, events ...authz.Event) (authz.Authorization, error) {
	if err := validKey(a.ConnectionID, a.Region); err != nil {
		return authz.Authorization{}, fmt.Errorf("update authorization: %w", err)
	}
	cond := expression.Name(attrVersion).Equal(expression.Value(a.Version))
	a.Version++
	stored, err := s.writeAuth(ctx, a, cond, events, versionMoved)
	if err != nil {
		return authz.Authorization{}, fmt.Errorf("update authorization %s at version %d: %w", a.Key(), a.Version-1, err)
	}
	return stored, nil
}

// writeAuth writes the record on cond, and the events with it. A record change that
// records no event is one conditional PutItem: a transaction costs twice the write
// units of the same writes, and a refresh (the most frequent write by far) records
// none. With events, the record and the events go in one TransactWriteItems, whose
// ClientRequestToken (the SDK fills it) makes a retried transaction that had in fact
// succeeded no conflict. onFailed explains a failed cond, given the item as it was
// stored (nil when there was none).
func (s *Store) writeAuth(ctx context.Context, a authz.Authorization, cond expression.ConditionBuilder, events []authz.Event,
	onFailed func(old map[string]types.AttributeValue) error, extra ...types.TransactWriteItem) (authz.Authorization, error) {
	it := toAuthItem(a)
	av, err := attributevalue.MarshalMap(it)
	if err != nil {
		return authz.Authorization{}, fmt.Errorf("encode: %w", err)
	}
	expr, err := expression.NewBuilder().WithCondition(cond).Build()
	if err != nil {
		return authz.Authorization{}, fmt.Errorf("build condition: %w", err)
	}
	if len(events) == 0 && len(extra) == 0 {
		_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{
			TableName:                           aws.String(s.table),
			Item:                                av,
			ConditionExpression:                 expr.Condition(),
			ExpressionAttributeNames:            expr.Names(),
			ExpressionAttributeValues:           expr.Values(),
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		})
		var failed *types.ConditionalCheckFailedException
		switch {
		case errors.As(err, &failed) && sameItem(failed.Item, av):
			// The SDK retried a put whose first answer was lost: the item stored is
			// this very write, so it succeeded.
		case errors.As(err, &failed):
			return authz.Authorization{}, onFailed(failed.Item)
		case err != nil:
			return authz.Authorization{}, unavailable(err)
		}
		return it.authorization()
	}
	items := []types.TransactWriteItem{{Put: &types.Put{
		TableName:                           aws.String(s.table),
		Item:                                av,
		ConditionExpression:                 expr.Condition(),
		ExpressionAttributeNames:            expr.Names(),
		ExpressionAttributeValues:           expr.Values(),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}}}
	for _, e := range authz.EventsWith(a, events) {
		put, err := s.eventPut(e)
		if err != nil {
			return authz.Authorization{}, err
		}
		items = append(items, types.TransactWriteItem{Put: put})
	}
	items = append(items, extra...)
	_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	if err != nil {
		return authz.Authorization{}, transactionError(err, onFailed)
	}
	return it.authorization()
}

// transactionError turns the cancellation of an authorization write into the domain's
// kinds. The record is the first item of the transaction and the only one with a
// condition; DynamoDB returns the item that failed the check
// (ReturnValuesOnConditionCheckFailure), which tells a record that is gone from one
// that changed.
func transactionError(err error, onFailed func(old map[string]types.AttributeValue) error) error {
	var canceled *types.TransactionCanceledException
	if !errors.As(err, &canceled) {
		return unavailable(err)
	}
	for _, r := range canceled.CancellationReasons {
		switch aws.ToString(r.Code) {
		case "ConditionalCheckFailed":
			return onFailed(r.Item)
		case "TransactionConflict":
			// Another transaction was writing the same item at that moment: for the
			// caller, the same as a version that moved on (read again, retry).
			return fmt.Errorf("%w: %w", authz.ErrVersionConflict, err)
		case "ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded", "InternalServerError":
			return fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
	}
	return unavailable(err)
}

func alreadyExists(map[string]types.AttributeValue) error { return authz.ErrAlreadyExists }

// versionMoved explains a failed "version = :v": no stored item means it was deleted.
func versionMoved(old map[string]types.AttributeValue) error {
	if old == nil {
		return authz.ErrNotFound
	}
	if v, ok := old[attrVersion].(*types.AttributeValueMemberN); ok {
		return fmt.Errorf("%w (stored version %s)", authz.ErrVersionConflict, v.Value)
	}
	return authz.ErrVersionConflict
}

// Delete removes an authorization if its stored version is still version:
// authz.ErrVersionConflict if it changed, authz.ErrNotFound if it is gone. History
// stays until its TTL.
//
// In the same transaction it deletes the binding of each of sellers in region that
// names this connection (the record's seller, and any seller its history names): a
// forgotten connection must not keep its seller from connecting elsewhere in that
// region. A binding that names another connection, or none, is left as it is.
func (s *Store) Delete(ctx context.Context, connectionID string, region authz.Region, version int64, sellers ...string) error {
	err := s.delete(ctx, connectionID, region, version, sellers)
	if err != nil {
		return fmt.Errorf("delete authorization %s/%s at version %d: %w", connectionID, region, version, err)
	}
	return nil
}

func (s *Store) delete(ctx context.Context, connectionID string, region authz.Region, version int64, sellers []string) error {
	if err := validKey(connectionID, region); err != nil {
		return err
	}
	expr, err := expression.NewBuilder().WithCondition(expression.Name(attrVersion).Equal(expression.Value(version))).Build()
	if err != nil {
		return fmt.Errorf("build condition: %w", err)
	}
	unbind, err := s.bindingDeletes(ctx, connectionID, region, sellers)
	if err != nil {
		return err
	}
	if len(unbind) == 0 {
		_, err = s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
			TableName:                           aws.String(s.table),
			Key:                                 authKey(connectionID, region),
			ConditionExpression:                 expr.Condition(),
			ExpressionAttributeNames:            expr.Names(),
			ExpressionAttributeValues:           expr.Values(),
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		})
		var failed *types.ConditionalCheckFailedException
		switch {
		case errors.As(err, &failed):
			return versionMoved(failed.Item)
		case err != nil:
			return unavailable(err)
		}
		return nil
	}
	items := append([]types.TransactWriteItem{{Delete: &types.Delete{
		TableName:                           aws.String(s.table),
		Key:                                 authKey(connectionID, region),
		ConditionExpression:                 expr.Condition(),
		ExpressionAttributeNames:            expr.Names(),
		ExpressionAttributeValues:           expr.Values(),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}}}, unbind...)
	_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	return unbindError(err, func(old map[string]types.AttributeValue) error { return versionMoved(old) })
}

// FindBySeller returns the authorizations of one selling partner (one per region it
// authorized), through the by-seller index. Renewals started in Seller Central arrive
// with the seller's id, not the vendor's connection id. The index holds keys only;
// the records are read from the table, strongly consistent.
func (s *Store) FindBySeller(ctx context.Context, sellingPartnerID string) ([]authz.Authorization, error) {
	var found []authz.Authorization
	err := s.queryIndex(ctx, IndexBySeller, expression.Key(attrSeller).Equal(expression.Value(sellingPartnerID)), s.reread(ctx, func(a authz.Authorization) error {
		found = append(found, a)
		return nil
	}))
	if err != nil {
		return nil, fmt.Errorf("find authorizations of seller %s: %w", sellingPartnerID, err)
	}
	return found, nil
}

// ByExpiryDay calls fn for every authorization expiring on day (YYYY-MM-DD, UTC),
// reading only that day's partition of the by-expiry index, page by page. The index
// holds keys only: each page's records are then read from the table (BatchGetItem,
// strongly consistent), so fn gets whole records. A record deleted in between is
// skipped. An error from fn stops the walk and is returned as it is.
func (s *Store) ByExpiryDay(ctx context.Context, day string, fn func(authz.Authorization) error) error {
	return s.queryIndex(ctx, IndexByExpiry, expression.Key(attrExpiryDay).Equal(expression.Value(day)), s.reread(ctx, fn))
}

// BySlot calls fn for every authorization in refresh slot slot, reading only that
// partition of the by-slot index, page by page. An error from fn stops the walk and is
// returned as it is.
//
// The records are partial: the index carries ConnectionID, Region, Status and
// RefreshFailures (SlotIndexAttributes) and RefreshSlot, nothing else; read the
// record (Get) for more. Their Version is 0, which no stored record has, so an Update
// of a partial record fails with authz.ErrVersionConflict instead of wiping the rest.
func (s *Store) BySlot(ctx context.Context, slot int, fn func(authz.Authorization) error) error {
	return s.queryIndex(ctx, IndexBySlot, expression.Key(attrRefreshSlot).Equal(expression.Value(slot)), func(items []map[string]types.AttributeValue) error {
		return each(items, fn)
	})
}

// reread is the page walker of a keys-only index: it reads each page's records from
// the table and calls fn with each. (A walker of its own, so that a function that
// only reads by-slot is not granted BatchGetItem: infra/samtemplate follows calls.)
func (s *Store) reread(ctx context.Context, fn func(authz.Authorization) error) func([]map[string]types.AttributeValue) error {
	return func(keys []map[string]types.AttributeValue) error {
		items, err := s.batchGet(ctx, keys)
		if err != nil {
			return fmt.Errorf("read the records: %w", err)
		}
		return each(items, fn)
	}
}

// queryIndex walks one partition of index and hands each page's items to page.
func (s *Store) queryIndex(ctx context.Context, index string, key expression.KeyConditionBuilder, page func([]map[string]types.AttributeValue) error) error {
	expr, err := expression.NewBuilder().WithKeyCondition(key).Build()
	if err != nil {
		return fmt.Errorf("query %s: build key condition: %w", index, err)
	}
	pages := dynamodb.NewQueryPaginator(s.db, &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		IndexName:                 aws.String(index),
		KeyConditionExpression:    expr.KeyCondition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
	})
	for pages.HasMorePages() {
		out, err := pages.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("query %s: %w", index, unavailable(err))
		}
		if err := page(out.Items); err != nil {
			return err
		}
	}
	return nil
}

// List calls fn for every authorization in the table: a full Scan, page by page, for
// the operator CLI only (it reads every item, history and nonces included).
func (s *Store) List(ctx context.Context, fn func(authz.Authorization) error) error {
	expr, err := expression.NewBuilder().WithFilter(expression.Name(attrSK).BeginsWith(tablekeys.AuthPrefix)).Build()
	if err != nil {
		return fmt.Errorf("list authorizations: build filter: %w", err)
	}
	pages := dynamodb.NewScanPaginator(s.db, &dynamodb.ScanInput{
		TableName:                 aws.String(s.table),
		FilterExpression:          expr.Filter(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
	})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list authorizations: %w", unavailable(err))
		}
		if err := each(page.Items, fn); err != nil {
			return err
		}
	}
	return nil
}

func each(items []map[string]types.AttributeValue, fn func(authz.Authorization) error) error {
	for _, item := range items {
		a, err := decodeAuth(item)
		if err != nil {
			return err
		}
		if err := fn(a); err != nil {
			return err
		}
	}
	return nil
}

// validKey refuses keys that would break the item layout: '#' separates key parts.
func validKey(connectionID string, region authz.Region) error {
	if err := authz.ValidateConnectionID(connectionID); err != nil {
		return err
	}
	_, err := authz.ParseRegion(string(region))
	return err
}
