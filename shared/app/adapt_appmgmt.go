package app

import (
	"context"
	"errors"

	"github.com/spapi-auth-keeper/keeper/shared/appmgmt"
	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/lwa"
	"github.com/spapi-auth-keeper/keeper/shared/rotation"
)

// SecretRotator is the Application Management API client as the client-secret
// rotation sees it: its failures are classified as rotation's kinds (and LWA's
// refusal of the current secret as authz.ErrClientRejected), a wait Amazon named
// travels as a *rotation.RetryAfterError, and the error still says what Amazon said.
type SecretRotator struct{ Client *appmgmt.Client }

// RotateClientSecret asks Amazon for a new client secret.
func (r SecretRotator) RotateClientSecret(ctx context.Context) error {
	err := r.Client.RotateClientSecret(ctx)
	if err == nil {
		return nil
	}
	var kind error
	switch {
	case errors.Is(err, appmgmt.ErrUnknownOutcome):
		kind = rotation.ErrOutcomeUnknown
	case errors.Is(err, appmgmt.ErrClient):
		kind = authz.ErrClientRejected
	case errors.Is(err, appmgmt.ErrThrottled):
		kind = rotation.ErrThrottled
	case errors.Is(err, appmgmt.ErrNotEnrolled):
		kind = rotation.ErrNotEnrolled
	case errors.Is(err, appmgmt.ErrForbidden):
		kind = rotation.ErrForbidden
	case errors.Is(err, appmgmt.ErrBadRequest):
		kind = rotation.ErrBadRequest
	}
	if ae := (*appmgmt.Error)(nil); errors.As(err, &ae) && ae.RetryAfter > 0 {
		err = &rotation.RetryAfterError{RetryAfter: ae.RetryAfter, Err: err}
	}
	return authz.Classified(kind, err)
}

// LWAVerifier proves client credentials with the grant a rotation needs itself: a
// client_credentials grant for the rotation scope. LWA answers invalid_client
// (authz.ErrClientRejected) when the secret is wrong.
type LWAVerifier struct {
	// Config is the LWA client configuration (endpoint, HTTP client, retries); its
	// Credentials are replaced by the ones verified.
	Config lwa.Config
}

// Verify implements rotation.Verifier.
func (v LWAVerifier) Verify(ctx context.Context, c authz.ClientCredentials) error {
	cfg := v.Config
	cfg.Credentials = lwa.StaticCredentials{ClientID: c.ClientID, ClientSecret: c.ClientSecret}
	_, err := lwa.NewClient(cfg).ClientCredentials(ctx, appmgmt.ScopeRotation)
	return err // lwa's error kinds are the domain's (authz)
}
