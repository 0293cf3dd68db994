package vault

// The packed layout: many refresh tokens per secret. Secrets Manager charges about
// $0.40 a month per secret, so one secret per authorization costs $4,000 a month at
// 10,000 authorizations; 50 per secret cost under a cent per authorization-month.
//
// A bucket secret {prefix}/sp-api/tokens/{bucket:06d} holds a JSON object mapping
// "{connectionId}/{region}" to the fields a per-authorization secret holds, plus
// writtenAt. A bucket takes new entries until it has MaxEntries of them or its JSON
// would pass MaxBytes; then the next bucket opens. An entry stays in its bucket for
// good (renewals rewrite it in place), so nothing is ever re-hashed.
//
// Writes to one bucket are serialized by a lease item in DynamoDB (ledger.go), and
// each is a read-modify-write of AWSCURRENT. A writer whose lease expired mid-write can
// land its version after another writer's: every bucket item records the VersionId of
// the last write that committed under its lease, and the next writer (or a reader
// that misses its entry) that finds AWSCURRENT elsewhere merges the two documents.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/secret"
)

// errMoved: an entry's index changed under a write (a concurrent first write placed it
// in another bucket). The write starts again from the index.
var errMoved = errors.New("entry placed in another bucket meanwhile")

// maxBucketBytes is Secrets Manager's limit on a SecretString. MaxBytes keeps new
// entries well below it; an entry rewritten in place may grow a bucket up to it.
const maxBucketBytes = 65536

// bucketEntry is one authorization in a bucket document. RefreshToken is a plain
// string here, and only here, because the value must reach Secrets Manager.
type bucketEntry struct {
	RefreshToken     string `json:"refreshToken"`
	SellingPartnerID string `json:"sellingPartnerId"`
	Region           string `json:"region"`
	AuthorizedAt     string `json:"authorizedAt"`
	WrittenAt        int64  `json:"writtenAt"` // unix ns of the vault write: orders writes of one entry
}

func (e bucketEntry) same(o bucketEntry) bool {
	return e.RefreshToken == o.RefreshToken && e.SellingPartnerID == o.SellingPartnerID && e.Region == o.Region && e.AuthorizedAt == o.AuthorizedAt
}

type bucketDocument map[string]bucketEntry

func (d bucketDocument) encode() string {
	b, _ := json.Marshal(d) // map keys sorted: the same document encodes the same way
	return string(b)
}

// entryName is an entry's key in its bucket and in the index: {connectionId}/{region}.
func entryName(connectionID string, region authz.Region) string {
	return connectionID + "/" + string(region)
}

// BucketName is the secret of bucket n: {prefix}/sp-api/tokens/{n:06d}.
func (v *Vault) BucketName(n int) string {
	return v.name("sp-api", "tokens", fmt.Sprintf("%06d", n))
}

func (v *Vault) entryOf(rt RefreshToken, region authz.Region) bucketEntry {
	return bucketEntry{
		RefreshToken: rt.Token.Reveal(), SellingPartnerID: rt.SellingPartnerID, Region: string(region),
		AuthorizedAt: rt.AuthorizedAt.UTC().Format(time.RFC3339Nano), WrittenAt: v.now().UnixNano(),
	}
}

func (e bucketEntry) token(name string, region authz.Region, secretID string) (RefreshToken, error) {
	if e.RefreshToken == "" {
		return RefreshToken{}, fmt.Errorf("vault: bucket %s entry has no refreshToken: %w", name, ErrMalformed)
	}
	if e.Region != string(region) {
		return RefreshToken{}, fmt.Errorf("vault: bucket %s entry holds region %q, want %q: %w", name, e.Region, region, ErrMalformed)
	}
	at, err := time.Parse(time.RFC3339, e.AuthorizedAt)
	if err != nil {
		return RefreshToken{}, fmt.Errorf("vault: bucket %s: authorizedAt is not RFC 3339: %w", name, ErrMalformed)
	}
	return RefreshToken{Token: secret.Value(e.RefreshToken), SellingPartnerID: e.SellingPartnerID, Region: region, AuthorizedAt: at, SecretID: secretID}, nil
}

