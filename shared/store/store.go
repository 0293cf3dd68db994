// Package store is the DynamoDB adapter of the authorization ledger: one table holds
// the authorization records, their history and the single-use state nonces of the
// OAuth round trip. It maps authz types to items and DynamoDB errors to the domain's
// error kinds; nothing above it sees an AWS type.
package store

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	smithy "github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
)

// Error kinds of this package; the domain's own (authz.ErrNotFound,
// authz.ErrAlreadyExists, authz.ErrVersionConflict) are returned as they are.
var (
	// ErrNonceNotFound: the state nonce was never issued or was already consumed (a replay).
	ErrNonceNotFound = authz.ErrNonceNotFound
	// ErrNonceExpired: the nonce existed but its lifetime had passed; it is deleted all the same.
	ErrNonceExpired = authz.ErrNonceExpired
	// ErrUnavailable: DynamoDB throttled, failed (5xx) or could not be reached, after the
	// SDK's own retries. The caller may retry later; nothing was decided.
	ErrUnavailable = authz.ErrStoreUnavailable
	// ErrTableExists: CreateTable found a table of that name.
	ErrTableExists = errors.New("table already exists")
)

// Store reads and writes the ledger table.
type Store struct {
	db    *dynamodb.Client
	table string
}

// New returns a Store over an existing table (see CreateTable and template.yaml).
func New(client *dynamodb.Client, table string) *Store {
	return &Store{db: client, table: table}
}

// Table is the table's name.
func (s *Store) Table() string { return s.table }

// unavailableCodes are the DynamoDB error codes that say "not now" rather than "no":
// throttling (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Programming.Errors.html)
// and server-side failures.
var unavailableCodes = map[string]bool{
	"ProvisionedThroughputExceededException": true,
	"ThrottlingException":                    true,
	"RequestLimitExceeded":                   true,
	"InternalServerError":                    true,
	"ServiceUnavailable":                     true,
}

// unavailable wraps err with ErrUnavailable when it is throttling, a 5xx or a network
// failure that the SDK's retries did not overcome; other errors pass through.
func unavailable(err error) error {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var api smithy.APIError
	if errors.As(err, &api) && unavailableCodes[api.ErrorCode()] {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	var resp *smithyhttp.ResponseError
	if errors.As(err, &resp) && resp.HTTPStatusCode() >= 500 {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	// The request never got an answer, or the client's retry quota (ratelimit) was
	// spent on earlier failures.
	var send *smithyhttp.RequestSendError
	var netErr net.Error
	var quota ratelimit.QuotaExceededError
	if errors.As(err, &send) || errors.As(err, &netErr) || errors.As(err, &quota) {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return err
}
