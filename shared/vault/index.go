package vault

// The packed layout's bookkeeping, in the keeper's DynamoDB table (DESIGN.md, "Secrets
// Manager"): which bucket holds an entry, which bucket is open for new entries, and the
// lease that serializes writes to one bucket, and the stack-wide pace of Secrets
// Manager writes (a shared/pace budget). None of these items holds a token; none
// has a GSI key attribute, so no index copies them. The keys are tablekeys':
//
//	pk=VAULT#entry#{connectionId}/{region}  sk=ENTRY   bucket, secretName, writtenAt, staleIn
//	pk=VAULT#bucket#{bucket:06d}            sk=BUCKET  bucket, secretName, secretArn, entries, bytes,
//	                                                   committed, retired, leaseOwner, leaseUntil, updatedAt,
//	                                                   recent, refusedAt, movedOut, closed
//	pk=VAULT#open                           sk=OPEN    bucket, last
//	pk=VAULT#pace#budget                    sk=secretsmanager-writes  tat
//
// recent lists the versions the vault wrote to a bucket in the last 24 hours ("{unix
// ms} {entry}", the entry empty when a version wrote several), refusedAt when Secrets
// Manager last refused it a version, movedOut the entries moved to a fresh bucket whose
// old copy the bucket still holds, closed that it is a fresh bucket that takes no new
// entries (versions.go). last is the highest bucket number handed out, open or fresh.
//
// This file speaks DynamoDB only; the Secrets Manager side is secrets.go, and the
// write path that uses both is write.go.

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/spapi-auth-keeper/keeper/shared/pace"
	"github.com/spapi-auth-keeper/keeper/shared/tablekeys"
)

// index is the vault's bookkeeping in the table: entries, buckets, leases and the open
// bucket. It holds no Secrets Manager client.
type index struct {
	db       *dynamodb.Client
	table    string
	leaseTTL time.Duration
	// writes is the stack-wide budget of Secrets Manager writes; nil: unpaced.
	writes     *pace.Pacer
	bucketName func(n int) string
	now        func() time.Time
	log        *slog.Logger
	stats      *counters
}

// idx is the vault's bookkeeping as the vault is now configured.
func (v *Vault) idx() index {
	return index{db: v.db, table: v.table, leaseTTL: v.pack.LeaseTTL, writes: v.writes, bucketName: v.BucketName, now: v.now, log: v.log, stats: v.stats}
}

// errLeaseLost: the bucket's lease expired during a write and another writer took it.
// The write may have landed after the other writer's: the next write to the bucket
// finds AWSCURRENT differing from the committed version and merges the two.
var errLeaseLost = errors.New("bucket lease lost during the write")

// errBusy: the bucket stayed leased by other writers for the caller's whole budget.
var errBusy = errors.New("bucket leased by other writers")

// indexItem says where an entry lives and which write of it is the latest.
type indexItem struct {
	Bucket     int
	SecretName string
	WrittenAt  int64 // unix nanoseconds of the entry's latest write
	StaleIn    []int // buckets it moved out of that may still hold an older copy of it
}

// bucketItem is a bucket's bookkeeping.
type bucketItem struct {
	Bucket     int
	SecretName string
	SecretARN  string
	Entries    int
	Bytes      int
	Committed  string // VersionId of the last write that committed under the lease
	Retired    bool   // emptied and deleted: never written again
	LeaseOwner string
	LeaseUntil time.Time
	Recent     []versionMark // versions written in the last 24 hours (and maybe older ones)
	RefusedAt  time.Time     // Secrets Manager last refused a version (LimitExceededException)
	MovedOut   []string      // entries moved to a fresh bucket whose stale copy this one holds
	Closed     bool          // a fresh bucket for moved entries: takes no new ones
}

func str(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }
func num(n int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}

func key(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{tablekeys.PK: str(pk), tablekeys.SK: str(sk)}
}

