package app

import (
	"context"
	"os"
	"sync"

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
	v := d.Vault()
	cache := tokensource.New(v, d.LWA(clientcreds.New(v, 0)))
	return tokenservice.New(tokenservice.Config{BaseURL: d.Config.BaseURL, LinkTTL: d.Config.LinkTTL, SPAPIEndpoint: ec.SPAPIEndpoint},
		d.Store(), cache, &linksOnDemand{load: func(ctx context.Context) (*consent.Signer, error) { return d.Signer(ctx, v) }}, d.HTTP, d.clock(), d.Log, d.Metrics), nil
}

// linksOnDemand signs renewal links with the state key, read the first time a link is
// needed: most token requests never need one, so a cold start does not wait for the
// read, and a failed read is tried again by the next request that needs it.
type linksOnDemand struct {
	load   func(context.Context) (*consent.Signer, error)
	mu     sync.Mutex
	signer *consent.Signer
}

// SignLink signs l, reading the key first if no request has yet.
func (o *linksOnDemand) SignLink(ctx context.Context, l consent.Link) (string, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.signer == nil {
		s, err := o.load(ctx)
		if err != nil {
			return "", err
		}
		o.signer = s
	}
	return o.signer.SignLink(l), nil
}
