package vault_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/spapi-auth-keeper/keeper/infra/secretsemu"
	"github.com/spapi-auth-keeper/keeper/infra/testenv"
	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/secret"
	"github.com/spapi-auth-keeper/keeper/shared/vault"
)

// packedEnv is one deployment: an emulator of its own, a table, a prefix. Each vault
// it makes is a separate execution environment (its own cache), as two Lambda
// instances would be.
type packedEnv struct {
	sm     *secretsmanager.Client
	emu    *secretsemu.Server
	ddb    *dynamodb.Client
	table  string
	prefix string
	pack   vault.Packing
}

func newPackedEnv(t *testing.T, p vault.Packing) *packedEnv { return newPackedEnvB(t, p) }

func newPackedEnvB(t testing.TB, p vault.Packing) *packedEnv {
	t.Helper()
	sm, emu := testenv.SecretsManagerInProcess(t)
	return &packedEnv{sm: sm, emu: emu, ddb: testenv.DynamoDB(t), table: testenv.NewTable(t), prefix: testenv.Prefix(t), pack: p}
}

func (e *packedEnv) vault(layout vault.Layout) *vault.Vault {
	return vault.New(e.sm, e.prefix, "").WithTable(e.ddb, e.table, layout, e.pack)
}

// document reads a bucket's JSON as Secrets Manager holds it, at a staging label.
func (e *packedEnv) document(t *testing.T, bucket int, stage string) map[string]map[string]any {
	t.Helper()
	v := e.vault(vault.LayoutPacked)
	out, err := e.sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(v.BucketName(bucket)), VersionStage: aws.String(stage)})
	if err != nil {
		t.Fatalf("read bucket %d at %s: %v", bucket, stage, err)
	}
	doc := map[string]map[string]any{}
	if err := json.Unmarshal([]byte(aws.ToString(out.SecretString)), &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

func conn(i int) string { return fmt.Sprintf("seller-%03d", i) }

// tok is a refresh token shaped and sized like LWA's (Amazon's samples are about 350
// characters after "Atzr|"), the same on every call with the same label.
func tok(label string) secret.Value {
	return secret.Value("Atzr|IwEBI" + label + "-" + strings.Repeat("x", 340))
}

func rtok(label string, region authz.Region) vault.RefreshToken {
	return vault.RefreshToken{Token: tok(label), SellingPartnerID: "A1SELLER" + label, Region: region, AuthorizedAt: authorizedAt}
}

func wantToken(t *testing.T, v *vault.Vault, connectionID string, region authz.Region, want secret.Value) vault.RefreshToken {
	t.Helper()
	got, err := v.Get(ctx, connectionID, region)
	if err != nil {
		t.Fatalf("Get %s/%s: %v", connectionID, region, err)
	}
	if got.Token != want {
		t.Fatalf("Get %s/%s: not the token last stored", connectionID, region)
	}
	return got
}

func TestPackedPutGetRoundTrip(t *testing.T) {
	t.Parallel()
	env := newPackedEnv(t, vault.Packing{})
	v := env.vault(vault.LayoutPacked)
	tests := []struct {
		conn   string
		region authz.Region
	}{{"acme", authz.RegionNA}, {"acme", authz.RegionEU}, {"seller.42@shop_x-y", authz.RegionFE}}
	for _, tc := range tests {
		rt := rtok(tc.conn+string(tc.region), tc.region)
		id, err := v.Put(ctx, tc.conn, tc.region, rt)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(id, ":secret:"+v.BucketName(1)+"-") {
			t.Errorf("Put answered %q, want the ARN of bucket 1", id)
		}
		got := wantToken(t, env.vault(vault.LayoutPacked), tc.conn, tc.region, rt.Token)
		if got.SellingPartnerID != rt.SellingPartnerID || !got.AuthorizedAt.Equal(rt.AuthorizedAt) || got.Region != tc.region || got.SecretID != id {
			t.Errorf("Get %s/%s = %+v", tc.conn, tc.region, got)
		}
	}
	doc := env.document(t, 1, "AWSCURRENT")
	if len(doc) != len(tests) {
		t.Errorf("bucket 1 holds %d entries, want %d", len(doc), len(tests))
	}
	if _, ok := doc["acme/eu"]; !ok {
		t.Errorf("bucket 1 has no entry acme/eu: keys are {connectionId}/{region}")
	}
	if n := env.emu.Versions(v.BucketName(1)); n != len(tests) {
		t.Errorf("bucket 1 has %d versions, want %d (one per new entry)", n, len(tests))
	}
	// The same token again is no new version (compare before write).
	if _, err := v.Put(ctx, "acme", authz.RegionNA, rtok("acme"+string(authz.RegionNA), authz.RegionNA)); err != nil {
		t.Fatal(err)
	}
	if n := env.emu.Versions(v.BucketName(1)); n != len(tests) {
		t.Errorf("bucket 1 has %d versions after an unchanged Put, want %d", n, len(tests))
	}
	if _, err := v.Get(ctx, "nobody", authz.RegionNA); !errors.Is(err, vault.ErrNotFound) {
		t.Errorf("Get of an unknown entry: %v, want ErrNotFound", err)
	}
}

// TestConcurrentRenewalsIntoOneBucketLoseNothing: 45 writers, each in its own
// execution environment, place and then renew 45 entries of one bucket at the same
// moment; every token is there afterwards, in the bucket and through Get.
func TestConcurrentRenewalsIntoOneBucketLoseNothing(t *testing.T) {
	t.Parallel()
	env := newPackedEnv(t, vault.Packing{WritesPerSecond: -1})
	// Two rounds of 45 are 90 versions of one bucket: under the 95 the vault spends
	// of a bucket's 100 a day before it moves renewals to fresh buckets.
	const writers = 45
	for round := range 2 { // first authorizations, then renewals in place
		var wg sync.WaitGroup
		for i := range writers {
			wg.Go(func() {
				v := env.vault(vault.LayoutPacked)
				if _, err := v.Put(ctx, conn(i), authz.RegionNA, rtok(fmt.Sprint(round, "-", i), authz.RegionNA)); err != nil {
					t.Errorf("round %d writer %d: %v", round, i, err)
				}
			})
		}
		wg.Wait()
		doc := env.document(t, 1, "AWSCURRENT")
		if len(doc) != writers {
			t.Fatalf("round %d: bucket 1 holds %d entries, want %d", round, len(doc), writers)
		}
		reader := env.vault(vault.LayoutPacked)
		for i := range writers {
			want := tok(fmt.Sprint(round, "-", i))
			if doc[conn(i)+"/na"]["refreshToken"] != want.Reveal() {
				t.Errorf("round %d: bucket lost the token of %s", round, conn(i))
			}
			wantToken(t, reader, conn(i), authz.RegionNA, want)
		}
	}
	if n := env.emu.Versions(env.vault(vault.LayoutPacked).BucketName(1)); n != 2*writers {
		t.Errorf("bucket 1 has %d versions, want %d (one per write, none repeated)", n, 2*writers)
	}
}

// TestLeaseExpiringMidWrite: a writer's PutSecretValue is held up past its lease and
// lands after another writer committed, overwriting AWSCURRENT with a document that
// lacks the other writer's entry. Readers still find both entries (through the
// committed version), and the next write merges the two documents.
func TestLeaseExpiringMidWrite(t *testing.T) {
	t.Parallel()
	lease := 400 * time.Millisecond
	env := newPackedEnv(t, vault.Packing{LeaseTTL: lease, WritesPerSecond: -1})
	seed := rtok("seed", authz.RegionNA)
	if _, err := env.vault(vault.LayoutPacked).Put(ctx, "seed", authz.RegionNA, seed); err != nil {
		t.Fatal(err)
	}
	env.emu.DelayNext("PutSecretValue", 4*lease)
	a, b := rtok("a", authz.RegionNA), rtok("b", authz.RegionNA)
	va, vb := env.vault(vault.LayoutPacked), env.vault(vault.LayoutPacked)
	var wg sync.WaitGroup
	wg.Go(func() {
		if _, err := va.Put(ctx, "late", authz.RegionNA, a); err != nil {
			t.Errorf("the writer whose write outlived its lease: %v", err)
		}
	})
	time.Sleep(lease / 8)
	wg.Go(func() {
		if _, err := vb.Put(ctx, "prompt", authz.RegionNA, b); err != nil {
			t.Errorf("the other writer: %v", err)
		}
	})
	wg.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for env.emu.Landed("PutSecretValue") == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if env.emu.Landed("PutSecretValue") == 0 {
		t.Fatal("the delayed write never landed")
	}
	if _, ok := env.document(t, 1, "AWSCURRENT")["prompt/na"]; ok {
		t.Log("the late write landed first; AWSCURRENT already holds both")
	}
	reader := env.vault(vault.LayoutPacked)
	wantToken(t, reader, "seed", authz.RegionNA, seed.Token)
	wantToken(t, reader, "late", authz.RegionNA, a.Token)
	wantToken(t, reader, "prompt", authz.RegionNA, b.Token)

	next := env.vault(vault.LayoutPacked)
	c := rtok("c", authz.RegionNA)
	if _, err := next.Put(ctx, "next", authz.RegionNA, c); err != nil {
		t.Fatal(err)
	}
	doc := env.document(t, 1, "AWSCURRENT")
	for name, want := range map[string]secret.Value{"seed/na": seed.Token, "late/na": a.Token, "prompt/na": b.Token, "next/na": c.Token} {
		if doc[name]["refreshToken"] != want.Reveal() {
			t.Errorf("after the next write, bucket 1 lacks %s", name)
		}
	}
	if va.Counters().LeaseWaits+vb.Counters().LeaseWaits == 0 {
		t.Error("no writer ever waited for the lease: the test did not overlap the writes")
	}
}

func TestFullBucketOpensTheNext(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		pack      vault.Packing
		tokenLen  int
		entries   int
		perBucket []int
	}{
		{"entry count", vault.Packing{MaxEntries: 3}, 40, 7, []int{3, 3, 1}},
		{"bytes", vault.Packing{MaxBytes: 5000}, 2000, 5, []int{2, 2, 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := newPackedEnv(t, tc.pack)
			v := env.vault(vault.LayoutPacked)
			for i := range tc.entries {
				rt := vault.RefreshToken{Token: secret.Value("Atzr|" + strings.Repeat(strconv.Itoa(i%10), tc.tokenLen)), AuthorizedAt: authorizedAt}
				id, err := v.Put(ctx, conn(i), authz.RegionEU, rt)
				if err != nil {
					t.Fatal(err)
				}
				wantBucket := 1
				for n, sum := 0, 0; n < len(tc.perBucket); n++ {
					if sum += tc.perBucket[n]; i < sum {
						wantBucket = n + 1
						break
					}
				}
				if !strings.Contains(id, v.BucketName(wantBucket)) {
					t.Errorf("entry %d went to %s, want bucket %d", i, id, wantBucket)
				}
			}
			for n, want := range tc.perBucket {
				doc := env.document(t, n+1, "AWSCURRENT")
				if len(doc) != want {
					t.Errorf("bucket %d holds %d entries, want %d", n+1, len(doc), want)
				}
				b, _ := json.Marshal(doc)
				if len(b) > 48<<10 {
					t.Errorf("bucket %d is %d bytes", n+1, len(b))
				}
			}
			// A renewal stays in its bucket, full as that is.
			rt := vault.RefreshToken{Token: secret.Value("Atzr|renewed" + strings.Repeat("r", tc.tokenLen)), AuthorizedAt: authorizedAt.Add(time.Hour)}
			id, err := v.Put(ctx, conn(0), authz.RegionEU, rt)
			if err != nil || !strings.Contains(id, v.BucketName(1)) {
				t.Errorf("renewal of an entry of a full bucket went to %s (%v), want bucket 1", id, err)
			}
			wantToken(t, env.vault(vault.LayoutPacked), conn(0), authz.RegionEU, rt.Token)
		})
	}
}

