package jobs_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/spapi-auth-keeper/keeper/shared/jobs"
	"github.com/spapi-auth-keeper/keeper/shared/refresh"
	"github.com/spapi-auth-keeper/keeper/shared/stages"
)

var (
	expires = time.Date(2026, 11, 23, 10, 30, 0, 0, time.UTC)
	revoked = time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC)
)

// TestMessagesOnTheWire pins each queue's message body byte for byte: messages
// already queued when a new version deploys must still parse, and the producer and
// consumer of a queue may deploy apart.
func TestMessagesOnTheWire(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		got  string
		want string
	}{
		{"reminder stage", jobs.ReminderJob{ConnectionID: "acme", Region: "eu", Stage: "-30", ExpiresAt: expires}.Marshal(),
			`{"connectionId":"acme","region":"eu","stage":"-30","expiresAt":"2026-11-23T10:30:00Z"}`},
		{"reconnect", jobs.ReminderJob{ConnectionID: "acme", Region: "na", Stage: jobs.StageReconnect, ExpiresAt: expires, RevokedAt: revoked}.Marshal(),
			`{"connectionId":"acme","region":"na","stage":"reconnect","expiresAt":"2026-11-23T10:30:00Z","revokedAt":"2026-06-01T08:00:00Z"}`},
		{"refresh from the sweep", jobs.RefreshRequest{ConnectionID: "acme", Region: "fe", QueuedAt: revoked}.Marshal(),
			`{"connectionId":"acme","region":"fe","queuedAt":"2026-06-01T08:00:00Z"}`},
		{"refresh, forced, never says so", jobs.RefreshRequest{ConnectionID: "acme", Region: "fe", Force: true}.Marshal(),
			`{"connectionId":"acme","region":"fe"}`},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, tc.got, tc.want)
		}
	}
}

func TestReminderJobKey(t *testing.T) {
	t.Parallel()
	if k := (jobs.ReminderJob{Stage: "-30"}).Key(); k != "-30" {
		t.Errorf("stage key = %q", k)
	}
	if k := (jobs.ReminderJob{Stage: jobs.StageReconnect, RevokedAt: revoked.In(time.FixedZone("x", 3600))}).Key(); k != "reconnect@2026-06-01T08:00:00Z" {
		t.Errorf("reconnect key = %q, want one per revocation, in UTC", k)
	}
}

// TestParseRejectsWhatIsNotAMessage: a body is attacker-controlled until parsed; what
// does not name a valid authorization is refused with the queue's error kind.
func TestParseRejectsWhatIsNotAMessage(t *testing.T) {
	t.Parallel()
	reminders := map[string]string{
		"not json":              `{"connectionId":`,
		"no connection":         `{"region":"eu","stage":"-30","expiresAt":"2026-11-23T10:30:00Z"}`,
		"bad connection":        `{"connectionId":"../x","region":"eu","stage":"-30","expiresAt":"2026-11-23T10:30:00Z"}`,
		"unknown region":        `{"connectionId":"acme","region":"mars","stage":"-30","expiresAt":"2026-11-23T10:30:00Z"}`,
		"no stage":              `{"connectionId":"acme","region":"eu","expiresAt":"2026-11-23T10:30:00Z"}`,
		"no expiry":             `{"connectionId":"acme","region":"eu","stage":"-30"}`,
		"reconnect, no revoked": `{"connectionId":"acme","region":"eu","stage":"reconnect","expiresAt":"2026-11-23T10:30:00Z"}`,
	}
	for name, body := range reminders {
		if j, err := jobs.ParseReminderJob(body); !errors.Is(err, jobs.ErrBadReminderJob) {
			t.Errorf("reminder %s: ParseReminderJob = %+v, %v; want ErrBadReminderJob", name, j, err)
		}
	}
	refreshes := map[string]string{
		"not json":       `[]`,
		"no connection":  `{"region":"eu"}`,
		"bad connection": `{"connectionId":"a b","region":"eu"}`,
		"unknown region": `{"connectionId":"acme","region":"EU-WEST"}`,
	}
	for name, body := range refreshes {
		if r, err := jobs.ParseRefreshRequest([]byte(body)); !errors.Is(err, jobs.ErrBadRefreshRequest) {
			t.Errorf("refresh %s: ParseRefreshRequest = %+v, %v; want ErrBadRefreshRequest", name, r, err)
		}
	}
	if r, err := jobs.ParseRefreshRequest([]byte(`{"connectionId":"acme","region":"eu","Force":true,"force":true}`)); err != nil || r.Force {
		t.Errorf("a message asked to force a refresh: %+v, %v; Force is never read from a message", r, err)
	}
}

// TestOneFormatPerQueue: the reminder code's names are the shared types, and the
// refresh package's request reads and writes exactly what the shared one does, so
// the sweep, the workers and anyone else putting messages on a queue agree.
func TestOneFormatPerQueue(t *testing.T) {
	t.Parallel()
	job := jobs.ReminderJob{ConnectionID: "acme", Region: "eu", Stage: jobs.StageReconnect, ExpiresAt: expires, RevokedAt: revoked}
	var asStages stages.Job = job // an alias: one type
	if got, err := stages.ParseJob(job.Marshal()); err != nil || got != asStages {
		t.Errorf("stages.ParseJob(queue body) = %+v, %v", got, err)
	}
	if _, err := stages.ParseJob("{}"); !errors.Is(err, jobs.ErrBadReminderJob) || !errors.Is(err, stages.ErrBadJob) {
		t.Errorf("stages.ParseJob error %v is not the shared kind", err)
	}

	shared := jobs.RefreshRequest{ConnectionID: "acme", Region: "na", QueuedAt: revoked}
	old := refresh.Request{ConnectionID: "acme", Region: "na", QueuedAt: revoked}
	if a, b := shared.Marshal(), old.Marshal(); a != b {
		t.Errorf("refresh request bodies differ:\nqueue   %s\nrefresh %s", a, b)
	}
	back, err := refresh.ParseRequest([]byte(shared.Marshal()))
	if err != nil {
		t.Fatal(err)
	}
	b1, _ := json.Marshal(back)
	b2, _ := json.Marshal(shared)
	if string(b1) != string(b2) {
		t.Errorf("refresh.ParseRequest(queue body) = %s, want %s", b1, b2)
	}
	if _, err := jobs.ParseRefreshRequest([]byte(old.Marshal())); err != nil {
		t.Errorf("jobs.ParseRefreshRequest(refresh body) = %v", err)
	}
}
