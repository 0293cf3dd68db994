package store

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// batchGetMax is BatchGetItem's limit of keys per request.
const batchGetMax = 100

// batchGet reads the table items whose keys (pk, sk) the index items carry, strongly
// consistent, in the index's order; an item deleted since the index was read is left
// out. DynamoDB may leave keys unprocessed (throttling, 16 MB per answer): they are
// asked again with a growing pause, as AWS advises, until ctx ends.
func (s *Store) batchGet(ctx context.Context, keys []map[string]types.AttributeValue) ([]map[string]types.AttributeValue, error) {
	got := make(map[[2]string]map[string]types.AttributeValue, len(keys))
	for chunk := range slices.Chunk(keys, batchGetMax) {
		pending := make([]map[string]types.AttributeValue, len(chunk))
		for i, k := range chunk {
			pending[i] = map[string]types.AttributeValue{attrPK: k[attrPK], attrSK: k[attrSK]}
		}
		delay := 20 * time.Millisecond
		for len(pending) > 0 {
			out, err := s.db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{
				s.table: {Keys: pending, ConsistentRead: aws.Bool(true)},
			}})
			if err != nil {
				return nil, unavailable(err)
			}
			for _, item := range out.Responses[s.table] {
				got[itemKey(item)] = item
			}
			pending = out.UnprocessedKeys[s.table].Keys
			if len(pending) == 0 {
				break
			}
			select {
			case <-ctx.Done():
				return nil, fmt.Errorf("%d keys left unprocessed: %w", len(pending), ctx.Err())
			case <-time.After(delay):
			}
			delay = min(2*delay, time.Second)
		}
	}
	items := make([]map[string]types.AttributeValue, 0, len(got))
	for _, k := range keys {
		if item, ok := got[itemKey(k)]; ok {
			items = append(items, item)
		}
	}
	return items, nil
}

func itemKey(item map[string]types.AttributeValue) [2]string {
	var k [2]string
	if v, ok := item[attrPK].(*types.AttributeValueMemberS); ok {
		k[0] = v.Value
	}
	if v, ok := item[attrSK].(*types.AttributeValueMemberS); ok {
		k[1] = v.Value
	}
	return k
}

// sameItem reports whether two items hold the same attributes and values; sets
// compare as sets, whatever order DynamoDB returns them in.
func sameItem(a, b map[string]types.AttributeValue) bool {
	if len(a) != len(b) {
		return false
	}
	for name, av := range a {
		bv, ok := b[name]
		if !ok || !sameValue(av, bv) {
			return false
		}
	}
	return true
}

func sameValue(a, b types.AttributeValue) bool {
	switch a := a.(type) {
	case *types.AttributeValueMemberS:
		b, ok := b.(*types.AttributeValueMemberS)
		return ok && a.Value == b.Value
	case *types.AttributeValueMemberN:
		b, ok := b.(*types.AttributeValueMemberN)
		return ok && a.Value == b.Value
	case *types.AttributeValueMemberBOOL:
		b, ok := b.(*types.AttributeValueMemberBOOL)
		return ok && a.Value == b.Value
	case *types.AttributeValueMemberNULL:
		b, ok := b.(*types.AttributeValueMemberNULL)
		return ok && a.Value == b.Value
	case *types.AttributeValueMemberB:
		b, ok := b.(*types.AttributeValueMemberB)
		return ok && string(a.Value) == string(b.Value)
	case *types.AttributeValueMemberSS:
		b, ok := b.(*types.AttributeValueMemberSS)
		return ok && sameSet(a.Value, b.Value)
	case *types.AttributeValueMemberNS:
		b, ok := b.(*types.AttributeValueMemberNS)
		return ok && sameSet(a.Value, b.Value)
	case *types.AttributeValueMemberM:
		b, ok := b.(*types.AttributeValueMemberM)
		return ok && sameItem(a.Value, b.Value)
	case *types.AttributeValueMemberL:
		b, ok := b.(*types.AttributeValueMemberL)
		if !ok || len(a.Value) != len(b.Value) {
			return false
		}
		for i := range a.Value {
			if !sameValue(a.Value[i], b.Value[i]) {
				return false
			}
		}
		return true
	}
	return false
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