// --- reading ---

// bucketCache keeps bucket documents per execution environment, so that one
// GetSecretValue serves every connection of a bucket. It never serves a stale entry:
// a reader compares the entry's writtenAt with the index item, which every write
// updates first, and reads the secret again when they differ.
type bucketCache struct {
	mu  sync.Mutex
	m   map[string]cachedBucket
	ttl time.Duration
	max int
}

type cachedBucket struct {
	doc       bucketDocument
	version   string
	arn       string
	at        time.Time
	scheduled bool // the secret is scheduled for deletion: read as empty
}

func (c *bucketCache) get(name string, now time.Time) (cachedBucket, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, ok := c.m[name]
	if !ok || now.Sub(b.at) > c.ttl {
		return cachedBucket{}, false
	}
	return b, true
}

func (c *bucketCache) put(name string, b cachedBucket) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[name]; !ok && len(c.m) >= c.max {
		oldest := ""
		for k, v := range c.m {
			if oldest == "" || v.at.Before(c.m[oldest].at) {
				oldest = k
			}
		}
		delete(c.m, oldest)
	}
	c.m[name] = b
}

func (c *bucketCache) drop(name string) {
	c.mu.Lock()
	delete(c.m, name)
	c.mu.Unlock()
}

// readBucketSecret reads a bucket document: AWSCURRENT, or the version named. A bucket
// never written reads as an empty document.
func (v *Vault) readBucketSecret(ctx context.Context, name, versionID string) (cachedBucket, error) {
	in := &secretsmanager.GetSecretValueInput{SecretId: aws.String(name)}
	if versionID != "" {
		in.VersionId = aws.String(versionID)
	}
	out, err := v.client.GetSecretValue(ctx, in)
	v.stats.secretReads.Add(1)
	if err != nil {
		var notFound *types.ResourceNotFoundException
		if errors.As(err, &notFound) && versionID == "" {
			return cachedBucket{doc: bucketDocument{}, at: v.now()}, nil
		}
		if versionID == "" && v.scheduledForDeletion(ctx, name, err) {
			// Someone scheduled the bucket for deletion (the console's Delete).
			return cachedBucket{doc: bucketDocument{}, at: v.now(), scheduled: true}, nil
		}
		return cachedBucket{}, fmt.Errorf("vault: read bucket %s: %w", name, classify(err))
	}
	if out.SecretString == nil {
		return cachedBucket{}, fmt.Errorf("vault: bucket %s holds binary data, not a string: %w", name, ErrMalformed)
	}
	doc := bucketDocument{}
	if err := unmarshal(*out.SecretString, &doc); err != nil {
		return cachedBucket{}, fmt.Errorf("vault: bucket %s: %w", name, err)
	}
	return cachedBucket{doc: doc, version: aws.ToString(out.VersionId), arn: aws.ToString(out.ARN), at: v.now()}, nil
}

// getPacked reads an entry; found is false when the index has no entry for it (or the
// bucket lacks it), so the caller may look in the per-authorization secret.
func (v *Vault) getPacked(ctx context.Context, connectionID string, region authz.Region) (RefreshToken, bool, error) {
	k := entryName(connectionID, region)
	idx, found, err := v.readIndex(ctx, k)
	if err != nil || !found {
		return RefreshToken{}, false, err
	}
	b, cached := v.cache.get(idx.SecretName, v.now())
	e, ok := b.doc[k]
	if !cached || !ok || e.WrittenAt != idx.WrittenAt {
		if b, err = v.readBucketSecret(ctx, idx.SecretName, ""); err != nil {
			return RefreshToken{}, false, err
		}
		v.cache.put(idx.SecretName, b)
		e, ok = b.doc[k]
	}
	arn := b.arn
	if !ok || e.WrittenAt < idx.WrittenAt {
		// AWSCURRENT may be a write that landed after its lease expired, made from a
		// document without this entry: the committed version has it.
		item, err := v.readBucket(ctx, idx.Bucket)
		if err != nil {
			return RefreshToken{}, false, err
		}
		if item.Committed != "" && item.Committed != b.version {
			c, err := v.readBucketSecret(ctx, idx.SecretName, item.Committed)
			if err != nil {
				return RefreshToken{}, false, err
			}
			if ce, cok := c.doc[k]; cok && (!ok || ce.WrittenAt > e.WrittenAt) {
				e, ok, arn = ce, true, c.arn
			}
		}
	}
	if !ok {
		return RefreshToken{}, false, nil
	}
	rt, err := e.token(idx.SecretName, region, arn)
	return rt, true, err
}

