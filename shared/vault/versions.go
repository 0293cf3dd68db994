package vault

// A bucket's daily version budget. Secrets Manager refuses a secret's 101st version
// created within 24 hours (LimitExceededException), and every write to a bucket is a
// version: left alone, one seller who renews a hundred times a day would spend the
// budget of the fifty sellers who share the bucket, and their renewals would be refused
// (parked) until the day passed.
//
// So the vault counts. Each bucket's item lists the versions it wrote in the last 24
// hours and which entry each was for (recent). A renewal of an entry that shares its
// bucket and has already made EntryVersionsPerDay of the bucket's versions in the last
// 24 hours, or of any entry of a bucket that has made versionsUsable of them (or that
// Secrets Manager refused a version in that time), does not write the bucket: the entry
// moves to a fresh bucket of its own (claimFresh), which takes no other entries. A
// renewal that meets LimitExceededException anyway (a version the counters missed: a
// write that landed after its lease, someone at the console) records the refusal and
// moves the same way. One seller thus spends at most EntryVersionsPerDay of a shared
// bucket's versions; past that it spends only its own bucket's, and an entry alone in
// its bucket is never moved: its 101st version in a day is refused, which holds up that
// seller's renewal alone.
//
// A move writes the new bucket first, then points the entry's index item at it (so a
// reader finds the old token until the new one is there, and only the new one after),
// and records the entry in the old bucket's movedOut. The old bucket keeps its now
// stale copy, which no reader is ever given (every Get goes through the index), until
// that bucket is next written for another reason: the write leaves the copy out. A
// forget of the entry removes it from the old bucket as well (the index item's
// staleIn).

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/spapi-auth-keeper/keeper/shared/metrics"
)

const (
	// versionWindow and versionQuota: Secrets Manager's quota on a secret's versions.
	versionWindow = 24 * time.Hour
	versionQuota  = 100
	// versionsUsable is how many of a bucket's daily versions renewals and new entries
	// may spend; the rest stay for forgets, which must not wait a day.
	versionsUsable = versionQuota - 5

	// MetricBucketVersionsHigh is the metric the vault emits, valued at the bucket's
	// count, when a write leaves a bucket with BucketVersionsHighMark or more versions
	// in the last 24 hours.
	MetricBucketVersionsHigh = metrics.VaultBucketVersionsHigh
	// BucketVersionsHighMark is where MetricBucketVersionsHigh starts.
	BucketVersionsHighMark = 80
)

// versionMark is one version the vault wrote to a bucket: when, and for which entry
// ("" when it wrote several).
type versionMark struct {
	At    time.Time
	Entry string
}

func (m versionMark) String() string {
	return strconv.FormatInt(m.At.UnixMilli(), 10) + " " + m.Entry
}

func parseMark(s string) (versionMark, bool) {
	ms, entry, _ := strings.Cut(s, " ")
	n, err := strconv.ParseInt(ms, 10, 64)
	if err != nil {
		return versionMark{}, false
	}
	return versionMark{At: time.UnixMilli(n), Entry: entry}, true
}

// versions are a bucket's versions in the last 24 hours.
type versions struct {
	total    int
	perEntry map[string]int
	refused  bool // Secrets Manager refused a version in the last 24 hours
}

func (b bucketItem) window(now time.Time) versions {
	w := versions{perEntry: map[string]int{}, refused: !b.RefusedAt.IsZero() && now.Sub(b.RefusedAt) < versionWindow}
	for _, m := range b.Recent {
		if now.Sub(m.At) < versionWindow {
			w.total++
			if m.Entry != "" {
				w.perEntry[m.Entry]++
			}
		}
	}
	return w
}

// spent says the bucket should take no version for renewals or new entries.
func (w versions) spent() bool { return w.refused || w.total >= versionsUsable }

// mustMove says whether a renewal of entry, in a bucket that holds other entries
// besides it, goes to a fresh bucket instead of spending this one's versions.
func (v *Vault) mustMove(w versions, entry string, others int) bool {
	return others > 0 && (w.spent() || w.perEntry[entry] >= v.pack.EntryVersionsPerDay)
}

// noteVersions records writes new versions of bucket b (for entry, or "" for several),
// forgets those older than a day, and raises the alarm's metric when the bucket nears
// Secrets Manager's quota.
func (v *Vault) noteVersions(ctx context.Context, b *bucketItem, writes int, entry string) {
	now := v.now()
	kept := b.Recent[:0:0]
	for _, m := range b.Recent {
		if now.Sub(m.At) < versionWindow {
			kept = append(kept, m)
		}
	}
	for range writes {
		kept = append(kept, versionMark{At: now, Entry: entry})
	}
	b.Recent = kept
	if n := len(kept); n >= BucketVersionsHighMark {
		v.metrics.Count(MetricBucketVersionsHigh, float64(n))
		v.log.WarnContext(ctx, "vault bucket nears Secrets Manager's 100 versions a day", "bucket", b.Bucket, "versions24h", n)
	}
}

