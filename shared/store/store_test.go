package store_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/spapi-auth-keeper/keeper/infra/testenv"
	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/store"
)

func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

var t0 = time.Date(2026, 3, 14, 9, 26, 53, 589793238, time.UTC)

// newStore is a Store over a fresh table of its own.
func newStore(t testing.TB) (*store.Store, *dynamodb.Client, string) {
	t.Helper()
	db := testenv.DynamoDB(t)
	table := testenv.NewTable(t)
	return store.New(db, table), db, table
}

func active(id string, region authz.Region, seller string, expires time.Time) authz.Authorization {
	return authz.Authorization{
		ConnectionID: id, Region: region, AccountType: authz.AccountSeller, Marketplace: "DE",
		SellingPartnerID: seller, ContactEmail: id + "@example.com", Locale: "de-DE", Status: authz.StatusActive,
		AuthorizedAt: expires.Add(-authz.Lifetime), ExpiresAt: expires, RefreshSlot: authz.SlotFor(id, region, 24),
		SecretID: "keeper/sp-api/" + id + "/" + string(region),
	}
}

func mustCreate(t testing.TB, s *store.Store, a authz.Authorization, events ...authz.Event) authz.Authorization {
	t.Helper()
	got, err := s.Create(context.Background(), a, events...)
	if err != nil {
		t.Fatalf("Create %s: %v", a.Key(), err)
	}
	return got
}

func TestCreateThenGetKeepsEveryField(t *testing.T) {
	t.Parallel()
	s, db, table := newStore(t)
	berlin := time.FixedZone("CET", 3600)
	tests := []struct {
		name string
		in   authz.Authorization
	}{
		{"pending, nothing known yet", authz.Authorization{ConnectionID: "pending-1", Region: authz.RegionNA,
			AccountType: authz.AccountVendor, Marketplace: "US", ContactEmail: "ops@example.com", Status: authz.StatusPending, RefreshSlot: 0}},
		{"every field", authz.Authorization{
			ConnectionID: "shop_1.eu@acme-corp", Region: authz.RegionEU, AccountType: authz.AccountSeller, Marketplace: "DE",
			SellingPartnerID: "A1SELLER", ContactEmail: "owner@example.com", Locale: "de-DE", Status: authz.StatusExpiring,
			AuthorizedAt: t0.In(berlin), ExpiresAt: t0.Add(authz.Lifetime), LastRefreshAt: t0.Add(time.Hour),
			LastRefreshError: "temporarily_unavailable", RefreshFailures: 2, RefreshSlot: 23, SecretID: "keeper/sp-api/shop/eu",
			Reminders: map[string]authz.ReminderMark{
				"-30": {ClaimedAt: t0.Add(time.Minute), SentAt: t0.Add(2 * time.Minute), MessageID: "ses-1"},
				"-23": {ClaimedAt: t0.Add(3 * time.Minute)},
				"-16": {ClaimedAt: t0, SentAt: t0, Error: "MessageRejected: address suppressed"},
			},
			Version: 41, // ignored: a new record starts at 1
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			created := mustCreate(t, s, tt.in)
			got, err := s.Get(t.Context(), tt.in.ConnectionID, tt.in.Region)
			if err != nil {
				t.Fatal(err)
			}
			want := tt.in
			want.Version = 1
			for _, p := range []*time.Time{&want.AuthorizedAt, &want.ExpiresAt, &want.LastRefreshAt} {
				if !p.IsZero() {
					*p = p.UTC()
				}
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Get =\n%+v\nwant\n%+v", got, want)
			}
			if !reflect.DeepEqual(created, got) {
				t.Errorf("Create returned\n%+v\nGet returned\n%+v", created, got)
			}
			raw := rawItem(t, db, table, "CONN#"+tt.in.ConnectionID, "AUTH#"+string(tt.in.Region))
			if tt.in.ExpiresAt.IsZero() {
				for _, k := range []string{"expiryDay", "expiresAt", "sellingPartnerId"} {
					if _, ok := raw[k]; ok {
						t.Errorf("pending record has %s; GSI keys must be absent, not empty", k)
					}
				}
			} else {
				wantDay := tt.in.ExpiresAt.UTC().Format("2006-01-02")
				if got := str(raw["expiryDay"]); got != wantDay {
					t.Errorf("expiryDay = %q, want %q", got, wantDay)
				}
				if got := str(raw["authorizedAt"]); got != "2026-03-14T09:26:53.589793238Z" {
					t.Errorf("authorizedAt stored as %q, want RFC 3339 UTC with nanoseconds", got)
				}
				m, ok := raw["remindersSent"].(*types.AttributeValueMemberM)
				if !ok {
					t.Fatalf("remindersSent is %T, want a map", raw["remindersSent"])
				}
				stage, _ := m.Value["-30"].(*types.AttributeValueMemberM)
				if stage == nil || str(stage.Value["messageId"]) != "ses-1" || str(stage.Value["sentAt"]) == "" {
					t.Errorf("remindersSent[-30] = %#v, want a map with claimedAt, sentAt and messageId", m.Value["-30"])
				}
			}
			if _, ok := raw["refreshSlot"].(*types.AttributeValueMemberN); !ok {
				t.Errorf("refreshSlot is %T, want a number (the by-slot key is N)", raw["refreshSlot"])
			}
			if v, ok := raw["version"].(*types.AttributeValueMemberN); !ok || v.Value != "1" {
				t.Errorf("version = %#v, want N 1", raw["version"])
			}
		})
	}
}

