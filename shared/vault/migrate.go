package vault

// Moving an existing deployment between layouts (keeperctl vault migrate). Deploy the
// target layout first (VAULT_LAYOUT), so that renewals write where the migration
// moves to; readers find a token in either layout throughout.

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
)

// MigrateOptions say how to migrate.
type MigrateOptions struct {
	To     Layout
	DryRun bool // report what would move; write nothing
	// RecoveryDays is the recovery window of a per-authorization secret once its token
	// is verified in its bucket (7 to 30; default 30): it can be restored meanwhile.
	RecoveryDays int
	// Batch is how many entries are moved per round (default 50: a bucket's worth).
	Batch int
}

// Migration is what a migration did (or, in a dry run, would do).
type Migration struct {
	To           Layout   `json:"to"`
	DryRun       bool     `json:"dryRun"`
	Found        int      `json:"found"`             // entries in the source layout
	Copied       int      `json:"copied"`            // written to the target layout
	AlreadyThere int      `json:"alreadyThere"`      // the target already held them (a resumed run)
	Verified     int      `json:"verified"`          // read back from the target, equal
	Retired      int      `json:"retired"`           // removed from the source after verification
	Skipped      []string `json:"skipped,omitempty"` // entries left in the source, and why
	// SecretIDs maps each verified entry ({connectionId}/{region}) to the ARN of the
	// secret that now holds it: the records' secretId.
	SecretIDs map[string]string `json:"-"`
}

// Migrate moves every refresh token to opts.To. It is resumable and idempotent: run
// again, it finds what is left in the source layout and finishes it. Each entry is read
// back from the target and compared before its source copy goes: a per-authorization
// secret is scheduled for deletion with a recovery window; a bucket entry is removed
// from its bucket (an emptied bucket is deleted).
func (v *Vault) Migrate(ctx context.Context, opts MigrateOptions) (Migration, error) {
	if v.db == nil {
		return Migration{}, errors.New("vault: migrate needs the keeper's table")
	}
	if opts.RecoveryDays == 0 {
		opts.RecoveryDays = 30
	}
	if opts.RecoveryDays < 7 || opts.RecoveryDays > 30 {
		return Migration{}, fmt.Errorf("vault: recovery window of %d days: Secrets Manager allows 7 to 30", opts.RecoveryDays)
	}
	if opts.Batch <= 0 {
		opts.Batch = DefaultMaxEntries
	}
	target := *v
	target.layout = opts.To
	switch opts.To {
	case LayoutPacked:
		return target.migrateToPacked(ctx, opts)
	case LayoutPerAuthorization:
		return target.migrateToOwn(ctx, opts)
	}
	return Migration{}, fmt.Errorf("vault: migrate to %q: want %s or %s", opts.To, LayoutPacked, LayoutPerAuthorization)
}

type entryKeyParts struct {
	connectionID string
	region       authz.Region
}

func (k entryKeyParts) String() string { return entryName(k.connectionID, k.region) }

// ownSecrets lists the per-authorization secrets (not those scheduled for deletion).
func (v *Vault) ownSecrets(ctx context.Context) ([]entryKeyParts, error) {
	base := v.name("sp-api") + "/"
	names, err := v.sm().list(ctx, base)
	if err != nil {
		return nil, fmt.Errorf("vault: list secrets: %w", err)
	}
	var out []entryKeyParts
	for _, name := range names {
		conn, region, ok := strings.Cut(strings.TrimPrefix(name, base), "/")
		if !ok || conn == "tokens" || authz.ValidateConnectionID(conn) != nil {
			continue
		}
		if _, err := authz.ParseRegion(region); err != nil {
			continue
		}
		out = append(out, entryKeyParts{conn, authz.Region(region)})
	}
	slices.SortFunc(out, func(a, b entryKeyParts) int { return strings.Compare(a.String(), b.String()) })
	return out, nil
}

// packedEntries walks the buckets from the first to the last handed out (no scan): every
// entry whose index still places it in its bucket, by bucket.
func (v *Vault) packedEntries(ctx context.Context) (map[int][]entryKeyParts, error) {
	last, err := v.idx().lastBucket(ctx)
	if err != nil {
		return nil, err
	}
	out := map[int][]entryKeyParts{}
	for n := 1; n <= last; n++ {
		b, err := v.idx().readBucket(ctx, n)
		if err != nil {
			return nil, err
		}
		if b.Retired || b.Committed == "" {
			continue
		}
		cur, err := v.loadForWrite(ctx, b)
		if err != nil {
			return nil, err
		}
		for _, k := range slices.Sorted(maps.Keys(cur.doc)) {
			conn, region, ok := strings.Cut(k, "/")
			if !ok {
				continue
			}
			idx, found, err := v.idx().readIndex(ctx, k)
			if err != nil {
				return nil, err
			}
			if found && idx.Bucket == n {
				out[n] = append(out[n], entryKeyParts{conn, authz.Region(region)})
			}
		}
	}
	return out, nil
}

func sameToken(a, b RefreshToken) bool {
	return a.Token == b.Token && a.SellingPartnerID == b.SellingPartnerID && a.AuthorizedAt.Equal(b.AuthorizedAt)
}

