package stages_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spapi-auth-keeper/keeper/shared/config"
	"github.com/spapi-auth-keeper/keeper/shared/stages"
)

func TestParseSchedule(t *testing.T) {
	t.Parallel()
	tests := []struct {
		spec    string
		want    string // canonical form; "" when an error is wanted
		wantErr string
	}{
		{spec: config.DefaultReminderStages, want: "-30,-23,-16,-9,-3,-1,0,+7,+14,+28"},
		{spec: "+7, -1 ,0", want: "-1,0,+7"},
		{spec: "-30,,-1,", want: "-30,-1"},
		{spec: "", wantErr: "no stage"},
		{spec: " , ", wantErr: "no stage"},
		{spec: "-30,-30", wantErr: "appears twice"},
		{spec: "-30,+0,0", wantErr: "appears twice"},
		{spec: "-3.5", wantErr: "whole number"},
		{spec: "a", wantErr: "whole number"},
		{spec: "+-3", wantErr: "whole number"},
		{spec: "-366", wantErr: "beyond"},
		{spec: "400", wantErr: "beyond"},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			t.Parallel()
			s, err := stages.ParseSchedule(tt.spec)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseSchedule(%q) = %v, %v; want error with %q", tt.spec, s, err, tt.wantErr)
				}
				return
			}
			if err != nil || s.String() != tt.want {
				t.Fatalf("ParseSchedule(%q) = %q, %v; want %q", tt.spec, s, err, tt.want)
			}
		})
	}
}

func TestStageKeys(t *testing.T) {
	t.Parallel()
	s := stages.MustParseSchedule(config.DefaultReminderStages)
	for key, want := range map[string]stages.Stage{"-30": -30, "0": 0, "+7": 7, "+28": 28} {
		if got, ok := s.ByKey(key); !ok || got != want {
			t.Errorf("ByKey(%q) = %d, %v; want %d", key, got, ok, want)
		}
	}
	for _, key := range []string{"7", "-0", "+0", "-2", "reconnect", ""} {
		if _, ok := s.ByKey(key); ok {
			t.Errorf("ByKey(%q) found a stage; the schedule has none by that key", key)
		}
	}
}

func day(t *testing.T, s string) stages.Day {
	t.Helper()
	d, err := stages.ParseDay(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestExpiryDaysOfToday: the scan of 16 Jan 2027 reads exactly the expiry days that put
// a default stage due that day: today+30, +23, +16, +9, +3, +1, 0, -7, -14, -28.
func TestExpiryDaysOfToday(t *testing.T) {
	t.Parallel()
	s := stages.MustParseSchedule(config.DefaultReminderStages)
	var got []string
	for _, d := range s.ExpiryDays(day(t, "2027-01-16")) {
		got = append(got, d.String())
	}
	want := []string{"2026-12-19", "2027-01-02", "2027-01-09", "2027-01-16", "2027-01-17", "2027-01-19", "2027-01-25", "2027-02-01", "2027-02-08", "2027-02-15"}
	if !slices.Equal(got, want) {
		t.Fatalf("ExpiryDays = %v\nwant          %v", got, want)
	}
	// Three days of catch-up: 30 (day, stage) pairs, but the -3/-1/0 stages of
	// neighbouring days share three partitions; each is read once, in order.
	three := s.ExpiryDays(day(t, "2027-01-14"), day(t, "2027-01-15"), day(t, "2027-01-16"))
	if !slices.IsSorted(three) || len(three) != 27 || len(slices.Compact(slices.Clone(three))) != 27 {
		t.Fatalf("three days: %d partitions (sorted %v), want 27 distinct sorted", len(three), slices.IsSorted(three))
	}
}

// TestLatestDue is the stage computation with a fixed clock: for an authorization that
// expires on 15 Feb 2027, which stage the scan of a given day sends, covering the
// days after `after`.
func TestLatestDue(t *testing.T) {
	t.Parallel()
	s := stages.MustParseSchedule(config.DefaultReminderStages)
	expiry := day(t, "2027-02-15")
	tests := []struct {
		name, after, today string
		want               string // "" = nothing due
	}{
		{"first stage on its day", "2027-01-15", "2027-01-16", "-30"},
		{"day before the first stage", "2027-01-14", "2027-01-15", ""},
		{"between stages", "2027-01-17", "2027-01-18", ""},
		{"the week stage", "2027-01-22", "2027-01-23", "-23"},
		{"the day before expiry", "2027-02-13", "2027-02-14", "-1"},
		{"expiry day", "2027-02-14", "2027-02-15", "0"},
		{"a week after", "2027-02-21", "2027-02-22", "+7"},
		{"the last stage", "2027-03-14", "2027-03-15", "+28"},
		{"after the last stage", "2027-03-15", "2027-03-16", ""},
		{"missed the -3 and -1 days: only -1", "2027-02-11", "2027-02-15", "0"},
		{"missed -3 and -1, run on the day after -1", "2027-02-11", "2027-02-14", "-1"},
		{"missed -3 only", "2027-02-11", "2027-02-13", "-3"},
		{"a month missed: the latest only", "2027-01-10", "2027-02-10", "-9"},
		{"stage already covered by the last run", "2027-01-16", "2027-01-17", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			st, ok := s.LatestDue(expiry, day(t, tt.after), day(t, tt.today))
			got := ""
			if ok {
				got = st.Key()
			}
			if got != tt.want {
				t.Fatalf("LatestDue(expiry 2027-02-15, after %s, today %s) = %q, want %q", tt.after, tt.today, got, tt.want)
			}
		})
	}
}

func TestWindowStartsWithTheFirstStageDay(t *testing.T) {
	t.Parallel()
	tests := []struct {
		spec string
		want time.Duration
	}{
		{config.DefaultReminderStages, 31 * 24 * time.Hour},
		{"-1,0", 2 * 24 * time.Hour},
		{"0,7", 0},
		{"7", 0},
	}
	for _, tt := range tests {
		if got := stages.MustParseSchedule(tt.spec).Window(); got != tt.want {
			t.Errorf("Window(%s) = %s, want %s", tt.spec, got, tt.want)
		}
	}
}

func TestDayOfIsUTC(t *testing.T) {
	t.Parallel()
	berlin := time.FixedZone("CET", 3600)
	tests := []struct {
		at   time.Time
		want string
	}{
		{time.Date(2027, 2, 15, 0, 30, 0, 0, berlin), "2027-02-14"},
		{time.Date(2027, 2, 15, 23, 59, 59, 0, time.UTC), "2027-02-15"},
		{time.Date(2028, 2, 29, 12, 0, 0, 0, time.UTC), "2028-02-29"},
	}
	for _, tt := range tests {
		if got := stages.DayOf(tt.at).String(); got != tt.want {
			t.Errorf("DayOf(%s) = %s, want %s", tt.at, got, tt.want)
		}
	}
	if d := day(t, "2028-02-28").AddDays(1).String(); d != "2028-02-29" {
		t.Errorf("leap day: %s", d)
	}
}
