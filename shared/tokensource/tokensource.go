// Package tokensource gives the vendor's own services (the code that calls SP-API)
// an LWA access token per seller authorization. It reads the authorization's refresh
// token from the keeper's vault, exchanges it at LWA, keeps the access token in
// memory until shortly before it expires, and, when LWA refuses the refresh token
// (invalid_grant), reads the secret once more: a seller who renewed has a new refresh
// token there, and the service picks it up with no restart.
//
// Access tokens are never written anywhere: every process mints its own, as Amazon
// intends (an access token lives one hour and costs one LWA call).
package tokensource

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/lwa"
	"github.com/spapi-auth-keeper/keeper/shared/secret"
	"github.com/spapi-auth-keeper/keeper/shared/vault"
)

// SecretReader reads an authorization's refresh token (the keeper's *vault.Vault).
type SecretReader interface {
	Get(ctx context.Context, connectionID string, region authz.Region) (vault.RefreshToken, error)
}

// Refresher exchanges a refresh token for an access token (the keeper's *lwa.Client).
type Refresher interface {
	Refresh(ctx context.Context, refreshToken secret.Value) (lwa.Tokens, error)
}

// DefaultEarly is how long before expires_in a cached access token is replaced: a
// token handed out must outlive the SP-API call it is used for, retries included.
const DefaultEarly = 5 * time.Minute

// Option configures a Cache.
type Option func(*Cache)

// WithEarly sets how long before its expiry an access token is replaced.
func WithEarly(d time.Duration) Option { return func(c *Cache) { c.early = d } }

// DefaultMaxEntries bounds the cache of a process that serves many sellers: about
// 1 KiB per authorization (two tokens and bookkeeping), so about 10 MiB at most.
const DefaultMaxEntries = 10_000

// WithMaxEntries bounds how many authorizations the cache holds (n < 1 means 1). Past
// it, the least recently used authorization is dropped; its next Token reads its
// secret again.
func WithMaxEntries(n int) Option { return func(c *Cache) { c.max = max(n, 1) } }

// WithClock sets the time source (tests).
func WithClock(now func() time.Time) Option { return func(c *Cache) { c.now = now } }

// Cache hands out access tokens for any number of authorizations. It is safe for
// concurrent use; concurrent callers for one authorization share one LWA call. Its
// memory is bounded: it holds at most WithMaxEntries authorizations, least recently
// used first out, and drops authorizations whose access token has expired when it
// takes in a new one, so a long-running consumer does not grow with every seller it
// ever served.
type Cache struct {
	secrets SecretReader
	lwa     Refresher
	early   time.Duration
	now     func() time.Time
	max     int

	mu      sync.Mutex
	entries map[key]*list.Element // of *entry
	lru     list.List             // front: most recently used
}

type key struct {
	connectionID string
	region       authz.Region
}

// entry is one authorization's cached tokens; its mutex makes callers for the same
// authorization wait for one another instead of each calling LWA.
type entry struct {
	key   key
	users int // callers inside Token, guarded by Cache.mu: an entry in use is not pruned

	mu      sync.Mutex
	refresh secret.Value // as last read from the vault, or as LWA last returned it
	access  secret.Value
	expires time.Time // when access must no longer be handed out
}

// New returns a cache reading refresh tokens from secrets and minting access tokens
// with refresher.
func New(secrets SecretReader, refresher Refresher, opts ...Option) *Cache {
	c := &Cache{secrets: secrets, lwa: refresher, early: DefaultEarly, now: time.Now, max: DefaultMaxEntries, entries: map[key]*list.Element{}}
	for _, o := range opts {
		o(c)
	}
	return c
}

