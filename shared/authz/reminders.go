package authz

import (
	"errors"
	"time"
)

// A reminder stage is claimed, marked and released on the one remindersSent entry it
// concerns, so that it is sent at most once however many senders race for it. These
// are the claim and the answers the ledger gives the reminder sender.
var (
	// ErrReminderDone: the stage was sent, or rejected for good, already.
	ErrReminderDone = errors.New("reminder stage already sent or rejected")
	// ErrReminderClaimed: another sender claimed the stage less than the claim timeout ago.
	ErrReminderClaimed = errors.New("reminder stage claimed by another sender")
	// ErrReminderStale: the authorization's expiry is no longer the one the job was
	// computed from: it was renewed, and the stage belongs to a past year.
	ErrReminderStale = errors.New("reminder job is for a previous expiry")
	// ErrClaimLost: the claim being marked or released is no longer ours (taken over
	// after the timeout, or wiped by a renewal).
	ErrClaimLost = errors.New("reminder claim no longer held")
)

// ReminderClaim names one claim on one stage of one authorization. ClaimedAt, stored
// with nanoseconds, is what tells this claim from any other on the same stage.
type ReminderClaim struct {
	ConnectionID string
	Region       Region
	Key          string    // the stage's key in remindersSent ("-30", "+7", "reconnect@…")
	ExpiresAt    time.Time // the expiry the job was computed from
	ClaimedAt    time.Time
}
