package app

import (
	"context"
	"os"

	"github.com/spapi-auth-keeper/keeper/shared/clientcreds"
	"github.com/spapi-auth-keeper/keeper/shared/config"
	"github.com/spapi-auth-keeper/keeper/shared/consent"
	"github.com/spapi-auth-keeper/keeper/shared/tokenservice"
	"github.com/spapi-auth-keeper/keeper/shared/tokensource"
)

// TokenServiceConfigNames are the variables the token service cannot start without.
var TokenServiceConfigNames = []string{"TABLE_NAME", "SECRET_PREFIX", "BASE_URL"}

// TokenService builds the token service: one tokensource cache per execution
// environment, so a warm function answers from memory until shortly before expiry.
func TokenService(ctx context.Context, d Deps, getenv func(string) string) (*tokenservice.Service, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	ec, err := config.LoadEvents(getenv)
	if err != nil {
		return nil, err
	}
	callers, err := tokenservice.ParseCallers(ec.TokenServiceCallers)
	if err != nil {
		return nil, err
	}
	v := d.Vault()
	cache := tokensource.New(v, d.LWA(clientcreds.New(v, 0)))
	return tokenservice.New(tokenservice.Config{BaseURL: d.Config.BaseURL, LinkTTL: d.Config.LinkTTL, SPAPIEndpoint: ec.SPAPIEndpoint, Callers: callers},
		d.Store(), cache, prefetchedLinks{Prefetch(func(ctx context.Context) (*consent.Signer, error) { return d.Signer(ctx, v) })}, d.HTTP, d.clock(), d.Log, d.Metrics), nil
}

// prefetchedLinks signs renewal links with the state key, read in the background from
// the start (Prefetch): the service is ready without waiting for it, most token
// requests never need it, and a failed read is tried again by the next request that
// needs a link.
type prefetchedLinks struct{ signer *Prefetched[*consent.Signer] }

// SignLink signs l once the key is read.
func (p prefetchedLinks) SignLink(ctx context.Context, l consent.Link) (string, error) {
	s, err := p.signer.Get(ctx)
	if err != nil {
		return "", err
	}
	return s.SignLink(l), nil
}
