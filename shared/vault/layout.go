package vault

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/pace"
	"github.com/spapi-auth-keeper/keeper/shared/tablekeys"
)

// Layout is where refresh tokens live (VAULT_LAYOUT).
type Layout = authz.VaultLayout

const (
	// LayoutPacked keeps many refresh tokens in each bucket secret
	// {prefix}/sp-api/tokens/{bucket}: under a cent per authorization-month. Anyone
	// allowed to read a bucket reads every token in it.
	LayoutPacked Layout = "packed"
	// LayoutPerAuthorization keeps one secret per authorization,
	// {prefix}/sp-api/{connectionId}/{region}: about $0.40 per authorization-month, and
	// IAM policies can grant one seller's token alone.
	LayoutPerAuthorization Layout = "per-authorization"
)

// ParseLayout reads VAULT_LAYOUT; empty means packed.
func ParseLayout(s string) (Layout, error) {
	switch Layout(s) {
	case "", LayoutPacked:
		return LayoutPacked, nil
	case LayoutPerAuthorization:
		return LayoutPerAuthorization, nil
	}
	return "", fmt.Errorf("vault layout %q: want %s or %s", s, LayoutPacked, LayoutPerAuthorization)
}

// Packing are the packed layout's settings; zero fields take the defaults.
type Packing struct {
	// MaxEntries is how many entries a bucket takes before the next one opens (50).
	MaxEntries int
	// MaxBytes is how large a bucket's JSON may grow with new entries (48 KiB), well
	// under Secrets Manager's 64 KiB: entries rewritten in place may grow into the rest.
	MaxBytes int
	// LeaseTTL is how long a writer holds a bucket's lease at most (15 s).
	LeaseTTL time.Duration
	// WritesPerSecond is the stack-wide budget of Secrets Manager writes (40 of the
	// region's 50/s), negative turns pacing off.
	WritesPerSecond int
	// CacheTTL is how long a bucket document is kept in memory (10 min); entries are
	// checked against the index on every read, so this bounds memory, not staleness.
	CacheTTL time.Duration
	// CacheBuckets is how many bucket documents are kept in memory (64).
	CacheBuckets int
	// EntryVersionsPerDay is how many of a shared bucket's versions one entry may make
	// in 24 hours (4 of Secrets Manager's 100); its next renewal moves it to a fresh
	// bucket of its own (versions.go).
	EntryVersionsPerDay int
}

// Defaults of Packing.
const (
	DefaultMaxEntries      = 50
	DefaultMaxBytes        = 48 << 10
	DefaultLeaseTTL        = 15 * time.Second
	DefaultWritesPerSecond = 40
	DefaultCacheTTL        = 10 * time.Minute
	DefaultCacheBuckets    = 64
	DefaultEntryVersions   = 4
)

func (p Packing) withDefaults() Packing {
	if p.MaxEntries <= 0 {
		p.MaxEntries = DefaultMaxEntries
	}
	if p.MaxBytes <= 0 || p.MaxBytes > maxBucketBytes {
		p.MaxBytes = DefaultMaxBytes
	}
	if p.LeaseTTL <= 0 {
		p.LeaseTTL = DefaultLeaseTTL
	}
	if p.WritesPerSecond == 0 {
		p.WritesPerSecond = DefaultWritesPerSecond
	}
	if p.CacheTTL <= 0 {
		p.CacheTTL = DefaultCacheTTL
	}
	if p.CacheBuckets <= 0 {
		p.CacheBuckets = DefaultCacheBuckets
	}
	if p.EntryVersionsPerDay <= 0 {
		p.EntryVersionsPerDay = DefaultEntryVersions
	}
	return p
}

// WithTable returns a copy of the vault that keeps its bookkeeping (the packed layout's
// index, buckets and leases, and the pace of Secrets Manager writes) in the keeper's
// table, and writes refresh tokens in layout. Readers find a token in either layout.
func (v *Vault) WithTable(db *dynamodb.Client, table string, layout Layout, p Packing) *Vault {
	c := *v
	c.db, c.table, c.layout, c.pack = db, table, layout, p.withDefaults()
	c.cache = &bucketCache{m: map[string]cachedBucket{}, ttl: c.pack.CacheTTL, max: c.pack.CacheBuckets}
	c.stats = &counters{}
	c.writes = nil
	if db != nil && table != "" && c.pack.WritesPerSecond > 0 {
		// Settings New refuses (none here: a client, a table, a rate > 0) leave the
		// writes unpaced, as a vault without a table is.
		if w, err := pace.New(db, table, tablekeys.VaultWriteBudget, float64(c.pack.WritesPerSecond), pace.InPartition(tablekeys.VaultWriteBudgetPK)); err == nil {
			c.writes = w
		}
	}
	return &c
}

// Layout is the layout the vault writes.
func (v *Vault) Layout() Layout { return v.layout }

func (v *Vault) packed() bool { return v.db != nil && v.layout == LayoutPacked }

type counters struct {
	secretReads, secretWrites, leases, leaseWaits, paceWaits, repairs atomic.Int64
}

// Counters are what a vault has done since it was made: for benchmarks and tests.
type Counters struct {
	SecretReads  int64 // GetSecretValue calls
	SecretWrites int64 // PutSecretValue and CreateSecret calls
	Leases       int64 // bucket leases taken
	LeaseWaits   int64 // times a writer found a bucket leased and waited
	PaceWaits    int64 // times a writer waited longer than one interval for its write time
	Repairs      int64 // buckets merged after a write that landed late
}

// Counters returns the vault's counters.
func (v *Vault) Counters() Counters {
	s := v.stats
	return Counters{SecretReads: s.secretReads.Load(), SecretWrites: s.secretWrites.Load(), Leases: s.leases.Load(),
		LeaseWaits: s.leaseWaits.Load(), PaceWaits: s.paceWaits.Load(), Repairs: s.repairs.Load()}
}
