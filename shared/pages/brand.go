package pages

import (
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"strings"

	"github.com/spapi-auth-keeper/keeper/shared/i18n"
)

// Brand is how the vendor's pages and emails look and where a seller finds help:
// LOGO_URL, BRAND_COLOR, SUPPORT_EMAIL, SUPPORT_URL and CONNECT_URL. The zero Brand
// is the plain look with no support contact.
type Brand struct {
	LogoURL      string // https URL of an image shown above the text
	Color        string // #rgb or #rrggbb: buttons and the logo bar
	SupportEmail string // a bare address
	SupportURL   string // an http(s) page
	// ConnectURL is where a seller connects an Amazon account in the vendor's app (the
	// "connect first" page links there); empty: the page says only to contact support.
	ConnectURL string
}

// Check validates b, naming the variable at fault: every field ends up in HTML
// attributes and CSS, so only the shapes above are accepted.
func (b Brand) Check() error {
	var errs []error
	if b.Color != "" && !isHexColor(b.Color) {
		errs = append(errs, fmt.Errorf("BRAND_COLOR=%q: want #rgb or #rrggbb", b.Color))
	}
	for name, v := range map[string]string{"LOGO_URL": b.LogoURL, "SUPPORT_URL": b.SupportURL, "CONNECT_URL": b.ConnectURL} {
		if v == "" {
			continue
		}
		u, err := url.Parse(v)
		if err != nil || u.Host == "" || (u.Scheme != "https" && !(u.Scheme == "http" && name != "LOGO_URL")) || strings.ContainsAny(v, " \"'<>") {
			errs = append(errs, fmt.Errorf("%s=%q: want an absolute https URL", name, v))
		}
	}
	if b.SupportEmail != "" {
		a, err := mail.ParseAddress(b.SupportEmail)
		if err != nil || a.Name != "" || a.Address != b.SupportEmail {
			errs = append(errs, fmt.Errorf("SUPPORT_EMAIL=%q: want a bare address", b.SupportEmail))
		}
	}
	return errors.Join(errs...)
}

// AccentColor is the buttons' colour: the brand's, else Amazon-like orange. A colour
// that is not #rgb or #rrggbb (Check refuses it at start-up) never reaches a style:
// it is the default colour too.
func (b Brand) AccentColor() string {
	if isHexColor(b.Color) {
		return b.Color
	}
	return DefaultColor
}

// isHexColor reports whether c is #rgb or #rrggbb.
func isHexColor(c string) bool {
	if (len(c) != 4 && len(c) != 7) || c[0] != '#' {
		return false
	}
	for i := 1; i < len(c); i++ {
		if !strings.ContainsRune("0123456789abcdefABCDEF", rune(c[i])) {
			return false
		}
	}
	return true
}

// DefaultColor is the buttons' colour when the brand has none: Amazon-like orange.
const DefaultColor = "#ff9900"

// Support is the support contact to show (the address, else the page), and which
// message key of the prefix ("email.support." / "page.support.") introduces it.
func (b Brand) Support() (contact, kind string) {
	switch {
	case b.SupportEmail != "":
		return b.SupportEmail, "email"
	case b.SupportURL != "":
		return b.SupportURL, "url"
	}
	return "", "none"
}

// logoOrigin is the origin the page's Content-Security-Policy allows images from.
func (b Brand) logoOrigin() string {
	u, err := url.Parse(b.LogoURL)
	if b.LogoURL == "" || err != nil {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// Steps kinds: renew from Manage Your Apps, or authorize again an app whose
// authorization was removed (it is no longer listed there).
const (
	StepsRenew     = "renew"
	StepsReconnect = "reconnect"
)

// Steps are the manual steps in Seller Central, in lang, for kind: what Seller
// Central shows in each case.
func Steps(lang, kind, centralName, centralURL, appName string) ([]string, error) {
	vars := i18n.Vars{"central": centralName, "url": centralURL, "app": appName}
	var out []string
	for i := 1; ; i++ {
		key := fmt.Sprintf("steps.%s.%d", kind, i)
		if _, ok := i18n.Raw(i18n.Default, key); !ok {
			break
		}
		m, err := i18n.Message(lang, key, vars)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no steps of kind %q", kind)
	}
	return out, nil
}
