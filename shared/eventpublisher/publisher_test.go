package eventpublisher_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/spapi-auth-keeper/keeper/infra/ddbstream"
	"github.com/spapi-auth-keeper/keeper/infra/eventbridgeemu"
	"github.com/spapi-auth-keeper/keeper/infra/testenv"
	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/domainevent"
	"github.com/spapi-auth-keeper/keeper/shared/eventpublisher"
	"github.com/spapi-auth-keeper/keeper/shared/metrics"
	"github.com/spapi-auth-keeper/keeper/shared/rotation"
	"github.com/spapi-auth-keeper/keeper/shared/rotation/ledger"
	"github.com/spapi-auth-keeper/keeper/shared/store"
)

func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

const bus = "keeper-bus"

type env struct {
	store  *store.Store
	reader *ddbstream.Reader
	emu    *eventbridgeemu.Server
	pub    *eventpublisher.Publisher
	emf    *testenv.Buffer
}

func newEnv(t *testing.T) *env {
	t.Helper()
	table := testenv.NewTable(t)
	db := testenv.DynamoDB(t)
	r, err := ddbstream.New(context.Background(), db, testenv.DynamoDBStreams(t), table)
	if err != nil {
		t.Fatal(err)
	}
	client, emu := testenv.EventBridge(t, bus)
	emf := &testenv.Buffer{}
	pub := eventpublisher.New(client, bus, "", nil, slog.New(slog.NewTextHandler(io.Discard, nil)), metrics.New(emf))
	return &env{store: store.New(db, table), reader: r, emu: emu, pub: pub, emf: emf}
}

