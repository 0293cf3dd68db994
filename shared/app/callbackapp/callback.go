// Package callbackapp wires the callback function: the renewal round trip behind the
// seller's pages, with KMS to park a refresh token the vault could not take.
package callbackapp

import (
	"context"
	"fmt"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/spapi-auth-keeper/keeper/shared/app"
	"github.com/spapi-auth-keeper/keeper/shared/callback"
	"github.com/spapi-auth-keeper/keeper/shared/pages"
	"github.com/spapi-auth-keeper/keeper/shared/renewal"
	"github.com/spapi-auth-keeper/keeper/shared/sealer"
)

// CallbackConfigNames are the variables the callback function cannot start without.
var CallbackConfigNames = []string{"TABLE_NAME", "SECRET_PREFIX", "APP_ID"}

// Callback builds the HTTP handler of the callback function. kmsClient seals the
// tokens it parks (nil: no KMS, as without KMS_KEY_ID). The configuration is checked
// now; the state key, which every route signs or verifies with, is read in the
// background (app.Prefetch), so the function is ready without waiting for Secrets
// Manager, and a request that comes before the key could be read gets the "try again
// in a few minutes" page with nothing changed.
func Callback(ctx context.Context, d app.Deps, kmsClient *kms.Client) (http.Handler, error) {
	brand := pages.BrandOf(d.Config)
	if err := brand.Check(); err != nil {
		return nil, err
	}
	v := d.Vault()
	seal := sealer.New(kmsClient, d.Config.KMSKeyID)
	svc := app.Prefetch(func(ctx context.Context) (*renewal.Service, error) {
		signer, err := d.Signer(ctx, v)
		if err != nil {
			return nil, err
		}
		return d.Renewal(v, signer, seal), nil
	})
	return callback.HandlerWith(keyedRenewal{svc: svc, appName: renewal.AppNameOr(d.Config.AppName)}, d.Log, d.Metrics, brand), nil
}

// keyedRenewal is the round trip once its state key is read: until then each route
// answers renewal.ErrUnavailable, whose page asks the seller to try again.
type keyedRenewal struct {
	svc     *app.Prefetched[*renewal.Service]
	appName string
}

func (k keyedRenewal) get(ctx context.Context) (*renewal.Service, error) {
	s, err := k.svc.Get(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: the state key: %w", renewal.ErrUnavailable, err)
	}
	return s, nil
}

// AppName is the app's name as the seller knows it.
func (k keyedRenewal) AppName() string { return k.appName }

// StartFromLink is renewal.Service.StartFromLink.
func (k keyedRenewal) StartFromLink(ctx context.Context, token string) (renewal.Start, error) {
	s, err := k.get(ctx)
	if err != nil {
		return renewal.Start{}, err
	}
	return s.StartFromLink(ctx, token)
}

// StartFromLogin is renewal.Service.StartFromLogin.
func (k keyedRenewal) StartFromLogin(ctx context.Context, r renewal.LoginRequest) (renewal.Start, error) {
	s, err := k.get(ctx)
	if err != nil {
		return renewal.Start{}, err
	}
	return s.StartFromLogin(ctx, r)
}

// Complete is renewal.Service.Complete.
func (k keyedRenewal) Complete(ctx context.Context, r renewal.CallbackRequest) (renewal.Result, error) {
	s, err := k.get(ctx)
	if err != nil {
		return renewal.Result{}, err
	}
	return s.Complete(ctx, r)
}
