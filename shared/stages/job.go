package stages

import (
	"time"

	"github.com/spapi-auth-keeper/keeper/shared/jobs"
)

// The reminder queue's message format lives in shared/queue with the project's other
// queue messages; these names keep the reminder code's vocabulary.

// StageReconnect is the stage of the email sent when LWA says invalid_grant before
// the authorization's expiry (jobs.StageReconnect).
const StageReconnect = jobs.StageReconnect

// Job is one message on the reminder queue (jobs.ReminderJob).
type Job = jobs.ReminderJob

// DefaultClaimTimeout is how long a sender's claim on a stage holds before the scan
// counts the stage as not sent; it suits a function timeout of up to a minute or two.
const DefaultClaimTimeout = 5 * time.Minute

// ErrBadJob says a queue message is not a job: it is logged, counted and handed back
// to the queue, whose redrive policy moves it to the dead-letter jobs.
var ErrBadJob = jobs.ErrBadReminderJob

// ParseJob decodes and checks a queue message body.
func ParseJob(body string) (Job, error) { return jobs.ParseReminderJob(body) }
