// Package stages holds when a seller is reminded: the stages relative to an
// authorization's expiry, the UTC days they count in, and the job the expiry scan and
// the token refresh put on the reminder queue for a stage that falls due. The sender
// of the emails (shared/reminder, with SES and the templates) is apart, so that the
// functions that only schedule reminders do not link it.
package stages

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
)

// Stage is a reminder stage: whole days relative to the authorization's expiry day
// (-30 is thirty days before, 0 the expiry day itself, +7 a week after).
type Stage int

// Key is the stage's key in the record's remindersSent map and in queue jobs: "-30",
// "0", "+7". The sign keeps keys readable in the table and stable across configs.
func (s Stage) Key() string {
	if s > 0 {
		return "+" + strconv.Itoa(int(s))
	}
	return strconv.Itoa(int(s))
}

// MaxStageDays bounds a stage: an authorization lasts 365 days, so a stage further
// than that from its expiry would fall before the grant or after the next renewal.
const MaxStageDays = 365

// Schedule is the ordered set of stages at which a seller is reminded.
type Schedule []Stage

// ParseSchedule reads REMINDER_STAGES: comma-separated whole days relative to expiry,
// such as "-30,-23,-16,-9,-3,-1,0,7,14,28" ("+7" is accepted too). Stages are sorted;
// an empty list, a repeated stage or one beyond ±365 days is refused.
func ParseSchedule(spec string) (Schedule, error) {
	var s Schedule
	for _, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		n, err := strconv.Atoi(strings.TrimPrefix(part, "+"))
		if err != nil || strings.HasPrefix(part, "+-") {
			return nil, fmt.Errorf("REMINDER_STAGES: %q is not a whole number of days", part)
		}
		if n < -MaxStageDays || n > MaxStageDays {
			return nil, fmt.Errorf("REMINDER_STAGES: %d days is beyond ±%d", n, MaxStageDays)
		}
		if slices.Contains(s, Stage(n)) {
			return nil, fmt.Errorf("REMINDER_STAGES: stage %d appears twice", n)
		}
		s = append(s, Stage(n))
	}
	if len(s) == 0 {
		return nil, fmt.Errorf("REMINDER_STAGES: no stage in %q", spec)
	}
	slices.Sort(s)
	return s, nil
}

// MustParseSchedule is ParseSchedule for constants in tests and defaults.
func MustParseSchedule(spec string) Schedule {
	s, err := ParseSchedule(spec)
	if err != nil {
		panic(err)
	}
	return s
}

// String gives the schedule back in REMINDER_STAGES form.
func (s Schedule) String() string {
	keys := make([]string, len(s))
	for i, st := range s {
		keys[i] = st.Key()
	}
	return strings.Join(keys, ",")
}

// ByKey finds the stage a job or a remindersSent key names.
func (s Schedule) ByKey(key string) (Stage, bool) {
	for _, st := range s {
		if st.Key() == key {
			return st, true
		}
	}
	return 0, false
}

// Window is how long before expiry an authorization counts as expiring: from the
// start of the first stage's day, so that the scan that sends the first reminder
// also moves the record to expiring whatever the hour of its expiry. A schedule with
// no stage before expiry has no window.
func (s Schedule) Window() time.Duration {
	if len(s) == 0 || s[0] >= 0 {
		return 0
	}
	return time.Duration(-int(s[0])+1) * day
}

// Day is a UTC calendar day, the unit the by-expiry index and the stages count in.
// It counts days since 1970-01-01, so days compare with == and < and key maps.
type Day int64

const day = 24 * time.Hour

// DayOf is the UTC day of t.
func DayOf(t time.Time) Day {
	y, m, d := t.UTC().Date()
	return Day(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / int64(day/time.Second))
}

// ParseDay reads a YYYY-MM-DD day.
func ParseDay(s string) (Day, error) {
	t, err := time.Parse(authz.DayLayout, s)
	if err != nil {
		return 0, fmt.Errorf("bad day %q: %w", s, err)
	}
	return DayOf(t), nil
}

// AddDays moves the day by n days (negative goes back).
func (d Day) AddDays(n int) Day { return d + Day(n) }

// Time is midnight UTC at the start of the day.
func (d Day) Time() time.Time { return time.Unix(int64(d)*int64(day/time.Second), 0).UTC() }

// String is the YYYY-MM-DD form, the by-expiry GSI key.
func (d Day) String() string { return d.Time().Format(authz.DayLayout) }

// ExpiryDays are the by-expiry partitions that hold every authorization with a stage
// falling due on one of days: for each day and stage, the day minus the stage (today
// +30 for the -30 stage). Sorted, without repeats.
func (s Schedule) ExpiryDays(days ...Day) []Day {
	seen := map[Day]bool{}
	var out []Day
	for _, d := range days {
		for _, st := range s {
			e := d.AddDays(-int(st))
			if !seen[e] {
				seen[e] = true
				out = append(out, e)
			}
		}
	}
	slices.Sort(out)
	return out
}

// LatestDue is the last stage of an authorization expiring on expiryDay that falls
// due after the day `after` and no later than today: the one stage to send when the
// scan catches up on missed days, never a burst of older ones.
func (s Schedule) LatestDue(expiryDay, after, today Day) (Stage, bool) {
	for i := len(s) - 1; i >= 0; i-- {
		due := expiryDay.AddDays(int(s[i]))
		if due <= today {
			if due > after {
				return s[i], true
			}
			return 0, false
		}
	}
	return 0, false
}
