// Package clientcreds supplies the vendor's LWA client credentials from the vault with
// a short in-memory cache, so a rotated client secret is picked up by every running
// function within minutes and with no redeploy, while a busy function reads Secrets
// Manager once per cache period rather than once per token request.
package clientcreds

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/lwa"
	"github.com/spapi-auth-keeper/keeper/shared/vault"
)

// Reader reads the lwa-client secret.
type Reader interface {
	ClientCredentials(ctx context.Context) (vault.ClientCredentials, error)
}

// ErrNotConfigured says the lwa-client secret has no usable client id and secret yet
// (as template.yaml creates it, before the vendor puts the real values in).
var ErrNotConfigured = authz.ErrClientNotConfigured

// DefaultTTL is how long credentials are cached.
const DefaultTTL = 5 * time.Minute

// Source is an lwa.CredentialsSource.
type Source struct {
	r   Reader
	ttl time.Duration
	now func() time.Time

	mu      sync.Mutex
	cached  vault.ClientCredentials
	fetched time.Time
}

// New returns a source caching for ttl (DefaultTTL when ttl <= 0).
func New(r Reader, ttl time.Duration) *Source {
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	return &Source{r: r, ttl: ttl, now: time.Now}
}

// Credentials implements lwa.CredentialsSource.
func (s *Source) Credentials(ctx context.Context) (lwa.Credentials, error) {
	c, err := s.Full(ctx)
	if err != nil {
		return lwa.Credentials{}, err
	}
	return lwa.Credentials{ClientID: c.ClientID, ClientSecret: c.ClientSecret}, nil
}

// Full returns the cached secret with its expiry date.
func (s *Source) Full(ctx context.Context) (vault.ClientCredentials, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.fetched.IsZero() && s.now().Sub(s.fetched) < s.ttl {
		return s.cached, nil
	}
	c, err := s.r.ClientCredentials(ctx)
	if errors.Is(err, vault.ErrMalformed) {
		return vault.ClientCredentials{}, fmt.Errorf("%w: %v", ErrNotConfigured, err)
	}
	if err != nil {
		return vault.ClientCredentials{}, fmt.Errorf("read LWA client credentials: %w", err)
	}
	s.cached, s.fetched = c, s.now()
	return c, nil
}

// Invalidate drops the cache: callers do this once on invalid_client, so a secret
// rotated a moment ago is read again before the vendor is paged.
func (s *Source) Invalidate() {
	s.mu.Lock()
	s.fetched = time.Time{}
	s.mu.Unlock()
}