func entryKey(entry string) map[string]types.AttributeValue {
	return key(tablekeys.VaultEntryPK(entry), tablekeys.VaultEntrySK)
}
func bucketKey(n int) map[string]types.AttributeValue {
	return key(tablekeys.VaultBucketPK(n), tablekeys.VaultBucketSK)
}
func openKey() map[string]types.AttributeValue {
	return key(tablekeys.VaultOpenPK, tablekeys.VaultOpenSK)
}

func getS(item map[string]types.AttributeValue, name string) string {
	if v, ok := item[name].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

func getN(item map[string]types.AttributeValue, name string) int64 {
	if v, ok := item[name].(*types.AttributeValueMemberN); ok {
		n, _ := strconv.ParseInt(v.Value, 10, 64)
		return n
	}
	return 0
}

func getBool(item map[string]types.AttributeValue, name string) bool {
	v, ok := item[name].(*types.AttributeValueMemberBOOL)
	return ok && v.Value
}

func conditionFailed(err error) bool {
	var failed *types.ConditionalCheckFailedException
	return errors.As(err, &failed)
}

func ddbErr(what string, err error) error {
	return fmt.Errorf("vault: %s: %w", what, classify(err))
}

// readIndex reads where an entry lives (a strongly consistent read: a renewal that
// just placed the entry must be found by the next reader).
func (x index) readIndex(ctx context.Context, entry string) (indexItem, bool, error) {
	out, err := x.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(x.table), Key: entryKey(entry), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return indexItem{}, false, ddbErr("read the vault index of "+entry, err)
	}
	if out.Item == nil || getN(out.Item, "bucket") == 0 {
		return indexItem{}, false, nil
	}
	idx := indexItem{Bucket: int(getN(out.Item, "bucket")), SecretName: getS(out.Item, "secretName"), WrittenAt: getN(out.Item, "writtenAt")}
	if ns, ok := out.Item["staleIn"].(*types.AttributeValueMemberNS); ok {
		for _, s := range ns.Value {
			if n, err := strconv.Atoi(s); err == nil {
				idx.StaleIn = append(idx.StaleIn, n)
			}
		}
	}
	return idx, true, nil
}

// placeIndex records that entry lives in bucket n, unless it already lives in another
// bucket (a concurrent first write of the same entry placed it elsewhere): then it
// answers false. (An update, not a put: the buckets it moved out of stay recorded.)
func (x index) placeIndex(ctx context.Context, entry string, n int, secretName string, writtenAt int64) (bool, error) {
	_, err := x.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(x.table),
		Key:                       entryKey(entry),
		UpdateExpression:          aws.String("SET #b = :b, #name = :name, #w = :w"),
		ConditionExpression:       aws.String("attribute_not_exists(#pk) OR attribute_not_exists(#b) OR #b = :b"),
		ExpressionAttributeNames:  map[string]string{"#pk": tablekeys.PK, "#b": "bucket", "#name": "secretName", "#w": "writtenAt"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":b": num(int64(n)), ":name": str(secretName), ":w": num(writtenAt)},
	})
	switch {
	case conditionFailed(err):
		return false, nil
	case err != nil:
		return false, ddbErr("write the vault index of "+entry, err)
	}
	return true, nil
}

// unplaceIndex forgets that entry lived in bucket n, a retired bucket, so that the
// next write places it anew. (An update, not a delete: writers never delete.)
func (x index) unplaceIndex(ctx context.Context, entry string, n int) error {
	_, err := x.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(x.table),
		Key:                       entryKey(entry),
		UpdateExpression:          aws.String("REMOVE #b"),
		ConditionExpression:       aws.String("#b = :b"),
		ExpressionAttributeNames:  map[string]string{"#b": "bucket"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":b": num(int64(n))},
	})
	if err != nil && !conditionFailed(err) {
		return ddbErr("update the vault index of "+entry, err)
	}
	return nil
}

