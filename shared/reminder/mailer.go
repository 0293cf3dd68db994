package reminder

import (
	"context"
	"errors"
)

// Message is one email as the sender hands it to the mail service.
type Message struct {
	From    string // SENDER_EMAIL as FormatSender made it
	To      string // one bare address (ValidateAddress)
	Subject string
	HTML    string
	Text    string
	// Tags go on the message as the mail service's message tags: its delivery events
	// find their reminder entry by them (shared/delivery).
	Tags map[string]string
}

// Mailer sends one email and returns the mail service's id for it (SES v2 in the
// stack: shared/sesmail). Its errors carry one of the kinds below, for errors.Is; an
// error of no kind counts as ErrUnavailable.
type Mailer interface {
	Send(ctx context.Context, m Message) (messageID string, err error)
}

// The kinds of sending failure the sender tells apart. The mailer classifies the mail
// service's errors into them, once, at the edge; the sender branches on them alone.
var (
	// ErrThrottled: the mail service refused for rate or for the day's quota. The
	// message goes back to the queue and is retried.
	ErrThrottled = errors.New("SES throttled the send")
	// ErrRejected: the mail service will never send this message as it is (content or
	// address refused, an address on the suppression list, the configuration set not
	// found, a request it finds invalid). It is recorded on the authorization and not
	// retried.
	ErrRejected = errors.New("SES rejected the message")
	// ErrPaused: sending is paused or suspended for the whole account. Retrying one
	// message will not help, but marking every seller's reminder as rejected would lose
	// them all: the message is retried and, after maxReceiveCount, lands in the DLQ,
	// whose alarm tells the vendor to fix the account and redrive.
	ErrPaused = errors.New("SES sending is paused for the account")
	// ErrUnavailable: the mail service answered 5xx, or the network failed; retried.
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

// Reason is the metric reason of a sending error.
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
