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
// Writes to one bucket are serialized by a lease item in DynamoDB (index.go; the write path is write.go), and
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
	cur, err := v.sm().get(ctx, name, versionID)
	switch {
	case err == nil:
	case versionID == "" && notFoundAnswer(err):
		return cachedBucket{doc: bucketDocument{}, at: v.now()}, nil
	case errors.Is(err, errScheduled):
		// Someone scheduled the bucket for deletion (the console's Delete).
		return cachedBucket{doc: bucketDocument{}, at: v.now(), scheduled: true}, nil
	case errors.Is(err, errBinary):
		return cachedBucket{}, fmt.Errorf("vault: bucket %s %w", name, err)
	default:
		return cachedBucket{}, fmt.Errorf("vault: read bucket %s: %w", name, err)
	}
	doc := bucketDocument{}
	if err := unmarshal(cur.body, &doc); err != nil {
		return cachedBucket{}, fmt.Errorf("vault: bucket %s: %w", name, err)
	}
	return cachedBucket{doc: doc, version: cur.version, arn: cur.arn, at: v.now()}, nil
}

// getPacked reads an entry; found is false when the index has no entry for it (or the
// bucket lacks it), so the caller may look in the per-authorization secret.
func (v *Vault) getPacked(ctx context.Context, connectionID string, region authz.Region) (RefreshToken, bool, error) {
	k := entryName(connectionID, region)
	idx, found, err := v.idx().readIndex(ctx, k)
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
		item, err := v.idx().readBucket(ctx, idx.Bucket)
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

// retire deletes a bucket whose last entry is being removed, at once and with every
// version (no token of it stays behind, AWSPREVIOUS included), and marks it never to
// be written again. The open bucket moves on first, so no writer places an entry in
// it. It checks under the lease that the bucket holds nothing but the entries removed.
func (v *Vault) retire(ctx context.Context, n int, removing []string) error {
	b, owner, err := v.idx().lease(ctx, n)
	if err != nil {
		return err
	}
	committed := false
	defer func() {
		if !committed {
			v.idx().release(n, owner)
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
	open, err := v.idx().openBucket(ctx)
	if err != nil {
		return err
	}
	if open == n {
		if err := v.idx().advanceOpen(ctx, n); err != nil {
			return err
		}
	}
	if err := v.sm().remove(ctx, b.SecretName, 0); err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("vault: delete emptied bucket %s: %w", b.SecretName, err)
	}
	v.cache.drop(b.SecretName)
	b.Retired, b.Entries, b.Bytes, b.Committed = true, 0, 0, ""
	committed = true
	if err := v.idx().commit(ctx, n, owner, b); err != nil {
		return err
	}
	v.log.InfoContext(ctx, "vault bucket emptied and deleted", "bucket", n, "secretName", b.SecretName)
	return nil
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
		found, err := v.idx().readIndexes(ctx, keys)
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
			n, err := v.idx().openBucket(ctx)
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
				if err := v.idx().advanceOpen(ctx, n); err != nil {
					return ids, err
				}
			}
		}
	}
	return ids, nil
}

// deletePacked removes an entry from its bucket (the bucket itself when it was the
// last). It reports whether the vault had an entry.
func (v *Vault) deletePacked(ctx context.Context, connectionID string, region authz.Region, purge bool) (bool, error) {
	k := entryName(connectionID, region)
	var last error
	for range maxRounds {
		idx, found, err := v.idx().readIndex(ctx, k)
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
			err = v.idx().dropIndexes(ctx, idx.Bucket, []string{k})
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