func TestForgetRemovesTheEntryFromCurrentAndPurgeFromPrevious(t *testing.T) {
	t.Parallel()
	env := newPackedEnv(t, vault.Packing{})
	v := env.vault(vault.LayoutPacked)
	for _, c := range []string{"keep", "forget", "purge"} {
		if _, err := v.Put(ctx, c, authz.RegionNA, rtok(c, authz.RegionNA)); err != nil {
			t.Fatal(err)
		}
	}
	if err := v.Delete(ctx, "forget", authz.RegionNA); err != nil {
		t.Fatal(err)
	}
	if _, ok := env.document(t, 1, "AWSCURRENT")["forget/na"]; ok {
		t.Error("AWSCURRENT still holds the forgotten token")
	}
	if _, ok := env.document(t, 1, "AWSPREVIOUS")["forget/na"]; !ok {
		t.Error("AWSPREVIOUS lost the forgotten token: Delete wrote twice")
	}
	if err := v.Purge(ctx, "purge", authz.RegionNA); err != nil {
		t.Fatal(err)
	}
	for _, stage := range []string{"AWSCURRENT", "AWSPREVIOUS"} {
		doc := env.document(t, 1, stage)
		if _, ok := doc["purge/na"]; ok {
			t.Errorf("%s still holds the purged token", stage)
		}
		if _, ok := doc["keep/na"]; !ok {
			t.Errorf("%s lost the token that was kept", stage)
		}
	}
	for _, c := range []string{"forget", "purge"} {
		if _, err := env.vault(vault.LayoutPacked).Get(ctx, c, authz.RegionNA); !errors.Is(err, vault.ErrNotFound) {
			t.Errorf("Get %s after forget: %v, want ErrNotFound", c, err)
		}
	}
	wantToken(t, env.vault(vault.LayoutPacked), "keep", authz.RegionNA, tok("keep"))
	if err := v.Delete(ctx, "forget", authz.RegionNA); err != nil {
		t.Errorf("forget run again: %v", err)
	}
}

