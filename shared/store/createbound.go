package store

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
)

// CreateBound is Create that also binds a.SellingPartnerID to a's connection in a's
// region, in the same transaction (the import's write: a file may name one seller
// under two connections). If the seller is bound to another connection, nothing is
// written and the error is a *SellerBoundError; a record already stored under the
// connection is authz.ErrAlreadyExists.
func (s *Store) CreateBound(ctx context.Context, a authz.Authorization, at time.Time, events ...authz.Event) (authz.Authorization, error) {
	if err := validKey(a.ConnectionID, a.Region); err != nil {
		return authz.Authorization{}, fmt.Errorf("create authorization: %w", err)
	}
	if a.SellingPartnerID == "" {
		return authz.Authorization{}, fmt.Errorf("create authorization %s: no selling partner to bind", a.Key())
	}
	bind, err := s.bindingPut(a, at)
	if err != nil {
		return authz.Authorization{}, err
	}
	a.Version = 1
	onFailed := func(old map[string]types.AttributeValue) error {
		if sk, ok := old[attrSK].(*types.AttributeValueMemberS); ok && sk.Value == bindingSK {
			var it bindingItem
			_ = attributevalue.UnmarshalMap(old, &it)
			return &SellerBoundError{SellingPartnerID: a.SellingPartnerID, Region: a.Region, ConnectionID: it.ConnectionID}
		}
		return authz.ErrAlreadyExists
	}
	stored, err := s.writeAuth(ctx, a, expression.AttributeNotExists(expression.Name(attrPK)), events, onFailed, types.TransactWriteItem{Put: bind})
	if err != nil {
		return authz.Authorization{}, fmt.Errorf("create authorization %s: %w", a.Key(), err)
	}
	return stored, nil
}
