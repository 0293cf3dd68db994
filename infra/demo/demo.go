// Package demo holds the fixed values the sample events in events/ are made with, so
// that their test and the local stack can seed matching data: a state-signing key, a
// demo authorization, a state nonce and an authorization code.
package demo

import "time"

const (
	// StateKey signs the sample link and state. It is a demo value, never a real key.
	StateKey         = "demo-state-key-for-sample-events-only-0123456789"
	AppID            = "amzn1.sp.solution.demo-keeper"
	ClientID         = "amzn1.application-oa2-client.demo"
	ClientSecret     = "amzn1.oa2-cs.v1.demo-client-secret"
	ConnectionID     = "demo-acme"
	Region           = "eu"
	Marketplace      = "DE"
	SellingPartnerID = "A1DEMOSELLER"
	Nonce            = "demo-nonce-0001"
	Code             = "ANdemoAuthorizationCode0001"
	BaseURL          = "https://keeper.example.com"
	CallbackHost     = "https://sellercentral.amazon.de/apps/authorize/confirm/" + AppID
)

// Expires is the expiry of the sample link and state: far enough ahead that the
// samples stay valid for years.
var Expires = time.Date(2036, 1, 1, 0, 0, 0, 0, time.UTC)