func TestForgetOfTheLastEntryDeletesTheBucket(t *testing.T) {
	t.Parallel()
	env := newPackedEnv(t, vault.Packing{})
	v := env.vault(vault.LayoutPacked)
	if _, err := v.Put(ctx, "only", authz.RegionFE, rtok("only", authz.RegionFE)); err != nil {
		t.Fatal(err)
	}
	if err := v.Delete(ctx, "only", authz.RegionFE); err != nil {
		t.Fatal(err)
	}
	_, err := env.sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(v.BucketName(1))})
	var gone *smtypes.ResourceNotFoundException
	if !errors.As(err, &gone) {
		t.Fatal("the emptied bucket's secret still exists (with every version, the forgotten token's included)")
	}
	if _, err := env.vault(vault.LayoutPacked).Get(ctx, "only", authz.RegionFE); !errors.Is(err, vault.ErrNotFound) {
		t.Errorf("Get after forget: %v, want ErrNotFound", err)
	}
	// The retired bucket is never written again: the next entry opens bucket 2.
	id, err := v.Put(ctx, "next", authz.RegionFE, rtok("next", authz.RegionFE))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(id, v.BucketName(2)) {
		t.Errorf("the next entry went to %s, want bucket 2", id)
	}
	// The seller authorizes again after being forgotten: a new entry, in the open bucket.
	id, err = v.Put(ctx, "only", authz.RegionFE, rtok("again", authz.RegionFE))
	if err != nil || !strings.Contains(id, v.BucketName(2)) {
		t.Errorf("authorized again: %s, %v; want bucket 2", id, err)
	}
}

