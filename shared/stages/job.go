package stages

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
)

// StageReconnect is the stage of the email sent when LWA says invalid_grant before
// the authorization's expiry: the seller revoked the app (or Amazon did) and must
// authorize again. Its key on the record carries the revocation time, so it is sent
// once per revocation.
const StageReconnect = "reconnect"

// Job is one message on the reminder queue: remind this authorization of this stage.
// ExpiresAt is the expiry the stage was computed from; a job whose authorization has
// been renewed since (another ExpiresAt) is stale and dropped.
type Job struct {
	ConnectionID string       `json:"connectionId"`
	Region       authz.Region `json:"region"`
	Stage        string       `json:"stage"`              // "-30" … "+28" (days from expiry), or StageReconnect
	ExpiresAt    time.Time    `json:"expiresAt"`          // the expiry the stage is relative to
	RevokedAt    time.Time    `json:"revokedAt,omitzero"` // StageReconnect only
}

// DefaultClaimTimeout is how long a sender's claim on a stage holds before the scan
// counts the stage as not sent; it suits a function timeout of up to a minute or two.
const DefaultClaimTimeout = 5 * time.Minute

// ErrBadJob says a queue message is not a job: it is logged, counted and handed back
// to the queue, whose redrive policy moves it to the dead-letter queue.
var ErrBadJob = errors.New("malformed reminder job")

// Key is the job's key in the record's remindersSent map.
func (j Job) Key() string {
	if j.Stage == StageReconnect {
		return StageReconnect + "@" + j.RevokedAt.UTC().Format(time.RFC3339)
	}
	return j.Stage
}

// Marshal encodes the job as a queue message body.
func (j Job) Marshal() string {
	b, _ := json.Marshal(j) // plain strings and times: cannot fail
	return string(b)
}

// ParseJob decodes and checks a queue message body.
func ParseJob(body string) (Job, error) {
	var j Job
	if err := json.Unmarshal([]byte(body), &j); err != nil {
		return Job{}, fmt.Errorf("%w: %v", ErrBadJob, err)
	}
	if err := authz.ValidateConnectionID(j.ConnectionID); err != nil {
		return Job{}, fmt.Errorf("%w: %v", ErrBadJob, err)
	}
	if _, err := authz.ParseRegion(string(j.Region)); err != nil {
		return Job{}, fmt.Errorf("%w: %v", ErrBadJob, err)
	}
	if j.Stage == "" || j.ExpiresAt.IsZero() {
		return Job{}, fmt.Errorf("%w: stage and expiresAt are required", ErrBadJob)
	}
	if j.Stage == StageReconnect && j.RevokedAt.IsZero() {
		return Job{}, fmt.Errorf("%w: a reconnect job needs revokedAt", ErrBadJob)
	}
	return j, nil
}
