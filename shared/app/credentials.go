package app

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spapi-auth-keeper/keeper/shared/appmgmt"
	"github.com/spapi-auth-keeper/keeper/shared/clientcreds"
	"github.com/spapi-auth-keeper/keeper/shared/config"
	"github.com/spapi-auth-keeper/keeper/shared/lwa"
	"github.com/spapi-auth-keeper/keeper/shared/rotation"
	"github.com/spapi-auth-keeper/keeper/shared/rotation/ledger"
)

// CredentialsConfigNames are the variables the credentials function cannot start
// without.
// APP_ID tells this application's notifications from another's on a shared queue.
var CredentialsConfigNames = []string{"TABLE_NAME", "SECRET_PREFIX", "APP_ID"}

// The credentials function's own variables.
const (
	// RotateBeforeEnv: rotate once the client secret expires within this (default 30d).
	RotateBeforeEnv = "ROTATE_BEFORE"
	// SPAPIRegionEnv: whose SP-API endpoint rotateApplicationClientSecret is called on
	// (na, eu or fe; default na). The operation is grantless: any region rotates the app.
	SPAPIRegionEnv = "SP_API_REGION"
	// SPAPIEndpointEnv overrides the endpoint (the simulator in local runs).
	SPAPIEndpointEnv = "SP_API_ENDPOINT"
)

// CredentialsOptions are the credentials function's settings beyond config.Config.
type CredentialsOptions struct {
	Rotation      rotation.Config
	SPAPIEndpoint string // default: the na endpoint
	// LWA retry pacing; zero takes the LWA client's defaults. Tests shorten them.
	LWAMaxAttempts    int
	LWABaseDelay      time.Duration
	LWAMaxDelay       time.Duration
	LWAAttemptTimeout time.Duration
}

// CredentialsOptionsFromEnv reads ROTATE_BEFORE, SP_API_REGION and SP_API_ENDPOINT
// through getenv.
func CredentialsOptionsFromEnv(getenv func(string) string) (CredentialsOptions, error) {
	var o CredentialsOptions
	if v := getenv(RotateBeforeEnv); v != "" {
		d, err := config.ParseDuration(v)
		// Amazon's deadline is 180 days after the last rotation: a longer lead would
		// rotate every day.
		if err != nil || d < 24*time.Hour || d >= rotationPeriod {
			return o, fmt.Errorf("%s=%q: want a duration from 1d to 179d (e.g. 30d)", RotateBeforeEnv, v)
		}
		o.Rotation.RotateBefore = d
	}
	region := strings.ToLower(getenv(SPAPIRegionEnv))
	if region == "" {
		region = "na"
	}
	endpoint, err := appmgmt.Endpoint(region)
	if err != nil {
		return o, fmt.Errorf("%s: %w", SPAPIRegionEnv, err)
	}
	o.SPAPIEndpoint = endpoint
	if v := getenv(SPAPIEndpointEnv); v != "" {
		if !strings.HasPrefix(v, "https://") && !strings.HasPrefix(v, "http://") {
			return o, fmt.Errorf("%s=%q: want an absolute http(s) URL", SPAPIEndpointEnv, v)
		}
		o.SPAPIEndpoint = v
	}
	return o, nil
}

// rotationPeriod is how often Amazon requires rotating the LWA client secret.
const rotationPeriod = 180 * 24 * time.Hour

// Credentials builds the credentials function's handler and the service behind it:
// the lwa-client secret in the vault, the rotation state in the ledger table, the
// Application Management API, and LWA to verify a new secret.
func Credentials(ctx context.Context, d Deps, o CredentialsOptions) (*rotation.Handler, *rotation.Service, error) {
	if o.SPAPIEndpoint == "" {
		o.SPAPIEndpoint = appmgmt.Endpoints["na"]
	}
	v := d.Vault()
	creds := clientcreds.New(v, 0)
	lwaCfg := lwa.Config{
		Endpoint: d.Config.LWAEndpoint, HTTPClient: d.HTTP, Logger: d.Log,
		MaxAttempts: o.LWAMaxAttempts, BaseDelay: o.LWABaseDelay, MaxDelay: o.LWAMaxDelay, AttemptTimeout: o.LWAAttemptTimeout,
	}
	verify := LWAVerifier{Config: lwaCfg}
	if o.Rotation.AppID == "" {
		o.Rotation.AppID = d.Config.AppID
	}
	lwaCfg.Credentials = creds
	rotator := appmgmt.New(appmgmt.Config{Endpoint: o.SPAPIEndpoint, Tokens: lwa.NewClient(lwaCfg), HTTPClient: d.HTTP,
		Clock: d.clock().Now, Logger: d.Log})
	svc := rotation.New(o.Rotation, rotation.Deps{
		Vault: v, Store: ledger.New(d.Clients.DynamoDB, d.Config.TableName), Rotator: SecretRotator{Client: rotator}, Verifier: verify,
		Cache: creds, Clock: d.clock(), Log: d.Log, Metrics: d.Metrics,
	})
	return rotation.NewHandler(svc), svc, nil
}

// CredentialsFromEnv is Credentials with its options read from the environment.
func CredentialsFromEnv(ctx context.Context, d Deps) (*rotation.Handler, error) {
	o, err := CredentialsOptionsFromEnv(os.Getenv)
	if err != nil {
		return nil, err
	}
	h, _, err := Credentials(ctx, d, o)
	return h, err
}
