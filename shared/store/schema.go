package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/spapi-auth-keeper/keeper/shared/tablekeys"
)

// Attribute and index names of the table; template.yaml declares the same schema.
const (
	attrPK          = tablekeys.PK
	attrSK          = tablekeys.SK
	attrExpiryDay   = "expiryDay"
	attrSeller      = "sellingPartnerId"
	attrRefreshSlot = "refreshSlot"
	attrVersion     = "version"
	attrTTL         = "ttl"

	IndexByExpiry = "by-expiry"
	IndexBySeller = "by-seller"
	IndexBySlot   = "by-slot"
)

// SlotIndexAttributes are the attributes the by-slot index carries besides the keys:
// what the hourly sweep needs to queue a record and choose its canary. A refresh
// changes none of them (only lastRefreshAt and version), so it writes no index copy.
var SlotIndexAttributes = []string{"connectionId", "region", "status", "refreshFailures"}

// Indexes are the table's global secondary indexes, each sorted by pk and projecting
// only what its reader needs, so that a record update that leaves an index's
// attributes alone writes the table item and no index copy:
//   - by-expiry, KEYS_ONLY: the daily scan reads the keys of the due days and then the
//     records themselves (BatchGetItem), a few percent of the table a day;
//   - by-seller, KEYS_ONLY: the Login URI reads the keys of a seller's authorizations
//     (one per region) and then the records;
//   - by-slot, INCLUDE SlotIndexAttributes: the sweep reads every record once a day
//     and needs no more, and the worker reads the record it refreshes anyway.
//
// template.yaml declares the same indexes (infra/samtemplate checks it).
func Indexes() []types.GlobalSecondaryIndex {
	gsi := func(name, partition string, p types.Projection) types.GlobalSecondaryIndex {
		return types.GlobalSecondaryIndex{
			IndexName: aws.String(name),
			KeySchema: []types.KeySchemaElement{
				{AttributeName: aws.String(partition), KeyType: types.KeyTypeHash},
				{AttributeName: aws.String(attrPK), KeyType: types.KeyTypeRange},
			},
			Projection: &p,
		}
	}
	keysOnly := types.Projection{ProjectionType: types.ProjectionTypeKeysOnly}
	return []types.GlobalSecondaryIndex{
		gsi(IndexByExpiry, attrExpiryDay, keysOnly),
		gsi(IndexBySeller, attrSeller, keysOnly),
		gsi(IndexBySlot, attrRefreshSlot, types.Projection{ProjectionType: types.ProjectionTypeInclude, NonKeyAttributes: append([]string(nil), SlotIndexAttributes...)}),
	}
}

// CreateTable creates the ledger table: on-demand capacity, the three GSIs (Indexes),
// then TTL on "ttl" once the table is ACTIVE (UpdateTimeToLive is refused before). It
// returns when the table and its indexes are ACTIVE. Tests and the local stack use it;
// template.yaml creates the same table on AWS.
func CreateTable(ctx context.Context, client *dynamodb.Client, table string) error {
	_, err := client.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:   aws.String(table),
		BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String(attrPK), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String(attrSK), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String(attrExpiryDay), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String(attrSeller), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String(attrRefreshSlot), AttributeType: types.ScalarAttributeTypeN},
		},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String(attrPK), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String(attrSK), KeyType: types.KeyTypeRange},
		},
		GlobalSecondaryIndexes: Indexes(),
		// The history items reach the domain event publisher through the stream.
		StreamSpecification: &types.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: types.StreamViewTypeNewImage},
	})
	var inUse *types.ResourceInUseException
	if errors.As(err, &inUse) {
		return fmt.Errorf("create table %s: %w", table, ErrTableExists)
	}
	if err != nil {
		return fmt.Errorf("create table %s: %w", table, unavailable(err))
	}
	if err := waitActive(ctx, client, table); err != nil {
		return err
	}
	_, err = client.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName: aws.String(table),
		TimeToLiveSpecification: &types.TimeToLiveSpecification{
			AttributeName: aws.String(attrTTL),
			Enabled:       aws.Bool(true),
		},
	})
	if err != nil {
		return fmt.Errorf("enable TTL on %s: %w", table, unavailable(err))
	}
	return nil
}

// waitActive polls DescribeTable until the table and every GSI are ACTIVE. Its first
// poll comes after 50 ms (DynamoDB Local is ACTIVE at once) and the delay grows to 2 s
// (AWS takes seconds to minutes).
func waitActive(ctx context.Context, client *dynamodb.Client, table string) error {
	delay := 50 * time.Millisecond
	for {
		out, err := client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
		if err != nil {
			return fmt.Errorf("wait for table %s: %w", table, unavailable(err))
		}
		if active(out.Table) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for table %s to be ACTIVE (now %s): %w", table, out.Table.TableStatus, ctx.Err())
		case <-time.After(delay):
		}
		delay = min(delay*2, 2*time.Second)
	}
}

func active(t *types.TableDescription) bool {
	if t == nil || t.TableStatus != types.TableStatusActive {
		return false
	}
	for _, g := range t.GlobalSecondaryIndexes {
		if g.IndexStatus != types.IndexStatusActive {
			return false
		}
	}
	return true
}
