package vault

// The packed layout's write path, top to bottom: Put of a refresh token (putPacked)
// finds the entry's bucket in the index, or the open bucket for a new entry; apply
// takes the bucket's lease, loads the bucket's document (merging a write that landed
// after its lease), applies the change, places the index, writes the secret within the
// stack's write budget and the lease's time, and commits the bucket's bookkeeping with
// the lease's release. The calls it makes are leaves: DynamoDB in index.go, Secrets
// Manager in secrets.go, the version budget's arithmetic in versions.go.
//
// Writes to one bucket are serialized by the lease, and each is a read-modify-write of
// AWSCURRENT. A writer whose lease expired mid-write can land its version after
// another writer's: every bucket item records the VersionId of the last write that
// committed under its lease, and the next writer (or a reader that misses its entry)
// that finds AWSCURRENT elsewhere merges the two documents.

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
)

// putPacked stores one entry: in place in its bucket if it has one, else in the open
// bucket (the next one if that is full).
func (v *Vault) putPacked(ctx context.Context, connectionID string, region authz.Region, rt RefreshToken) (string, error) {
	k := entryName(connectionID, region)
	e := v.entryOf(rt, region)
	var last error
	for range maxRounds {
		idx, found, err := v.idx().readIndex(ctx, k)
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
				if err := v.idx().unplaceIndex(ctx, k, idx.Bucket); err != nil {
					return "", err
				}
				continue
			}
			return res.arn, err
		}
		n, err := v.idx().openBucket(ctx)
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
			if err := v.idx().advanceOpen(ctx, n); err != nil {
				return "", err
			}
			continue
		}
		return res.arn, nil
	}
	return "", fmt.Errorf("vault: put %s: gave up after %d rounds: %w: %w", k, maxRounds, last, ErrUnavailable)
}

// maxRounds bounds how often one write starts over (a full bucket, a lost lease, an
// entry placed elsewhere meanwhile): each cause is rare, and each round makes progress.
const maxRounds = 16

func retryable(err error) bool { return errors.Is(err, errLeaseLost) || errors.Is(err, errMoved) }

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
	b, owner, err := v.idx().lease(ctx, n)
	if err != nil {
		return res, err
	}
	committed := false
	defer func() {
		if !committed {
			v.idx().release(n, owner)
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
	if err := v.idx().placeIndexes(ctx, n, b.SecretName, doc, written); err != nil {
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
	if err := v.idx().commit(ctx, n, owner, b); err != nil {
		v.cache.drop(b.SecretName)
		committed = true // the lease is no longer ours to release
		return res, err
	}
	committed = true
	v.cache.put(b.SecretName, cachedBucket{doc: doc, version: version, arn: res.arn, at: v.now()})
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
		if err := v.sm().restore(ctx, b.SecretName); err != nil {
			return loaded{}, fmt.Errorf("vault: restore bucket %s scheduled for deletion: %w", b.SecretName, err)
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
		idx, found, err := v.idx().readIndex(ctx, k)
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
	if err := v.idx().pace(ctx); err != nil {
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
	out, err := v.sm().put(wctx, b.SecretName, body, token, refusalIsFinal)
	if err == nil {
		return out.version, out.arn, nil
	}
	if wctx.Err() != nil && ctx.Err() == nil {
		// The lease ran out before Secrets Manager answered. The write may still land:
		// the next writer to the bucket reconciles it with what committed meanwhile.
		return "", "", fmt.Errorf("vault: write bucket %s outlived its lease: %w", b.SecretName, errLeaseLost)
	}
	if !notFoundAnswer(err) {
		return "", "", fmt.Errorf("vault: write bucket %s: %w", b.SecretName, err)
	}
	return v.createBucketSecret(ctx, wctx, b, body, token)
}

// createBucketSecret makes the bucket's secret with body as its first version.
// errExists when it is already there (its bookkeeping was lost, or a crash came
// between the create and the commit).
func (v *Vault) createBucketSecret(ctx, wctx context.Context, b bucketItem, body, token string) (version, arn string, err error) {
	out, err := v.sm().create(wctx, b.SecretName, body, token, creation{
		description: fmt.Sprintf("SP-API refresh tokens, bucket %d of the packed layout", b.Bucket),
		tags:        map[string]string{"vaultBucket": fmt.Sprint(b.Bucket)},
	})
	switch {
	case errors.Is(err, errExists):
		return "", "", errExists
	case err != nil && wctx.Err() != nil && ctx.Err() == nil:
		return "", "", fmt.Errorf("vault: create bucket %s outlived its lease: %w", b.SecretName, errLeaseLost)
	case err != nil:
		return "", "", fmt.Errorf("vault: create bucket %s: %w", b.SecretName, err)
	}
	v.log.InfoContext(ctx, "vault bucket created", "bucket", b.Bucket, "secretName", b.SecretName)
	return out.version, out.arn, nil
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
			if err := v.idx().unplaceIndex(ctx, k, n); err != nil {
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
