package rotation

import (
	"errors"
	"time"
)

// Kinds of a failed rotation request. The Application Management API's adapter
// classifies its failures into these (and LWA's refusal of the current client secret
// into authz.ErrClientRejected) once, at the edge; anything else counts as Amazon
// unavailable, retried later.
var (
	// ErrOutcomeUnknown: the request was sent and no answer came. Amazon may have
	// rotated the secret, so the rotation stays pending rather than be asked twice.
	ErrOutcomeUnknown = errors.New("rotation request sent without an answer; the secret may have been rotated")
	// ErrThrottled: 429 or the usage plan. Retry later.
	ErrThrottled = errors.New("rotation request throttled")
	// ErrNotEnrolled: no queue is registered for the new client secret's notification.
	ErrNotEnrolled = errors.New("no queue registered for the new client secret")
	// ErrForbidden: 403 from the Application Management API.
	ErrForbidden = errors.New("rotation request forbidden")
	// ErrBadRequest: another 4xx: the request itself is wrong.
	ErrBadRequest = errors.New("rotation request refused")
)

// RetryAfterError is a refused rotation request that named how long to wait before
// asking again.
type RetryAfterError struct {
	RetryAfter time.Duration
	Err        error
}

func (e *RetryAfterError) Error() string { return e.Err.Error() }
func (e *RetryAfterError) Unwrap() error { return e.Err }
