package tokensource

import (
	"context"
	"time"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/secret"
)

// TokenUntil is Token, with the time until which the token is handed out (shortly
// before LWA's expires_in ends): what a token service tells its callers as expiresAt.
func (c *Cache) TokenUntil(ctx context.Context, connectionID string, region authz.Region) (secret.Value, time.Time, error) {
	tok, err := c.Token(ctx, connectionID, region)
	if err != nil {
		return "", time.Time{}, err
	}
	e := c.entry(key{connectionID, region})
	e.mu.Lock()
	defer e.mu.Unlock()
	switch {
	case e.access == tok:
		return tok, e.expires, nil
	case !e.access.IsZero():
		// Replaced since (a concurrent Forget and refresh): the new token lives longer.
		return e.access, e.expires, nil
	}
	// Forgotten in between: the token is still valid, but claim only a short life.
	return tok, c.now().Add(time.Minute), nil
}