func (v *Vault) migrateToPacked(ctx context.Context, opts MigrateOptions) (Migration, error) {
	m := Migration{To: LayoutPacked, DryRun: opts.DryRun, SecretIDs: map[string]string{}}
	keys, err := v.ownSecrets(ctx)
	if err != nil {
		return m, err
	}
	m.Found = len(keys)
	for start := 0; start < len(keys); start += opts.Batch {
		chunk := keys[start:min(start+opts.Batch, len(keys))]
		var copies []Entry
		source := map[string]RefreshToken{}
		for _, k := range chunk {
			rt, err := v.getOwn(ctx, v.SecretName(k.connectionID, k.region), k.region)
			if err != nil {
				m.Skipped = append(m.Skipped, fmt.Sprintf("%s: unreadable: %v", k, err))
				continue
			}
			source[k.String()] = rt
			have, found, err := v.getPacked(ctx, k.connectionID, k.region)
			if err != nil {
				return m, err
			}
			switch {
			case found && sameToken(have, rt):
				m.AlreadyThere++
			case found && !rt.AuthorizedAt.After(have.AuthorizedAt):
				// A renewal wrote the packed layout after the copy was made: it stands.
				m.AlreadyThere++
				source[k.String()] = have
			default:
				copies = append(copies, Entry{ConnectionID: k.connectionID, Region: k.region, Token: rt})
			}
		}
		if opts.DryRun {
			m.Copied += len(copies)
			continue
		}
		if _, err := v.PutMany(ctx, copies); err != nil {
			return m, err
		}
		m.Copied += len(copies)
		for _, k := range chunk {
			want, ok := source[k.String()]
			if !ok {
				continue
			}
			got, found, err := v.getPacked(ctx, k.connectionID, k.region)
			if err != nil {
				return m, err
			}
			if !found || !sameToken(got, want) {
				m.Skipped = append(m.Skipped, fmt.Sprintf("%s: the bucket does not hold the token read back; old secret kept", k))
				continue
			}
			m.Verified++
			m.SecretIDs[k.String()] = got.SecretID
			// The old secret goes only if it still holds what was verified: a renewal
			// written to it meanwhile (by a function still on the old layout) is kept.
			name := v.SecretName(k.connectionID, k.region)
			if now, err := v.getOwn(ctx, name, k.region); err != nil || !sameToken(now, want) && now.AuthorizedAt.After(want.AuthorizedAt) {
				m.Skipped = append(m.Skipped, fmt.Sprintf("%s: its secret changed during the migration; run migrate again", k))
				continue
			}
			if err := v.sm().remove(ctx, name, opts.RecoveryDays); err != nil && !errors.Is(err, ErrNotFound) {
				return m, fmt.Errorf("vault: schedule deletion of %s: %w", name, err)
			}
			m.Retired++
		}
	}
	return m, nil
}

func (v *Vault) migrateToOwn(ctx context.Context, opts MigrateOptions) (Migration, error) {
	m := Migration{To: LayoutPerAuthorization, DryRun: opts.DryRun, SecretIDs: map[string]string{}}
	buckets, err := v.packedEntries(ctx)
	if err != nil {
		return m, err
	}
	for _, n := range slices.Sorted(maps.Keys(buckets)) {
		var verified []string
		for _, k := range buckets[n] {
			m.Found++
			rt, found, err := v.getPacked(ctx, k.connectionID, k.region)
			if err != nil {
				return m, err
			}
			if !found {
				continue
			}
			name := v.SecretName(k.connectionID, k.region)
			own, oerr := v.getOwn(ctx, name, k.region)
			switch {
			case oerr == nil && sameToken(own, rt):
				m.AlreadyThere++
			case oerr == nil && !rt.AuthorizedAt.After(own.AuthorizedAt):
				m.AlreadyThere++ // renewed in the per-authorization layout since
				rt = own
			case opts.DryRun:
				m.Copied++
				continue
			default:
				if _, err := v.Put(ctx, k.connectionID, k.region, rt); err != nil {
					return m, err
				}
				m.Copied++
			}
			if opts.DryRun {
				continue
			}
			got, err := v.getOwn(ctx, name, k.region)
			if err != nil || !sameToken(got, rt) {
				m.Skipped = append(m.Skipped, fmt.Sprintf("%s: its secret does not hold the token read back; bucket entry kept", k))
				continue
			}
			m.Verified++
			m.SecretIDs[k.String()] = got.SecretID
			verified = append(verified, k.String())
		}
		if len(verified) == 0 {
			continue
		}
		if err := v.removeFromBucket(ctx, n, verified); err != nil {
			return m, err
		}
		m.Retired += len(verified)
	}
	return m, nil
}

// removeFromBucket removes entries from bucket n with one write (or deletes the bucket
// when they were all it held), then their index items.
func (v *Vault) removeFromBucket(ctx context.Context, n int, keys []string) error {
	updates := map[string]*bucketEntry{}
	for _, k := range keys {
		updates[k] = nil
	}
	var last error
	for range maxRounds {
		res, err := v.apply(ctx, n, updates, nil, false)
		if err == nil && res.emptied {
			err = v.retire(ctx, n, keys)
		}
		if retryable(err) {
			last = err
			continue
		}
		if err != nil {
			return err
		}
		return v.idx().dropIndexes(ctx, n, keys)
	}
	return fmt.Errorf("vault: remove %d entries from bucket %d: %w: %w", len(keys), n, last, ErrUnavailable)
}