// Token returns a valid access token for the authorization, to send as the
// x-amz-access-token header of SP-API calls.
//
// Errors match, with errors.Is: lwa.ErrInvalidGrant when LWA refuses the refresh
// token even after a fresh read of the secret (the seller revoked the app or let the
// authorization lapse: only the seller can fix it, by renewing); vault.ErrNotFound
// when the authorization has no secret; lwa.ErrClient when the vendor's LWA client
// credentials are refused; lwa.ErrThrottled and lwa.ErrUnavailable, and
// vault.ErrUnavailable, when trying again later may succeed.
func (c *Cache) Token(ctx context.Context, connectionID string, region authz.Region) (secret.Value, error) {
	e := c.entry(key{connectionID, region})
	defer c.release(e)
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.access.IsZero() && c.now().Before(e.expires) {
		return e.access, nil
	}
	fresh := false // whether e.refresh was read from the vault during this call
	if e.refresh.IsZero() {
		if err := c.read(ctx, e, connectionID, region); err != nil {
			return "", err
		}
		fresh = true
	}
	t, err := c.lwa.Refresh(ctx, e.refresh)
	if errors.Is(err, lwa.ErrInvalidGrant) && !fresh {
		// A renewal stores a new refresh token in the vault; read it once and retry.
		used := e.refresh
		if rerr := c.read(ctx, e, connectionID, region); rerr != nil {
			return "", fmt.Errorf("tokensource %s/%s: %w (and re-reading the secret failed: %w)", connectionID, region, err, rerr)
		}
		if e.refresh != used {
			t, err = c.lwa.Refresh(ctx, e.refresh)
		}
	}
	if err != nil {
		e.access = ""
		return "", fmt.Errorf("tokensource %s/%s: %w", connectionID, region, err)
	}
	if !t.RefreshToken.IsZero() {
		e.refresh = t.RefreshToken
	}
	e.access = t.AccessToken
	e.expires = c.now().Add(t.ExpiresIn - c.earlyFor(t.ExpiresIn))
	return e.access, nil
}

// Forget drops what is cached for an authorization, so the next Token reads the
// secret again: call it when SP-API answers 401/403 for a token this cache gave.
func (c *Cache) Forget(connectionID string, region authz.Region) {
	c.mu.Lock()
	if el, ok := c.entries[key{connectionID, region}]; ok {
		c.remove(el)
	}
	c.mu.Unlock()
}

// Len is how many authorizations the cache holds.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// entry returns k's entry, most recently used now, counted as in use until release.
// A new entry first makes room: expired entries are dropped from the least recently
// used end, then the least recently used ones until the cache is under its bound.
func (c *Cache) entry(k key) *entry {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[k]; ok {
		c.lru.MoveToFront(el)
		e := el.Value.(*entry)
		e.users++
		return e
	}
	c.pruneExpired()
	for len(c.entries) >= c.max {
		// An entry in use is dropped all the same: its caller still gets its token,
		// it is just not kept.
		c.remove(c.lru.Back())
	}
	e := &entry{key: k, users: 1}
	c.entries[k] = c.lru.PushFront(e)
	return e
}

// pruneExpired drops, from the least recently used end, the entries that no caller is
// using and whose access token has expired, stopping at the first one that is still
// valid or in use. Least recently used comes close to earliest expiry, and the size
// bound holds whatever this leaves.
func (c *Cache) pruneExpired() {
	now := c.now()
	for el := c.lru.Back(); el != nil; {
		e := el.Value.(*entry)
		// users == 0 means the last caller's writes to e happened before its release,
		// which took c.mu: e.expires can be read here.
		if e.users > 0 || now.Before(e.expires) {
			return
		}
		prev := el.Prev()
		c.remove(el)
		el = prev
	}
}

func (c *Cache) remove(el *list.Element) {
	delete(c.entries, el.Value.(*entry).key)
	c.lru.Remove(el)
}

func (c *Cache) release(e *entry) {
	c.mu.Lock()
	e.users--
	c.mu.Unlock()
}

func (c *Cache) read(ctx context.Context, e *entry, connectionID string, region authz.Region) error {
	rt, err := c.secrets.Get(ctx, connectionID, region)
	if err != nil {
		return fmt.Errorf("tokensource %s/%s: read refresh token: %w", connectionID, region, err)
	}
	e.refresh = rt.Token
	return nil
}

// earlyFor bounds the early replacement to half the token's life, so that a token
// LWA issues for a short time is still cached for a while.
func (c *Cache) earlyFor(expiresIn time.Duration) time.Duration {
	return min(c.early, expiresIn/2)
}
