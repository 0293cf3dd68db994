// Package reminder holds the reminder emails of the ledger: the sender that claims
// each due stage once and sends it through a Mailer (SES v2 in the stack, through
// shared/sesmail), and the emails it renders. The stages and the queue's jobs are
// shared/stages; their names here are aliases, so that the sender's callers and
// tests read as before.
package reminder

import (
	"time"

	"github.com/spapi-auth-keeper/keeper/shared/stages"
)

// The schedule and the job format, from shared/stages.
type (
	Stage    = stages.Stage
	Schedule = stages.Schedule
	Day      = stages.Day
	Job      = stages.Job
)

const (
	StageReconnect = stages.StageReconnect
	MaxStageDays   = stages.MaxStageDays
)

// ErrBadJob is stages.ErrBadJob.
var ErrBadJob = stages.ErrBadJob

// ParseSchedule is stages.ParseSchedule.
func ParseSchedule(spec string) (Schedule, error) { return stages.ParseSchedule(spec) }

// MustParseSchedule is stages.MustParseSchedule.
func MustParseSchedule(spec string) Schedule { return stages.MustParseSchedule(spec) }

// ParseJob is stages.ParseJob.
func ParseJob(body string) (Job, error) { return stages.ParseJob(body) }

// DayOf is stages.DayOf.
func DayOf(t time.Time) Day { return stages.DayOf(t) }

// ParseDay is stages.ParseDay.
func ParseDay(s string) (Day, error) { return stages.ParseDay(s) }