// dropIndex removes an entry's index item if it still names bucket n.
func (x index) dropIndex(ctx context.Context, entry string, n int) error {
	_, err := x.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                 aws.String(x.table),
		Key:                       entryKey(entry),
		ConditionExpression:       aws.String("#b = :b"),
		ExpressionAttributeNames:  map[string]string{"#b": "bucket"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":b": num(int64(n))},
	})
	if err != nil && !conditionFailed(err) {
		return ddbErr("delete the vault index of "+entry, err)
	}
	return nil
}

func decodeBucket(item map[string]types.AttributeValue) bucketItem {
	b := bucketItem{
		Bucket: int(getN(item, "bucket")), SecretName: getS(item, "secretName"), SecretARN: getS(item, "secretArn"),
		Entries: int(getN(item, "entries")), Bytes: int(getN(item, "bytes")), Committed: getS(item, "committed"),
		Retired: getBool(item, "retired"), LeaseOwner: getS(item, "leaseOwner"),
	}
	if ms := getN(item, "leaseUntil"); ms > 0 {
		b.LeaseUntil = time.UnixMilli(ms)
	}
	if ms := getN(item, "refusedAt"); ms > 0 {
		b.RefusedAt = time.UnixMilli(ms)
	}
	b.Closed = getBool(item, "closed")
	if l, ok := item["recent"].(*types.AttributeValueMemberL); ok {
		for _, m := range l.Value {
			if s, ok := m.(*types.AttributeValueMemberS); ok {
				if mark, ok := parseMark(s.Value); ok {
					b.Recent = append(b.Recent, mark)
				}
			}
		}
	}
	if ss, ok := item["movedOut"].(*types.AttributeValueMemberSS); ok {
		b.MovedOut = ss.Value
	}
	return b
}

// readBucket reads a bucket's bookkeeping; a bucket never written reads as its zero
// value with its number and secret name.
func (x index) readBucket(ctx context.Context, n int) (bucketItem, error) {
	out, err := x.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(x.table), Key: bucketKey(n), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return bucketItem{}, ddbErr(fmt.Sprintf("read vault bucket %d", n), err)
	}
	if out.Item == nil {
		return bucketItem{Bucket: n, SecretName: x.bucketName(n)}, nil
	}
	return decodeBucket(out.Item), nil
}

// lease takes bucket n's lease: a conditional write that succeeds only when no other
// writer holds an unexpired lease. A writer that finds it taken waits (with jitter,
// growing to a quarter of a second) and tries again until ctx ends. A writer that
// crashes holding the lease leaves the bucket as it was; the lease expires after
// LeaseTTL.
func (x index) lease(ctx context.Context, n int) (bucketItem, string, error) {
	owner := randomID()
	wait := 10 * time.Millisecond
	for {
		now := x.now()
		out, err := x.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:           aws.String(x.table),
			Key:                 bucketKey(n),
			UpdateExpression:    aws.String("SET #owner = :owner, #until = :until, #b = :b, #name = if_not_exists(#name, :name)"),
			ConditionExpression: aws.String("attribute_not_exists(#until) OR #until < :now"),
			ExpressionAttributeNames: map[string]string{
				"#owner": "leaseOwner", "#until": "leaseUntil", "#b": "bucket", "#name": "secretName",
			},
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":owner": str(owner), ":until": num(now.Add(x.leaseTTL).UnixMilli()), ":now": num(now.UnixMilli()),
				":b": num(int64(n)), ":name": str(x.bucketName(n)),
			},
			ReturnValues: types.ReturnValueAllNew,
		})
		if err == nil {
			x.stats.leases.Add(1)
			return decodeBucket(out.Attributes), owner, nil
		}
		if !conditionFailed(err) {
			return bucketItem{}, "", ddbErr(fmt.Sprintf("lease vault bucket %d", n), err)
		}
		x.stats.leaseWaits.Add(1)
		d := wait/2 + rand.N(wait)
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d {
			return bucketItem{}, "", fmt.Errorf("vault: bucket %d: %w: %w", n, errBusy, ErrUnavailable)
		}
		select {
		case <-ctx.Done():
			return bucketItem{}, "", fmt.Errorf("vault: bucket %d: %w: %w", n, errBusy, ctx.Err())
		case <-time.After(d):
		}
		wait = min(wait*2, 250*time.Millisecond)
	}
}

