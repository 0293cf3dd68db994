package expiryscan_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/spapi-auth-keeper/keeper/infra/testenv"
	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/config"
	"github.com/spapi-auth-keeper/keeper/shared/expiryscan"
	"github.com/spapi-auth-keeper/keeper/shared/metrics"
	"github.com/spapi-auth-keeper/keeper/shared/queue"
	"github.com/spapi-auth-keeper/keeper/shared/reminder"
	"github.com/spapi-auth-keeper/keeper/shared/store"
)

func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

// today is the scan's day in these tests; the scan runs at 06:00 UTC.
var today = time.Date(2027, 1, 16, 6, 0, 0, 0, time.UTC)

// scanEnv is one scan over its own table and queue.
type scanEnv struct {
	t       *testing.T
	ctx     context.Context
	store   *store.Store
	sqs     *sqs.Client
	queue   string
	clock   *testenv.Clock
	metrics *testenv.Buffer
	logs    *testenv.Buffer
	scan    *expiryscan.Service
}

func newScanEnv(t *testing.T) *scanEnv {
	t.Helper()
	e := &scanEnv{t: t, ctx: context.Background(), store: store.New(testenv.DynamoDB(t), testenv.NewTable(t)),
		sqs: testenv.SQS(t), queue: testenv.NewQueue(t, "reminders"), clock: testenv.NewClock(today), metrics: &testenv.Buffer{}, logs: &testenv.Buffer{}}
	var err error
	e.scan, err = expiryscan.New(expiryscan.Config{Schedule: reminder.MustParseSchedule(config.DefaultReminderStages)},
		e.store, queue.NewSender(e.sqs, e.queue), e.clock, slog.New(slog.NewJSONHandler(e.logs, nil)), metrics.New(e.metrics))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// seed stores an active authorization of connID expiring days days after today, at
// 09:30 UTC on that day, with the given status.
func (e *scanEnv) seed(connID string, days int, status authz.Status) authz.Authorization {
	e.t.Helper()
	exp := time.Date(today.Year(), today.Month(), today.Day()+days, 9, 30, 0, 0, time.UTC)
	a, err := e.store.Create(e.ctx, authz.Authorization{
		ConnectionID: connID, Region: authz.RegionNA, AccountType: authz.AccountSeller, Marketplace: "US",
		SellingPartnerID: "A1" + strings.ToUpper(connID), ContactEmail: connID + "@example.com", Status: status,
		AuthorizedAt: exp.Add(-authz.Lifetime), ExpiresAt: exp,
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return a
}

// jobs drains the queue and returns connection id → stages queued for it.
func (e *scanEnv) jobs() map[string][]string {
	e.t.Helper()
	got := map[string][]string{}
	for {
		out, err := e.sqs.ReceiveMessage(e.ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(e.queue), MaxNumberOfMessages: 10, WaitTimeSeconds: 0})
		if err != nil {
			e.t.Fatal(err)
		}
		if len(out.Messages) == 0 {
			break
		}
		for _, m := range out.Messages {
			j, err := reminder.ParseJob(aws.ToString(m.Body))
			if err != nil {
				e.t.Fatalf("queued a malformed job: %v", err)
			}
			got[j.ConnectionID] = append(got[j.ConnectionID], j.Stage)
			if _, err := e.sqs.DeleteMessage(e.ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(e.queue), ReceiptHandle: m.ReceiptHandle}); err != nil {
				e.t.Fatal(err)
			}
		}
	}
	return got
}

func (e *scanEnv) run() expiryscan.Result {
	e.t.Helper()
	res, err := e.scan.Run(e.ctx)
	if err != nil {
		e.t.Fatalf("scan: %v", err)
	}
	return res
}

func (e *scanEnv) status(connID string) authz.Status {
	e.t.Helper()
	a, err := e.store.Get(e.ctx, connID, authz.RegionNA)
	if err != nil {
		e.t.Fatal(err)
	}
	return a.Status
}

func metric(t *testing.T, emf, name string) float64 {
	t.Helper()
	total := 0.0
	for _, line := range strings.Split(strings.TrimSpace(emf), "\n") {
		var doc map[string]any
		if line == "" || json.Unmarshal([]byte(line), &doc) != nil {
			continue
		}
		if v, ok := doc[name].(float64); ok {
			total += v
		}
	}
	return total
}

// TestScanQueuesTheDueStagesOfToday seeds authorizations at every distance from expiry
// that matters and checks, with a fixed clock, which stage each gets, which status it
// moves to, and that the scan read only the due ones.
func TestScanQueuesTheDueStagesOfToday(t *testing.T) {
	t.Parallel()
	e := newScanEnv(t)
	type want struct {
		days   int
		status authz.Status // stored before the scan
		stage  string       // "" = not queued
		after  authz.Status // status after the scan
	}
	seeds := map[string]want{
		"d30":       {30, authz.StatusActive, "-30", authz.StatusExpiring},
		"d29":       {29, authz.StatusExpiring, "", authz.StatusExpiring},
		"d31":       {31, authz.StatusActive, "", authz.StatusActive},
		"d23":       {23, authz.StatusExpiring, "-23", authz.StatusExpiring},
		"d16":       {16, authz.StatusActive, "-16", authz.StatusExpiring}, // a missed status move is caught up too
		"d9":        {9, authz.StatusExpiring, "-9", authz.StatusExpiring},
		"d3":        {3, authz.StatusExpiring, "-3", authz.StatusExpiring},
		"d1":        {1, authz.StatusExpiring, "-1", authz.StatusExpiring},
		"d0":        {0, authz.StatusExpiring, "0", authz.StatusExpiring}, // expires at 09:30, the scan runs at 06:00
		"m7":        {-7, authz.StatusExpiring, "+7", authz.StatusExpired},
		"m14":       {-14, authz.StatusExpired, "+14", authz.StatusExpired},
		"m28":       {-28, authz.StatusExpired, "+28", authz.StatusExpired},
		"m29":       {-29, authz.StatusExpired, "", authz.StatusExpired},
		"d60":       {60, authz.StatusActive, "", authz.StatusActive},
		"revoked9":  {9, authz.StatusRevoked, "", authz.StatusRevoked},
		"revoked30": {30, authz.StatusRevoked, "", authz.StatusRevoked},
	}
	due := 0
	for id, w := range seeds {
		e.seed(id, w.days, w.status)
		if w.stage != "" {
			due++
		}
	}
	res := e.run()
	got := e.jobs()
	for id, w := range seeds {
		switch {
		case w.stage == "" && len(got[id]) > 0:
			t.Errorf("%s: queued %v, want nothing", id, got[id])
		case w.stage != "" && !slices.Equal(got[id], []string{w.stage}):
			t.Errorf("%s: queued %v, want [%s]", id, got[id], w.stage)
		}
		if s := e.status(id); s != w.after {
			t.Errorf("%s: status %s, want %s", id, s, w.after)
		}
	}
	if res.Queued != due || res.Partitions != 10 || !slices.Equal(res.Days, []string{"2027-01-16"}) {
		t.Errorf("result %+v: want %d queued over 10 partitions of one day", res, due)
	}
	// Reads follow what is due: the due ones and the two revoked ones sharing their
	// days, never the records on other days.
	if res.Read != due+2 {
		t.Errorf("read %d authorizations, want %d (due) + 2 (revoked on due days)", res.Read, due)
	}
	if res.Expiring != 2 || res.Expired != 1 {
		t.Errorf("moved %d to expiring and %d to expired, want 2 and 1", res.Expiring, res.Expired)
	}
	if metric(t, e.metrics.String(), "AuthorizationsExpiring") != 2 || metric(t, e.metrics.String(), "AuthorizationsExpired") != 1 {
		t.Errorf("metrics:\n%s", e.metrics.String())
	}
	h, _ := e.store.History(e.ctx, "m7", 10)
	if len(h) != 1 || h[0].Kind != authz.EventExpired {
		t.Errorf("m7 history %+v, want an expired event", h)
	}
	if c, _ := e.store.ScanCursor(e.ctx); c.LastDay != "2027-01-16" {
		t.Errorf("cursor %+v, want 2027-01-16", c)
	}
}

// TestScanSkipsStagesSentOrInFlight: a stage already sent (or rejected) is not queued
// again; one claimed by a live sender is left to it; one whose claim went stale (the
// sender crashed) is queued again.
func TestScanSkipsStagesSentOrInFlight(t *testing.T) {
	t.Parallel()
	e := newScanEnv(t)
	claim := func(id string, at time.Time) store.ReminderClaim {
		a, _ := e.store.Get(e.ctx, id, authz.RegionNA)
		return store.ReminderClaim{ConnectionID: id, Region: authz.RegionNA, Key: "-9", ExpiresAt: a.ExpiresAt, ClaimedAt: at}
	}
	for _, id := range []string{"sent", "rejected", "inflight", "stale", "fresh"} {
		e.seed(id, 9, authz.StatusExpiring)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	c := claim("sent", today.Add(-time.Hour))
	_, err := e.store.ClaimReminder(e.ctx, c, time.Minute)
	must(err)
	must(e.store.MarkReminderSent(e.ctx, c, "ses-1", today.Add(-time.Hour)))
	c = claim("rejected", today.Add(-time.Hour))
	_, err = e.store.ClaimReminder(e.ctx, c, time.Minute)
	must(err)
	must(e.store.RejectReminder(e.ctx, c, "MessageRejected", today.Add(-time.Hour)))
	_, err = e.store.ClaimReminder(e.ctx, claim("inflight", today.Add(-time.Minute)), time.Minute)
	must(err)
	_, err = e.store.ClaimReminder(e.ctx, claim("stale", today.Add(-time.Hour)), time.Minute)
	must(err)

	res := e.run()
	got := e.jobs()
	var ids []string
	for id := range got {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	if !slices.Equal(ids, []string{"fresh", "stale"}) {
		t.Fatalf("queued for %v, want fresh and stale", ids)
	}
	if res.AlreadyDone != 2 || res.InFlight != 1 || res.Queued != 2 {
		t.Fatalf("result %+v", res)
	}
}

// TestScanCatchesUpMissedDaysOnce: the scan did not run for three days. The next run
// reads the partitions of the missed days too, and queues for each authorization only
// the latest stage that fell due, once.
func TestScanCatchesUpMissedDaysOnce(t *testing.T) {
	t.Parallel()
	e := newScanEnv(t)
	if err := e.store.SaveScanCursor(e.ctx, store.ScanCursor{LastDay: "2027-01-12", At: today.AddDate(0, 0, -4)}); err != nil {
		t.Fatal(err)
	}
	// Relative to today (16 Jan); the missed days are 13, 14 and 15 Jan.
	seeds := map[string]struct {
		days  int
		stage string
	}{
		"both":     {1, "-1"},    // expires 17 Jan: -3 fell on the 14th, -1 falls today: only -1
		"missed":   {7, "-9"},    // 23 Jan: -9 fell on the 14th, nothing today: -9, late
		"week":     {-10, "+7"},  // 6 Jan: +7 fell on the 13th
		"first":    {27, "-30"},  // 12 Feb: -30 fell on the 13th
		"today":    {30, "-30"},  // 15 Feb: -30 today
		"before":   {-15, "+14"}, // 1 Jan: +14 fell on the 15th
		"handled":  {5, ""},      // 21 Jan: -9 fell on the 12th, the last day that ran
		"upcoming": {10, ""},     // 26 Jan: -16 fell on the 10th, -9 falls tomorrow
	}
	for id, s := range seeds {
		status := authz.StatusExpiring
		if s.days < 0 {
			status = authz.StatusExpired
		}
		e.seed(id, s.days, status)
	}
	res := e.run()
	got := e.jobs()
	for id, s := range seeds {
		want := []string{}
		if s.stage != "" {
			want = []string{s.stage}
		}
		if !slices.Equal(append([]string{}, got[id]...), want) {
			t.Errorf("%s: queued %v, want %v", id, got[id], want)
		}
	}
	if !slices.Equal(res.Days, []string{"2027-01-13", "2027-01-14", "2027-01-15", "2027-01-16"}) {
		t.Errorf("days %v", res.Days)
	}
	// The next day covers only itself.
	e.clock.Set(today.AddDate(0, 0, 1))
	res = e.run()
	if !slices.Equal(res.Days, []string{"2027-01-17"}) || res.Partitions != 10 {
		t.Errorf("next day: %+v", res)
	}
	got = e.jobs()
	if len(got) != 2 || !slices.Equal(got["both"], []string{"0"}) || !slices.Equal(got["upcoming"], []string{"-9"}) {
		t.Errorf("next day queued %v, want both: 0 and upcoming: -9", got)
	}
}

// TestScanCatchUpIsBounded: after a long outage the scan covers at most
// MaxCatchUpDays, and says so.
func TestScanCatchUpIsBounded(t *testing.T) {
	t.Parallel()
	e := newScanEnv(t)
	if err := e.store.SaveScanCursor(e.ctx, store.ScanCursor{LastDay: "2026-06-01"}); err != nil {
		t.Fatal(err)
	}
	res := e.run()
	if len(res.Days) != expiryscan.DefaultMaxCatchUpDays+1 || res.Days[len(res.Days)-1] != "2027-01-16" {
		t.Fatalf("covered %d days (%s…%s), want %d", len(res.Days), res.Days[0], res.Days[len(res.Days)-1], expiryscan.DefaultMaxCatchUpDays+1)
	}
	if !strings.Contains(e.logs.String(), "missed more days than it catches up") {
		t.Error("the long outage is not logged")
	}
}

// TestScanThatCannotQueueKeepsItsCursor: if the queue refuses the jobs, the run fails
// and the cursor stays, so the next run covers the day again.
func TestScanThatCannotQueueKeepsItsCursor(t *testing.T) {
	t.Parallel()
	e := newScanEnv(t)
	e.seed("due", 30, authz.StatusActive)
	broken, err := expiryscan.New(expiryscan.Config{Schedule: reminder.MustParseSchedule(config.DefaultReminderStages)},
		e.store, queue.NewSender(e.sqs, e.queue+"-gone"), e.clock, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := broken.Run(e.ctx); err == nil {
		t.Fatal("the scan succeeded without queueing")
	}
	if c, _ := e.store.ScanCursor(e.ctx); c.LastDay != "" {
		t.Fatalf("cursor moved to %s after a failed run", c.LastDay)
	}
	// The status move already made stays made; the retry queues the job.
	res := e.run()
	if res.Queued != 1 || len(e.jobs()["due"]) != 1 {
		t.Fatalf("retry: %+v", res)
	}
}

// TestScanRacesAConcurrentWriter: a sender claims a stage while the scan moves the
// record's status: the scan re-reads and neither write is lost.
func TestScanRacesAConcurrentWriter(t *testing.T) {
	t.Parallel()
	e := newScanEnv(t)
	a := e.seed("racy", -7, authz.StatusExpiring)
	// A store that lets a claim in between the scan's read and its write.
	racing := &claimBetween{Store: e.store, claim: store.ReminderClaim{ConnectionID: "racy", Region: authz.RegionNA, Key: "other", ExpiresAt: a.ExpiresAt, ClaimedAt: today}}
	scan, err := expiryscan.New(expiryscan.Config{Schedule: reminder.MustParseSchedule(config.DefaultReminderStages)},
		racing, queue.NewSender(e.sqs, e.queue), e.clock, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := scan.Run(e.ctx); err != nil {
		t.Fatal(err)
	}
	rec, _ := e.store.Get(e.ctx, "racy", authz.RegionNA)
	if rec.Status != authz.StatusExpired {
		t.Errorf("status %s, want expired", rec.Status)
	}
	if _, ok := rec.Reminders["other"]; !ok {
		t.Error("the concurrent claim was lost")
	}
	if !racing.conflicted {
		t.Error("the race did not happen")
	}
}

// claimBetween claims a stage right before the first Update, as a concurrent sender.
type claimBetween struct {
	*store.Store
	claim      store.ReminderClaim
	once       sync.Once
	conflicted bool
}

func (c *claimBetween) Update(ctx context.Context, a authz.Authorization, evs ...authz.Event) (authz.Authorization, error) {
	c.once.Do(func() {
		if _, err := c.Store.ClaimReminder(ctx, c.claim, time.Minute); err != nil {
			panic(fmt.Sprint("claim: ", err))
		}
	})
	out, err := c.Store.Update(ctx, a, evs...)
	if errors.Is(err, authz.ErrVersionConflict) {
		c.conflicted = true
	}
	return out, err
}