// --- writing ---

type keyedEntry struct {
	key   string
	entry bucketEntry
}

type applyResult struct {
	arn     string
	placed  int      // how many of the new entries went into this bucket (a prefix of them)
	removed []string // entries removed: the caller drops their index items
	emptied bool     // removing them would empty the bucket: nothing was written
	// move are the updates this bucket does not take (its daily versions are spent, or
	// the entry has had its share of them): the caller moves them (moveOut).
	move map[string]bucketEntry
}

// apply writes to bucket n under its lease: updates to entries that live there (nil
// removes one), then as many new entries as fit. purge writes the result twice, so
// that AWSPREVIOUS holds it too.
func (v *Vault) apply(ctx context.Context, n int, updates map[string]*bucketEntry, fresh []keyedEntry, purge bool) (applyResult, error) {
	var res applyResult
	b, owner, err := v.lease(ctx, n)
	if err != nil {
		return res, err
	}
	committed := false
	defer func() {
		if !committed {
			v.release(n, owner)
		}
	}()
	if b.Retired {
		// Every entry of a retired bucket was removed: removing one again is done, and
		// nothing is placed here (the caller opens another bucket).
		for k, e := range updates {
			if e == nil {
				res.removed = append(res.removed, k)
			}
		}
		return res, nil
	}
	cur, err := v.loadForWrite(ctx, b)
	if err != nil {
		return res, err
	}
	doc := maps.Clone(cur.doc)
	changed := cur.repaired
	// Stale copies of entries that moved out go with this write, if there is one.
	if err := v.dropMovedOut(ctx, b, doc); err != nil {
		return res, err
	}
	win := b.window(v.now())
	var written []string
	for _, k := range slices.Sorted(maps.Keys(updates)) {
		e := updates[k]
		old, had := doc[k]
		others := len(doc)
		if had {
			others--
		}
		switch {
		case e == nil:
			// A stale copy dropMovedOut took out counts: the removal must reach the bucket.
			if _, inBucket := cur.doc[k]; had || inBucket {
				delete(doc, k)
				changed = true
			}
			res.removed = append(res.removed, k)
		case had && old.same(*e):
		case v.mustMove(win, k, others):
			if res.move == nil {
				res.move = map[string]bucketEntry{}
			}
			res.move[k] = *e
		default:
			doc[k] = *e
			changed = true
			written = append(written, k)
		}
	}
	for _, f := range fresh {
		if b.Closed || win.spent() {
			break // a fresh bucket, or one whose versions are spent for the day: the next one
		}
		if old, had := doc[f.key]; had {
			if !old.same(f.entry) {
				doc[f.key] = f.entry
				changed = true
			}
			written = append(written, f.key)
			res.placed++
			continue
		}
		doc[f.key] = f.entry
		if len(doc) > 1 && (len(doc) > v.pack.MaxEntries || len(doc.encode()) > v.pack.MaxBytes) {
			delete(doc, f.key)
			break
		}
		changed = true
		written = append(written, f.key)
		res.placed++
	}
	body := doc.encode()
	if len(body) > maxBucketBytes {
		return res, fmt.Errorf("vault: bucket %s would hold %d bytes, more than Secrets Manager's %d: %w", b.SecretName, len(body), maxBucketBytes, ErrMalformed)
	}
	// The index first: a reader that finds it before the secret write lands reads the
	// entry as it was, never nothing.
	if err := v.placeIndexes(ctx, n, b.SecretName, doc, written); err != nil {
		return res, err
	}
	res.arn = cur.arn
	if !changed && !purge {
		// Compare before write: the bucket already holds exactly this; no new version.
		return res, nil
	}
	if win.spent() && len(written) == 0 && len(res.removed) == 0 {
		// A repair alone waits for a day that has versions to spare.
		return res, nil
	}
	if len(doc) == 0 {
		// The last entry goes: the bucket is deleted rather than written (retire).
		res.emptied = true
		return res, nil
	}
	writes := 1
	if purge {
		writes = 2
	}
	var version string
	for range writes {
		version, res.arn, err = v.writeBucketSecret(ctx, b, body)
		if limitExceeded(err) {
			return v.refused(ctx, n, owner, res, cur.doc, doc, fresh, written, err)
		}
		if err != nil {
			return res, err
		}
	}
	entry := ""
	if len(written) == 1 && len(res.removed) == 0 {
		entry = written[0]
	}
	v.noteVersions(ctx, &b, writes, entry)
	b.Committed, b.Entries, b.Bytes, b.SecretARN, b.MovedOut = version, len(doc), len(body), res.arn, nil
	if err := v.commit(ctx, n, owner, b); err != nil {
		v.cache.drop(b.SecretName)
		committed = true // the lease is no longer ours to release
		return res, err
	}
	committed = true
	v.cache.put(b.SecretName, cachedBucket{doc: doc, version: version, arn: res.arn, at: v.now()})
	return res, nil
}