// drain polls the stream until want events are on the bus (DynamoDB Local makes a
// record readable a moment after the write).
func (e *env) drain(t *testing.T, want int) []eventbridgeemu.Envelope {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := e.reader.Poll(context.Background(), e.pub.Handle); err != nil {
			t.Fatal(err)
		}
		got := e.emu.Events()
		if len(got) >= want || time.Now().After(deadline) {
			return got
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestStateChangesBecomeEventsWithTheirBeforeAndAfter(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	a := authz.Authorization{ConnectionID: "acme-de", Region: authz.RegionEU, AccountType: authz.AccountSeller, Marketplace: "de",
		ContactEmail: "owner@acme.example", Status: authz.StatusPending}
	a, err := e.store.Create(ctx, a, authz.Event{ConnectionID: a.ConnectionID, Region: a.Region, At: now, Kind: authz.EventCreated, Detail: "onboarded"})
	if err != nil {
		t.Fatal(err)
	}
	before := a.Status
	kind := a.Renew(now.Add(time.Hour), "A1SELLER")
	a, err = e.store.Update(ctx, a, authz.Event{ConnectionID: a.ConnectionID, Region: a.Region, At: now.Add(time.Hour), Kind: kind, StatusBefore: before,
		Detail: "by selling partner A1SELLER; owner@acme.example"})
	if err != nil {
		t.Fatal(err)
	}
	a.Status = authz.StatusRevoked
	if _, err := e.store.Update(ctx, a, authz.Event{ConnectionID: a.ConnectionID, Region: a.Region, At: now.Add(2 * time.Hour), Kind: authz.EventRevoked,
		StatusBefore: authz.StatusActive, Detail: "LWA refused"}); err != nil {
		t.Fatal(err)
	}
	got := e.drain(t, 3)
	tests := []struct {
		detailType, kind, before, after, seller string
	}{
		{domainevent.TypeCreated, "created", "", "pending", ""},
		{domainevent.TypeCreated, "authorized", "pending", "active", "A1SELLER"},
		{domainevent.TypeRevoked, "revoked", "active", "revoked", "A1SELLER"},
	}
	if len(got) != len(tests) {
		t.Fatalf("%d events on the bus, want %d: %+v", len(got), len(tests), got)
	}
	for i, tt := range tests {
		ev := got[i]
		var d domainevent.Detail
		if err := json.Unmarshal(ev.Detail, &d); err != nil {
			t.Fatal(err)
		}
		if ev.DetailType != tt.detailType || ev.Source != domainevent.DefaultSource || d.Kind != tt.kind || d.StatusBefore != tt.before ||
			d.StatusAfter != tt.after || d.SellingPartnerID != tt.seller || d.ConnectionID != "acme-de" || d.Region != "eu" || d.Version != 1 {
			t.Errorf("event %d = %s %+v, want %+v", i, ev.DetailType, d, tt)
		}
		if !strings.HasPrefix(d.EventID, "evt_") {
			t.Errorf("event id %q", d.EventID)
		}
		if strings.Contains(string(ev.Detail), "@") || strings.Contains(string(ev.Detail), "refused") {
			t.Errorf("detail carries an email address or the history text: %s", ev.Detail)
		}
	}
	if d := string(got[1].Detail); !strings.Contains(d, `"expiresAt":"2027-03-01T11:00:00Z"`) {
		t.Errorf("renewal detail without the new expiry: %s", d)
	}
}

func TestPartialFailureRetriesFromTheFailedRecordWithTheSameIDs(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	for i := 0; i < 3; i++ {
		if err := e.store.AddEvent(ctx, authz.Event{ConnectionID: "c" + string(rune('a'+i)), Region: authz.RegionNA, At: at, Kind: authz.EventRefreshFailed}); err != nil {
			t.Fatal(err)
		}
	}
	// The first entry of the first PutEvents fails; EventBridge accepts the other two.
	// The batch is retried from the first record, so those two arrive twice, each time
	// with the same event id: once or more, never a phantom.
	var calls []int
	handler := func(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		if len(calls) == 0 {
			e.emu.FailNextEntries(1, "InternalFailure")
		}
		calls = append(calls, len(ev.Records))
		return e.pub.Handle(ctx, ev)
	}
	deadline := time.Now().Add(20 * time.Second)
	for len(e.emu.Events()) < 5 && time.Now().Before(deadline) {
		if _, err := e.reader.Poll(ctx, handler); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	got := e.emu.Events()
	if len(got) != 5 || len(calls) != 2 {
		t.Fatalf("%d events in %v calls, want 5 in 2 (2 accepted, then the retried 3)", len(got), calls)
	}
	if testenv.MetricSum(t, e.emf.String(), "DomainEventFailed", "eventbridge") == 0 {
		t.Error("no DomainEventFailed metric for the failed entry")
	}
	ids := map[string]int{}
	for _, ev := range got {
		var d domainevent.Detail
		_ = json.Unmarshal(ev.Detail, &d)
		ids[d.EventID]++
	}
	if len(ids) != 3 {
		t.Errorf("event ids %v: want 3 distinct, duplicates sharing their id", ids)
	}
}

func TestBadRecords(t *testing.T) {
	t.Parallel()
	client, emu := testenv.EventBridge(t, bus)
	emf := &testenv.Buffer{}
	pub := eventpublisher.New(client, bus, "", nil, slog.New(slog.NewTextHandler(io.Discard, nil)), metrics.New(emf))
	s := events.NewStringAttribute
	history := func(kind string, extra map[string]events.DynamoDBAttributeValue) map[string]events.DynamoDBAttributeValue {
		img := map[string]events.DynamoDBAttributeValue{"pk": s("CONN#acme"), "sk": s("EVENT#2026-03-01T10:00:00.000000000Z#" + kind),
			"connectionId": s("acme"), "region": s("eu"), "at": s("2026-03-01T10:00:00.000000000Z"), "kind": s(kind)}
		for k, v := range extra {
			img[k] = v
		}
		return img
	}
	rec := func(seq, name string, img map[string]events.DynamoDBAttributeValue) events.DynamoDBEventRecord {
		return events.DynamoDBEventRecord{EventName: name, Change: events.DynamoDBStreamRecord{SequenceNumber: seq, NewImage: img}}
	}
	tests := []struct {
		name       string
		records    []events.DynamoDBEventRecord
		wantFailed []string
		wantEvents int
		metric     string
		reason     string
	}{
		{"unknown kind is skipped with a metric", []events.DynamoDBEventRecord{rec("1", "INSERT", history("teleported", nil)), rec("2", "INSERT", history("revoked", nil))},
			nil, 1, "DomainEventSkipped", "unknown_kind"},
		{"a record update is not an event", []events.DynamoDBEventRecord{rec("1", "MODIFY", history("revoked", nil)),
			rec("2", "INSERT", map[string]events.DynamoDBAttributeValue{"pk": s("CONN#acme"), "sk": s("AUTH#eu")})}, nil, 0, "", ""},
		{"a malformed history item is a poison record", []events.DynamoDBEventRecord{rec("1", "INSERT", history("revoked", nil)),
			rec("2", "INSERT", history("revoked", map[string]events.DynamoDBAttributeValue{"at": s("yesterday")})), rec("3", "INSERT", history("expired", nil))},
			[]string{"2"}, 1, "DomainEventFailed", "malformed"},
		{"a connection id an attacker shaped is refused", []events.DynamoDBEventRecord{
			rec("1", "INSERT", history("revoked", map[string]events.DynamoDBAttributeValue{"connectionId": s("acme\",\"x\":\"")}))},
			[]string{"1"}, 0, "DomainEventFailed", "malformed"},
		{"an attribute of the wrong type is malformed", []events.DynamoDBEventRecord{
			rec("1", "INSERT", history("revoked", map[string]events.DynamoDBAttributeValue{"kind": events.NewNumberAttribute("7")}))},
			[]string{"1"}, 0, "DomainEventFailed", "malformed"},
	}
	for _, tt := range tests {
		before := len(emu.Events())
		resp, err := pub.Handle(context.Background(), events.DynamoDBEvent{Records: tt.records})
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		var failed []string
		for _, f := range resp.BatchItemFailures {
			failed = append(failed, f.ItemIdentifier)
		}
		if strings.Join(failed, ",") != strings.Join(tt.wantFailed, ",") {
			t.Errorf("%s: failures %v, want %v", tt.name, failed, tt.wantFailed)
		}
		if got := len(emu.Events()) - before; got != tt.wantEvents {
			t.Errorf("%s: %d events, want %d", tt.name, got, tt.wantEvents)
		}
		if tt.metric != "" && testenv.MetricSum(t, emf.String(), tt.metric, tt.reason) == 0 {
			t.Errorf("%s: no %s metric (Reason=%s)", tt.name, tt.metric, tt.reason)
		}
	}
}

func TestEventIDIsStableAcrossDeliveries(t *testing.T) {
	t.Parallel()
	h := authz.Event{ConnectionID: "acme", Region: authz.RegionEU, At: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC), Kind: authz.EventRenewed}
	pk, sk := store.HistoryKey(h)
	a, _ := domainevent.FromHistory(pk, sk, h)
	b, _ := domainevent.FromHistory(pk, sk, h)
	h.At = h.At.Add(time.Nanosecond)
	pk2, sk2 := store.HistoryKey(h)
	c, _ := domainevent.FromHistory(pk2, sk2, h)
	if a.ID() != b.ID() || a.ID() == c.ID() {
		t.Errorf("ids %s %s %s: want the first two equal and the third different", a.ID(), b.ID(), c.ID())
	}
}

// TestClientSecretRotationBecomesAnEvent: the rotation's own history (the app's, under
// META#client-secret) publishes "Client Secret Rotated" and "Client Secret Rotation
// Failed"; its other steps are not domain events.
func TestClientSecretRotationBecomesAnEvent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	l := ledger.New(testenv.DynamoDB(t), e.store.Table())
	at := time.Date(2026, 4, 1, 8, 0, 0, 0, time.UTC)
	for i, k := range []rotation.EventKind{rotation.EventRequested, rotation.EventRotated, rotation.EventRejected, rotation.EventFailed} {
		if err := l.AddEvent(ctx, rotation.Event{At: at.Add(time.Duration(i) * time.Minute), Kind: k, Detail: "step"}); err != nil {
			t.Fatal(err)
		}
	}
	got := e.drain(t, 2)
	time.Sleep(300 * time.Millisecond)
	got = e.drain(t, 2)
	if len(got) != 2 || got[0].DetailType != domainevent.TypeClientSecretRotated || got[1].DetailType != domainevent.TypeClientSecretRotationFailed {
		t.Fatalf("events = %+v, want Client Secret Rotated then Client Secret Rotation Failed", got)
	}
	var d domainevent.Detail
	if err := json.Unmarshal(got[0].Detail, &d); err != nil {
		t.Fatal(err)
	}
	if d.ConnectionID != "" || d.Kind != "client_secret_rotated" || !strings.HasPrefix(d.EventID, "evt_") || strings.Contains(string(got[0].Detail), "step") {
		t.Fatalf("detail = %s", got[0].Detail)
	}
	if strings.Contains(e.emf.String(), "unknown_kind") {
		t.Errorf("a rotation step was skipped as an unknown kind: %s", e.emf.String())
	}
}
