package app

import (
	"github.com/spapi-auth-keeper/keeper/shared/appnotify"
	"github.com/spapi-auth-keeper/keeper/shared/clientcreds"
	"github.com/spapi-auth-keeper/keeper/shared/delivery"
	"github.com/spapi-auth-keeper/keeper/shared/lwa"
	"github.com/spapi-auth-keeper/keeper/shared/tokensource"
)

// DeliveryConfigNames are the variables the delivery function cannot start without.
var DeliveryConfigNames = []string{"TABLE_NAME"}

// Delivery builds the SES event handler.
func Delivery(d Deps) *delivery.Service {
	return delivery.New(d.Store(), d.clock(), d.Log, d.Metrics)
}

// AppNotifications is the Seller Central channel when APP_NOTIFICATIONS_TEMPLATE_ID
// is set, else nil: App Integrations calls with the seller's own access token
// (minted from the stored refresh token), on SP_API_ENDPOINT when set.
func (d Deps) AppNotifications(getenv func(string) string) *appnotify.Channel {
	if d.Config.AppNotificationsTemplateID == "" {
		return nil
	}
	v := d.Vault()
	tokens := tokensource.New(v, lwa.NewClient(lwa.Config{Endpoint: d.Config.LWAEndpoint, HTTPClient: d.HTTP, Credentials: clientcreds.New(v, 0), Logger: d.Log}))
	client := &appnotify.Client{HTTP: d.HTTP, Endpoint: getenv(SPAPIEndpointEnv)}
	return appnotify.NewChannel(d.Config.AppNotificationsTemplateID, client, tokens, d.clock(), d.Log, d.Metrics)
}