// refused handles Secrets Manager's refusal of a version of bucket n (its 101st in 24
// hours, though the vault's count said otherwise): it records the refusal, so that
// for a day renewals move out and new entries go to the next bucket; new entries
// written here are unplaced (the caller places them in the next bucket); renewals of
// entries that share the bucket are moved. A renewal of an entry alone in its bucket,
// and a removal, wait for the day to pass: ErrUnavailable. before is the bucket as
// read, doc as it was to be written.
func (v *Vault) refused(ctx context.Context, n int, owner string, res applyResult, before, doc bucketDocument, fresh []keyedEntry,
	written []string, cause error) (applyResult, error) {
	if err := v.refuse(ctx, n, owner); err != nil {
		return res, err
	}
	v.cache.drop(v.BucketName(n))
	isFresh := map[string]bool{}
	for _, f := range fresh[:res.placed] {
		isFresh[f.key] = true
	}
	res.placed = 0
	refusedErr := fmt.Errorf("vault: bucket %d: Secrets Manager refused a version (100 in 24 hours): %w: %w", n, ErrUnavailable, cause)
	for _, k := range written {
		_, had := before[k]
		switch {
		case isFresh[k] && !had:
			if err := v.unplaceIndex(ctx, k, n); err != nil {
				return res, err
			}
		case len(doc) == 1 || len(res.removed) > 0:
			return res, refusedErr
		default:
			if res.move == nil {
				res.move = map[string]bucketEntry{}
			}
			res.move[k] = doc[k]
		}
	}
	if len(res.removed) > 0 {
		return res, refusedErr
	}
	return res, nil
}

type loaded struct {
	cachedBucket
	repaired bool
}

