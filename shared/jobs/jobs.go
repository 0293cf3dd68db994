// Package jobs holds the message bodies of the keeper's own queues (the reminder and
// refresh queues): one type per queue, with the function that checks an untrusted body.
// It imports no AWS SDK, so the use cases that produce and consume them need none.
package jobs

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
)

// The message bodies of the project's own queues live here, one type per queue, so a
// producer and its consumer cannot drift apart. A body is attacker-controlled until
// its Parse function has checked it: a bad one is an error wrapping the queue's
// ErrBad… kind, which the consumer hands back to the queue (its redrive policy moves
// it to the dead-letter queue, which alarms).

// StageReconnect is the stage of the email sent when LWA says invalid_grant before
// the authorization's expiry: the seller revoked the app (or Amazon did) and must
// authorize again. Its key on the record carries the revocation time, so it is sent
// once per revocation.
const StageReconnect = "reconnect"

// ReminderJob is one message on the reminder queue: remind this authorization of
// this stage. ExpiresAt is the expiry the stage was computed from; a job whose
// authorization has been renewed since (another ExpiresAt) is stale and dropped.
type ReminderJob struct {
	ConnectionID string       `json:"connectionId"`
	Region       authz.Region `json:"region"`
	Stage        string       `json:"stage"`              // "-30" … "+28" (days from expiry), or StageReconnect
	ExpiresAt    time.Time    `json:"expiresAt"`          // the expiry the stage is relative to
	RevokedAt    time.Time    `json:"revokedAt,omitzero"` // StageReconnect only
}

// ErrBadReminderJob says a reminder queue message is not a job.
var ErrBadReminderJob = errors.New("malformed reminder job")

// Key is the job's key in the record's remindersSent map.
func (j ReminderJob) Key() string {
	if j.Stage == StageReconnect {
		return StageReconnect + "@" + j.RevokedAt.UTC().Format(time.RFC3339)
	}
	return j.Stage
}

// Marshal encodes the job as a queue message body.
func (j ReminderJob) Marshal() string {
	b, _ := json.Marshal(j) // plain strings and times: cannot fail
	return string(b)
}

// ParseReminderJob decodes and checks a reminder queue message body.
func ParseReminderJob(body string) (ReminderJob, error) {
	var j ReminderJob
	if err := json.Unmarshal([]byte(body), &j); err != nil {
		return ReminderJob{}, fmt.Errorf("%w: %v", ErrBadReminderJob, err)
	}
	if err := authz.ValidateConnectionID(j.ConnectionID); err != nil {
		return ReminderJob{}, fmt.Errorf("%w: %v", ErrBadReminderJob, err)
	}
	if _, err := authz.ParseRegion(string(j.Region)); err != nil {
		return ReminderJob{}, fmt.Errorf("%w: %v", ErrBadReminderJob, err)
	}
	if j.Stage == "" || j.ExpiresAt.IsZero() {
		return ReminderJob{}, fmt.Errorf("%w: stage and expiresAt are required", ErrBadReminderJob)
	}
	if j.Stage == StageReconnect && j.RevokedAt.IsZero() {
		return ReminderJob{}, fmt.Errorf("%w: a reconnect job needs revokedAt", ErrBadReminderJob)
	}
	return j, nil
}

// RefreshRequest names one authorization to refresh. It is the refresh queue's
// message body and, without QueuedAt, the payload of a direct invocation of the token
// refresh function.
type RefreshRequest struct {
	ConnectionID string       `json:"connectionId"`
	Region       authz.Region `json:"region"`
	// QueuedAt is when the sweep queued the request; zero for a direct invocation.
	QueuedAt time.Time `json:"queuedAt,omitzero"`
	// Force sends the refresh token to LWA even when the record is not due for a
	// proof of life (pending, expired, revocation confirmed): an operator invoking the
	// function directly wants LWA's answer. Never read from a message.
	Force bool `json:"-"`
}

// ErrBadRefreshRequest says a message or payload does not name an authorization.
var ErrBadRefreshRequest = errors.New("not a refresh request")

// ParseRefreshRequest decodes and checks a refresh queue message body or a direct
// payload.
func ParseRefreshRequest(body []byte) (RefreshRequest, error) {
	var r RefreshRequest
	if err := json.Unmarshal(body, &r); err != nil {
		return RefreshRequest{}, fmt.Errorf("%w: %v", ErrBadRefreshRequest, err)
	}
	if err := authz.ValidateConnectionID(r.ConnectionID); err != nil {
		return RefreshRequest{}, fmt.Errorf("%w: %v", ErrBadRefreshRequest, err)
	}
	if _, err := authz.ParseRegion(string(r.Region)); err != nil {
		return RefreshRequest{}, fmt.Errorf("%w: %v", ErrBadRefreshRequest, err)
	}
	return r, nil
}

// Marshal encodes the request as a queue message body.
func (r RefreshRequest) Marshal() string {
	b, _ := json.Marshal(r) // strings and a time: cannot fail
	return string(b)
}
