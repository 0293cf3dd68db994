package vault

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// unavailableCodes are the error codes by which AWS says "not now": throttling (the
// PutSecretValue family shares 50 requests/s per region and GetSecretValue has its own
// quota) and failures on the service's side.
var unavailableCodes = map[string]bool{
	"InternalServiceError":     true,
	"InternalFailure":          true,
	"ServiceUnavailable":       true,
	"ThrottlingException":      true,
	"Throttling":               true,
	"TooManyRequestsException": true,
	"RequestLimitExceeded":     true,
	"RequestThrottled":         true,
	// DynamoDB's, for the packed layout's bookkeeping.
	"ProvisionedThroughputExceededException": true,
	"ThrottlingError":                        true,
	"RequestTimeout":                         true,
	"RequestTimeoutException":                true,
}

// classify turns an SDK error into the vault's kinds, keeping the SDK error wrapped
// for errors.As and for the log: ResourceNotFoundException is ErrNotFound; throttling,
// service-side failures and network errors are ErrUnavailable; anything else (access
// denied, a KMS key that cannot encrypt, ...) is returned as it is, to be fixed by a
// person rather than retried.
func classify(err error) error {
	var notFound *types.ResourceNotFoundException
	if errors.As(err, &notFound) {
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	if unavailable(err) {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return err
}

func unavailable(err error) bool {
	if errors.Is(err, context.Canceled) {
		return false // the caller gave up; Secrets Manager is not to blame
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) && unavailableCodes[apiErr.ErrorCode()] {
		return true
	}
	var status interface{ HTTPStatusCode() int }
	if errors.As(err, &status) && status.HTTPStatusCode() >= 500 {
		return true
	}
	var sendErr *smithyhttp.RequestSendError
	if errors.As(err, &sendErr) {
		return true
	}
	var netErr net.Error
	return errors.As(err, &netErr) && netErr.Timeout()
}