// release gives the lease back without a write. A lease already lost is not an error.
func (x index) release(n int, owner string) {
	// The caller's context may be spent: release on a short context of its own, so the
	// next writer need not wait for the lease to expire.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := x.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(x.table),
		Key:                       bucketKey(n),
		UpdateExpression:          aws.String("REMOVE #owner, #until"),
		ConditionExpression:       aws.String("#owner = :owner"),
		ExpressionAttributeNames:  map[string]string{"#owner": "leaseOwner", "#until": "leaseUntil"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":owner": str(owner)},
	})
	if err != nil && !conditionFailed(err) {
		x.log.Warn("could not release a vault bucket lease; it expires by itself", "bucket", n, "error", err)
	}
}

// commit records a write made under the lease and gives the lease back, on condition
// that the lease is still this writer's. errLeaseLost otherwise. It records the
// bucket's recent versions and which moved-out entries it still holds.
func (x index) commit(ctx context.Context, n int, owner string, b bucketItem) error {
	names := map[string]string{
		"#owner": "leaseOwner", "#until": "leaseUntil", "#committed": "committed", "#entries": "entries",
		"#bytes": "bytes", "#arn": "secretArn", "#updated": "updatedAt", "#retired": "retired", "#recent": "recent",
		"#moved": "movedOut",
	}
	recent := make([]types.AttributeValue, 0, len(b.Recent))
	for _, m := range b.Recent {
		recent = append(recent, str(m.String()))
	}
	values := map[string]types.AttributeValue{
		":owner": str(owner), ":committed": str(b.Committed), ":entries": num(int64(b.Entries)), ":bytes": num(int64(b.Bytes)),
		":arn": str(b.SecretARN), ":updated": str(x.now().UTC().Format(time.RFC3339Nano)), ":retired": &types.AttributeValueMemberBOOL{Value: b.Retired},
		":recent": &types.AttributeValueMemberL{Value: recent},
	}
	update := "SET #committed = :committed, #entries = :entries, #bytes = :bytes, #arn = :arn, #updated = :updated, #retired = :retired, #recent = :recent"
	remove := " REMOVE #owner, #until"
	if len(b.MovedOut) > 0 {
		update += ", #moved = :moved"
		values[":moved"] = &types.AttributeValueMemberSS{Value: b.MovedOut}
	} else {
		remove += ", #moved"
	}
	return x.leased(ctx, n, update+remove, names, values, "commit")
}

// updateLeased changes a bucket's item while this writer holds its lease (errLeaseLost
// otherwise), keeping the lease.
func (x index) updateLeased(ctx context.Context, n int, owner, update string, names map[string]string, values map[string]types.AttributeValue) error {
	names["#owner"] = "leaseOwner"
	values[":owner"] = str(owner)
	return x.leased(ctx, n, update, names, values, "update")
}

// leased runs update on bucket n's item on condition that owner holds its lease.
func (x index) leased(ctx context.Context, n int, update string, names map[string]string, values map[string]types.AttributeValue, what string) error {
	_, err := x.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(x.table),
		Key:                       bucketKey(n),
		UpdateExpression:          aws.String(update),
		ConditionExpression:       aws.String("#owner = :owner"),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
	})
	switch {
	case conditionFailed(err):
		return fmt.Errorf("vault: bucket %d: %w", n, errLeaseLost)
	case err != nil:
		return ddbErr(fmt.Sprintf("%s vault bucket %d", what, n), err)
	}
	return nil
}