// TestOneReadServesABucket: a reader's first Get reads the bucket once; the other
// entries come from memory; a renewal made elsewhere is seen at once.
func TestOneReadServesABucket(t *testing.T) {
	t.Parallel()
	env := newPackedEnv(t, vault.Packing{})
	entries := make([]vault.Entry, 20)
	for i := range entries {
		entries[i] = vault.Entry{ConnectionID: conn(i), Region: authz.RegionNA, Token: rtok(fmt.Sprint(i), authz.RegionNA)}
	}
	if _, err := env.vault(vault.LayoutPacked).PutMany(ctx, entries); err != nil {
		t.Fatal(err)
	}
	reader := env.vault(vault.LayoutPacked)
	before := env.emu.Calls("GetSecretValue")
	for i := range entries {
		wantToken(t, reader, conn(i), authz.RegionNA, tok(fmt.Sprint(i)))
	}
	if n := env.emu.Calls("GetSecretValue") - before; n != 1 {
		t.Errorf("%d GetSecretValue calls for %d entries of one bucket, want 1", n, len(entries))
	}
	renewed := rtok("renewed", authz.RegionNA)
	if _, err := env.vault(vault.LayoutPacked).Put(ctx, conn(3), authz.RegionNA, renewed); err != nil {
		t.Fatal(err)
	}
	wantToken(t, reader, conn(3), authz.RegionNA, renewed.Token)
}

func TestPutManyWritesEachBucketOnce(t *testing.T) {
	t.Parallel()
	env := newPackedEnv(t, vault.Packing{})
	entries := make([]vault.Entry, 120)
	for i := range entries {
		entries[i] = vault.Entry{ConnectionID: conn(i), Region: authz.RegionEU, Token: rtok(fmt.Sprint(i), authz.RegionEU)}
	}
	v := env.vault(vault.LayoutPacked)
	ids, err := v.PutMany(ctx, entries)
	if err != nil {
		t.Fatal(err)
	}
	writes := env.emu.Calls("PutSecretValue") + env.emu.Calls("CreateSecret")
	if writes != 3 {
		t.Errorf("%d Secrets Manager writes for 120 entries, want 3 (one per bucket of 50)", writes)
	}
	for i, id := range ids {
		if want := v.BucketName(i/50 + 1); !strings.Contains(id, want) {
			t.Errorf("entry %d in %s, want %s", i, id, want)
		}
	}
	if _, err := v.PutMany(ctx, entries); err != nil {
		t.Fatal(err)
	}
	if again := env.emu.Calls("PutSecretValue") + env.emu.Calls("CreateSecret"); again != writes {
		t.Errorf("PutMany of entries already stored wrote %d times", again-writes)
	}
}