func rawItem(t testing.TB, db *dynamodb.Client, table, pk, sk string) map[string]types.AttributeValue {
	t.Helper()
	out, err := db.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: pk}, "sk": &types.AttributeValueMemberS{Value: sk}}})
	if err != nil {
		t.Fatal(err)
	}
	return out.Item
}

func str(v types.AttributeValue) string {
	if s, ok := v.(*types.AttributeValueMemberS); ok {
		return s.Value
	}
	return ""
}

func TestWritesFailWithTheDomainsErrorKinds(t *testing.T) {
	t.Parallel()
	s, _, _ := newStore(t)
	ctx := t.Context()
	base := mustCreate(t, s, active("acme", authz.RegionEU, "A1", t0))
	moved, err := s.Update(ctx, base) // someone else's write: version 2
	if err != nil {
		t.Fatal(err)
	}
	stale := base
	stale.ContactEmail = "stale@example.com"
	missing := active("ghost", authz.RegionEU, "", t0)
	missing.Version = 1
	invalid := active("bad#id", authz.RegionEU, "", t0)

	tests := []struct {
		name  string
		write func() error
		want  error
	}{
		{"create twice", func() error { _, err := s.Create(ctx, active("acme", authz.RegionEU, "A2", t0)); return err }, authz.ErrAlreadyExists},
		{"update with a stale version", func() error { _, err := s.Update(ctx, stale); return err }, authz.ErrVersionConflict},
		{"update a record that is not there", func() error { _, err := s.Update(ctx, missing); return err }, authz.ErrNotFound},
		{"delete with a stale version", func() error { return s.Delete(ctx, "acme", authz.RegionEU, 1) }, authz.ErrVersionConflict},
		{"delete a record that is not there", func() error { return s.Delete(ctx, "ghost", authz.RegionEU, 1) }, authz.ErrNotFound},
		{"get a record that is not there", func() error { _, err := s.Get(ctx, "acme", authz.RegionNA); return err }, authz.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.write()
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			for _, other := range []error{authz.ErrAlreadyExists, authz.ErrVersionConflict, authz.ErrNotFound, store.ErrUnavailable} {
				if other != tt.want && errors.Is(err, other) {
					t.Errorf("err = %v is also %v", err, other)
				}
			}
		})
	}
	if _, err := s.Create(ctx, invalid); err == nil || !strings.Contains(err.Error(), "connection id") {
		t.Errorf("Create with '#' in the connection id = %v, want a validation error", err)
	}
	got, err := s.Get(ctx, "acme", authz.RegionEU)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, moved) {
		t.Errorf("after the failed writes the record is\n%+v\nwant it unchanged\n%+v", got, moved)
	}
	h, err := s.History(ctx, "acme", 0)
	if err != nil || len(h) != 0 {
		t.Errorf("History = %v, %v; want no events from failed writes", h, err)
	}
}

