package vault_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/spapi-auth-keeper/keeper/infra/samtemplate"
	"github.com/spapi-auth-keeper/keeper/infra/secretsemu"
	"github.com/spapi-auth-keeper/keeper/infra/testenv"
	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/metrics"
	"github.com/spapi-auth-keeper/keeper/shared/vault"
)

// clockedVault is a deployment whose Secrets Manager emulator and vaults read one test
// clock, so that a test can live through a day of renewals in a few seconds.
type clockedVault struct {
	*packedEnv
	clock *testenv.Clock
}

func newClockedEnv(t *testing.T, p vault.Packing) *clockedVault {
	t.Helper()
	clock := testenv.NewClock(time.Date(2031, 5, 6, 0, 0, 0, 0, time.UTC))
	emu := secretsemu.New(secretsemu.WithClock(clock.Now))
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	sm := secretsmanager.NewFromConfig(testenv.Config(), func(o *secretsmanager.Options) { o.BaseEndpoint = aws.String(srv.URL) })
	env := &packedEnv{sm: sm, emu: emu, ddb: testenv.DynamoDB(t), table: testenv.NewTable(t), prefix: testenv.Prefix(t), pack: p}
	return &clockedVault{packedEnv: env, clock: clock}
}

// vault is an execution environment of the deployment, on the test clock.
func (e *clockedVault) vault() *vault.Vault {
	return e.packedEnv.vault(vault.LayoutPacked).WithClock(e.clock.Now)
}

// TestOneSellerCannotSpendItsBucketsVersions: one connection renews 120 times in a
// day while each of the 49 others that share its bucket renews once. Every other
// renewal is stored (none refused, so none parked), the busy connection's bucket keeps
// well under Secrets Manager's 100 versions, every entry reads back its latest token,
// and the busy connection's old copy leaves the shared bucket at its next write.
func TestOneSellerCannotSpendItsBucketsVersions(t *testing.T) {
	t.Parallel()
	env := newClockedEnv(t, vault.Packing{WritesPerSecond: -1})
	const sellers, renewals = 50, 120
	entries := make([]vault.Entry, sellers)
	for i := range entries {
		entries[i] = vault.Entry{ConnectionID: conn(i), Region: authz.RegionNA, Token: rtok(fmt.Sprint("first-", i), authz.RegionNA)}
	}
	if _, err := env.vault().PutMany(ctx, entries); err != nil {
		t.Fatal(err)
	}
	bucket1 := env.vault().BucketName(1)
	latest := map[int]string{}
	for i := range sellers {
		latest[i] = fmt.Sprint("first-", i)
	}
	var refused int
	for r := range renewals {
		env.clock.Advance(11 * time.Minute) // 120 renewals in 22 hours
		label := fmt.Sprint("busy-", r)
		if _, err := env.vault().Put(ctx, conn(0), authz.RegionNA, rtok(label, authz.RegionNA)); err != nil {
			// Alone in its own bucket, the busy connection may spend that bucket's 100
			// versions: its own renewal waits (the caller parks it), nobody else's.
			if !errors.Is(err, vault.ErrUnavailable) {
				t.Fatalf("renewal %d of the busy connection: %v", r, err)
			}
			refused++
		} else {
			latest[0] = label
		}
		if other := r/2 + 1; r%2 == 0 && other < sellers {
			label := fmt.Sprint("renewed-", other)
			if _, err := env.vault().Put(ctx, conn(other), authz.RegionNA, rtok(label, authz.RegionNA)); err != nil {
				t.Fatalf("renewal of %s, which shares the busy connection's bucket: %v", conn(other), err)
			}
			latest[other] = label
		}
	}
	if n := env.emu.Versions(bucket1); n > 1+vault.DefaultEntryVersions+sellers-1 {
		t.Errorf("the shared bucket has %d versions, want at most %d: one placement, the busy connection's share, one renewal each of the others",
			n, 1+vault.DefaultEntryVersions+sellers-1)
	}
	reader := env.vault()
	for i := range sellers {
		got := wantToken(t, reader, conn(i), authz.RegionNA, tok(latest[i]))
		if in1 := strings.Contains(got.SecretID, bucket1+"-"); in1 == (i == 0) {
			t.Errorf("%s is read from %s", conn(i), got.SecretID)
		}
	}
	if refused > renewals-versionsQuota+vault.DefaultEntryVersions {
		t.Errorf("%d of the busy connection's renewals refused; its own bucket should have taken about 100", refused)
	}
	doc := env.document(t, 1, "AWSCURRENT")
	if _, ok := doc[conn(0)+"/na"]; ok {
		t.Error("the shared bucket still holds the moved connection's old copy after later writes")
	}
	if len(doc) != sellers-1 {
		t.Errorf("the shared bucket holds %d entries, want %d", len(doc), sellers-1)
	}
}

const versionsQuota = 100

