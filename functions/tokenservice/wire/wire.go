// Package wire builds the tokenservice function's graph from the shared constructors
// (shared/app): its main starts it, and the tests build the same graph through it.
package wire

import (
	"github.com/spapi-auth-keeper/keeper/shared/app"
	"github.com/spapi-auth-keeper/keeper/shared/clientcreds"
	"github.com/spapi-auth-keeper/keeper/shared/config"
	"github.com/spapi-auth-keeper/keeper/shared/tokenservice"
	"github.com/spapi-auth-keeper/keeper/shared/tokensource"
)

// Service is the token Service: one tokensource cache per execution environment, so
// a warm function answers from memory until shortly before expiry. The state key,
// which only a renewal link needs, is read by the first request that signs one.
func Service(d app.Deps, getenv func(string) string) (*tokenservice.Service, error) {
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
		d.Store(), cache, d.Links(v), d.HTTP, d.ClockOrSystem(), d.Log, d.Metrics), nil
}