// loadForWrite reads AWSCURRENT for a read-modify-write. If it is not the version that
// last committed under the lease, a write landed late (its writer lost the lease, or
// crashed between the write and the commit): the two documents are merged, entry by
// entry the later write winning, and an entry only in the late document kept only if
// the index still places it in this bucket (a forget removes the index).
func (v *Vault) loadForWrite(ctx context.Context, b bucketItem) (loaded, error) {
	cur, err := v.readBucketSecret(ctx, b.SecretName, "")
	if err != nil {
		return loaded{}, err
	}
	if cur.scheduled {
		// Its tokens must not be lost, nor the one being written: cancel the deletion
		// and read the bucket as it was.
		if _, err := v.client.RestoreSecret(ctx, &secretsmanager.RestoreSecretInput{SecretId: aws.String(b.SecretName)}); err != nil {
			return loaded{}, fmt.Errorf("vault: restore bucket %s scheduled for deletion: %w", b.SecretName, classify(err))
		}
		v.log.WarnContext(ctx, "vault bucket was scheduled for deletion; restored it", "bucket", b.Bucket, "secretName", b.SecretName)
		if cur, err = v.readBucketSecret(ctx, b.SecretName, ""); err != nil {
			return loaded{}, err
		}
	}
	if b.Committed == "" || cur.version == b.Committed {
		return loaded{cachedBucket: cur}, nil
	}
	base, err := v.readBucketSecret(ctx, b.SecretName, b.Committed)
	if err != nil {
		v.log.WarnContext(ctx, "vault bucket's committed version unreadable; keeping AWSCURRENT", "bucket", b.Bucket, "error", err)
		return loaded{cachedBucket: cur}, nil
	}
	merged := maps.Clone(base.doc)
	for k, late := range cur.doc {
		if have, ok := merged[k]; ok {
			if late.WrittenAt > have.WrittenAt {
				merged[k] = late
			}
			continue
		}
		idx, found, err := v.readIndex(ctx, k)
		if err != nil {
			return loaded{}, err
		}
		if found && idx.Bucket == b.Bucket {
			merged[k] = late
		}
	}
	v.stats.repairs.Add(1)
	v.log.WarnContext(ctx, "vault bucket repaired: a write landed after another committed", "bucket", b.Bucket,
		"committedVersion", b.Committed, "currentVersion", cur.version)
	cur.doc = merged
	return loaded{cachedBucket: cur, repaired: true}, nil
}

// writeBucketSecret stores body as the bucket's AWSCURRENT, creating the secret on its
// first write. It waits for a slot in the stack's write budget, and bounds the call by
// the lease: a write must not outlive the lease it was made under.
func (v *Vault) writeBucketSecret(ctx context.Context, b bucketItem, body string) (version, arn string, err error) {
	if err := v.pace(ctx); err != nil {
		return "", "", err
	}
	left := b.LeaseUntil.Sub(v.now()) - v.pack.LeaseTTL/10
	if left < v.pack.LeaseTTL/4 {
		return "", "", fmt.Errorf("vault: bucket %d: lease too close to its end to write: %w", b.Bucket, errLeaseLost)
	}
	wctx, cancel := context.WithTimeout(ctx, left)
	defer cancel()
	token := newRequestToken()
	if b.Committed == "" {
		// Never written: create it (one call, not a PutSecretValue that finds nothing).
		version, arn, err := v.createBucketSecret(ctx, wctx, b, body, token)
		if !errors.Is(err, errExists) {
			return version, arn, err
		}
	}
	v.stats.secretWrites.Add(1)
	out, err := v.client.PutSecretValue(wctx, &secretsmanager.PutSecretValueInput{
		SecretId: aws.String(b.SecretName), SecretString: aws.String(body), ClientRequestToken: aws.String(token),
	}, refusalIsFinal)
	if err == nil {
		return aws.ToString(out.VersionId), aws.ToString(out.ARN), nil
	}
	if wctx.Err() != nil && ctx.Err() == nil {
		// The lease ran out before Secrets Manager answered. The write may still land:
		// the next writer to the bucket reconciles it with what committed meanwhile.
		return "", "", fmt.Errorf("vault: write bucket %s outlived its lease: %w", b.SecretName, errLeaseLost)
	}
	var notFound *types.ResourceNotFoundException
	if !errors.As(err, &notFound) {
		return "", "", fmt.Errorf("vault: write bucket %s: %w", b.SecretName, classify(err))
	}
	return v.createBucketSecret(ctx, wctx, b, body, token)
}

// errExists: CreateSecret found the bucket secret already there (its bookkeeping was
// lost, or a crash came between the create and the commit).
var errExists = errors.New("bucket secret exists")

