package app

import (
	"github.com/spapi-auth-keeper/keeper/shared/delivery"
	"github.com/spapi-auth-keeper/keeper/shared/pages"
)

// Brand is the vendor's look and support contact from the configuration.
func (d Deps) Brand() pages.Brand {
	c := d.Config
	return pages.Brand{LogoURL: c.LogoURL, Color: c.BrandColor, SupportEmail: c.SupportEmail, SupportURL: c.SupportURL, ConnectURL: c.ConnectURL}
}

// DeliveryConfigNames are the variables the delivery function cannot start without.
var DeliveryConfigNames = []string{"TABLE_NAME"}

// Delivery builds the SES event handler.
func Delivery(d Deps) *delivery.Service {
	return delivery.New(d.Store(), d.clock(), d.Log, d.Metrics)
}
