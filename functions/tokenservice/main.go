// Command tokenservice is the TokenServiceFunction Lambda: POST /tokens and POST
// /tokens/restricted behind a function URL with AuthType AWS_IAM (payload format 2.0,
// the HTTP API's, so the same adapter serves it).
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"github.com/spapi-auth-keeper/keeper/shared/app"
	"github.com/spapi-auth-keeper/keeper/shared/awsclients"
	"github.com/spapi-auth-keeper/keeper/shared/clientcreds"
	"github.com/spapi-auth-keeper/keeper/shared/config"
	"github.com/spapi-auth-keeper/keeper/shared/tokenservice"
	"github.com/spapi-auth-keeper/keeper/shared/tokensource"
)

func main() {
	ctx := context.Background()
	d := app.LambdaDepsWith(ctx, []awsclients.Service{awsclients.DynamoDB, awsclients.SecretsManager}, "TABLE_NAME", "SECRET_PREFIX", "BASE_URL")
	svc, err := service(d, os.Getenv)
	app.Must(d, err)
	lambda.Start(httpadapter.NewV2(svc.Handler()).ProxyWithContext)
}

// service is the token service: one tokensource cache per execution environment, so
// a warm function answers from memory until shortly before expiry. The state key,
// which only a renewal link needs, is read by the first request that signs one.
func service(d app.Deps, getenv func(string) string) (*tokenservice.Service, error) {
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
