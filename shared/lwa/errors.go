package lwa

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
)

// Kinds of LWA failure. Every error the Client returns from a token request is an
// *Error that matches exactly one of them with errors.Is; the rest of the code
// branches on these, never on LWA's strings.
var (
	// ErrInvalidGrant: LWA refused the code or refresh token (code used or expired,
	// token revoked, authorization lapsed). Only the seller can fix it, by
	// authorizing again.
	ErrInvalidGrant = authz.ErrInvalidGrant
	// ErrClient: invalid_client or unauthorized_client. The vendor's LWA client id or
	// secret is wrong or was rotated away: page the vendor, do not blame the seller.
	ErrClient = authz.ErrClientRejected
	// ErrBadRequest: invalid_request, unsupported_grant_type, invalid_scope or another
	// 4xx. The request itself is wrong: a bug or a misconfiguration on our side.
	ErrBadRequest = authz.ErrBadRequest
	// ErrThrottled: HTTP 429 on every attempt.
	ErrThrottled = authz.ErrThrottled
	// ErrUnavailable: 5xx, server_error, temporarily_unavailable, a timeout, a network
	// error or an unreadable answer on the last attempt, or the caller's context ended
	// first. Trying again later may succeed.
	ErrUnavailable = errors.New("lwa: unavailable")
)

// Error is a failed token request. Its text never holds a token, a code or a client
// secret; Description is LWA's error_description with any value the request sent
// masked, so it may be logged.
type Error struct {
	Grant       string // grant_type of the request
	Code        string // LWA's "error" field, or http_<status>, timeout, network_error, invalid_response, ...
	Description string
	Status      int // HTTP status of the last answer; 0 if none came
	Attempts    int // requests sent (0: refused before sending)
	kind        error
	cause       error // transport error or context error, if any
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "lwa %s: %s", e.Grant, e.Code)
	if e.Status != 0 {
		fmt.Fprintf(&b, " (HTTP %d)", e.Status)
	}
	switch e.Attempts {
	case 0:
	case 1:
		b.WriteString(" after 1 attempt")
	default:
		fmt.Fprintf(&b, " after %d attempts", e.Attempts)
	}
	if e.Description != "" {
		b.WriteString(": ")
		b.WriteString(e.Description)
	}
	if e.cause != nil {
		b.WriteString(": ")
		b.WriteString(e.cause.Error())
	}
	return b.String()
}

// Unwrap lets errors.Is match the kind (ErrInvalidGrant, ...) and the cause
// (context.Canceled, context.DeadlineExceeded, a net error).
func (e *Error) Unwrap() []error {
	if e.cause != nil {
		return []error{e.kind, e.cause}
	}
	return []error{e.kind}
}

// Kind is the sentinel the error matches: ErrInvalidGrant, ErrClient, ErrBadRequest,
// ErrThrottled or ErrUnavailable.
func (e *Error) Kind() error { return e.kind }