// limitExceeded tells Secrets Manager's refusal of a version.
func limitExceeded(err error) bool {
	var limit *smtypes.LimitExceededException
	return errors.As(err, &limit)
}

// refusalIsFinal keeps the SDK from retrying a refused version: its standard retryer
// counts LimitExceededException as throttling and tries twice more, with backoff, on
// the lease's time and the write budget, for an answer that stands until the oldest
// of the day's versions is 24 hours old.
func refusalIsFinal(o *secretsmanager.Options) {
	if r, ok := o.Retryer.(aws.RetryerV2); ok {
		o.Retryer = finalRefusals{r}
	}
}

type finalRefusals struct{ aws.RetryerV2 }

func (r finalRefusals) IsErrorRetryable(err error) bool {
	return !limitExceeded(err) && r.RetryerV2.IsErrorRetryable(err)
}

// refuse records, under the lease, that Secrets Manager refused bucket n a version:
// until a day has passed, renewals move out and new entries go to the next bucket.
func (v *Vault) refuse(ctx context.Context, n int, owner string) error {
	v.log.WarnContext(ctx, "Secrets Manager refused a vault bucket a version (100 in 24 hours); its renewals move to fresh buckets for a day", "bucket", n)
	return v.idx().updateLeased(ctx, n, owner, "SET #refused = :now",
		map[string]string{"#refused": "refusedAt"}, map[string]types.AttributeValue{":now": num(v.now().UnixMilli())})
}

// dropMovedOut removes from doc the stale copies of entries moved out of bucket b:
// those whose index no longer places them here. A write of doc leaves none behind, so
// it commits an empty movedOut.
func (v *Vault) dropMovedOut(ctx context.Context, b bucketItem, doc bucketDocument) error {
	for _, k := range b.MovedOut {
		if _, ok := doc[k]; !ok {
			continue
		}
		idx, found, err := v.idx().readIndex(ctx, k)
		if err != nil {
			return err
		}
		if found && idx.Bucket == b.Bucket {
			continue // it lives here after all (its move did not finish)
		}
		delete(doc, k)
	}
	return nil
}

// moveOut moves entries of bucket n, with the values given, to a fresh bucket and
// returns its ARN. It holds n's lease throughout, so no write of these entries to n
// happens meanwhile, and checks that their index items still name n.
func (v *Vault) moveOut(ctx context.Context, n int, entries map[string]bucketEntry) (string, error) {
	b, owner, err := v.idx().lease(ctx, n)
	if err != nil {
		return "", err
	}
	defer v.idx().release(n, owner)
	if b.Retired {
		return "", errMoved // its writer places it anew
	}
	keys := slices.Sorted(maps.Keys(entries))
	for _, k := range keys {
		idx, found, err := v.idx().readIndex(ctx, k)
		if err != nil {
			return "", err
		}
		if !found || idx.Bucket != n {
			return "", errMoved
		}
	}
	m, err := v.idx().claimFresh(ctx)
	if err != nil {
		return "", err
	}
	arn, version, err := v.fill(ctx, m, entries)
	if err != nil {
		return "", err
	}
	// Recorded before the index moves: a write of n that drops the old copy checks
	// the index first, so it keeps an entry whose move did not finish.
	if err := v.idx().updateLeased(ctx, n, owner, "ADD #moved :keys",
		map[string]string{"#moved": "movedOut"}, map[string]types.AttributeValue{":keys": &types.AttributeValueMemberSS{Value: keys}}); err != nil {
		return "", err
	}
	for _, k := range keys {
		if err := v.idx().repoint(ctx, k, n, m, entries[k].WrittenAt); err != nil {
			return "", err
		}
	}
	v.log.InfoContext(ctx, "vault entries moved to a fresh bucket to spare their bucket's daily versions",
		"from", n, "to", m, "entries", len(keys), "versionId", version)
	return arn, nil
}

// fill writes entries as the first and only content of fresh bucket m.
func (v *Vault) fill(ctx context.Context, m int, entries map[string]bucketEntry) (arn, version string, err error) {
	b, owner, err := v.idx().lease(ctx, m)
	if err != nil {
		return "", "", err
	}
	committed := false
	defer func() {
		if !committed {
			v.idx().release(m, owner)
		}
	}()
	doc := bucketDocument(maps.Clone(entries))
	body := doc.encode()
	if version, arn, err = v.writeBucketSecret(ctx, b, body); err != nil {
		return "", "", err
	}
	entry := ""
	if len(entries) == 1 {
		for k := range entries {
			entry = k
		}
	}
	v.noteVersions(ctx, &b, 1, entry)
	b.Committed, b.Entries, b.Bytes, b.SecretARN = version, len(doc), len(body), arn
	committed = true
	if err := v.idx().commit(ctx, m, owner, b); err != nil {
		return "", "", err
	}
	v.cache.put(b.SecretName, cachedBucket{doc: doc, version: version, arn: arn, at: v.now()})
	return arn, version, nil
}
