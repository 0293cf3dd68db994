package sesmail

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/spapi-auth-keeper/keeper/shared/reminder"
)

// sesCodes maps SES v2 error codes (the API reference's SendEmail errors) to the
// reminder's kinds.
var sesCodes = map[string]error{
	"TooManyRequestsException": reminder.ErrThrottled, // "Maximum sending rate exceeded."
	"LimitExceededException":   reminder.ErrThrottled, // "Daily message quota exceeded."
	"Throttling":               reminder.ErrThrottled, // SES v1's code, kept for its query endpoint
	"ThrottlingException":      reminder.ErrThrottled,

	"MessageRejected":                    reminder.ErrRejected, // content or address refused, incl. suppressed addresses
	"MailFromDomainNotVerifiedException": reminder.ErrRejected,
	"NotFoundException":                  reminder.ErrRejected, // the configuration set does not exist
	"BadRequestException":                reminder.ErrRejected, // e.g. an address SES cannot parse

	"AccountSuspendedException": reminder.ErrPaused,
	"SendingPausedException":    reminder.ErrPaused,
}

// Classify wraps a SendEmail error in its kind, keeping SES's code and message
// (which never hold a secret: they name addresses and limits) for the log and the
// record. An error SES answered without a code it documents (aws-ses-v2-local puts
// its code in a "type" field the SDK does not read, so the SDK says UnknownError) is
// classified by its HTTP status.
func Classify(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: %w", reminder.ErrUnavailable, err)
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		if kind, ok := sesCodes[api.ErrorCode()]; ok {
			return fmt.Errorf("%w: %s: %s", kind, api.ErrorCode(), api.ErrorMessage())
		}
	}
	status := 0
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	code, msg := "", err.Error()
	if api != nil {
		code, msg = api.ErrorCode(), api.ErrorMessage()
	}
	switch {
	case status == http.StatusTooManyRequests:
		return fmt.Errorf("%w: HTTP %d %s: %s", reminder.ErrThrottled, status, code, msg)
	case status >= 400 && status < 500 && status != http.StatusForbidden && status != http.StatusUnauthorized && status != http.StatusRequestTimeout:
		return fmt.Errorf("%w: HTTP %d %s: %s", reminder.ErrRejected, status, code, msg)
	}
	// 5xx, 401/403 (our role or keys, not the seller's message), the network.
	return fmt.Errorf("%w: %s", reminder.ErrUnavailable, msg)
}
