package app

import (
	"context"
	"errors"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/lwa"
	"github.com/spapi-auth-keeper/keeper/shared/secret"
)

// LWATokens is an LWA client as the use cases see it: their tokens are authz.Tokens,
// and LWA's invalid_grant, client, throttled and malformed-request errors are
// classified as the domain's kinds (the error says what LWA's said, and errors.Is
// still finds lwa's kinds too).
type LWATokens struct{ Client *lwa.Client }

// ExchangeCode trades Amazon's spapi_oauth_code for tokens.
func (l LWATokens) ExchangeCode(ctx context.Context, code, redirectURI string) (authz.Tokens, error) {
	t, err := l.Client.ExchangeCode(ctx, code, redirectURI)
	return domainTokens(t), classifyLWA(err)
}

// Refresh mints an access token from a refresh token.
func (l LWATokens) Refresh(ctx context.Context, refreshToken secret.Value) (authz.Tokens, error) {
	t, err := l.Client.Refresh(ctx, refreshToken)
	return domainTokens(t), classifyLWA(err)
}

func domainTokens(t lwa.Tokens) authz.Tokens {
	return authz.Tokens{AccessToken: t.AccessToken, RefreshToken: t.RefreshToken, TokenType: t.TokenType, ExpiresIn: t.ExpiresIn}
}

func classifyLWA(err error) error {
	switch {
	case errors.Is(err, lwa.ErrInvalidGrant):
		return authz.Classified(authz.ErrInvalidGrant, err)
	case errors.Is(err, lwa.ErrClient):
		return authz.Classified(authz.ErrClientRejected, err)
	case errors.Is(err, lwa.ErrThrottled):
		return authz.Classified(authz.ErrThrottled, err)
	case errors.Is(err, lwa.ErrBadRequest):
		return authz.Classified(authz.ErrBadRequest, err)
	}
	return err
}