func TestUpdateStoresTheNextVersion(t *testing.T) {
	t.Parallel()
	s, _, _ := newStore(t)
	ctx := t.Context()
	a := mustCreate(t, s, active("acme", authz.RegionNA, "A1", t0))
	a.Renew(t0.Add(24*time.Hour), "A1")
	a.Reminders = map[string]authz.ReminderMark{"-30": {ClaimedAt: t0}}
	updated, err := s.Update(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	if updated.Version != 2 {
		t.Errorf("Update returned version %d, want 2", updated.Version)
	}
	got, err := s.Get(ctx, "acme", authz.RegionNA)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, updated) {
		t.Errorf("Get =\n%+v\nUpdate returned\n%+v", got, updated)
	}
	if err := s.Delete(ctx, "acme", authz.RegionNA, 2); err != nil {
		t.Fatalf("Delete at the current version: %v", err)
	}
	if _, err := s.Get(ctx, "acme", authz.RegionNA); !errors.Is(err, authz.ErrNotFound) {
		t.Errorf("Get after Delete = %v, want ErrNotFound", err)
	}
}

func TestConcurrentUpdatesOfOneVersionHaveOneWinner(t *testing.T) {
	t.Parallel()
	s, _, _ := newStore(t)
	base := mustCreate(t, s, active("race", authz.RegionEU, "A1", t0))
	const writers = 8
	var wins, conflicts atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := base
			a.LastRefreshError = fmt.Sprintf("writer %d", i)
			<-start
			_, err := s.Update(context.Background(), a, authz.Event{ConnectionID: a.ConnectionID, Region: a.Region,
				At: t0.Add(time.Duration(i)), Kind: authz.EventRefreshFailed, Detail: a.LastRefreshError})
			switch {
			case err == nil:
				wins.Add(1)
			case errors.Is(err, authz.ErrVersionConflict):
				conflicts.Add(1)
			default:
				t.Errorf("writer %d: %v", i, err)
			}
		}()
	}
	close(start)
	wg.Wait()
	if wins.Load() != 1 || conflicts.Load() != writers-1 {
		t.Fatalf("%d wins, %d conflicts; want 1 and %d", wins.Load(), conflicts.Load(), writers-1)
	}
	got, err := s.Get(t.Context(), "race", authz.RegionEU)
	if err != nil {
		t.Fatal(err)
	}
	h, err := s.History(t.Context(), "race", 0)
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != 2 || len(h) != 1 || h[0].Detail != got.LastRefreshError {
		t.Errorf("stored version %d (%q) with history %+v; want version 2 and only the winner's event", got.Version, got.LastRefreshError, h)
	}
}

func TestHistoryIsWrittenWithTheRecordAndReadNewestFirst(t *testing.T) {
	t.Parallel()
	s, _, _ := newStore(t)
	ctx := t.Context()
	ev := func(at time.Time, k authz.EventKind, region authz.Region, detail string) authz.Event {
		return authz.Event{ConnectionID: "acme", Region: region, At: at, Kind: k, Detail: detail}
	}
	created := ev(t0, authz.EventCreated, authz.RegionEU, "by the vendor")
	// On a whole second, then half a second later: with RFC3339Nano's trimmed
	// fractions "…55.5Z" would sort before "…55Z".
	authorized := ev(t0.Truncate(time.Second).Add(2*time.Second), authz.EventAuthorized, authz.RegionEU, "")
	reminded := ev(t0.Truncate(time.Second).Add(2500*time.Millisecond), authz.EventReminded, authz.RegionEU, "stage -30")
	otherRegion := ev(t0.Add(2*time.Second), authz.EventCreated, authz.RegionNA, "")
	a := mustCreate(t, s, active("acme", authz.RegionEU, "A1", t0.Add(authz.Lifetime)), created)
	if _, err := s.Update(ctx, a, authorized, reminded); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, s, active("acme", authz.RegionNA, "A1", t0.Add(authz.Lifetime)), otherRegion)
	if err := s.AddEvent(ctx, ev(t0.Add(3*time.Second), authz.EventMismatchedSeller, authz.RegionEU, "A9OTHER")); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, s, active("acme-2", authz.RegionEU, "A2", t0), authz.Event{ConnectionID: "acme-2", Region: authz.RegionEU, At: t0.Add(time.Hour), Kind: authz.EventCreated})

	tests := []struct {
		limit int
		want  []authz.EventKind
	}{
		{0, []authz.EventKind{authz.EventMismatchedSeller, authz.EventCreated, authz.EventReminded, authz.EventAuthorized, authz.EventCreated}},
		{2, []authz.EventKind{authz.EventMismatchedSeller, authz.EventCreated}},
		{10, []authz.EventKind{authz.EventMismatchedSeller, authz.EventCreated, authz.EventReminded, authz.EventAuthorized, authz.EventCreated}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint("limit ", tt.limit), func(t *testing.T) {
			h, err := s.History(ctx, "acme", tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			var kinds []authz.EventKind
			for _, e := range h {
				kinds = append(kinds, e.Kind)
			}
			if !reflect.DeepEqual(kinds, tt.want) {
				t.Fatalf("History kinds = %v, want %v", kinds, tt.want)
			}
		})
	}
	h, _ := s.History(ctx, "acme", 0)
	// Events written with a record carry the record's state (for the domain events).
	withRecord := func(e authz.Event) authz.Event {
		e.StatusAfter, e.SellingPartnerID, e.ExpiresAt = authz.StatusActive, "A1", t0.Add(authz.Lifetime)
		return e
	}
	created, reminded, otherRegion = withRecord(created), withRecord(reminded), withRecord(otherRegion)
	if last := h[len(h)-1]; !reflect.DeepEqual(last, created) {
		t.Errorf("oldest event = %+v, want %+v", last, created)
	}
	if h[2] != reminded || h[1] != otherRegion {
		t.Errorf("events = %+v", h)
	}
}