func (v *Vault) createBucketSecret(ctx, wctx context.Context, b bucketItem, body, token string) (version, arn string, err error) {
	in := &secretsmanager.CreateSecretInput{
		Name: aws.String(b.SecretName), SecretString: aws.String(body), ClientRequestToken: aws.String(token),
		Description: aws.String(fmt.Sprintf("SP-API refresh tokens, bucket %d of the packed layout", b.Bucket)),
		Tags:        []types.Tag{{Key: aws.String("vaultBucket"), Value: aws.String(fmt.Sprint(b.Bucket))}},
	}
	if v.kmsKeyID != "" {
		in.KmsKeyId = aws.String(v.kmsKeyID)
	}
	v.stats.secretWrites.Add(1)
	cout, err := v.client.CreateSecret(wctx, in)
	var exists *types.ResourceExistsException
	switch {
	case errors.As(err, &exists):
		return "", "", errExists
	case err != nil && wctx.Err() != nil && ctx.Err() == nil:
		return "", "", fmt.Errorf("vault: create bucket %s outlived its lease: %w", b.SecretName, errLeaseLost)
	case err != nil:
		return "", "", fmt.Errorf("vault: create bucket %s: %w", b.SecretName, classify(err))
	}
	v.log.InfoContext(ctx, "vault bucket created", "bucket", b.Bucket, "secretName", b.SecretName)
	return aws.ToString(cout.VersionId), aws.ToString(cout.ARN), nil
}

// retire deletes a bucket whose last entry is being removed, at once and with every
// version (no token of it stays behind, AWSPREVIOUS included), and marks it never to
// be written again. The open bucket moves on first, so no writer places an entry in
// it. It checks under the lease that the bucket holds nothing but the entries removed.
func (v *Vault) retire(ctx context.Context, n int, removing []string) error {
	b, owner, err := v.lease(ctx, n)
	if err != nil {
		return err
	}
	committed := false
	defer func() {
		if !committed {
			v.release(n, owner)
		}
	}()
	if b.Retired {
		return nil
	}
	cur, err := v.loadForWrite(ctx, b)
	if err != nil {
		return err
	}
	doc := maps.Clone(cur.doc)
	for _, k := range removing {
		delete(doc, k)
	}
	if err := v.dropMovedOut(ctx, b, doc); err != nil {
		return err
	}
	if len(doc) > 0 {
		return errMoved // an entry arrived meanwhile: remove ours by a write instead
	}
	open, err := v.openBucket(ctx)
	if err != nil {
		return err
	}
	if open == n {
		if err := v.advanceOpen(ctx, n); err != nil {
			return err
		}
	}
	_, err = v.client.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String(b.SecretName), ForceDeleteWithoutRecovery: aws.Bool(true)})
	if err != nil && !errors.Is(classify(err), ErrNotFound) {
		return fmt.Errorf("vault: delete emptied bucket %s: %w", b.SecretName, classify(err))
	}
	v.cache.drop(b.SecretName)
	b.Retired, b.Entries, b.Bytes, b.Committed = true, 0, 0, ""
	committed = true
	if err := v.commit(ctx, n, owner, b); err != nil {
		return err
	}
	v.log.InfoContext(ctx, "vault bucket emptied and deleted", "bucket", n, "secretName", b.SecretName)
	return nil
}

