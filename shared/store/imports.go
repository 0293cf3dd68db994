package store

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/tablekeys"
)

// An import that runs in the stack (a file dropped into the import bucket) keeps its
// progress in one meta item, pk=META#import#{id}, sk=IMPORT: the import function
// writes it as it goes, and keeperctl import --remote reads it to show progress. It
// holds counts, line numbers and reasons, never a token.
const (
	importSK = tablekeys.ImportSK
)

// ImportStatus is the progress of one remote import.
type ImportStatus = authz.ImportStatus

type importItem struct {
	PK string `dynamodbav:"pk"`
	SK string `dynamodbav:"sk"`
	ImportStatus
}

// importTTL is how long DynamoDB keeps an import's status after its last update.
const importTTL = 90 * 24 * time.Hour

// PutImportStatus writes an import's status as it stands.
func (s *Store) PutImportStatus(ctx context.Context, st ImportStatus) error {
	if st.ID == "" {
		return fmt.Errorf("put import status: no id")
	}
	st.TTL = st.UpdatedAt.Add(importTTL).Unix()
	av, err := attributevalue.MarshalMap(importItem{PK: tablekeys.ImportPK(st.ID), SK: importSK, ImportStatus: st})
	if err != nil {
		return fmt.Errorf("put import status %s: encode: %w", st.ID, err)
	}
	if _, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: av}); err != nil {
		return fmt.Errorf("put import status %s: %w", st.ID, unavailable(err))
	}
	return nil
}

// ImportStatus reads an import's status; authz.ErrNotFound if it has not started.
func (s *Store) ImportStatus(ctx context.Context, id string) (ImportStatus, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.table), ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{
			attrPK: &types.AttributeValueMemberS{Value: tablekeys.ImportPK(id)},
			attrSK: &types.AttributeValueMemberS{Value: importSK},
		}})
	if err != nil {
		return ImportStatus{}, fmt.Errorf("get import status %s: %w", id, unavailable(err))
	}
	if out.Item == nil {
		return ImportStatus{}, fmt.Errorf("import %s: %w", id, authz.ErrNotFound)
	}
	var it importItem
	if err := attributevalue.UnmarshalMap(out.Item, &it); err != nil {
		return ImportStatus{}, fmt.Errorf("import %s: decode: %w", id, err)
	}
	return it.ImportStatus, nil
}