func TestFindBySellerReturnsEveryRegionOfThatSeller(t *testing.T) {
	t.Parallel()
	s, _, _ := newStore(t)
	exp := t0.Add(200 * 24 * time.Hour)
	mustCreate(t, s, active("shop-a", authz.RegionEU, "A1SELLER", exp))
	mustCreate(t, s, active("shop-a", authz.RegionNA, "A1SELLER", exp))
	mustCreate(t, s, active("shop-b", authz.RegionEU, "A2OTHER", exp))
	mustCreate(t, s, authz.Authorization{ConnectionID: "shop-c", Region: authz.RegionEU, Status: authz.StatusPending})
	tests := []struct {
		seller string
		want   []string
	}{
		{"A1SELLER", []string{"shop-a/eu", "shop-a/na"}},
		{"A2OTHER", []string{"shop-b/eu"}},
		{"A3NOBODY", nil},
	}
	for _, tt := range tests {
		t.Run(tt.seller, func(t *testing.T) {
			t.Parallel()
			found, err := s.FindBySeller(t.Context(), tt.seller)
			if err != nil {
				t.Fatal(err)
			}
			if got := keys(found); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("FindBySeller = %v, want %v", got, tt.want)
			}
		})
	}
}

func keys(as []authz.Authorization) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.Key())
	}
	if len(out) > 1 && out[0] > out[1] {
		out[0], out[1] = out[1], out[0]
	}
	return out
}

// readCounter records the items each Query read (ScannedCount) and the capacity it
// consumed, from the SDK's own response, so a test sees what DynamoDB did.
type readCounter struct {
	mu       sync.Mutex
	scanned  int32
	capacity float64
}

func (c *readCounter) client(db *dynamodb.Client) *dynamodb.Client {
	return dynamodb.New(db.Options(), func(o *dynamodb.Options) {
		o.APIOptions = append(o.APIOptions, func(stack *middleware.Stack) error {
			return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("readCounter",
				func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
					if q, ok := in.Parameters.(*dynamodb.QueryInput); ok {
						q.ReturnConsumedCapacity = types.ReturnConsumedCapacityTotal
					}
					out, md, err := next.HandleInitialize(ctx, in)
					if q, ok := out.Result.(*dynamodb.QueryOutput); ok {
						c.mu.Lock()
						c.scanned += q.ScannedCount
						if q.ConsumedCapacity != nil {
							c.capacity += aws.ToFloat64(q.ConsumedCapacity.CapacityUnits)
						}
						c.mu.Unlock()
					}
					return out, md, err
				}), middleware.After)
		})
	})
}

func (c *readCounter) reset() (scanned int32, capacity float64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	scanned, capacity = c.scanned, c.capacity
	c.scanned, c.capacity = 0, 0
	return scanned, capacity
}