// openBucket is the bucket new entries go to (1 before anything was written).
func (x index) openBucket(ctx context.Context) (int, error) {
	o, _, err := x.readOpen(ctx)
	return o, err
}

// readOpen reads the open bucket and the highest bucket number handed out (0 when none
// was handed out beyond the open one: a deployment from before fresh buckets).
func (x index) readOpen(ctx context.Context) (open, last int, err error) {
	out, err := x.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(x.table), Key: openKey(), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return 0, 0, ddbErr("read the open vault bucket", err)
	}
	open, last = int(getN(out.Item, "bucket")), int(getN(out.Item, "last"))
	if open <= 0 {
		open = 1
	}
	return open, last, nil
}

// lastBucket is the highest bucket number that may exist.
func (x index) lastBucket(ctx context.Context) (int, error) {
	o, l, err := x.readOpen(ctx)
	return max(o, l), err
}

// openCondition holds the open item to the values read: the open bucket o and last l
// (each absent when it read as its default).
func openCondition(o, l int) (string, map[string]types.AttributeValue) {
	cond := "(#b = :o OR (attribute_not_exists(#b) AND :o = :one))"
	values := map[string]types.AttributeValue{":o": num(int64(o)), ":one": num(1)}
	if l > 0 {
		cond += " AND #last = :l"
		values[":l"] = num(int64(l))
	} else {
		cond += " AND attribute_not_exists(#last)"
	}
	return cond, values
}

// advanceOpen moves the open bucket from full to the next number not handed out,
// unless another writer already moved it.
func (x index) advanceOpen(ctx context.Context, full int) error {
	for range maxRounds {
		o, l, err := x.readOpen(ctx)
		if err != nil || o != full {
			return err
		}
		next := max(o, l) + 1
		cond, values := openCondition(o, l)
		values[":next"] = num(int64(next))
		_, err = x.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                 aws.String(x.table),
			Key:                       openKey(),
			UpdateExpression:          aws.String("SET #b = :next, #last = :next"),
			ConditionExpression:       aws.String(cond),
			ExpressionAttributeNames:  map[string]string{"#b": "bucket", "#last": "last"},
			ExpressionAttributeValues: values,
		})
		if err == nil {
			x.log.InfoContext(ctx, "vault bucket full; opened the next one", "bucket", next)
			return nil
		}
		if !conditionFailed(err) {
			return ddbErr("open the next vault bucket", err)
		}
	}
	return fmt.Errorf("vault: open the next vault bucket: the open item kept changing: %w", ErrUnavailable)
}

// claimFresh hands out a bucket number no one has used, for entries moved out of a
// bucket that should not spend its versions on them. The bucket is closed: the open
// bucket skips it, and it takes only the entries moved to it.
func (x index) claimFresh(ctx context.Context) (int, error) {
	for range maxRounds {
		o, l, err := x.readOpen(ctx)
		if err != nil {
			return 0, err
		}
		m := max(o, l) + 1
		cond, values := openCondition(o, l)
		values[":m"] = num(int64(m))
		_, err = x.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                 aws.String(x.table),
			Key:                       openKey(),
			UpdateExpression:          aws.String("SET #last = :m"),
			ConditionExpression:       aws.String(cond),
			ExpressionAttributeNames:  map[string]string{"#b": "bucket", "#last": "last"},
			ExpressionAttributeValues: values,
		})
		if conditionFailed(err) {
			continue
		}
		if err != nil {
			return 0, ddbErr("hand out a fresh vault bucket", err)
		}
		_, err = x.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                 aws.String(x.table),
			Key:                       bucketKey(m),
			UpdateExpression:          aws.String("SET #b = :b, #name = :name, #closed = :closed"),
			ExpressionAttributeNames:  map[string]string{"#b": "bucket", "#name": "secretName", "#closed": "closed"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":b": num(int64(m)), ":name": str(x.bucketName(m)), ":closed": &types.AttributeValueMemberBOOL{Value: true}},
		})
		if err != nil {
			return 0, ddbErr(fmt.Sprintf("close fresh vault bucket %d", m), err)
		}
		return m, nil
	}
	return 0, fmt.Errorf("vault: hand out a fresh vault bucket: the open item kept changing: %w", ErrUnavailable)
}