// placeIndexes writes the index items of entries, a few at a time (an import places
// fifty per bucket).
func (v *Vault) placeIndexes(ctx context.Context, n int, name string, doc bucketDocument, keys []string) error {
	errs := make([]error, len(keys))
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for i, k := range keys {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			ok, err := v.placeIndex(ctx, k, n, name, doc[k].WrittenAt)
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

func (v *Vault) dropIndexes(ctx context.Context, n int, keys []string) error {
	for _, k := range keys {
		if err := v.dropIndex(ctx, k, n); err != nil {
			return err
		}
	}
	return nil
}

// maxRounds bounds how often one write starts over (a full bucket, a lost lease, an
// entry placed elsewhere meanwhile): each cause is rare, and each round makes progress.
const maxRounds = 16

func retryable(err error) bool { return errors.Is(err, errLeaseLost) || errors.Is(err, errMoved) }

// putPacked stores one entry: in place in its bucket if it has one, else in the open
// bucket (the next one if that is full).
func (v *Vault) putPacked(ctx context.Context, connectionID string, region authz.Region, rt RefreshToken) (string, error) {
	k := entryName(connectionID, region)
	e := v.entryOf(rt, region)
	var last error
	for range maxRounds {
		idx, found, err := v.readIndex(ctx, k)
		if err != nil {
			return "", err
		}
		if found {
			res, err := v.apply(ctx, idx.Bucket, map[string]*bucketEntry{k: &e}, nil, false)
			if err == nil && len(res.move) > 0 {
				// Its bucket's versions are not to be spent on it: a fresh bucket.
				var arn string
				if arn, err = v.moveOut(ctx, idx.Bucket, res.move); err == nil {
					return arn, nil
				}
			}
			if retryable(err) {
				last = err
				continue
			}
			if err == nil && res.arn == "" {
				// Its bucket was retired under it (a forget of every entry): place it anew.
				if err := v.unplaceIndex(ctx, k, idx.Bucket); err != nil {
					return "", err
				}
				continue
			}
			return res.arn, err
		}
		n, err := v.openBucket(ctx)
		if err != nil {
			return "", err
		}
		res, err := v.apply(ctx, n, nil, []keyedEntry{{k, e}}, false)
		switch {
		case retryable(err):
			last = err
			continue
		case err != nil:
			return "", err
		case res.placed == 0:
			if err := v.advanceOpen(ctx, n); err != nil {
				return "", err
			}
			continue
		}
		return res.arn, nil
	}
	return "", fmt.Errorf("vault: put %s: gave up after %d rounds: %w: %w", k, maxRounds, last, ErrUnavailable)
}

// Entry is one authorization's refresh token for PutMany.
type Entry = authz.VaultEntry

// PutMany stores many refresh tokens, writing each bucket once (an import or a
// migration would otherwise create a version per entry, and Secrets Manager refuses a
// secret's 101st version within 24 hours). It returns the secret id of each entry, in
// order. In the per-authorization layout it writes one secret per entry. It is
// idempotent: entries already stored as given cause no write.
func (v *Vault) PutMany(ctx context.Context, entries []Entry) ([]string, error) {
	for _, e := range entries {
		if _, err := v.tokenSecretName(e.ConnectionID, e.Region); err != nil {
			return nil, err
		}
		if e.Token.Token.IsZero() {
			return nil, fmt.Errorf("vault: put %s/%s: empty refresh token", e.ConnectionID, e.Region)
		}
	}
	ids := make([]string, len(entries))
	if !v.packed() {
		for i, e := range entries {
			id, err := v.Put(ctx, e.ConnectionID, e.Region, e.Token)
			if err != nil {
				return ids, err
			}
			ids[i] = id
		}
		return ids, nil
	}
	pos := map[string]int{}
	pending := map[string]bucketEntry{}
	for i, e := range entries {
		k := entryName(e.ConnectionID, e.Region)
		pos[k] = i
		pending[k] = v.entryOf(e.Token, e.Region)
	}
	for round := 0; len(pending) > 0; round++ {
		if round == maxRounds*4 {
			return ids, fmt.Errorf("vault: put many: %d entries left after %d rounds: %w", len(pending), round, ErrUnavailable)
		}
		keys := slices.Sorted(maps.Keys(pending))
		found, err := v.readIndexes(ctx, keys)
		if err != nil {
			return ids, err
		}
		byBucket := map[int]map[string]*bucketEntry{}
		var fresh []keyedEntry
		for _, k := range keys {
			e := pending[k]
			idx, ok := found[k]
			if !ok {
				fresh = append(fresh, keyedEntry{k, e})
				continue
			}
			if byBucket[idx.Bucket] == nil {
				byBucket[idx.Bucket] = map[string]*bucketEntry{}
			}
			byBucket[idx.Bucket][k] = &e
		}
		for n, ups := range byBucket {
			res, err := v.apply(ctx, n, ups, nil, false)
			if retryable(err) {
				continue
			}
			if err != nil {
				return ids, err
			}
			if len(res.move) > 0 {
				arn, err := v.moveOut(ctx, n, res.move)
				switch {
				case retryable(err):
				case err != nil:
					return ids, err
				default:
					for k := range res.move {
						ids[pos[k]] = arn
						delete(pending, k)
					}
				}
			}
			if res.arn == "" {
				continue // retired under it: placed anew next round
			}
			for k := range ups {
				if _, moving := res.move[k]; !moving {
					ids[pos[k]] = res.arn
					delete(pending, k)
				}
			}
		}
		for len(fresh) > 0 {
			n, err := v.openBucket(ctx)
			if err != nil {
				return ids, err
			}
			res, err := v.apply(ctx, n, nil, fresh, false)
			if retryable(err) {
				break
			}
			if err != nil {
				return ids, err
			}
			for _, f := range fresh[:res.placed] {
				ids[pos[f.key]] = res.arn
				delete(pending, f.key)
			}
			fresh = fresh[res.placed:]
			if len(fresh) > 0 {
				if err := v.advanceOpen(ctx, n); err != nil {
					return ids, err
				}
			}
		}
	}
	return ids, nil
}

// readIndexes reads the index items of keys, a few at a time; entries without one are
// left out of the answer.
func (v *Vault) readIndexes(ctx context.Context, keys []string) (map[string]indexItem, error) {
	items := make([]indexItem, len(keys))
	found := make([]bool, len(keys))
	errs := make([]error, len(keys))
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for i, k := range keys {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			items[i], found[i], errs[i] = v.readIndex(ctx, k)
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

// deletePacked removes an entry from its bucket (the bucket itself when it was the
// last). It reports whether the vault had an entry.
func (v *Vault) deletePacked(ctx context.Context, connectionID string, region authz.Region, purge bool) (bool, error) {
	k := entryName(connectionID, region)
	var last error
	for range maxRounds {
		idx, found, err := v.readIndex(ctx, k)
		if err != nil || !found {
			return false, err
		}
		// Older copies in buckets it moved out of go first: while one is left, the
		// index item stays, so a forget run again finds them.
		for _, s := range idx.StaleIn {
			if err := v.removeStale(ctx, s, k, purge); err != nil {
				return false, err
			}
		}
		res, err := v.apply(ctx, idx.Bucket, map[string]*bucketEntry{k: nil}, nil, purge)
		if err == nil && res.emptied {
			err = v.retire(ctx, idx.Bucket, []string{k})
		}
		if retryable(err) {
			last = err
			continue
		}
		if err == nil {
			err = v.dropIndexes(ctx, idx.Bucket, []string{k})
		}
		if err == nil {
			v.log.InfoContext(ctx, "refresh token removed from its vault bucket", "connectionId", connectionID, "region", string(region),
				"bucket", idx.Bucket, "purged", purge)
		}
		return err == nil, err
	}
	return false, fmt.Errorf("vault: delete %s: gave up after %d rounds: %w: %w", k, maxRounds, last, ErrUnavailable)
}

// removeStale removes the older copy of entry k from bucket s, a bucket it moved out
// of (or deletes s when that copy was all it held). The index item, which names
// another bucket, is left alone.
func (v *Vault) removeStale(ctx context.Context, s int, k string, purge bool) error {
	var last error
	for range maxRounds {
		res, err := v.apply(ctx, s, map[string]*bucketEntry{k: nil}, nil, purge)
		if err == nil && res.emptied {
			err = v.retire(ctx, s, []string{k})
		}
		if !retryable(err) {
			return err
		}
		last = err
	}
	return fmt.Errorf("vault: remove the old copy of %s from bucket %d: %w: %w", k, s, last, ErrUnavailable)
}