func TestIndexQueriesReadOnlyTheirPartition(t *testing.T) {
	t.Parallel()
	db := testenv.DynamoDB(t)
	table := testenv.NewTable(t)
	var counter readCounter
	s := store.New(counter.client(db), table)
	day := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	// 5 expire on Dec 1 (slot 3), 12 on other days (slot 7), 4 pending (slot 3, no expiry).
	for i := range 21 {
		a := active(fmt.Sprintf("c%02d", i), authz.RegionEU, fmt.Sprintf("S%02d", i), day.Add(time.Duration(i)*time.Hour))
		a.RefreshSlot = 3
		switch {
		case i >= 5 && i < 17:
			a.ExpiresAt = day.AddDate(0, 0, 1+i%3)
			a.RefreshSlot = 7
		case i >= 17:
			a = authz.Authorization{ConnectionID: a.ConnectionID, Region: a.Region, Status: authz.StatusPending, RefreshSlot: 3}
		}
		mustCreate(t, s, a, authz.Event{ConnectionID: a.ConnectionID, Region: a.Region, At: t0, Kind: authz.EventCreated})
	}
	counter.reset()
	tests := []struct {
		name    string
		walk    func(fn func(authz.Authorization) error) error
		want    int
		partial bool // by-slot carries the sweep's attributes only
	}{
		{"by-expiry Dec 1", func(fn func(authz.Authorization) error) error { return s.ByExpiryDay(t.Context(), "2026-12-01", fn) }, 5, false},
		{"by-expiry Dec 2", func(fn func(authz.Authorization) error) error { return s.ByExpiryDay(t.Context(), "2026-12-02", fn) }, 4, false},
		{"by-expiry a day nobody expires", func(fn func(authz.Authorization) error) error { return s.ByExpiryDay(t.Context(), "2027-01-01", fn) }, 0, false},
		{"by-slot 3", func(fn func(authz.Authorization) error) error { return s.BySlot(t.Context(), 3, fn) }, 9, true},
		{"by-slot 7", func(fn func(authz.Authorization) error) error { return s.BySlot(t.Context(), 7, fn) }, 12, true},
		{"by-slot 0", func(fn func(authz.Authorization) error) error { return s.BySlot(t.Context(), 0, fn) }, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { // not parallel: the counter is shared
			n := 0
			if err := tt.walk(func(a authz.Authorization) error {
				n++
				switch {
				case a.ConnectionID == "" || a.Region == "" || a.Status == "":
					t.Errorf("walked a record without key or status %+v", a)
				case tt.partial && (a.Version != 0 || a.ContactEmail != ""):
					t.Errorf("by-slot record carries more than the index projects: %+v", a)
				case !tt.partial && (a.Version != 1 || (a.Status == authz.StatusActive && a.ContactEmail == "")):
					t.Errorf("walked a partial record %+v", a)
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			scanned, capacity := counter.reset()
			if n != tt.want || int(scanned) != tt.want {
				t.Errorf("visited %d records reading %d items, want %d and %d (of 21 records and 21 events)", n, scanned, tt.want, tt.want)
			}
			t.Logf("%s: %d items read, %.1f read units", tt.name, scanned, capacity)
		})
	}
	stop := errors.New("enough")
	n := 0
	err := s.BySlot(t.Context(), 7, func(authz.Authorization) error {
		n++
		if n == 2 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 2 {
		t.Errorf("BySlot with fn failing on the 2nd record = %v after %d calls, want fn's error after 2", err, n)
	}
}

func TestListVisitsOnlyAuthorizations(t *testing.T) {
	t.Parallel()
	s, _, _ := newStore(t)
	ctx := t.Context()
	for _, id := range []string{"a", "b", "c"} {
		mustCreate(t, s, active("list-"+id, authz.RegionFE, "", t0), authz.Event{ConnectionID: "list-" + id, At: t0, Kind: authz.EventCreated})
	}
	if err := s.PutNonce(ctx, "n-list", "list-a", authz.RegionFE, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	var seen []string
	if err := s.List(ctx, func(a authz.Authorization) error { seen = append(seen, a.ConnectionID); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 3 {
		t.Errorf("List visited %v, want the 3 authorizations only", seen)
	}
}

func TestNoncesAreSingleUse(t *testing.T) {
	t.Parallel()
	s, db, table := newStore(t)
	ctx := t.Context()
	now := t0
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.PutNonce(ctx, "fresh", "acme", authz.RegionEU, now.Add(15*time.Minute)))
	must(s.PutNonce(ctx, "stale", "acme", authz.RegionNA, now.Add(-time.Second)))
	must(s.PutNonce(ctx, "edge", "acme", authz.RegionFE, now))
	if err := s.PutNonce(ctx, "fresh", "other", authz.RegionEU, now.Add(time.Hour)); !errors.Is(err, authz.ErrAlreadyExists) {
		t.Errorf("PutNonce of an issued nonce = %v, want ErrAlreadyExists", err)
	}
	if ttl, ok := rawItem(t, db, table, "STATE#fresh", "STATE")["ttl"].(*types.AttributeValueMemberN); !ok || ttl.Value != fmt.Sprint(now.Add(15*time.Minute).Unix()+1) {
		t.Errorf("ttl = %#v, want epoch seconds of expiresAt, rounded up", ttl)
	}

	tests := []struct {
		name       string
		nonce      string
		wantConn   string
		wantRegion authz.Region
		wantErr    error
	}{
		{"fresh", "fresh", "acme", authz.RegionEU, nil},
		{"replayed", "fresh", "", "", store.ErrNonceNotFound},
		{"never issued", "forged", "", "", store.ErrNonceNotFound},
		{"expired", "stale", "acme", authz.RegionNA, store.ErrNonceExpired},
		{"expired one is gone too", "stale", "", "", store.ErrNonceNotFound},
		{"expiring this instant", "edge", "acme", authz.RegionFE, store.ErrNonceExpired},
	}
	for _, tt := range tests { // in order: each step sees the previous ones
		t.Run(tt.name, func(t *testing.T) {
			conn, region, err := s.ConsumeNonce(ctx, tt.nonce, now)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("ConsumeNonce = %v, want %v", err, tt.wantErr)
			}
			if conn != tt.wantConn || region != tt.wantRegion {
				t.Errorf("ConsumeNonce = %s/%s, want %s/%s", conn, region, tt.wantConn, tt.wantRegion)
			}
		})
	}

	// Two callbacks racing with the same state: exactly one gets it.
	must(s.PutNonce(ctx, "raced", "acme", authz.RegionEU, now.Add(time.Minute)))
	var got atomic.Int32
	var wg sync.WaitGroup
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, _, err := s.ConsumeNonce(context.Background(), "raced", now); err == nil {
				got.Add(1)
			} else if !errors.Is(err, store.ErrNonceNotFound) {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if got.Load() != 1 {
		t.Errorf("%d callbacks consumed one nonce, want 1", got.Load())
	}
}

// TestUnavailableDynamoDB points the production client at endpoints that fail the way
// DynamoDB does under load or outage: throttling, 5xx, nobody listening.
func TestUnavailableDynamoDB(t *testing.T) {
	t.Parallel()
	refused := httptest.NewServer(http.NotFoundHandler())
	refused.Close()
	tests := []struct {
		name     string
		url      string
		status   int
		code     string
		wantKind error
	}{
		{"throttled", "", http.StatusBadRequest, "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException", store.ErrUnavailable},
		{"internal error", "", http.StatusInternalServerError, "com.amazonaws.dynamodb.v20120810#InternalServerError", store.ErrUnavailable},
		{"bad gateway", "", http.StatusBadGateway, "", store.ErrUnavailable},
		{"connection refused", refused.URL, 0, "", store.ErrUnavailable},
		{"a client error stays one", "", http.StatusBadRequest, "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			url := tt.url
			var calls atomic.Int32
			if url == "" {
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					calls.Add(1)
					w.Header().Set("Content-Type", "application/x-amz-json-1.0")
					w.WriteHeader(tt.status)
					fmt.Fprintf(w, `{"__type":%q,"message":"injected"}`, tt.code)
				}))
				defer srv.Close()
				url = srv.URL
			}
			db := dynamodb.New(testenv.DynamoDB(t).Options(), func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(url) })
			s := store.New(db, "any")
			checks := map[string]error{}
			_, checks["Get"] = s.Get(t.Context(), "acme", authz.RegionEU)
			_, checks["Create"] = s.Create(t.Context(), active("acme", authz.RegionEU, "A1", t0))
			_, _, checks["ConsumeNonce"] = s.ConsumeNonce(t.Context(), "n", t0)
			checks["BySlot"] = s.BySlot(t.Context(), 1, func(authz.Authorization) error { return nil })
			for op, err := range checks {
				if err == nil {
					t.Errorf("%s succeeded against a failing endpoint", op)
					continue
				}
				if got := errors.Is(err, store.ErrUnavailable); got != (tt.wantKind != nil) {
					t.Errorf("%s: errors.Is(%v, ErrUnavailable) = %v", op, err, got)
				}
				for _, kind := range []error{authz.ErrNotFound, authz.ErrVersionConflict, authz.ErrAlreadyExists, store.ErrNonceNotFound} {
					if errors.Is(err, kind) {
						t.Errorf("%s: %v reads as %v", op, err, kind)
					}
				}
			}
			if tt.wantKind != nil && tt.url == "" && calls.Load() < 8 {
				t.Errorf("%d requests, want the SDK's retries before giving up", calls.Load())
			}
		})
	}
}

func TestCreateTableMakesTheProjectSchema(t *testing.T) {
	t.Parallel()
	db := testenv.DynamoDB(t)
	table := testenv.NewTable(t)
	ctx := t.Context()
	out, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatal(err)
	}
	d := out.Table
	if d.TableStatus != types.TableStatusActive || d.BillingModeSummary == nil || d.BillingModeSummary.BillingMode != types.BillingModePayPerRequest {
		t.Errorf("table status %s, billing %+v; want ACTIVE and PAY_PER_REQUEST", d.TableStatus, d.BillingModeSummary)
	}
	want := map[string]string{"by-expiry": "expiryDay", "by-seller": "sellingPartnerId", "by-slot": "refreshSlot"}
	wantProjection := map[string]string{"by-expiry": "KEYS_ONLY []", "by-seller": "KEYS_ONLY []", "by-slot": "INCLUDE [connectionId refreshFailures region status]"}
	for _, g := range d.GlobalSecondaryIndexes {
		name := aws.ToString(g.IndexName)
		projection := ""
		if g.Projection != nil {
			nonKey := slices.Sorted(slices.Values(g.Projection.NonKeyAttributes))
			projection = fmt.Sprintf("%s %v", g.Projection.ProjectionType, nonKey)
		}
		if len(g.KeySchema) != 2 || aws.ToString(g.KeySchema[0].AttributeName) != want[name] || aws.ToString(g.KeySchema[1].AttributeName) != "pk" ||
			projection != wantProjection[name] {
			t.Errorf("index %s: keys %+v projection %s; want %s then pk, projecting %s", name, g.KeySchema, projection, want[name], wantProjection[name])
		}
		delete(want, name)
	}
	if len(want) != 0 {
		t.Errorf("missing indexes: %v", want)
	}
	ttl, err := db.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatal(err)
	}
	if d := ttl.TimeToLiveDescription; d == nil || aws.ToString(d.AttributeName) != "ttl" || d.TimeToLiveStatus != types.TimeToLiveStatusEnabled {
		t.Errorf("TTL = %+v, want enabled on ttl", d)
	}
	if err := store.CreateTable(ctx, db, table); !errors.Is(err, store.ErrTableExists) {
		t.Errorf("CreateTable of an existing table = %v, want ErrTableExists", err)
	}
}

func BenchmarkGet(b *testing.B) {
	s, _, _ := newStore(b)
	mustCreate(b, s, active("bench", authz.RegionEU, "A1", t0))
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		if _, err := s.Get(ctx, "bench", authz.RegionEU); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUpdate(b *testing.B) {
	s, _, _ := newStore(b)
	a := mustCreate(b, s, active("bench", authz.RegionEU, "A1", t0))
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		a.RefreshFailures++
		var err error
		if a, err = s.Update(ctx, a, authz.Event{ConnectionID: a.ConnectionID, Region: a.Region, At: t0.Add(time.Duration(a.Version)), Kind: authz.EventRefreshFailed}); err != nil {
			b.Fatal(err)
		}
	}
}
