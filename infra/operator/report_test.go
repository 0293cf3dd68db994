package operator_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/spapi-auth-keeper/keeper/infra/operator"
	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/funnel"
	"github.com/spapi-auth-keeper/keeper/shared/store"
)

// TestReportFromCounters: the funnel counters the delivery function and the renewal
// pages keep add up per stage over the period asked for, and days outside it do not
// count; opening a link twice counts once.
func TestReportFromCounters(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := context.Background()
	day := func(d int) time.Time { return now.AddDate(0, 0, -d) }
	count := func(at time.Time, counters ...string) { must(t, e.st.CountFunnel(ctx, at, counters...)) }
	for range 4 {
		count(day(20), "sent:-30", "delivered:-30")
	}
	count(day(19), "bounced:-30", "contact_bouncing")
	count(day(40), "sent:-30") // before the period
	count(day(5), "sent:+28", "sent:+28", "delivered:+28")

	// A seller reminded at -9 opens the link twice, then renews before expiry.
	a := e.seed(t, "acme", authz.RegionEU, authz.StatusExpiring, 9)
	a.Reminders = map[string]authz.ReminderMark{"-9": {ClaimedAt: day(1), SentAt: day(1), MessageID: "mid-9"}}
	a, err := e.st.Update(ctx, a)
	must(t, err)
	count(day(1), "sent:-9")
	rec := funnel.New(e.st, nil, nil)
	rec.LinkOpened(ctx, a, now)
	a, err = e.st.Get(ctx, "acme", authz.RegionEU)
	must(t, err)
	if a.Reminders["-9"].Delivery.OpenedAt.IsZero() {
		t.Fatalf("openedAt not set on the entry: %+v", a.Reminders["-9"])
	}
	rec.LinkOpened(ctx, a, now.Add(time.Minute))
	rec.Renewed(ctx, a, now.Add(2*time.Minute))
	// A renewal from Seller Central after expiry, with no reminder before it.
	rec.Renewed(ctx, authz.Authorization{ConnectionID: "late", Region: authz.RegionEU, ExpiresAt: day(3)}, now)

	r, err := e.op.Report(ctx, 30*24*time.Hour)
	must(t, err)
	got := map[string]operator.StageFunnel{}
	for _, s := range r.Stages {
		got[s.Stage] = s
	}
	want := map[string]operator.StageFunnel{
		"-30":  {Stage: "-30", Sent: 4, Delivered: 4, Bounced: 1},
		"-9":   {Stage: "-9", Sent: 1, Opened: 1, Renewed: 1},
		"+28":  {Stage: "+28", Sent: 2, Delivered: 1},
		"none": {Stage: "none", Renewed: 1},
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("stage %s: %+v, want %+v", k, got[k], w)
		}
	}
	if r.RenewedBeforeExpiry != 1 || r.RenewedAfterExpiry != 1 || r.RenewedBeforeExpiryPct != 50 || r.RenewedWithoutReminder != 1 {
		t.Errorf("renewals: %+v", r)
	}
	if r.LastStage != "+28" || r.SilentAfterLastStage != 2 || r.ContactsBouncing != 1 {
		t.Errorf("last stage %q silent %d bouncing %d", r.LastStage, r.SilentAfterLastStage, r.ContactsBouncing)
	}
	if r.ItemsRead > 31 {
		t.Errorf("%d items read for 31 days", r.ItemsRead)
	}
}

func TestReportAndBouncingCLI(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := context.Background()
	e.seed(t, "fine", authz.RegionEU, authz.StatusActive, 100)
	b := e.seed(t, "gone", authz.RegionEU, authz.StatusExpiring, 10)
	b.ContactStatus = authz.ContactBouncing
	_, err := e.st.Update(ctx, b)
	must(t, err)
	must(t, e.st.CountFunnel(ctx, now, store.FunnelCounter(store.FunnelSent, "-30")))
	run := func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		c := &operator.CLI{Stdout: &out, Stderr: &errOut, Getenv: func(string) string { return "" }, Now: func() time.Time { return now },
			Connect: func(context.Context, *operator.CLI, operator.Globals) (*operator.Operator, error) { return e.op, nil }}
		return c.Run(ctx, args), out.String(), errOut.String()
	}
	tests := []struct {
		args           []string
		code           int
		stdout, stderr string
	}{
		{[]string{"report"}, 0, "-30    1", ""},
		{[]string{"report", "--since", "365d"}, 0, "renewed before expiry: 0 of 0", ""},
		{[]string{"report", "--since", "forever"}, 2, "", "--since"},
		{[]string{"report", "extra"}, 2, "", "unexpected argument"},
		{[]string{"list", "--bouncing"}, 0, "gone", ""},
	}
	for _, tc := range tests {
		code, out, errOut := run(tc.args...)
		if code != tc.code || !strings.Contains(out, tc.stdout) || !strings.Contains(errOut, tc.stderr) {
			t.Errorf("keeperctl %v: exit %d\nstdout %q\nstderr %q", tc.args, code, out, errOut)
		}
	}
	if _, out, _ := run("list", "--bouncing", "--json"); strings.Contains(out, "fine") {
		t.Errorf("list --bouncing shows a reachable contact:\n%s", out)
	}
	var r operator.Report
	_, out, _ := run("report", "--json")
	if err := json.Unmarshal([]byte(out), &r); err != nil || len(r.Stages) != 1 {
		t.Errorf("report --json: %v\n%s", err, out)
	}
}

// newOperator is an operator over st alone, at now.
func newOperator(st *store.Store, at time.Time) *operator.Operator {
	return operator.New(operator.Config{BaseURL: "https://keeper.example.com"}, st, nil, nil, authz.ClockFunc(func() time.Time { return at }))
}

// TestReportSilentLine: the line under the funnel says what its number is — sellers
// reminded at the latest stage that sent anything in the period who have not renewed
// since (bounces left out) — and never claims no reminder is left: the +7, +14 and +28
// stages may still be to come for them.
func TestReportSilentLine(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		counts map[string]int64
		want   string // "" for no such line
	}{
		{"before expiry, later stages still to come", map[string]int64{"sent:-30": 5, "bounced:-30": 1, "renewed:-30": 1}, "reminded at the latest stage sent in the period (-30), not renewed since (bounces left out): 3\n"},
		{"after the +28 stage", map[string]int64{"sent:-30": 5, "sent:+28": 2, "renewed:+28": 1}, "reminded at the latest stage sent in the period (+28), not renewed since (bounces left out): 1\n"},
		{"no reminder sent", map[string]int64{"renewed:none": 2}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := operator.BuildReport([]store.FunnelDay{{Day: now.Format(authz.DayLayout), Counts: tc.counts}}, now.AddDate(0, 0, -30), now, 31)
			var out bytes.Buffer
			operator.WriteReport(&out, r)
			if strings.Contains(out.String(), "silent after the last stage") {
				t.Errorf("report claims no stage is left:\n%s", out.String())
			}
			line := ""
			for l := range strings.Lines(out.String()) {
				if strings.HasPrefix(l, "reminded at") || strings.HasPrefix(l, "silent") {
					line = l
				}
			}
			if line != tc.want {
				t.Errorf("line %q, want %q\n%s", line, tc.want, out.String())
			}
		})
	}
}