// fillVersions writes the bucket's current document as new versions until it has n
// versions in the emulator's 24 hours: writes the vault does not count (a write that
// landed after its lease, the console).
func fillVersions(t *testing.T, env *clockedVault, bucket, n int) {
	t.Helper()
	name := env.vault().BucketName(bucket)
	out, err := env.sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	for env.emu.Versions(name) < n {
		if _, err := env.sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(name), SecretString: out.SecretString}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestRefusedVersionMovesTheEntryToAFreshBucket: Secrets Manager refuses a bucket its
// 101st version of the day (LimitExceededException). The renewal moves to a fresh
// bucket instead of failing; the bucket's other entries keep their tokens, and their
// renewals move too, without another refused call; a new entry goes past it; no Get
// returns the stale copy the bucket keeps; the day over, the next write drops it.
func TestRefusedVersionMovesTheEntryToAFreshBucket(t *testing.T) {
	t.Parallel()
	env := newClockedEnv(t, vault.Packing{WritesPerSecond: -1})
	for _, c := range []string{"a", "b", "c"} {
		if _, err := env.vault().Put(ctx, c, authz.RegionEU, rtok(c, authz.RegionEU)); err != nil {
			t.Fatal(err)
		}
	}
	fillVersions(t, env, 1, versionsQuota)
	v := env.vault()
	bucket1 := v.BucketName(1)

	tests := []struct {
		conn, label string
		wantBucket  int
	}{
		{"b", "b-renewed", 2}, // refused: moves
		{"a", "a-renewed", 3}, // the bucket known spent: moves without trying
	}
	for _, tc := range tests {
		refusedBefore := env.emu.Calls("PutSecretValue")
		id, err := env.vault().Put(ctx, tc.conn, authz.RegionEU, rtok(tc.label, authz.RegionEU))
		if err != nil {
			t.Fatalf("renewal of %s in a bucket at its daily versions: %v", tc.conn, err)
		}
		if !strings.Contains(id, v.BucketName(tc.wantBucket)+"-") {
			t.Errorf("renewal of %s stored in %s, want bucket %d", tc.conn, id, tc.wantBucket)
		}
		want := map[int]int{2: 1, 3: 0}[tc.wantBucket] // refused once, not retried; then not tried
		if n := env.emu.Calls("PutSecretValue") - refusedBefore; n != want {
			t.Errorf("renewal of %s: %d PutSecretValue calls, want %d", tc.conn, n, want)
		}
	}
	id, err := env.vault().Put(ctx, "d", authz.RegionEU, rtok("d", authz.RegionEU))
	if err != nil || strings.Contains(id, bucket1+"-") {
		t.Errorf("a new entry went to %s (%v), want past the refused bucket", id, err)
	}
	reader := env.vault()
	wantToken(t, reader, "a", authz.RegionEU, tok("a-renewed"))
	wantToken(t, reader, "b", authz.RegionEU, tok("b-renewed"))
	wantToken(t, reader, "c", authz.RegionEU, tok("c"))
	wantToken(t, reader, "d", authz.RegionEU, tok("d"))
	if doc := env.document(t, 1, "AWSCURRENT"); doc["b/eu"]["refreshToken"] != tok("b").Reveal() {
		t.Error("the refused bucket changed")
	}

	// A day later the bucket takes versions again: c renews in place, and the stale
	// copies of a and b go with that write.
	env.clock.Advance(25 * time.Hour)
	id, err = env.vault().Put(ctx, "c", authz.RegionEU, rtok("c-renewed", authz.RegionEU))
	if err != nil || !strings.Contains(id, bucket1+"-") {
		t.Fatalf("renewal of c a day later: %s, %v; want bucket 1", id, err)
	}
	doc := env.document(t, 1, "AWSCURRENT")
	if len(doc) != 1 || doc["c/eu"]["refreshToken"] != tok("c-renewed").Reveal() {
		keys := make([]string, 0, len(doc))
		for k := range doc {
			keys = append(keys, k)
		}
		t.Errorf("bucket 1 holds %v, want only c's renewal", keys)
	}
	wantToken(t, env.vault(), "a", authz.RegionEU, tok("a-renewed"))
	wantToken(t, env.vault(), "b", authz.RegionEU, tok("b-renewed"))
}

// TestForgetOfAMovedEntryRemovesItsOldCopy: an entry moved out of its bucket (it had
// its share of the bucket's versions) is forgotten before the old bucket was written
// again; neither bucket's AWSCURRENT holds it afterwards.
func TestForgetOfAMovedEntryRemovesItsOldCopy(t *testing.T) {
	t.Parallel()
	env := newClockedEnv(t, vault.Packing{WritesPerSecond: -1, EntryVersionsPerDay: 2})
	for _, c := range []string{"keep", "busy"} {
		if _, err := env.vault().Put(ctx, c, authz.RegionNA, rtok(c, authz.RegionNA)); err != nil {
			t.Fatal(err)
		}
	}
	var id string
	for r := range 3 {
		var err error
		if id, err = env.vault().Put(ctx, "busy", authz.RegionNA, rtok(fmt.Sprint("busy-", r), authz.RegionNA)); err != nil {
			t.Fatal(err)
		}
	}
	v := env.vault()
	if !strings.Contains(id, v.BucketName(2)+"-") {
		t.Fatalf("the third renewal went to %s, want a fresh bucket 2", id)
	}
	if _, ok := env.document(t, 1, "AWSCURRENT")["busy/na"]; !ok {
		t.Fatal("the old copy is gone already: the test does not exercise its removal")
	}
	wantToken(t, env.vault(), "busy", authz.RegionNA, tok("busy-2"))
	if err := v.Delete(ctx, "busy", authz.RegionNA); err != nil {
		t.Fatal(err)
	}
	if _, ok := env.document(t, 1, "AWSCURRENT")["busy/na"]; ok {
		t.Error("bucket 1 still holds the forgotten entry's old copy")
	}
	if _, err := env.vault().Get(ctx, "busy", authz.RegionNA); !errors.Is(err, vault.ErrNotFound) {
		t.Errorf("Get after forget: %v, want ErrNotFound", err)
	}
	wantToken(t, env.vault(), "keep", authz.RegionNA, tok("keep"))
}

// TestBucketNearingItsDailyVersionsEmitsTheMetric: the write that gives a bucket its
// 80th version of the day emits VaultBucketVersionsHigh (namespace SpapiAuthKeeper,
// the count as its value), which the VaultBucketVersionsAlarm watches; the writes
// before it emit nothing, and no line holds a token.
func TestBucketNearingItsDailyVersionsEmitsTheMetric(t *testing.T) {
	t.Parallel()
	env := newClockedEnv(t, vault.Packing{WritesPerSecond: -1, MaxEntries: 100})
	var out testenv.Buffer
	em := metrics.New(&out)
	v := env.vault().WithMetrics(em)
	shortTok := func(i int) vault.RefreshToken {
		return vault.RefreshToken{Token: tok(fmt.Sprint(i))[:40], AuthorizedAt: authorizedAt}
	}
	for i := range vault.BucketVersionsHighMark - 1 {
		if _, err := v.Put(ctx, conn(i), authz.RegionFE, shortTok(i)); err != nil {
			t.Fatal(err)
		}
	}
	if strings.Contains(out.String(), vault.MetricBucketVersionsHigh) {
		t.Fatalf("metric emitted below %d versions: %s", vault.BucketVersionsHighMark, out.String())
	}
	if _, err := v.Put(ctx, conn(99), authz.RegionFE, shortTok(99)); err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var doc struct {
			Value float64 `json:"VaultBucketVersionsHigh"`
			AWS   struct {
				CloudWatchMetrics []struct {
					Namespace string
					Metrics   []struct{ Name string }
				}
			} `json:"_aws"`
		}
		if err := json.Unmarshal([]byte(line), &doc); err != nil {
			t.Fatalf("not an EMF line: %q", line)
		}
		if strings.Contains(line, "Atzr|") {
			t.Errorf("a metric line holds a token: %s", line)
		}
		for _, cw := range doc.AWS.CloudWatchMetrics {
			for _, m := range cw.Metrics {
				if m.Name == vault.MetricBucketVersionsHigh && cw.Namespace == metrics.Namespace && doc.Value == vault.BucketVersionsHighMark {
					found = true
				}
			}
		}
	}
	if !found {
		t.Errorf("no %s of %d in namespace %s after the bucket's %dth version: %s",
			vault.MetricBucketVersionsHigh, vault.BucketVersionsHighMark, metrics.Namespace, vault.BucketVersionsHighMark, out.String())
	}
}

// TestTemplateAlarmsOnTheVaultsMetric keeps template.yaml's VaultBucketVersionsAlarm on
// the metric the vault emits, in its namespace, at the mark where it starts.
func TestTemplateAlarmsOnTheVaultsMetric(t *testing.T) {
	t.Parallel()
	tpl, err := samtemplate.Load(filepath.Join("..", "..", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	props := samtemplate.Get(tpl.Resources["VaultBucketVersionsAlarm"], "Properties")
	if props == nil {
		t.Fatal("template.yaml has no VaultBucketVersionsAlarm")
	}
	for field, want := range map[string]string{
		"Namespace": metrics.Namespace, "MetricName": vault.MetricBucketVersionsHigh,
		"Threshold": strconv.Itoa(vault.BucketVersionsHighMark), "ComparisonOperator": "GreaterThanOrEqualToThreshold",
	} {
		if got := samtemplate.Get(props, field); got == nil || got.Value != want {
			t.Errorf("VaultBucketVersionsAlarm's %s is %v, want %s", field, got, want)
		}
	}
	if samtemplate.Get(props, "AlarmActions") == nil {
		t.Error("VaultBucketVersionsAlarm notifies no one")
	}
}