// TestLayoutsReadEachOther: during a migration a reader finds a token in whichever
// layout holds it.
func TestLayoutsReadEachOther(t *testing.T) {
	t.Parallel()
	env := newPackedEnv(t, vault.Packing{})
	own, packed := env.vault(vault.LayoutPerAuthorization), env.vault(vault.LayoutPacked)
	a, b := rtok("a", authz.RegionNA), rtok("b", authz.RegionNA)
	id, err := own.Put(ctx, "old", authz.RegionNA, a)
	if err != nil || !strings.Contains(id, own.SecretName("old", authz.RegionNA)) {
		t.Fatalf("per-authorization Put: %s, %v", id, err)
	}
	if _, err := packed.Put(ctx, "new", authz.RegionNA, b); err != nil {
		t.Fatal(err)
	}
	for _, v := range []*vault.Vault{own, packed} {
		wantToken(t, v, "old", authz.RegionNA, a.Token)
		wantToken(t, v, "new", authz.RegionNA, b.Token)
	}
}

// TestWritesKeepToTheBudget: the stack-wide budget of Secrets Manager writes holds in
// every second where Secrets Manager receives them, whatever the number of writers,
// each in an execution environment of its own.
func TestWritesKeepToTheBudget(t *testing.T) {
	t.Parallel()
	const perSecond, writes = 5, 12
	env := newPackedEnv(t, vault.Packing{MaxEntries: 1, WritesPerSecond: perSecond})
	// Secrets Manager behind a front that notes when each write reaches it.
	arrivals := &testenv.Arrivals{}
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Header.Get("X-Amz-Target") {
		case "secretsmanager.PutSecretValue", "secretsmanager.CreateSecret":
			arrivals.Record()
		}
		env.emu.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	sm := secretsmanager.NewFromConfig(testenv.Config(), func(o *secretsmanager.Options) { o.BaseEndpoint = aws.String(front.URL) })
	var wg sync.WaitGroup
	for i := range writes {
		wg.Go(func() {
			v := vault.New(sm, env.prefix, "").WithTable(env.ddb, env.table, vault.LayoutPacked, env.pack)
			if _, err := v.Put(ctx, conn(i), authz.RegionNA, rtok(fmt.Sprint(i), authz.RegionNA)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	got := arrivals.Times()
	if secretWrites := env.emu.Calls("PutSecretValue") + env.emu.Calls("CreateSecret"); len(got) != secretWrites || secretWrites < writes {
		t.Fatalf("%d writes seen arriving, Secrets Manager received %d, want at least %d", len(got), secretWrites, writes)
	}
	if n := testenv.Busiest(got, time.Second); n > perSecond {
		t.Errorf("%d writes reached Secrets Manager in one second, budget %d", n, perSecond)
	}
}

// TestPackedLayoutLeaksNoToken runs the packed layout's operations, the repair of a
// late write and a migration included, and checks that no token appears in anything
// logged, in any error, or in any way of printing what they return.
func TestPackedLayoutLeaksNoToken(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewJSONHandler(&lockedWriter{w: &logs, mu: &mu}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	env := newPackedEnv(t, vault.Packing{LeaseTTL: 400 * time.Millisecond, MaxEntries: 2, WritesPerSecond: -1})
	v := env.vault(vault.LayoutPacked).WithLogger(logger)
	labels := []string{"leak-a", "leak-b", "leak-c", "leak-d"}
	var seen []string
	record := func(vals ...any) {
		for _, val := range vals {
			if err, ok := val.(error); ok && err != nil {
				seen = append(seen, err.Error())
				continue
			}
			seen = append(seen, fmt.Sprintf("%v %+v %#v %s", val, val, val, val))
		}
	}
	for i, l := range labels {
		id, err := v.Put(ctx, conn(i), authz.RegionNA, rtok(l, authz.RegionNA))
		record(id, err)
	}
	env.emu.DelayNext("PutSecretValue", 2*time.Second)
	id, err := v.Put(ctx, conn(0), authz.RegionNA, rtok("leak-e", authz.RegionNA))
	record(id, err)
	for i := range labels {
		got, err := v.Get(ctx, conn(i), authz.RegionNA)
		record(got, err)
	}
	env.emu.FailNext("GetSecretValue", 3, "ThrottlingException")
	got, err := env.vault(vault.LayoutPacked).WithLogger(logger).Get(ctx, conn(1), authz.RegionNA)
	record(got, err)
	record(v.Purge(ctx, conn(1), authz.RegionNA))
	m, err := v.Migrate(ctx, vault.MigrateOptions{To: vault.LayoutPerAuthorization})
	record(m, err)
	record(v.Delete(ctx, conn(2), authz.RegionNA))
	seen = append(seen, logs.String())
	for _, l := range append(labels, "leak-e") {
		for _, s := range seen {
			if strings.Contains(s, tok(l).Reveal()[5:40]) {
				t.Errorf("token %s appears in: %.300s", l, s)
			}
		}
	}
}

// TestWriteRestoresABucketScheduledForDeletion: someone deleted a bucket in the
// console; the next renewal into it cancels the deletion and keeps every token.
func TestWriteRestoresABucketScheduledForDeletion(t *testing.T) {
	t.Parallel()
	env := newPackedEnv(t, vault.Packing{})
	v := env.vault(vault.LayoutPacked)
	for _, c := range []string{"one", "two"} {
		if _, err := v.Put(ctx, c, authz.RegionNA, rtok(c, authz.RegionNA)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := env.sm.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String(v.BucketName(1)), RecoveryWindowInDays: aws.Int64(7)}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.vault(vault.LayoutPacked).Put(ctx, "two", authz.RegionNA, rtok("two-renewed", authz.RegionNA)); err != nil {
		t.Fatal(err)
	}
	reader := env.vault(vault.LayoutPacked)
	wantToken(t, reader, "one", authz.RegionNA, tok("one"))
	wantToken(t, reader, "two", authz.RegionNA, tok("two-renewed"))
}

// TestLeaseOfACrashedWriterExpires: a writer crashed holding a bucket's lease (the
// lease item as it left it). A writer whose budget ends before the lease does gives up
// and changes nothing; the next one waits for the lease to expire and writes.
func TestLeaseOfACrashedWriterExpires(t *testing.T) {
	t.Parallel()
	env := newPackedEnv(t, vault.Packing{WritesPerSecond: -1})
	if _, err := env.vault(vault.LayoutPacked).Put(ctx, "first", authz.RegionNA, rtok("first", authz.RegionNA)); err != nil {
		t.Fatal(err)
	}
	versions := env.emu.Versions(env.vault(vault.LayoutPacked).BucketName(1))
	until := time.Now().Add(1500 * time.Millisecond)
	_, err := env.ddb.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(env.table),
		Key: map[string]ddbtypes.AttributeValue{
			"pk": &ddbtypes.AttributeValueMemberS{Value: "VAULT#bucket#000001"}, "sk": &ddbtypes.AttributeValueMemberS{Value: "BUCKET"},
		},
		UpdateExpression:          aws.String("SET leaseOwner = :o, leaseUntil = :u"),
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":o": &ddbtypes.AttributeValueMemberS{Value: "crashed-writer"}, ":u": &ddbtypes.AttributeValueMemberN{Value: strconv.FormatInt(until.UnixMilli(), 10)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if _, err := env.vault(vault.LayoutPacked).Put(short, "second", authz.RegionNA, rtok("second", authz.RegionNA)); err == nil {
		t.Fatal("a write went through a lease held by another writer")
	}
	if n := env.emu.Versions(env.vault(vault.LayoutPacked).BucketName(1)); n != versions {
		t.Errorf("the bucket changed (%d versions, was %d) while another writer held its lease", n, versions)
	}
	v := env.vault(vault.LayoutPacked)
	if _, err := v.Put(ctx, "second", authz.RegionNA, rtok("second", authz.RegionNA)); err != nil {
		t.Fatalf("after the lease expired: %v", err)
	}
	if time.Now().Before(until) || v.Counters().LeaseWaits == 0 {
		t.Error("the write did not wait for the crashed writer's lease to expire")
	}
	reader := env.vault(vault.LayoutPacked)
	wantToken(t, reader, "first", authz.RegionNA, tok("first"))
	wantToken(t, reader, "second", authz.RegionNA, tok("second"))
}
