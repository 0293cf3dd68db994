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

// Parked refresh tokens: when Secrets Manager cannot take a token that Amazon has
// just issued, the callback parks it, KMS-encrypted, under `pk=PARKED,
// sk={connectionId}#{region}`, and the refresh sweep moves it into the vault later. One
// partition holds them all: they are rare, and the sweep reads them in one Query.
const parkedPK = tablekeys.ParkedPK

// Parked is one waiting token. Ciphertext is KMS's; the plaintext never touches the table.
type Parked = authz.Parked

type parkedItem struct {
	PK               string       `dynamodbav:"pk"`
	SK               string       `dynamodbav:"sk"`
	ConnectionID     string       `dynamodbav:"connectionId"`
	Region           string       `dynamodbav:"region"`
	SellingPartnerID string       `dynamodbav:"parkedSellerId,omitempty"` // not the by-seller GSI key
	Ciphertext       []byte       `dynamodbav:"ciphertext"`
	AuthorizedAt     string       `dynamodbav:"authorizedAt"`
	Account          *accountItem `dynamodbav:"evidence,omitempty"`
	Verified         bool         `dynamodbav:"verified"`
	Origin           string       `dynamodbav:"origin,omitempty"`
	ParkedAt         string       `dynamodbav:"parkedAt"`
	Reason           string       `dynamodbav:"reason,omitempty"`
}

func parkedKey(connectionID string, region authz.Region) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		attrPK: &types.AttributeValueMemberS{Value: parkedPK},
		attrSK: &types.AttributeValueMemberS{Value: tablekeys.ParkedSK(connectionID, string(region))},
	}
}

// Park stores p, replacing an older parked token of the same authorization: the newer
// one is the token Amazon now honours.
func (s *Store) Park(ctx context.Context, p Parked) error {
	if err := validKey(p.ConnectionID, p.Region); err != nil {
		return fmt.Errorf("park token: %w", err)
	}
	it := parkedItem{PK: parkedPK, SK: tablekeys.ParkedSK(p.ConnectionID, string(p.Region)), ConnectionID: p.ConnectionID, Region: string(p.Region),
		SellingPartnerID: p.SellingPartnerID, Ciphertext: p.Ciphertext, AuthorizedAt: formatTime(p.AuthorizedAt),
		Verified: p.Verified, Origin: string(p.Origin), ParkedAt: formatTime(p.ParkedAt), Reason: truncateReason(p.Reason)}
	if !p.Account.IsZero() {
		it.Account = &accountItem{StoreName: p.Account.StoreName, MarketplaceIDs: p.Account.MarketplaceIDs, SellerID: p.Account.SellerID,
			SellerIDVerified: p.Account.SellerIDVerified, TakenAt: formatTime(p.Account.TakenAt)}
	}
	av, err := attributevalue.MarshalMap(it)
	if err != nil {
		return fmt.Errorf("park token: encode: %w", err)
	}
	if _, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: av}); err != nil {
		return fmt.Errorf("park token for %s/%s: %w", p.ConnectionID, p.Region, unavailable(err))
	}
	return nil
}

// ParkedTokens returns every parked token, oldest first.
func (s *Store) ParkedTokens(ctx context.Context) ([]Parked, error) {
	expr, err := expression.NewBuilder().WithKeyCondition(expression.Key(attrPK).Equal(expression.Value(parkedPK))).Build()
	if err != nil {
		return nil, fmt.Errorf("list parked tokens: %w", err)
	}
	pages := dynamodb.NewQueryPaginator(s.db, &dynamodb.QueryInput{
		TableName: aws.String(s.table), KeyConditionExpression: expr.KeyCondition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(), ConsistentRead: aws.Bool(true),
	})
	var out []Parked
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list parked tokens: %w", unavailable(err))
		}
		for _, av := range page.Items {
			var it parkedItem
			if err := attributevalue.UnmarshalMap(av, &it); err != nil {
				return nil, fmt.Errorf("decode parked token: %w", err)
			}
			p := Parked{ConnectionID: it.ConnectionID, Region: authz.Region(it.Region), SellingPartnerID: it.SellingPartnerID,
				Ciphertext: it.Ciphertext, Verified: it.Verified, Origin: authz.Origin(it.Origin), Reason: it.Reason}
			if p.AuthorizedAt, err = parseTime("authorizedAt", it.AuthorizedAt); err != nil {
				return nil, err
			}
			if p.ParkedAt, err = parseTime("parkedAt", it.ParkedAt); err != nil {
				return nil, err
			}
			if it.Account != nil {
				p.Account = authz.Account{StoreName: it.Account.StoreName, MarketplaceIDs: it.Account.MarketplaceIDs,
					SellerID: it.Account.SellerID, SellerIDVerified: it.Account.SellerIDVerified}
				if p.Account.TakenAt, err = parseTime("evidence.takenAt", it.Account.TakenAt); err != nil {
					return nil, err
				}
			}
			out = append(out, p)
		}
	}
	return out, nil
}

// Unpark deletes the parked token of an authorization if it is still the one parked
// at parkedAt (a newer one parked meanwhile stays).
func (s *Store) Unpark(ctx context.Context, connectionID string, region authz.Region, parkedAt time.Time) error {
	expr, err := expression.NewBuilder().WithCondition(expression.Name("parkedAt").Equal(expression.Value(formatTime(parkedAt)))).Build()
	if err != nil {
		return fmt.Errorf("unpark: %w", err)
	}
	_, err = s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: aws.String(s.table), Key: parkedKey(connectionID, region),
		ConditionExpression: expr.Condition(), ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	})
	var failed *types.ConditionalCheckFailedException
	if err != nil && !errors.As(err, &failed) {
		return fmt.Errorf("unpark %s/%s: %w", connectionID, region, unavailable(err))
	}
	return nil
}

func truncateReason(s string) string {
	if len(s) > 300 {
		return s[:300]
	}
	return s
}
