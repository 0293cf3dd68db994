package reminder

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// The kinds of SES failure the sender tells apart. ClassifySES is the one place that
// maps SES v2 errors onto them; everything else branches on these with errors.Is.
var (
	// ErrThrottled: SES refused for rate (TooManyRequestsException) or quota
	// (LimitExceededException). The message goes back to the queue and is retried.
	ErrThrottled = errors.New("SES throttled the send")
	// ErrRejected: SES will never send this message as it is (MessageRejected, an
	// address on the suppression list, the configuration set not found, a request
	// SES finds invalid). It is recorded on the authorization and not retried.
	ErrRejected = errors.New("SES rejected the message")
	// ErrPaused: sending is paused or suspended for the whole account. Retrying one
	// message will not help, but marking every seller's reminder as rejected would lose
	// them all: the message is retried and, after maxReceiveCount, lands in the DLQ,
	// whose alarm tells the vendor to fix the account and redrive.
	ErrPaused = errors.New("SES sending is paused for the account")
	// ErrUnavailable: SES answered 5xx, or the network failed; retried.
	ErrUnavailable = errors.New("SES unavailable")
)

// Reasons are the ReminderFailed metric's Reason dimension values.
const (
	ReasonThrottled   = "throttled"
	ReasonRejected    = "rejected"
	ReasonPaused      = "paused"
	ReasonUnavailable = "unavailable"
	ReasonMalformed   = "malformed"
	ReasonUnknown     = "unknown_connection"
	ReasonNoAddress   = "bad_address"
)

// sesCodes maps SES v2 error codes (the API reference's SendEmail errors) to kinds.
var sesCodes = map[string]error{
	"TooManyRequestsException": ErrThrottled, // "Maximum sending rate exceeded."
	"LimitExceededException":   ErrThrottled, // "Daily message quota exceeded."
	"Throttling":               ErrThrottled, // SES v1's code, kept for its query endpoint
	"ThrottlingException":      ErrThrottled,

	"MessageRejected":                    ErrRejected, // content or address refused, incl. suppressed addresses
	"MailFromDomainNotVerifiedException": ErrRejected,
	"NotFoundException":                  ErrRejected, // the configuration set does not exist
	"BadRequestException":                ErrRejected, // e.g. an address SES cannot parse

	"AccountSuspendedException": ErrPaused,
	"SendingPausedException":    ErrPaused,
}

// ClassifySES wraps a SendEmail error in its kind, keeping SES's code and message
// (which never hold a secret: they name addresses and limits) for the log and the
// record. An error SES answered without a code it documents (aws-ses-v2-local puts
// its code in a "type" field the SDK does not read, so the SDK says UnknownError) is
// classified by its HTTP status.
func ClassifySES(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
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
		return fmt.Errorf("%w: HTTP %d %s: %s", ErrThrottled, status, code, msg)
	case status >= 400 && status < 500 && status != http.StatusForbidden && status != http.StatusUnauthorized && status != http.StatusRequestTimeout:
		return fmt.Errorf("%w: HTTP %d %s: %s", ErrRejected, status, code, msg)
	}
	// 5xx, 401/403 (our role or keys, not the seller's message), the network.
	return fmt.Errorf("%w: %s", ErrUnavailable, msg)
}

// Reason is the metric reason of a classified error.
func Reason(err error) string {
	switch {
	case errors.Is(err, ErrThrottled):
		return ReasonThrottled
	case errors.Is(err, ErrRejected):
		return ReasonRejected
	case errors.Is(err, ErrPaused):
		return ReasonPaused
	}
	return ReasonUnavailable
}
