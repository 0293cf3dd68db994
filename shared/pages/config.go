package pages

import "github.com/spapi-auth-keeper/keeper/shared/config"

// BrandOf is the vendor's look and support contact from the configuration (LOGO_URL,
// BRAND_COLOR, SUPPORT_EMAIL, SUPPORT_URL, CONNECT_URL): the callback's pages and the
// reminder emails wear the same one.
func BrandOf(c config.Config) Brand {
	return Brand{LogoURL: c.LogoURL, Color: c.BrandColor, SupportEmail: c.SupportEmail, SupportURL: c.SupportURL, ConnectURL: c.ConnectURL}
}
