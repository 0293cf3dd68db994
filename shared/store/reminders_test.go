package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/spapi-auth-keeper/keeper/infra/testenv"
	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/store"
)

var remindExpiry = time.Date(2027, 2, 15, 9, 30, 0, 0, time.UTC)

// reminderLedger is a fresh table with one authorization expiring on remindExpiry.
func reminderLedger(t *testing.T) (*store.Store, authz.Authorization) {
	t.Helper()
	st := store.New(testenv.DynamoDB(t), testenv.NewTable(t))
	a, err := st.Create(context.Background(), authz.Authorization{
		ConnectionID: "acme", Region: authz.RegionEU, AccountType: authz.AccountSeller, Marketplace: "DE",
		SellingPartnerID: "A1ACME", ContactEmail: "acme@example.com", Status: authz.StatusExpiring,
		AuthorizedAt: remindExpiry.Add(-authz.Lifetime), ExpiresAt: remindExpiry,
	})
	if err != nil {
		t.Fatal(err)
	}
	return st, a
}

func claimAt(key string, at time.Time) store.ReminderClaim {
	return store.ReminderClaim{ConnectionID: "acme", Region: authz.RegionEU, Key: key, ExpiresAt: remindExpiry, ClaimedAt: at}
}

var remindT0 = time.Date(2027, 1, 16, 6, 0, 0, 123456789, time.UTC)

func TestReminderClaimMarkAndDuplicates(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, a := reminderLedger(t)
	c := claimAt("-30", remindT0)
	got, err := st.ClaimReminder(ctx, c, 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != a.Version+1 || !got.Reminders["-30"].ClaimedAt.Equal(remindT0) || !got.Reminders["-30"].SentAt.IsZero() {
		t.Fatalf("claimed record: version %d (was %d), mark %+v", got.Version, a.Version, got.Reminders["-30"])
	}
	if got.ContactEmail != a.ContactEmail || !got.ExpiresAt.Equal(remindExpiry) {
		t.Fatalf("claim returned %+v, want the whole record", got)
	}
	// A duplicate delivery a minute later: the claim is fresh, so it waits.
	if _, err := st.ClaimReminder(ctx, claimAt("-30", remindT0.Add(time.Minute)), 5*time.Minute); !errors.Is(err, store.ErrReminderClaimed) {
		t.Fatalf("second claim: %v, want ErrReminderClaimed", err)
	}
	// Another stage is independent.
	if _, err := st.ClaimReminder(ctx, claimAt("-23", remindT0), 5*time.Minute); err != nil {
		t.Fatalf("claim of another stage: %v", err)
	}
	sentAt := remindT0.Add(2 * time.Second)
	if err := st.MarkReminderSent(ctx, c, "0100018f-ses-message-id", sentAt); err != nil {
		t.Fatal(err)
	}
	rec, err := st.Get(ctx, "acme", authz.RegionEU)
	if err != nil {
		t.Fatal(err)
	}
	m := rec.Reminders["-30"]
	if !m.SentAt.Equal(sentAt) || m.MessageID != "0100018f-ses-message-id" || !m.ClaimedAt.Equal(remindT0) || rec.Version != a.Version+3 {
		t.Fatalf("after mark: version %d, mark %+v", rec.Version, m)
	}
	h, err := st.History(ctx, "acme", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 1 || h[0].Kind != authz.EventReminded || !h[0].At.Equal(sentAt) {
		t.Fatalf("history %+v, want one reminded event", h)
	}
	// Sent: no later claim succeeds, however stale, and the mark cannot be set twice.
	for _, at := range []time.Time{remindT0.Add(time.Minute), remindT0.Add(24 * time.Hour)} {
		if _, err := st.ClaimReminder(ctx, claimAt("-30", at), 5*time.Minute); !errors.Is(err, store.ErrReminderDone) {
			t.Fatalf("claim after send at %s: %v, want ErrReminderDone", at, err)
		}
	}
	if err := st.MarkReminderSent(ctx, c, "again", sentAt.Add(time.Second)); !errors.Is(err, store.ErrClaimLost) {
		t.Fatalf("second mark: %v, want ErrClaimLost", err)
	}
}

// TestReminderClaimRace: senders racing for one stage (duplicate deliveries on several
// concurrent invocations): exactly one claim wins.
func TestReminderClaimRace(t *testing.T) {
	t.Parallel()
	st, _ := reminderLedger(t)
	const racers = 8
	var wg sync.WaitGroup
	errs := make([]error, racers)
	for i := range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = st.ClaimReminder(context.Background(), claimAt("-9", remindT0.Add(time.Duration(i))), 5*time.Minute)
		}()
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case errors.Is(err, store.ErrReminderClaimed):
		default:
			t.Errorf("racer failed with %v", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d claims won, want exactly 1", won)
	}
}

// TestStaleClaimIsTakenOver: a sender that crashed after claiming leaves a claim
// without sentAt; once it is older than the timeout the next delivery takes it over,
// and the crashed sender (should it wake up) can neither mark nor release it.
func TestStaleClaimIsTakenOver(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, _ := reminderLedger(t)
	crashed := claimAt("-3", remindT0)
	if _, err := st.ClaimReminder(ctx, crashed, 5*time.Minute); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		after time.Duration
		want  error
	}{
		{4*time.Minute + 59*time.Second, store.ErrReminderClaimed},
		{5*time.Minute + time.Nanosecond, nil},
	}
	var next store.ReminderClaim
	for _, tt := range tests {
		next = claimAt("-3", remindT0.Add(tt.after))
		_, err := st.ClaimReminder(ctx, next, 5*time.Minute)
		if !errors.Is(err, tt.want) && !(tt.want == nil && err == nil) {
			t.Fatalf("claim %s after the crash: %v, want %v", tt.after, err, tt.want)
		}
	}
	if err := st.MarkReminderSent(ctx, crashed, "late", remindT0.Add(6*time.Minute)); !errors.Is(err, store.ErrClaimLost) {
		t.Fatalf("crashed sender's mark: %v, want ErrClaimLost", err)
	}
	if err := st.ReleaseReminder(ctx, crashed); !errors.Is(err, store.ErrClaimLost) {
		t.Fatalf("crashed sender's release: %v, want ErrClaimLost", err)
	}
	if err := st.MarkReminderSent(ctx, next, "ok", remindT0.Add(6*time.Minute)); err != nil {
		t.Fatalf("new claimant's mark: %v", err)
	}
}

func TestReleasedClaimCanBeClaimedAtOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, _ := reminderLedger(t)
	c := claimAt("-1", remindT0)
	if _, err := st.ClaimReminder(ctx, c, 5*time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := st.ReleaseReminder(ctx, c); err != nil {
		t.Fatal(err)
	}
	rec, err := st.Get(ctx, "acme", authz.RegionEU)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := rec.Reminders["-1"]; ok {
		t.Fatalf("released stage still marked: %+v", rec.Reminders)
	}
	if _, err := st.ClaimReminder(ctx, claimAt("-1", remindT0.Add(time.Second)), 5*time.Minute); err != nil {
		t.Fatalf("claim right after release: %v", err)
	}
	if err := st.ReleaseReminder(ctx, c); !errors.Is(err, store.ErrClaimLost) {
		t.Fatalf("release of a claim that is not ours: %v, want ErrClaimLost", err)
	}
}

func TestRejectedStageIsNeverRetried(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, _ := reminderLedger(t)
	c := claimAt("0", remindT0)
	if _, err := st.ClaimReminder(ctx, c, 5*time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := st.RejectReminder(ctx, c, "SES rejected the message: MessageRejected: Address blacklisted.", remindT0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	rec, err := st.Get(ctx, "acme", authz.RegionEU)
	if err != nil {
		t.Fatal(err)
	}
	if m := rec.Reminders["0"]; m.Error == "" || !m.SentAt.IsZero() {
		t.Fatalf("rejected mark %+v", m)
	}
	if _, err := st.ClaimReminder(ctx, claimAt("0", remindT0.Add(48*time.Hour)), 5*time.Minute); !errors.Is(err, store.ErrReminderDone) {
		t.Fatalf("claim of a rejected stage: %v, want ErrReminderDone", err)
	}
	h, _ := st.History(ctx, "acme", 10)
	if len(h) != 1 || h[0].Kind != authz.EventReminderRejected {
		t.Fatalf("history %+v, want one reminder_rejected", h)
	}
}

func TestClaimOfStaleOrUnknownJob(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, _ := reminderLedger(t)
	renewedSince := claimAt("-30", remindT0)
	renewedSince.ExpiresAt = remindExpiry.Add(-authz.Lifetime)
	if _, err := st.ClaimReminder(ctx, renewedSince, 5*time.Minute); !errors.Is(err, store.ErrReminderStale) {
		t.Fatalf("job for another expiry: %v, want ErrReminderStale", err)
	}
	unknown := claimAt("-30", remindT0)
	unknown.ConnectionID = "nobody"
	if _, err := st.ClaimReminder(ctx, unknown, 5*time.Minute); !errors.Is(err, authz.ErrNotFound) {
		t.Fatalf("unknown connection: %v, want ErrNotFound", err)
	}
	rec, _ := st.Get(ctx, "acme", authz.RegionEU)
	if rec.Version != 1 || len(rec.Reminders) != 0 {
		t.Fatalf("a refused claim wrote: version %d, reminders %+v", rec.Version, rec.Reminders)
	}
}

// TestClaimMovesTheVersion: a writer holding the record from before a claim (the
// callback, the scan) cannot put it back without the claim.
func TestClaimMovesTheVersion(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, before := reminderLedger(t)
	if _, err := st.ClaimReminder(ctx, claimAt("-16", remindT0), 5*time.Minute); err != nil {
		t.Fatal(err)
	}
	before.Status = authz.StatusExpired
	if _, err := st.Update(ctx, before); !errors.Is(err, authz.ErrVersionConflict) {
		t.Fatalf("update from before the claim: %v, want ErrVersionConflict", err)
	}
	rec, _ := st.Get(ctx, "acme", authz.RegionEU)
	if _, ok := rec.Reminders["-16"]; !ok {
		t.Fatal("the claim was overwritten")
	}
}

// TestClaimOnARecordWithoutRemindersMap: a record written by other means, without the
// remindersSent map, is claimed all the same.
func TestClaimOnARecordWithoutRemindersMap(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := testenv.DynamoDB(t)
	table := testenv.NewTable(t)
	st := store.New(db, table)
	if _, err := st.Create(ctx, authz.Authorization{ConnectionID: "acme", Region: authz.RegionEU, Status: authz.StatusExpiring,
		ContactEmail: "acme@example.com", AuthorizedAt: remindExpiry.Add(-authz.Lifetime), ExpiresAt: remindExpiry}); err != nil {
		t.Fatal(err)
	}
	_, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(table),
		Key: map[string]types.AttributeValue{
			"pk": &types.AttributeValueMemberS{Value: "CONN#acme"}, "sk": &types.AttributeValueMemberS{Value: "AUTH#eu"}},
		UpdateExpression: aws.String("REMOVE remindersSent")})
	if err != nil {
		t.Fatal(err)
	}
	got, err := st.ClaimReminder(ctx, claimAt("-30", remindT0), 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Reminders["-30"].ClaimedAt.Equal(remindT0) {
		t.Fatalf("claim not recorded: %+v", got.Reminders)
	}
}

func TestScanCursorOnlyMovesForward(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := store.New(testenv.DynamoDB(t), testenv.NewTable(t))
	c, err := st.ScanCursor(ctx)
	if err != nil || c.LastDay != "" {
		t.Fatalf("fresh table cursor %+v, %v", c, err)
	}
	steps := []struct{ save, want string }{
		{"2027-01-16", "2027-01-16"},
		{"2027-01-14", "2027-01-16"}, // a late run of an older day
		{"2027-01-16", "2027-01-16"}, // the same day again
		{"2027-01-19", "2027-01-19"},
	}
	for _, s := range steps {
		if err := st.SaveScanCursor(ctx, store.ScanCursor{LastDay: s.save, At: remindT0}); err != nil {
			t.Fatal(err)
		}
		c, err := st.ScanCursor(ctx)
		if err != nil || c.LastDay != s.want || !c.At.Equal(remindT0) {
			t.Fatalf("after saving %s: %+v, %v; want %s", s.save, c, err, s.want)
		}
	}
	if err := st.SaveScanCursor(ctx, store.ScanCursor{LastDay: "16/01/2027"}); err == nil {
		t.Fatal("a malformed day was saved")
	}
	// The cursor is no authorization: no index or listing shows it.
	n := 0
	if err := st.List(ctx, func(authz.Authorization) error { n++; return nil }); err != nil || n != 0 {
		t.Fatalf("List saw %d authorizations, %v", n, err)
	}
}
