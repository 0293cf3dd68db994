package app

import (
	"context"
	"os"

	"github.com/spapi-auth-keeper/keeper/shared/clientcreds"
	"github.com/spapi-auth-keeper/keeper/shared/config"
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
	signer, err := d.Signer(ctx, v)
	if err != nil {
		return nil, err
	}
	cache := tokensource.New(v, d.LWA(clientcreds.New(v, 0)))
	return tokenservice.New(tokenservice.Config{BaseURL: d.Config.BaseURL, LinkTTL: d.Config.LinkTTL, SPAPIEndpoint: ec.SPAPIEndpoint},
		d.Store(), cache, signer, d.HTTP, d.clock(), d.Log, d.Metrics), nil
}
