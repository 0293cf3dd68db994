package app

import (
	"context"
	"errors"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/secret"
	"github.com/spapi-auth-keeper/keeper/shared/spapi"
)

// Fingerprints is the SP-API client as the use cases see it: it takes an account's
// fingerprint with an access token, and SP-API's 401/403 is authz.ErrAccessDenied.
type Fingerprints struct{ Client *spapi.Client }

// Fingerprint asks SP-API which account accessToken is for.
func (f Fingerprints) Fingerprint(ctx context.Context, region authz.Region, accessToken secret.Value) (authz.Account, error) {
	acct, err := f.Client.Account(ctx, region, accessToken)
	if errors.Is(err, spapi.ErrForbidden) {
		err = authz.Classified(authz.ErrAccessDenied, err)
	}
	return acct, err
}