// placeIndexes writes the index items of entries, a few at a time (an import places
// fifty per bucket).
func (x index) placeIndexes(ctx context.Context, n int, name string, doc bucketDocument, keys []string) error {
	errs := make([]error, len(keys))
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for i, k := range keys {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			ok, err := x.placeIndex(ctx, k, n, name, doc[k].WrittenAt)
			if err == nil && !ok {
				err = errMoved
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func (x index) dropIndexes(ctx context.Context, n int, keys []string) error {
	for _, k := range keys {
		if err := x.dropIndex(ctx, k, n); err != nil {
			return err
		}
	}
	return nil
}

// readIndexes reads the index items of keys, a few at a time; entries without one are
// left out of the answer.
func (x index) readIndexes(ctx context.Context, keys []string) (map[string]indexItem, error) {
	items := make([]indexItem, len(keys))
	found := make([]bool, len(keys))
	errs := make([]error, len(keys))
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for i, k := range keys {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			items[i], found[i], errs[i] = x.readIndex(ctx, k)
		})
	}
	wg.Wait()
	out := map[string]indexItem{}
	for i, k := range keys {
		if errs[i] != nil {
			return nil, errs[i]
		}
		if found[i] {
			out[k] = items[i]
		}
	}
	return out, nil
}

// repoint moves entry's index item from bucket from to bucket to, recording that from
// may still hold an older copy.
func (x index) repoint(ctx context.Context, entry string, from, to int, writtenAt int64) error {
	_, err := x.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           aws.String(x.table),
		Key:                 entryKey(entry),
		UpdateExpression:    aws.String("SET #b = :to, #name = :name, #w = :w ADD #stale :from"),
		ConditionExpression: aws.String("#b = :b"),
		ExpressionAttributeNames: map[string]string{
			"#b": "bucket", "#name": "secretName", "#w": "writtenAt", "#stale": "staleIn",
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":to": num(int64(to)), ":name": str(x.bucketName(to)), ":w": num(writtenAt), ":b": num(int64(from)),
			":from": &types.AttributeValueMemberNS{Value: []string{strconv.Itoa(from)}},
		},
	})
	switch {
	case conditionFailed(err):
		return fmt.Errorf("vault: move %s from bucket %d: %w", entry, from, errMoved)
	case err != nil:
		return ddbErr("move the vault index of "+entry, err)
	}
	return nil
}

// pace waits for this write's time in the stack-wide budget of Secrets Manager
// writes, a shared/pace budget (tat, the next free time) in the vault's own part of the
// table. PutSecretValue, UpdateSecretVersionStage and their kin share 50 requests per
// second per region (not adjustable); the default budget of 40 leaves room for the
// writes that do not pass through here (client-credential rotation, the console).
func (x index) pace(ctx context.Context) error {
	if x.writes == nil {
		return nil
	}
	asked := time.Now()
	at, err := x.writes.Next(ctx)
	switch {
	case errors.Is(err, pace.ErrNoSlot):
		return fmt.Errorf("vault: no Secrets Manager write slot in time: %w: %w", ErrUnavailable, err)
	case err != nil:
		return ddbErr("take a Secrets Manager write slot", err)
	}
	if at.Sub(asked) > x.writes.Interval() {
		x.stats.paceWaits.Add(1)
	}
	return nil
}

// randomID is 128 random bits in hex: lease owners.
func randomID() string {
	var b [16]byte
	_, _ = crand.Read(b[:])
	return hex.EncodeToString(b[:])
}
