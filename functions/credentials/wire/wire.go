// Package wire builds the credentials function's graph from the shared constructors
// (shared/app): its main starts it, and the tests build the same graph through it.
package wire

import (
	"fmt"
	"strings"
	"time"

	"github.com/spapi-auth-keeper/keeper/shared/app"
	"github.com/spapi-auth-keeper/keeper/shared/appmgmt"
	"github.com/spapi-auth-keeper/keeper/shared/clientcreds"
	"github.com/spapi-auth-keeper/keeper/shared/config"
	"github.com/spapi-auth-keeper/keeper/shared/rotation"
	"github.com/spapi-auth-keeper/keeper/shared/rotation/ledger"
)

// The function's own variables.
const (
	// rotateBeforeEnv: rotate once the client secret expires within this (default 30d).
	rotateBeforeEnv = "ROTATE_BEFORE"
	// spapiRegionEnv: whose SP-API endpoint rotateApplicationClientSecret is called on
	// (na, eu or fe; default na). The operation is grantless: any region rotates the app.
	spapiRegionEnv = "SP_API_REGION"
)

// Options are the function's settings beyond config.Config.
type Options struct {
	Rotation      rotation.Config
	SPAPIEndpoint string // default: the na endpoint
}

// OptionsFromEnv reads ROTATE_BEFORE, SP_API_REGION and SP_API_ENDPOINT through getenv.
func OptionsFromEnv(getenv func(string) string) (Options, error) {
	var o Options
	if v := getenv(rotateBeforeEnv); v != "" {
		d, err := config.ParseDuration(v)
		// Amazon's deadline is 180 days after the last rotation: a longer lead would
		// rotate every day.
		if err != nil || d < 24*time.Hour || d >= rotationPeriod {
			return o, fmt.Errorf("%s=%q: want a duration from 1d to 179d (e.g. 30d)", rotateBeforeEnv, v)
		}
		o.Rotation.RotateBefore = d
	}
	region := strings.ToLower(getenv(spapiRegionEnv))
	if region == "" {
		region = "na"
	}
	endpoint, err := appmgmt.Endpoint(region)
	if err != nil {
		return o, fmt.Errorf("%s: %w", spapiRegionEnv, err)
	}
	o.SPAPIEndpoint = endpoint
	if v := getenv(app.SPAPIEndpointEnv); v != "" {
		if !strings.HasPrefix(v, "https://") && !strings.HasPrefix(v, "http://") {
			return o, fmt.Errorf("%s=%q: want an absolute http(s) URL", app.SPAPIEndpointEnv, v)
		}
		o.SPAPIEndpoint = v
	}
	return o, nil
}

// rotationPeriod is how often Amazon requires rotating the LWA client secret.
const rotationPeriod = 180 * 24 * time.Hour

// Build builds the function's handler and the service behind it: the lwa-client
// secret in the vault, the rotation state in the ledger table, the Application
// Management API, and LWA to verify a new secret.
func Build(d app.Deps, o Options) (*rotation.Handler, *rotation.Service) {
	if o.SPAPIEndpoint == "" {
		o.SPAPIEndpoint = appmgmt.Endpoints["na"]
	}
	if o.Rotation.AppID == "" {
		o.Rotation.AppID = d.Config.AppID
	}
	v := d.Vault()
	creds := clientcreds.New(v, 0)
	rotator := appmgmt.New(appmgmt.Config{Endpoint: o.SPAPIEndpoint, Tokens: d.LWA(creds), HTTPClient: d.HTTP,
		Clock: d.ClockOrSystem().Now, Logger: d.Log})
	svc := rotation.New(o.Rotation, rotation.Deps{
		Vault: v, Store: ledger.New(d.Clients.DynamoDB, d.Config.TableName), Rotator: app.SecretRotator{Client: rotator},
		Verifier: app.LWAVerifier{Config: d.LWAConfig()},
		Cache:    creds, Clock: d.ClockOrSystem(), Log: d.Log, Metrics: d.Metrics,
	})
	return rotation.NewHandler(svc), svc
}
